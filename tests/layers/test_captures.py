"""Every record of every capture of the corpus dissects cleanly and rebuilds to its bytes."""
import json

import pytest
from scapy.all import TCP, TCPSession, bind_layers, raw, rdpcap, sniff, split_layers
from scapy.packet import Padding, Raw

from scapy_tls_hs import registry
from scapy_tls_hs.layers import (TLSApplicationData, TLSChangeCipherSpec, TLSClientHello,
                                 TLSEncryptedContent, TLSHandshake, TLSHandshakeFragment,
                                 TLSMalformed, TLSRecord, TLSServerHello, dissect_stream,
                                 handshake_messages, split_records)
from scapy_tls_hs.layers.extensions import TLSExtension
from scapy_tls_hs.layers.fields import EXTENSION_CLASSES, key_exchange_of
from tests.conftest import DATA
from tests.layers.helpers import clean
from tests.layers.streams import tcp_streams

PCAPS = DATA.parent.parent / "pcaps"

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
                _check_extension_classes(msg)
            ours = [registry.HANDSHAKE_TYPES[m.msg_type] for m in plain]
            theirs = []
            for m in truth["messages"]:
                if m == side + ":change_cipher_spec":
                    break
                if m.startswith(side + ":") and m[2:] in registry.HANDSHAKE_TYPE_CODES:
                    theirs.append(m[2:])
            assert ours == theirs
        _check_truth_fields(dissect_stream(c_data), dissect_stream(s_data), truth)


def _check_extension_classes(msg):
    """No raw leftovers inside the messages either: every extension of a type we have a
    class for dissects to that class (not to the type + bytes fallback), fields included."""
    assert clean(msg), msg.show(dump=True)
    for ext in getattr(msg.payload, "ext", None) or []:
        if ext.type in EXTENSION_CLASSES:
            assert type(ext) is EXTENSION_CLASSES[ext.type], ext.summary()
        else:
            assert type(ext) is TLSExtension


SHIPPED = sorted(p.name for p in PCAPS.iterdir()
                 if p.suffix in (".pcap", ".pcapng") and p.name not in CAPTURES)


def test_shipped_captures_are_listed():
    # pcaps/ holds a few captures the corpus does not (TLS 1.0, 1.1, more TLS 1.3).
    assert {"tls10_rsa_aes128sha_openssl.pcap", "tls11_ecdhe_rsa_aes256sha_openssl.pcap"} \
        <= set(SHIPPED)


@pytest.mark.parametrize("capture", SHIPPED)
def test_shipped_capture_records_dissect_and_rebuild(capture):
    """The captures in pcaps/ that are not in the corpus (no ground truth): every record
    dissects without raw leftovers, plaintext messages without fragments, bytes rebuild."""
    conns = tcp_streams(PCAPS / capture)
    assert conns
    for _, _, c_data, s_data in conns:
        for data in (c_data, s_data):
            records = dissect_stream(data)
            assert b"".join(raw(r) for r in records) == data
            for rec in records:
                assert rec.type in (20, 21, 22, 23)
                assert not any(isinstance(layer, (TLSMalformed, Raw, Padding))
                               for layer in _layers(rec)), rec.summary()
            plain = handshake_messages(_before_ccs(records))
            assert plain and plain[0].msg_type in (1, 2)
            for msg in plain:
                assert not any(isinstance(layer, (TLSMalformed, Raw, TLSHandshakeFragment))
                               for layer in _layers(msg)), msg.summary()
                _check_extension_classes(msg)


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
    if port is not None:
        # The point of this capture: some record is longer than any TCP segment, so only
        # reassembly (tcp_reassemble) can yield it whole.
        segment = max(len(p[TCP].payload) for p in rdpcap(str(path)) if TCP in p)
        assert max(len(r) for r in split_records(s_data)[0]) > segment
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


# -- the layers and the core's codec read the captures the same way ---------------------------

def _all_captures():
    seen = {}
    for folder in (DATA / "captures", PCAPS):
        for p in sorted(folder.iterdir()):
            if p.suffix in (".pcap", ".pcapng"):
                seen.setdefault(p.name, p)
    return [pytest.param(p, id=p.stem) for _, p in sorted(seen.items())]


def _agree(msg, version, kx):
    """Field by field, the Scapy layer ``msg`` (a TLSHandshake) against codec/messages."""
    from scapy_tls_hs.codec import messages as M
    body = raw(msg)[4:]
    layer = msg.payload
    parsed = M.parse_message(msg.msg_type, body, version or 0x0303, kx)
    name = type(parsed).__name__
    if name in ("ClientHello", "ServerHello"):
        assert (layer.version, layer.random, layer.sid) == (
            parsed.version, parsed.random, parsed.session_id)
        if name == "ClientHello":
            assert layer.ciphers == parsed.cipher_suites
            assert layer.comp == parsed.compression_methods
        else:
            assert (layer.cipher, layer.comp) == (parsed.cipher_suite,
                                                  parsed.compression_method)
        exts = parsed.extensions
        assert (layer.ext is None) == (exts is None)
        assert [(e.type, raw(e)[4:]) for e in layer.ext or []] == \
            [(e.type, e.data) for e in exts or []]
    elif name == "Certificate":
        assert [c.cert for c in layer.certs] == parsed.certificates
    elif name == "ServerKeyExchange":
        assert layer.kind == parsed.kind and layer.params_raw() == parsed.params_raw
        assert (layer.sig_alg, layer.sig) == (parsed.scheme, parsed.signature)
    elif name == "ClientKeyExchange":
        value = layer.point if parsed.kind == "ECDHE" else layer.exchange_keys
        assert value == parsed.data
    elif name == "CertificateRequest":
        assert layer.ctypes == parsed.cert_types and layer.sig_algs == parsed.sig_schemes
        assert [d.dn for d in layer.cas] == parsed.authorities
    elif name == "CertificateVerify":
        assert (layer.sig_alg, layer.sig) == (parsed.scheme, parsed.signature)
    elif name == "NewSessionTicket":
        assert (layer.lifetime_hint, layer.ticket) == (parsed.lifetime_hint, parsed.ticket)
    elif name == "Finished":
        assert layer.verify_data == parsed.verify_data
    return name


@pytest.mark.parametrize("path", _all_captures())
def test_layers_and_codec_agree_on_every_plaintext_message(path):
    names = set()
    for _, _, c_data, s_data in tcp_streams(path):
        server = handshake_messages(_before_ccs(dissect_stream(s_data)))
        sh = next((m.payload for m in server if isinstance(m.payload, TLSServerHello)), None)
        version = sh.selected_version() if sh is not None else None
        kx = key_exchange_of(sh.cipher) if sh is not None else None
        client = handshake_messages(_before_ccs(dissect_stream(c_data)))
        for msg in server + client:
            names.add(_agree(msg, version, kx))
    assert "ClientHello" in names
