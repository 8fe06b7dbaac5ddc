"""Every record of every capture of the corpus dissects cleanly and rebuilds to its bytes."""
import json

import pytest
from scapy.all import TCP, TCPSession, bind_layers, raw, sniff, split_layers
from scapy.packet import Padding, Raw

from scapy_tls_hs import registry
from scapy_tls_hs.layers import (TLSApplicationData, TLSChangeCipherSpec, TLSClientHello,
                                 TLSEncryptedContent, TLSHandshake, TLSHandshakeFragment,
                                 TLSMalformed, TLSRecord, TLSServerHello, dissect_stream,
                                 handshake_messages)
from tests.layers.streams import tcp_streams
from tests.conftest import DATA

CAPTURES = sorted(p.name for p in (DATA / "captures").iterdir()
                  if p.suffix in (".pcap", ".pcapng"))


def _truth(path):
    name = path.name.rsplit(".", 1)[0]
    with open(path.with_name(name + ".truth.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def _layers(pkt):
    layer = pkt
    while layer:
        yield layer
        layer = layer.payload


def _before_ccs(records):
    out = []
    for rec in records:
        if isinstance(rec.payload, TLSChangeCipherSpec):
            break
        out.append(rec)
    return out


@pytest.mark.parametrize("capture", CAPTURES)
def test_capture_records_dissect_and_rebuild(capture, captures_dir):
    path = captures_dir / capture
    conns = tcp_streams(path)
    truths = _truth(path)
    assert len(conns) == len(truths)
    for (client, server, c_data, s_data), truth in zip(conns, truths):
        assert (client, server) == (truth["client"], truth["server"])
        for side, data in (("C", c_data), ("S", s_data)):
            records = dissect_stream(data)
            assert all(isinstance(r, TLSRecord) for r in records)
            # Rebuilding gives the wire bytes back, record by record.
            assert b"".join(raw(r) for r in records) == data
            for rec in records:
                assert rec.type in (20, 21, 22, 23)
                for layer in _layers(rec):
                    assert not isinstance(layer, (TLSMalformed, Raw, Padding)), rec.summary()
                if rec.type == 23:
                    assert isinstance(rec.payload, TLSApplicationData)
            # The plaintext handshake messages (reassembled across records) are the ones of
            # the ground truth, before this side's ChangeCipherSpec.
            plain = handshake_messages(_before_ccs(records))
            for msg in plain:
                assert not any(isinstance(layer, (TLSMalformed, Raw, TLSHandshakeFragment))
                               for layer in _layers(msg)), msg.summary()
            ours = [registry.HANDSHAKE_TYPES[m.msg_type] for m in plain]
            theirs = []
            for m in truth["messages"]:
                if m == side + ":change_cipher_spec":
                    break
                if m.startswith(side + ":") and m[2:] in registry.HANDSHAKE_TYPE_CODES:
                    theirs.append(m[2:])
            assert ours == theirs
        _check_truth_fields(dissect_stream(c_data), dissect_stream(s_data), truth)


def _check_truth_fields(c_recs, s_recs, truth):
    ch = next(r[TLSClientHello] for r in c_recs if TLSClientHello in r)
    sh = next(r[TLSServerHello] for r in s_recs if TLSServerHello in r)
    assert registry.VERSIONS[sh.selected_version()] == truth["version"]
    assert registry.CIPHER_SUITES[sh.cipher] == truth["cipher_suite"]
    assert sh.sid.hex() == truth["session_id"]
    sni = ch.get_extension("server_name")
    assert (sni.servernames[0].servername.decode() if sni else None) == truth["sni"]
    alpn = sh.get_extension("application_layer_protocol_negotiation")
    assert (alpn.protocols[0].protocol.decode() if alpn else None) == truth["alpn"]
    if truth["version"] != "TLS 1.3":
        ems = bool(ch.get_extension(23)) and bool(sh.get_extension(23))
        assert ems == truth["extended_master_secret"]


def test_encrypted_handshake_after_ccs_is_marked(captures_dir):
    _, _, c_data, _ = tcp_streams(captures_dir / "tls12_rsa_aes128sha_openssl.pcap")[0]
    records = dissect_stream(c_data)
    ccs = next(i for i, r in enumerate(records) if TLSChangeCipherSpec in r)
    finished = records[ccs + 1]
    assert finished.type == 22
    assert isinstance(finished.payload, TLSEncryptedContent)
    # The same record alone, without the stream context, is recognised from its bytes.
    alone = TLSRecord(raw(finished))
    assert isinstance(alone.payload, TLSEncryptedContent)


def test_record_chain_in_one_call(captures_dir):
    _, _, _, s_data = tcp_streams(captures_dir / "tls12_dhe_rsa_aes256gcm_openssl.pcap")[0]
    chain = TLSRecord(s_data)
    assert raw(chain) == s_data
    records = [x for x in _layers(chain) if isinstance(x, TLSRecord)]
    assert len(records) == len(dissect_stream(s_data))
    assert sum(1 for x in _layers(chain) if isinstance(x, TLSHandshake)) >= 4


def test_message_spanning_records(captures_dir):
    _, _, _, s_data = tcp_streams(captures_dir / "big_cert_chain_multisegment.pcap")[0]
    records = dissect_stream(s_data)
    frags = [r for r in records if TLSHandshakeFragment in r]
    assert len(frags) == 2
    # The first record holds the header of the long message, the next one its rest.
    assert frags[0][TLSHandshake].msg_type == 11 and frags[0][TLSHandshake].len > 16384
    assert isinstance(frags[1].payload, TLSHandshakeFragment)
    cert = next(m for m in handshake_messages(records) if m.msg_type == 11)
    assert len(cert.payload.certs) == 4
    assert "CN=server.test" in cert.payload.certs[0].x509().subject.rfc4514_string()
    # A reassembled message dissects the same from its bytes.
    assert raw(TLSHandshake(raw(cert))) == raw(cert)


@pytest.mark.parametrize("capture,port", [("big_cert_chain_multisegment.pcap", 24115),
                                          ("https_port443_curl.pcap", None)])
def test_tcp_session_yields_whole_records(capture, port, captures_dir):
    path = captures_dir / capture
    if port is not None:
        bind_layers(TCP, TLSRecord, sport=port)
        bind_layers(TCP, TLSRecord, dport=port)
    try:
        pkts = sniff(offline=str(path), session=TCPSession)
    finally:
        if port is not None:
            split_layers(TCP, TLSRecord, sport=port)
            split_layers(TCP, TLSRecord, dport=port)
    client, server, c_data, s_data = tcp_streams(path)[0]
    got = {"C": b"", "S": b""}
    for pkt in pkts:
        if TLSRecord not in pkt:
            continue
        side = "C" if "%s:%d" % (pkt["IP"].src, pkt[TCP].sport) == client else "S"
        for layer in _layers(pkt[TLSRecord]):
            # A record cut by a segment boundary would show as malformed content.
            assert not isinstance(layer, (TLSMalformed, Padding))
        got[side] += raw(pkt[TLSRecord])
    assert got == {"C": c_data, "S": s_data}


def test_tcp_reassemble_waits_for_a_whole_record():
    data = raw(TLSRecord() / TLSApplicationData(data=b"x" * 100))
    assert TLSRecord.tcp_reassemble(data[:50], {}, {}) is None
    pkt = TLSRecord.tcp_reassemble(data + data[:3], {}, {})
    assert pkt[TLSApplicationData].data == b"x" * 100
    assert isinstance(pkt.lastlayer(), Padding) and pkt.lastlayer().load == data[:3]
