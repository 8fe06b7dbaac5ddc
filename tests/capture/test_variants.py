"""Real captures rewritten the ways real captures differ, each compared with its truth:
file formats (pcap both byte orders, micro/nanoseconds; pcapng), link types (Ethernet,
Linux cooked SLL and SLL2, raw IP, loopback NULL/LOOP), IPv6, TCP that is retransmitted,
out of order, overlapping, closed by RST or caught mid-way, flights packed into one record,
and many connections in one file, some of them damaged (the others must not notice).
"""
import random

import pytest

from scapy_tls_hs.capture.dissect import dissect_capture
from scapy_tls_hs.crypto.keylog import Keylog
from tests.capture.rewrite import (CAPTURES, FIN, LINKTYPES, RST, capture, differences,
                                   merge_handshake_records, names, optional, resegment,
                                   tcp_segments, truth, v6_endpoint, write)

NAMES = names()
# A spread of the corpus: CBC and GCM, RSA key exchange, resumption, a 20 KB certificate
# chain over several segments, TLS 1.3.
SOME = ["big_cert_chain_multisegment", "resume_ticket_python", "tls12_rsa_aes128sha_openssl",
        "tls12_ecdhe_rsa_aes128sha_curl", "tls13_aes128gcm_openssl"]


def dissect(path, name):
    return dissect_capture(path, keylog=optional(name, ".keylog"),
                           server_key=optional(name, ".server.key"))


def assert_truth(reports, name, v6=False):
    want = truth(name)
    assert len(reports) == len(want)
    for report, expected in zip(reports, want):
        if v6:
            expected = dict(expected, client=v6_endpoint(expected["client"]),
                            server=v6_endpoint(expected["server"]))
        got = report.to_dict()
        assert differences(expected, got) == []
        assert got["errors"] == []
    assert reports.warnings == []


@pytest.mark.parametrize("fmt", ["pcap-le-usec", "pcap-be-usec", "pcap-le-nsec",
                                 "pcap-be-nsec", "pcapng-le-usec", "pcapng-be-nsec"])
@pytest.mark.parametrize("name", SOME)
def test_file_formats(tmp_path, name, fmt):
    kind, order, unit = fmt.split("-")
    options = {"order": "<" if order == "le" else ">"}
    if kind == "pcap":
        options["nano"] = unit == "nsec"
    else:
        options["tsresol"] = 9 if unit == "nsec" else 6
    path = write(tmp_path / ("x." + kind), tcp_segments(capture(name)), **options)
    assert_truth(dissect(path, name), name)


@pytest.mark.parametrize("v6", [False, True], ids=["ipv4", "ipv6"])
@pytest.mark.parametrize("link", sorted(LINKTYPES))
def test_link_types_and_ip_versions(tmp_path, link, v6):
    for name in ("resume_session_id_openssl", "tls12_ecdhe_ecdsa_chacha20_gnutls"):
        path = write(tmp_path / (name + ".pcap"), tcp_segments(capture(name)), link, v6)
        assert_truth(dissect(path, name), name, v6)


@pytest.mark.parametrize("name", NAMES)
def test_retransmitted_out_of_order_and_overlapping_segments(tmp_path, name):
    rng = random.Random(name)
    segments = tcp_segments(capture(name))
    reshaped = resegment(segments, rng)
    data = lambda segs: sum(1 for s in segs if s.payload)  # noqa: E731
    assert data(reshaped) > 2 * data(segments)
    path = write(tmp_path / "reshaped.pcap", reshaped, "sll2", v6=True)
    assert_truth(dissect(path, name), name, v6=True)


def test_one_byte_segments(tmp_path):
    """Every record header, handshake message and ciphertext cut at every byte."""
    name = "mutual_auth_rsa_openssl"
    segments = resegment(tcp_segments(capture(name)), random.Random(1), max_piece=1)
    path = write(tmp_path / "bytes.pcap", segments)
    assert_truth(dissect(path, name), name)


@pytest.mark.parametrize("name", ["tls12_ecdhe_rsa_aes128gcm_openssl", "resume_ticket_python"])
def test_connections_closed_by_rst(tmp_path, name):
    segments = [s.copy(flags=(s.flags & ~FIN) | RST) if s.flags & FIN else s
                for s in tcp_segments(capture(name))]
    path = write(tmp_path / "rst.pcap", segments)
    assert_truth(dissect(path, name), name)


def test_capture_starting_mid_connection(tmp_path):
    """The capture misses the SYN, SYN-ACK and ACK, and sees the ClientHello only retransmitted
    after a server ACK: the client is still found, nothing is reported missing."""
    name = "tls12_ecdhe_rsa_aes256gcm_pyserver"
    segments = tcp_segments(capture(name))[3:]
    hello = next(i for i, s in enumerate(segments) if s.payload)
    segments.insert(hello + 1, segments[hello].copy())
    path = write(tmp_path / "late.pcap", segments)
    assert_truth(dissect(path, name), name)


# -- many connections in one file -----------------------------------------------------------

def merged(tmp_path, edit=None):
    """Every capture of the corpus in one pcap, one key log for all; ``edit(name, segments)``
    may damage one capture's segments first."""
    segments, keylog = [], []
    for name in NAMES:
        mine = tcp_segments(capture(name))
        if edit is not None:
            mine = edit(name, mine)
        segments += mine
        keylog.append((CAPTURES / (name + ".keylog")).read_text())
    path = write(tmp_path / "all.pcap", segments)
    return dissect_capture(path, keylog=Keylog.parse("\n".join(keylog)))


def expected_all():
    return [(name, t) for name in NAMES for t in truth(name)]


def test_all_captures_in_one_file(tmp_path):
    reports = merged(tmp_path)
    want = expected_all()
    assert len(reports) == len(want) == 19
    for report, (name, expected) in zip(reports, want):
        assert differences(expected, report.to_dict()) == [], name
        assert report.errors == []


def _first_payload_of(segments, side_port, first_byte, nth=0):
    hits = [i for i, s in enumerate(segments)
            if s.sport == side_port and s.payload[:1] == bytes([first_byte])]
    return hits[nth]


def _garbage_in_ciphertext(name, segments):
    """Flip a byte inside the client's first application data record."""
    if name != "tls12_ecdhe_rsa_aes128sha_curl":
        return segments
    port = int(truth(name)[0]["client"].rsplit(":", 1)[1])
    i = _first_payload_of(segments, port, 23)
    data = bytearray(segments[i].payload)
    data[20] ^= 0x55
    segments[i] = segments[i].copy(payload=bytes(data))
    return segments


def _not_tls_any_more(name, segments):
    """The server's first flight is replaced by text: no record framing in that direction."""
    if name != "tls12_dhe_rsa_aes256gcm_openssl":
        return segments
    port = int(truth(name)[0]["server"].rsplit(":", 1)[1])
    i = _first_payload_of(segments, port, 22)
    text = (b"HTTP/1.1 400 Bad Request\r\n" * 1000)[:len(segments[i].payload)]
    segments[i] = segments[i].copy(payload=text)
    return segments


def _unknown_suite(name, segments):
    """The ServerHello names a suite nobody implements here (Camellia)."""
    if name != "tls12_ecdhe_ecdsa_aes128gcm_pyclient":
        return segments
    port = int(truth(name)[0]["server"].rsplit(":", 1)[1])
    i = _first_payload_of(segments, port, 22)
    data = bytearray(segments[i].payload)
    at = 5 + 4 + 2 + 32 + 1 + data[5 + 4 + 2 + 32]
    assert data[at:at + 2] == b"\xc0\x2b"
    data[at:at + 2] = b"\xc0\x76"
    segments[i] = segments[i].copy(payload=bytes(data))
    return segments


def _lost_segment(name, segments):
    """A server segment of application data never made it into the capture."""
    if name != "sni_alpn_curl_openssl":
        return segments
    port = int(truth(name)[0]["server"].rsplit(":", 1)[1])
    del segments[_first_payload_of(segments, port, 23)]
    return segments


@pytest.mark.parametrize("edit,damaged,check", [
    (_garbage_in_ciphertext, "tls12_ecdhe_rsa_aes128sha_curl",
     lambda r: r.decrypted and any("does not decrypt (bad_record_mac)" in e for e in r.errors)),
    (_not_tls_any_more, "tls12_dhe_rsa_aes256gcm_openssl",
     lambda r: not r.decrypted and any("not TLS records" in e for e in r.errors)
     and r.messages[0] == "C:client_hello"),
    (_unknown_suite, "tls12_ecdhe_ecdsa_aes128gcm_pyclient",
     lambda r: not r.decrypted and r.cipher_suite.endswith("CAMELLIA_128_CBC_SHA256")
     and any("not supported for decryption" in e for e in r.errors)),
    (_lost_segment, "sni_alpn_curl_openssl",
     lambda r: r.decrypted and any("bytes missing" in e for e in r.errors)
     and "S:application_data" not in r.messages
     and r.messages[-2:] == ["S:alert:close_notify", "C:alert:close_notify"]),
], ids=["garbage-in-record", "not-tls", "unknown-suite", "lost-segment"])
def test_one_damaged_connection_among_many(tmp_path, edit, damaged, check):
    reports = merged(tmp_path, edit)
    want = expected_all()
    assert len(reports) == len(want)
    for report, (name, expected) in zip(reports, want):
        if name == damaged:
            assert report.errors and check(report), report.errors
        else:
            assert differences(expected, report.to_dict()) == [], name
            assert report.errors == [], name


def _boundaries(conn, direction):
    """(records split across segments, segments with several records, plaintext handshake
    messages split across records, records with several handshake messages)."""
    data = conn.stream(direction)
    seg_starts = sorted(c.offset for c in conn.chunks if c[0] == direction) + [len(data)]
    records, pos = [], 0
    while pos < len(data):
        end = pos + 5 + int.from_bytes(data[pos + 3:pos + 5], "big")
        records.append((pos, end, data[pos]))
        pos = end
    split = sum(1 for a, b, _ in records if any(a < c < b for c in seg_starts))
    multi = sum(1 for lo, hi in zip(seg_starts, seg_starts[1:])
                if sum(1 for a, _, _ in records if lo <= a < hi) > 1)
    # Plaintext handshake records: those before the first ChangeCipherSpec.
    plain = []
    for a, b, ct in records:
        if ct == 20:
            break
        if ct == 22:
            plain.append(data[a + 5:b])
    record_ends, total = [], 0
    for fragment in plain:
        total += len(fragment)
        record_ends.append(total)
    joined = b"".join(plain)
    msgs, pos = [], 0
    while pos + 4 <= len(joined):
        end = pos + 4 + int.from_bytes(joined[pos + 1:pos + 4], "big")
        msgs.append((pos, end))
        pos = end
    spans = sum(1 for a, b in msgs if any(a < r < b for r in record_ends))
    starts = [0] + record_ends
    packed = sum(1 for lo, hi in zip(starts, starts[1:])
                 if sum(1 for a, _ in msgs if lo <= a < hi) > 1)
    return split, multi, spans, packed


def test_the_corpus_exercises_every_record_and_message_boundary(tmp_path):
    """The truth comparisons above cover each of these cases with real bytes: the corpus
    as recorded, and as ``merge_handshake_records`` packs it."""
    from scapy_tls_hs.capture.pcapfile import read_packets
    from scapy_tls_hs.capture.streams import reassemble
    totals = [0, 0, 0, 0]
    for name in NAMES:
        paths = [capture(name)]
        if name in PACKABLE:
            paths.append(write(tmp_path / (name + ".pcap"),
                               merge_handshake_records(tcp_segments(capture(name)))))
        for path in paths:
            for conn in reassemble(read_packets(path)):
                for direction in ("client", "server"):
                    for i, n in enumerate(_boundaries(conn, direction)):
                        totals[i] += n
    split, multi, spans, packed = totals
    assert split > 0 and multi > 0 and spans > 0 and packed > 0, totals


# TLS 1.2 captures whose segments hold whole records (TLS 1.3 hides its handshake records).
PACKABLE = [n for n in NAMES if n not in ("big_cert_chain_multisegment",
                                          "tls13_aes128gcm_openssl")]


@pytest.mark.parametrize("name", PACKABLE)
def test_several_handshake_messages_per_record(tmp_path, name):
    """OpenSSL, GnuTLS and Python send one record per message; many stacks pack a flight
    into one record. The transcript does not see records, so the truth must still hold."""
    segments = tcp_segments(capture(name))
    merged = merge_handshake_records(segments)
    assert sum(map(len, (s.payload for s in merged))) < sum(map(len, (s.payload
                                                                       for s in segments)))
    path = write(tmp_path / "packed.pcap", merged)
    assert_truth(dissect(path, name), name)


def test_capture_starting_inside_the_application_data(tmp_path):
    """Caught after the handshake, the first segment cut inside a record: the connection is
    still found (no --port needed), the records after the cut are listed, the start is said."""
    name = "tls12_ecdhe_rsa_aes128gcm_openssl"
    segments = tcp_segments(capture(name))
    first = next(i for i, s in enumerate(segments) if s.payload[:1] == b"\x17")
    late = segments[first:]
    late[0] = late[0].copy(seq=late[0].seq + 3, payload=late[0].payload[3:])
    path = write(tmp_path / "late.pcap", late)
    (report,) = dissect(path, name)
    (want,) = truth(name)
    tail = want["messages"][want["messages"].index("C:application_data") + 1:]
    assert report.version is None and not report.decrypted
    assert report.client == want["client"] and report.server == want["server"]
    assert [m.replace("encrypted_alert", "alert:close_notify") for m in report.messages] \
        == tail
    assert report.errors == ["client->server: the capture starts inside this stream; the "
                             "bytes before the first record header are skipped"]
