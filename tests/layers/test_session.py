"""``TLSHandshakeSession``: ``sniff(offline=..., session=...)`` gives a handshake message
that spans records as one whole message, per direction, and everything else as
``TCPSession`` does."""
import pathlib

from scapy.all import IP, TCP, raw, sniff, wrpcap
from scapy.packet import bind_layers, split_layers
from scapy.sessions import TCPSession

from scapy_tls_hs.layers import (TLSAlert, TLSCertificate, TLSChangeCipherSpec, TLSClientHello,
                                 TLSHandshake, TLSHandshakeFragment, TLSHandshakeSession,
                                 TLSRecord, TLSServerHelloDone)
from tests.layers.helpers import layers

PCAPS = pathlib.Path(__file__).resolve().parents[2] / "pcaps"
PORT = 24115        # big_cert_chain_multisegment.pcap


def _sniff(path, session, port):
    bind_layers(TCP, TLSRecord, sport=port)
    bind_layers(TCP, TLSRecord, dport=port)
    try:
        return sniff(offline=str(path), session=session)
    finally:
        split_layers(TCP, TLSRecord, sport=port)
        split_layers(TCP, TLSRecord, dport=port)


def _summaries(pkts):
    return [p[TLSRecord].summary() for p in pkts if TLSRecord in p]


def test_certificate_spanning_two_records_comes_whole():
    plain = _sniff(PCAPS / "big_cert_chain_multisegment.pcap", TCPSession, PORT)
    whole = _sniff(PCAPS / "big_cert_chain_multisegment.pcap", TLSHandshakeSession, PORT)
    assert any(TLSHandshakeFragment in p for p in plain)      # what TCPSession gives
    assert not any(TLSHandshakeFragment in p for p in whole)
    cert = next(p for p in whole if TLSCertificate in p)
    assert len(cert[TLSCertificate].certs) == 4
    assert cert[TLSCertificate].certs[0].x509().subject.rfc4514_string() == "CN=server.test"
    # The joined record holds exactly the two records' contents.
    parts = [p[TLSRecord] for p in plain if TLSHandshakeFragment in p]
    assert cert[TLSRecord].len == sum(r.len for r in parts)
    assert raw(cert[TLSRecord])[5:] == b"".join(raw(r)[5:5 + r.len] for r in parts)
    # The rest is what TCPSession gives, in the same order.
    rest = [s for s in _summaries(plain) if "fragment" not in s]
    assert [s for s in _summaries(whole) if "Certificate" not in s] == rest
    assert _summaries(whole)[2] == "TLS 1.2 / Certificate (4)"


def test_other_captures_are_unchanged():
    path = PCAPS / "https_port443_curl.pcap"
    assert _summaries(sniff(offline=str(path), session=TLSHandshakeSession)) == \
        _summaries(sniff(offline=str(path), session=TCPSession))


def _segments(chunks, sport=50000, dport=443, fin=False):
    """One TCP segment per chunk of one direction, sequence numbers in order."""
    out, seq = [], 1000
    for i, chunk in enumerate(chunks):
        flags = "PA" + ("F" if fin and i == len(chunks) - 1 else "")
        out.append(IP(raw(IP(src="10.0.0.1", dst="10.0.0.2") /
                          TCP(sport=sport, dport=dport, seq=seq, flags=flags) / chunk)))
        seq += len(chunk)
    return out


def _records_of(message, sizes, version=b"\x03\x03"):
    """The start of ``message`` cut into handshake records of the given content sizes."""
    out, i = [], 0
    for n in sizes:
        part = message[i:i + n]
        out.append(b"\x16" + version + len(part).to_bytes(2, "big") + part)
        i += n
    return out


def test_message_over_three_records_in_separate_segments(tmp_path):
    hello = raw(TLSHandshake() / TLSClientHello(sni="example.test"))
    recs = _records_of(hello, [40, 40, len(hello) - 80])
    done = raw(TLSRecord() / TLSHandshake() / TLSServerHelloDone())
    path = tmp_path / "three.pcap"
    wrpcap(str(path), _segments(recs + [done]))
    pkts = [p for p in sniff(offline=str(path), session=TLSHandshakeSession) if TLSRecord in p]
    assert len(pkts) == 2
    first = pkts[0][TLSRecord]
    assert first.len == len(hello) and first.version == 0x0303
    assert first[TLSClientHello].get_extension(0).servernames[0].servername == b"example.test"
    assert raw(first) == b"\x16\x03\x03" + len(hello).to_bytes(2, "big") + hello
    assert TLSServerHelloDone in pkts[1]


def test_interrupted_message_is_handed_over_as_it_came(tmp_path):
    """A message cut off by another record type (or by the end of the stream) is not lost:
    its records come as they were, fragments and all."""
    hello = raw(TLSHandshake() / TLSClientHello())
    recs = _records_of(hello, [50, 30])          # the message is not finished
    alert = raw(TLSRecord() / TLSAlert(level=2, description=40))
    path = tmp_path / "cut.pcap"
    wrpcap(str(path), _segments(recs + [alert]))
    pkts = [p for p in sniff(offline=str(path), session=TLSHandshakeSession) if TLSRecord in p]
    got = b"".join(raw(p[TLSRecord]) for p in pkts)
    assert got == b"".join(recs) + alert
    assert TLSHandshakeFragment in pkts[0] and TLSAlert in pkts[-1]

    path = tmp_path / "fin.pcap"
    wrpcap(str(path), _segments(recs, fin=True))
    pkts = [p for p in sniff(offline=str(path), session=TLSHandshakeSession) if TLSRecord in p]
    assert b"".join(raw(p[TLSRecord]) for p in pkts) == b"".join(recs)


def test_change_cipher_spec_is_followed_per_direction(tmp_path):
    """After ChangeCipherSpec the next handshake record is encrypted content, not a start of
    a message to wait for."""
    ccs = raw(TLSRecord() / TLSChangeCipherSpec())
    fin = b"\x16\x03\x03\x00\x28" + b"\x14\x00\x01\x00" + bytes(36)   # looks like a long one
    path = tmp_path / "ccs.pcap"
    wrpcap(str(path), _segments([ccs, fin]))
    pkts = [p for p in sniff(offline=str(path), session=TLSHandshakeSession) if TLSRecord in p]
    assert [p[TLSRecord].summary() for p in pkts] == [
        "TLS 1.2 / ChangeCipherSpec", "TLS 1.2 handshake / encrypted (40 bytes)"]
    assert all(TLSHandshakeFragment not in x for p in pkts for x in layers(p))
