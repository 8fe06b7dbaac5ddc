"""The record layer: content types, computed fields, marked raw bytes, context, ports."""
import pytest
from scapy.all import IP, TCP, raw
from scapy.packet import Raw

from scapy_tls_hs import registry
from scapy_tls_hs.layers import (TLS_PORTS, TLSAlert, TLSApplicationData, TLSChangeCipherSpec,
                                 TLSClientHello, TLSContext, TLSEncryptedContent, TLSFinished,
                                 TLSHandshake, TLSHandshakeFragment, TLSMalformed, TLSRecord,
                                 TLSServerHelloDone, TLSUndissected, dissect_stream,
                                 split_records)
from scapy_tls_hs.layers.fields import MAX_CHAIN
from tests.layers.helpers import clean, show_text


@pytest.mark.parametrize("content,ctype", [
    (TLSChangeCipherSpec(), 20), (TLSAlert(level=2, description="unknown_ca"), 21),
    (TLSHandshake() / TLSFinished(), 22), (TLSApplicationData(data=b"hello"), 23)])
def test_content_type_and_length_computed(content, ctype):
    data = raw(TLSRecord() / content)
    assert data[0] == ctype and data[1:3] == b"\x03\x03"
    assert int.from_bytes(data[3:5], "big") == len(data) - 5
    again = TLSRecord(data)
    assert type(again.payload) is type(content) and raw(again) == data and clean(again)


def test_explicit_values_are_kept():
    data = raw(TLSRecord(type=23, version=0x0301, len=3) / TLSApplicationData(data=b"abcdef"))
    assert data[:5] == b"\x17\x03\x01\x00\x03"


def test_alert_names():
    rec = TLSRecord(raw(TLSRecord() / TLSAlert(level=2, description=48)))
    text = show_text(rec)
    assert "fatal" in text and "unknown_ca" in text and "alert" in text
    assert "unknown_ca" in rec.summary()


def test_unknown_content_type_is_raw():
    data = b"\x63\x03\x03\x00\x04abcd"
    rec = TLSRecord(data)
    assert rec.type == 0x63 and isinstance(rec.payload, Raw) and raw(rec) == data
    assert "unknown_0x63" in show_text(rec)


@pytest.mark.parametrize("data", [b"\x16", b"\x16\x03\x03\x00"])
def test_short_input_is_marked(data):
    pkt = TLSRecord(data)
    assert isinstance(pkt, TLSMalformed) and raw(pkt) == data


def test_truncated_record_is_marked():
    full = raw(TLSRecord() / TLSHandshake() / TLSClientHello())
    rec = TLSRecord(full[:60])
    assert isinstance(rec.payload, TLSMalformed) and raw(rec) == full[:60]


def test_encrypted_contents():
    # A GCM-protected Finished: 8-byte nonce, 16 bytes, 16-byte tag; and a protected alert.
    fin = b"\x16\x03\x03\x00\x28" + bytes(range(0x80, 0x80 + 40))
    alert = b"\x15\x03\x03\x00\x1a" + b"\xaa" * 26
    for data in (fin, alert):
        rec = TLSRecord(data)
        assert isinstance(rec.payload, TLSEncryptedContent) and raw(rec) == data
        assert "encrypted" in rec.summary()


def test_handshake_after_change_cipher_spec_is_encrypted():
    # Protected bytes that happen to start like a long handshake message: alone they read
    # as the first fragment of it; after ChangeCipherSpec only whole messages are plaintext.
    content = b"\x14\x00\x01\x00" + bytes(range(36))
    fin = b"\x16\x03\x03" + len(content).to_bytes(2, "big") + content
    assert isinstance(TLSRecord(fin)[TLSHandshake].payload, TLSHandshakeFragment)
    records = dissect_stream(raw(TLSRecord() / TLSChangeCipherSpec()) + fin)
    assert isinstance(records[1].payload, TLSEncryptedContent)
    # The context can also be given.
    assert isinstance(TLSRecord(fin, ctx=TLSContext(encrypted=True)).payload,
                      TLSEncryptedContent)


def test_fragmented_message_across_records():
    hs = raw(TLSHandshake() / TLSClientHello())
    cut = 100
    stream = (raw(TLSRecord(type=22) / TLSHandshakeFragment(load=hs[:cut])) +
              raw(TLSRecord(type=22) / TLSHandshakeFragment(load=hs[cut:])) +
              raw(TLSRecord() / TLSHandshake() / TLSFinished()))
    records = dissect_stream(stream)
    assert isinstance(records[0][TLSHandshake].payload, TLSHandshakeFragment)
    assert isinstance(records[1].payload, TLSHandshakeFragment)
    assert isinstance(records[2][TLSHandshake].payload, TLSFinished)
    assert b"".join(raw(r) for r in records) == stream


def test_split_records_and_trailing_bytes():
    one = raw(TLSRecord() / TLSApplicationData(data=b"x"))
    records, rest = split_records(one * 3 + one[:4])
    assert records == [one] * 3 and rest == one[:4]
    out = dissect_stream(one * 2 + b"\x17\x03")
    assert isinstance(out[-1], TLSMalformed) and out[-1].load == b"\x17\x03"


CONTRACT_PORTS = (443, 465, 636, 853, 993, 995, 8443, 4433)


def test_contract_ports_are_the_bound_ones():
    assert set(TLS_PORTS) == set(CONTRACT_PORTS)


@pytest.mark.parametrize("port", CONTRACT_PORTS)
def test_bound_to_tls_ports(port):
    for kw in ({"sport": port, "dport": 50000}, {"sport": 50000, "dport": port}):
        pkt = IP(raw(IP() / TCP(**kw) / TLSRecord() / TLSApplicationData(data=b"x")))
        assert TLSRecord in pkt and pkt[TLSApplicationData].data == b"x"


def test_registry_is_complete():
    assert len(registry.CIPHER_SUITES) > 340
    assert registry.CIPHER_SUITES[0x00FF] == "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"
    assert registry.CIPHER_SUITES[0x5600] == "TLS_FALLBACK_SCSV"
    assert registry.CIPHER_SUITES[0xC02F] == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
    assert registry.name(registry.CIPHER_SUITES, 0x2A2A) == "GREASE_0x2A2A"
    assert registry.name(registry.CIPHER_SUITES, 0x1234) == "unknown_0x1234"
    text = show_text(TLSClientHello(ciphers=[0x2A2A, 0x1234, 0x0A]))
    assert "GREASE_0x2A2A" in text and "unknown_0x1234" in text
    assert "TLS_RSA_WITH_3DES_EDE_CBC_SHA" in text


def test_long_streams_stay_usable():
    # Scapy recurses once per layer: one packet holds at most MAX_CHAIN records, the rest
    # is kept as bytes; dissect_stream has no limit.
    unit = raw(TLSRecord() / TLSHandshake() / TLSServerHelloDone())
    data = unit * (MAX_CHAIN + 500)
    chain = TLSRecord(data)
    assert raw(chain) == data and isinstance(chain.lastlayer(), TLSUndissected)
    assert len(chain.lastlayer().load) == 500 * len(unit)
    chain.show(dump=True)
    chain.copy()
    records = dissect_stream(data)
    assert len(records) == MAX_CHAIN + 500
    assert all(isinstance(r.payload.payload, TLSServerHelloDone) for r in records)
    many = b"\x0e\x00\x00\x00" * 3000
    rec = TLSRecord(b"\x16\x03\x03" + len(many).to_bytes(2, "big") + many)
    assert raw(rec)[5:] == many and isinstance(rec.lastlayer(), TLSUndissected)


def test_plaintext_after_compatibility_ccs():
    # TLS 1.3 client after a HelloRetryRequest: CCS, then a second plaintext ClientHello.
    stream = (raw(TLSRecord() / TLSHandshake() / TLSClientHello()) +
              raw(TLSRecord() / TLSChangeCipherSpec()) +
              raw(TLSRecord() / TLSHandshake() / TLSClientHello()) +
              raw(TLSRecord() / TLSAlert(level=1, description=0)))
    records = dissect_stream(stream)
    assert isinstance(records[2][TLSHandshake].payload, TLSClientHello)
    assert isinstance(records[3].payload, TLSAlert)


def test_segment_that_does_not_start_a_record_stays_raw():
    pkt = IP(raw(IP() / TCP(sport=443) / Raw(b"GET / HTTP/1.1\r\n\r\n")))
    assert TLSRecord not in pkt and pkt[Raw].load.startswith(b"GET")
    assert isinstance(TLSRecord.tcp_reassemble(b"GET / HTTP/1.1\r\n", {}, {}), Raw)
    # A record cut short at the end of the connection is returned as it is.
    assert TLSRecord.tcp_reassemble(b"\x17\x03\x03\x00\x09abc", {"tcp_end": True}, {}) \
        is not None


def _rec(ctype, payload, version=0x0303):
    return bytes([ctype]) + version.to_bytes(2, "big") + len(payload).to_bytes(2, "big") + \
        payload


def test_dissect_connection_tls13_decrypted_flight():
    from scapy_tls_hs.layers import (TLS13Certificate, TLSCertificateVerify,
                                     TLSEncryptedExtensions, TLSExtSupportedVersions,
                                     TLSServerHello, dissect_connection)
    ch = raw(TLSRecord(version=0x0301) / TLSHandshake() / TLSClientHello())
    sh = raw(TLSRecord() / TLSHandshake() / TLSServerHello(
        cipher=0x1301, ext=[TLSExtSupportedVersions(version=0x0304)]))
    ccs = raw(TLSRecord() / TLSChangeCipherSpec())
    cert = raw(TLSHandshake() / TLS13Certificate(certs=[b"C" * 3000]))
    flight = raw(TLSHandshake() / TLSEncryptedExtensions()) + cert
    cut = 1500
    records = [("client", ch, False), ("server", sh, False), ("server", ccs, False),
               ("server", _rec(22, flight[:cut]), True),
               ("server", _rec(22, flight[cut:] + raw(
                   TLSHandshake() / TLSCertificateVerify(sig_alg=0x0804, sig=b"s" * 256))),
                True),
               ("server", _rec(23, b"\x99" * 300), False),
               ("client", ccs, False), ("client", _rec(22, raw(TLSHandshake() / TLSFinished(
                   verify_data=b"f" * 32))), True),
               ("client", _rec(21, b"\x01\x00"), True)]
    pkts = dissect_connection(records)
    assert [raw(p) for p in pkts] == [r[1] for r in records]
    assert isinstance(pkts[3][TLSHandshake].payload, TLSEncryptedExtensions)
    assert isinstance(pkts[3][TLSHandshake:2].payload, TLSHandshakeFragment)
    assert isinstance(pkts[4].payload, TLSHandshakeFragment)
    assert isinstance(pkts[4][TLSHandshake].payload, TLSCertificateVerify)
    assert isinstance(pkts[5].payload, TLSApplicationData)
    assert pkts[7][TLSFinished].verify_data == b"f" * 32
    assert isinstance(pkts[8].payload, TLSAlert)
    # The reassembled Certificate takes its TLS 1.3 form from the ServerHello.
    from scapy_tls_hs.layers import handshake_messages
    msgs = handshake_messages(pkts[3:5])
    assert isinstance(msgs[1].payload, TLS13Certificate)


def test_dissect_connection_tls10_forms_on_both_sides():
    from scapy_tls_hs.layers import (TLSCertificateVerify, TLSClientKeyExchange,
                                     TLSServerHello, TLSServerKeyExchange, dissect_connection)
    hello = TLSServerHello(version=0x0301, cipher=0x0033)
    sh = raw(TLSRecord(version=0x0301) / TLSHandshake() / hello)
    ske = raw(TLSRecord(version=0x0301) / TLSHandshake() / TLSServerKeyExchange(
        dh_p=b"\xff" * 128, dh_g=b"\x02", dh_Ys=b"\x11" * 128, sig_alg=None, sig=b"S" * 128))
    client = raw(TLSRecord(version=0x0301) / TLSHandshake() /
                 TLSClientKeyExchange(exchange_keys=b"Y" * 128) / TLSHandshake() /
                 TLSCertificateVerify(sig_alg=None, sig=b"V" * 128))
    pkts = dissect_connection([("server", sh, False), ("server", ske, False),
                               ("client", client, False)])
    assert pkts[1][TLSServerKeyExchange].kind == "DHE"
    assert pkts[1][TLSServerKeyExchange].sig_alg is None
    assert pkts[2][TLSClientKeyExchange].exchange_keys == b"Y" * 128
    assert pkts[2][TLSCertificateVerify].sig_alg is None
    assert raw(pkts[2]) == client


def test_summary_names_every_layer():
    from scapy_tls_hs.layers import TLSCertificate, TLSServerHello
    chain = TLSRecord(raw(TLSRecord() / TLSHandshake() / TLSServerHello(cipher=0xC02F) /
                          TLSHandshake() / TLSCertificate() / TLSRecord() / TLSHandshake() /
                          TLSServerHelloDone() / TLSRecord() / TLSChangeCipherSpec() /
                          TLSRecord(type=21) / TLSEncryptedContent(load=b"x" * 26)))
    assert chain.summary() == ("TLS 1.2 / ServerHello TLS 1.2 "
                               "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 / Certificate (0) / "
                               "TLS 1.2 / ServerHelloDone / TLS 1.2 / ChangeCipherSpec / "
                               "TLS 1.2 alert / encrypted (26 bytes)")


def test_plaintext_that_does_not_parse_is_not_called_encrypted():
    """Before ChangeCipherSpec a direction read from its start is plaintext: an alert,
    ChangeCipherSpec or handshake record whose content does not read as such is malformed,
    not "encrypted".  A record alone (nothing known) is still judged by its bytes."""
    hello = raw(TLSRecord() / TLSHandshake() / TLSClientHello())
    bad = {21: b"\x02\x28\x00", 20: b"\x01\x01", 22: b"\xee\x00\x00\x01\x00"}
    for ctype, content in bad.items():
        rec = bytes((ctype, 3, 3)) + len(content).to_bytes(2, "big") \
            + content
        records = dissect_stream(hello + rec)
        assert isinstance(records[1].payload, TLSMalformed), records[1].summary()
        assert "encrypted" not in records[1].summary()
        assert "malformed" in records[1].summary()
        assert raw(records[1]) == rec
        # The same bytes after ChangeCipherSpec, or alone, are protected content.
        after = dissect_stream(hello + raw(TLSRecord() / TLSChangeCipherSpec()) + rec)
        assert isinstance(after[2].payload, TLSEncryptedContent)
        assert isinstance(TLSRecord(rec).payload, TLSEncryptedContent)
    # Said explicitly: plaintext.
    assert isinstance(TLSRecord(rec, ctx=TLSContext(encrypted=False)).payload, TLSMalformed)


def test_several_records_in_one_tcp_segment():
    records = (TLSRecord() / TLSHandshake() / TLSFinished(verify_data=b"f" * 12) /
               TLSRecord() / TLSChangeCipherSpec() /
               TLSRecord() / TLSApplicationData(data=b"data"))
    pkt = IP(raw(IP() / TCP(sport=50000, dport=443) / records))
    chain = pkt[TLSRecord]
    assert [type(layer) for layer in (chain, chain.payload.payload)] == [TLSRecord, TLSFinished]
    assert pkt[TLSRecord:2][TLSChangeCipherSpec] and pkt[TLSRecord:3][TLSApplicationData]
    assert pkt[TLSApplicationData].data == b"data" and raw(chain) == raw(records)
    assert clean(chain)
