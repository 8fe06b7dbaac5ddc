"""The dissector on real captures changed the way damage and capture loss change them: a
record header altered, a record that should be protected sent in plaintext, lost segments
(one of them holding a ChangeCipherSpec, or the last one before the FIN), a capture that
starts inside a connection. Captures: tests/data/captures (real peers, see its README);
the changes are made here on their TCP segments (``rewrite.py``)."""
import pytest

from scapy_tls_hs.capture.dissect import dissect_capture
from tests.capture.rewrite import CAPTURES, optional, tcp_segments, truth, write

SYN = 0x02


def records(payload):
    """``(offset, content type, version, length)`` of each whole record of a segment."""
    out, pos = [], 0
    while pos + 5 <= len(payload):
        n = int.from_bytes(payload[pos + 3:pos + 5], "big")
        out.append((pos, payload[pos], int.from_bytes(payload[pos + 1:pos + 3], "big"), n))
        pos += 5 + n
    return out


def dissect(tmp_path, name, segments):
    path = write(tmp_path / (name + ".pcap"), segments)
    return dissect_capture(path, keylog=optional(name, ".keylog"))


def segments_of(name):
    segs = tcp_segments(str(CAPTURES / (name + ".pcap")))
    client_port = int(truth(name)[0]["client"].rsplit(":", 1)[1])
    return segs, client_port


def find(segs, port, predicate):
    """Index of the first segment sent from ``port`` with a record matching ``predicate``."""
    for i, seg in enumerate(segs):
        if seg.sport == port and any(predicate(r) for r in records(seg.payload)):
            return i
    raise LookupError("no such segment")


# -- TLS 1.3: the record header is authenticated -----------------------------------------

TLS13 = "tls13_aes128gcm_openssl"


def with_version(seg, index, version):
    """``seg`` with the version of its ``index``-th record replaced."""
    pos = records(seg.payload)[index][0]
    data = bytearray(seg.payload)
    data[pos + 1:pos + 3] = version.to_bytes(2, "big")
    return seg.copy(payload=bytes(data))


def test_tls13_record_with_another_version_does_not_decrypt(tmp_path):
    """RFC 8446 section 5.2: the additional data is the header as sent. The server's
    97-byte application data record, its version changed to 0x0301: not decrypted."""
    segs, client_port = segments_of(TLS13)
    (good,) = dissect(tmp_path, TLS13, segs)
    assert good.errors == [] and good.app_data["server_bytes"] == 97
    i = find(segs, 24116, lambda r: r[1] == 23 and r[3] == 114)
    segs[i] = with_version(segs[i], 0, 0x0301)
    (report,) = dissect(tmp_path, TLS13, segs)
    assert any("does not decrypt (bad_record_mac)" in e for e in report.errors)
    assert report.app_data["server_bytes"] == 0
    assert report.app_data["server_sha256"] != good.app_data["server_sha256"]
    # The records after it still open: the sequence number went on.
    assert report.messages[-2:] == ["S:alert:close_notify", "C:alert:close_notify"]


def test_tls13_finished_with_another_version_is_not_verified(tmp_path):
    """The client's Finished record (after its compatibility CCS), version 0x0301."""
    segs, client_port = segments_of(TLS13)
    i = find(segs, client_port, lambda r: r[1] == 23 and r[3] == 53)
    segs[i] = with_version(segs[i], 1, 0x0301)
    (report,) = dissect(tmp_path, TLS13, segs)
    assert report.decrypted is False
    assert "C:finished" not in report.messages
    assert any("cannot decrypt" in e and "bad_record_mac" in e for e in report.errors)


def test_tls13_plaintext_handshake_after_the_keys_changed_is_an_error(tmp_path):
    """The client's application data record replaced by a plaintext handshake record of
    the same size holding a ClientHello header: not read as a second ClientHello."""
    segs, client_port = segments_of(TLS13)
    i = find(segs, client_port, lambda r: r[1] == 23 and r[3] == 44)
    body = b"\x01\x00\x00\x28" + bytes(40)
    segs[i] = segs[i].copy(payload=b"\x16\x03\x03\x00\x2c" + body)
    (report,) = dissect(tmp_path, TLS13, segs)
    assert report.messages.count("C:client_hello") == 1
    assert "C:handshake" in report.messages
    assert any("unprotected handshake record" in e for e in report.errors)
    plain = [r for r in report.raw_records if r[1] == "client" and r[2] == 22]
    # The ClientHello, the (decrypted) Finished, the forged record kept as it came.
    assert [r[5] for r in plain] == [False, True, False]


# -- lost segments -----------------------------------------------------------------------

TLS12 = "tls12_ecdhe_rsa_aes128gcm_openssl"


def test_lost_change_cipher_spec_does_not_make_plaintext_of_ciphertext(tmp_path):
    """The server's segment with NewSessionTicket, ChangeCipherSpec and Finished is lost:
    its application data and close_notify are still decrypted (the sequence number is
    found), not read as plaintext alerts."""
    segs, client_port = segments_of(TLS12)
    i = find(segs, 24101, lambda r: r[1] == 20)
    del segs[i]
    (report,) = dissect(tmp_path, TLS12, segs)
    (want,) = truth(TLS12)
    assert not any(m.startswith("S:alert:unknown") for m in report.messages)
    assert report.messages[-3:] == ["S:application_data", "S:alert:close_notify",
                                    "C:alert:close_notify"]
    assert any("ChangeCipherSpec was among them" in e for e in report.errors)
    assert any("bytes missing" in e for e in report.errors)


def test_lost_change_cipher_spec_without_keys(tmp_path):
    """The same loss without a key log: the server's records are listed as protected."""
    segs, client_port = segments_of(TLS12)
    del segs[find(segs, 24101, lambda r: r[1] == 20)]
    path = write(tmp_path / "nokeys.pcap", segs)
    (report,) = dissect_capture(path)
    server = [m for m in report.messages if m.startswith("S:")]
    assert server[-2:] == ["S:application_data", "S:encrypted_alert"]


LOSSY = sorted(p.name[:-len(".pcap")] for p in CAPTURES.glob("*.pcap"))


@pytest.mark.parametrize("name", LOSSY)
def test_no_single_lost_segment_makes_plaintext_of_ciphertext(tmp_path, name):
    """Every data segment dropped in turn, with and without the key log: never an alert
    read from ciphertext (``alert:unknown_150``), never a false renegotiation or malformed
    ChangeCipherSpec, and the loss always reported."""
    segs, client_port = segments_of(name)
    for i, seg in enumerate(segs):
        if not seg.payload:
            continue
        path = write(tmp_path / "lossy.pcap", segs[:i] + segs[i + 1:])
        for keylog in (optional(name, ".keylog"), None):
            reports = dissect_capture(path, keylog=keylog)
            for report in reports:
                bogus = [m for m in report.messages
                         if m.split(":")[-1].startswith("unknown_") and m[-1].isdigit()]
                assert bogus == [], (i, report.messages)
                assert not any("renegotiation" in e or "malformed" in e
                               for e in report.errors), (i, report.errors)
            assert any("bytes missing" in e for r in reports for e in r.errors), i


def test_missing_final_segment_before_the_fin_is_a_gap(tmp_path):
    """The client's last data segment (close_notify) lost, and nothing of the server's
    after it captured: its FIN, further on in sequence space, shows the bytes missing."""
    segs, client_port = segments_of(TLS13)
    last = max(i for i, s in enumerate(segs) if s.sport == client_port and s.payload)
    fin = next(i for i, s in enumerate(segs) if s.sport == client_port and s.flags & 1)
    kept = segs[:last] + [segs[fin]]
    (report,) = dissect(tmp_path, TLS13, kept)
    assert "client->server: 24 bytes missing at stream offset" in " ".join(report.errors)
    assert "C:alert:close_notify" not in report.messages


# -- a capture that starts inside the connection -----------------------------------------

def test_first_segment_shorter_than_a_record_header(tmp_path):
    """No SYN captured, and the client's first segment is 3 bytes of its ClientHello record
    header (the rest follows): both directions are found and decrypted."""
    segs, client_port = segments_of(TLS12)
    segs = [s for s in segs if not s.flags & SYN]
    i = find(segs, client_port, lambda r: r[1] == 22)
    seg = segs[i]
    segs[i:i + 1] = [seg.copy(payload=seg.payload[:3]),
                     seg.copy(seq=seg.seq + 3, payload=seg.payload[3:])]
    (report,) = dissect(tmp_path, TLS12, segs)
    (want,) = truth(TLS12)
    assert report.messages == want["messages"]
    assert report.decrypted and report.errors == []


# -- TLS 1.3 drafts ----------------------------------------------------------------------
# No peer on the machine speaks a draft any more: the real TLS 1.3 capture's ServerHello is
# rewritten into each draft's form (the records after it are the real ones).

def _server_hello_segment(segs):
    return find(segs, 24116, lambda r: r[1] == 22 and r[3] == 122)


def test_tls13_draft_28_is_read_as_tls13(tmp_path):
    """Draft 28 (0x7f1c) has the final ServerHello and record protection: its records are
    decrypted with the key log (the Finished cannot match: the ServerHello was changed)."""
    segs, client_port = segments_of(TLS13)
    i = _server_hello_segment(segs)
    payload = segs[i].payload
    sv = payload.find(b"\x00\x2b\x00\x02\x03\x04")
    segs[i] = segs[i].copy(payload=payload[:sv + 4] + b"\x7f\x1c" + payload[sv + 6:])
    (report,) = dissect(tmp_path, TLS13, segs)
    assert report.version == "TLS 1.3"
    assert ("server", "server_hello", "TLS 1.3 draft 28, suite 0x1301, x25519") in [
        r[1:] for r in report.ladder]
    assert "S:encrypted_extensions" in report.messages    # decrypted
    assert not any("truncated" in e for e in report.errors)


def test_tls13_draft_18_server_hello_is_parsed(tmp_path):
    """Draft 18 (0x7f12): a ServerHello without session id and compression method."""
    segs, client_port = segments_of(TLS13)
    i = _server_hello_segment(segs)
    payload = segs[i].payload
    body = payload[9:5 + 122]
    sid_len = body[34]
    suite = body[35 + sid_len:37 + sid_len]
    exts = body[38 + sid_len:]
    # keep key_share, drop supported_versions (a draft 18 ServerHello had none)
    pos, kept = 2, b""
    while pos < len(exts):
        etype = int.from_bytes(exts[pos:pos + 2], "big")
        n = int.from_bytes(exts[pos + 2:pos + 4], "big")
        if etype != 43:
            kept += exts[pos:pos + 4 + n]
        pos += 4 + n
    draft_body = b"\x7f\x12" + body[2:34] + suite + len(kept).to_bytes(2, "big") + kept
    msg = b"\x02" + len(draft_body).to_bytes(3, "big") + draft_body
    record = b"\x16\x03\x03" + len(msg).to_bytes(2, "big") + msg
    delta = len(record) - (5 + 122)
    segs[i] = segs[i].copy(payload=record + payload[5 + 122:])
    for j, seg in enumerate(segs):
        if j > i and seg.sport == 24116:
            segs[j] = seg.copy(seq=seg.seq + delta)
        elif j > i:
            segs[j] = seg.copy(ack=seg.ack + delta)
    (report,) = dissect(tmp_path, TLS13, segs)
    assert report.version == "TLS 1.3" and report.cipher_suite == "TLS_AES_128_GCM_SHA256"
    assert report.group == "x25519"
    assert "TLS 1.3 draft 18: not supported for decryption" in report.errors
    assert not any("truncated" in e or "missing" in e for e in report.errors)
    assert report.messages[:3] == ["C:client_hello", "S:server_hello", "S:change_cipher_spec"]
    assert report.decrypted is False


def test_short_first_segment_roles_taken_from_the_hellos(tmp_path):
    """The same, with a client port below the server's (the port rule alone would name the
    client the server): the ClientHello and ServerHello decide once their bytes are in."""
    segs, client_port = segments_of(TLS12)
    segs = [s for s in segs if not s.flags & SYN]
    for j, s in enumerate(segs):
        if s.sport == client_port:
            segs[j] = s.copy(sport=1500)
        else:
            segs[j] = s.copy(dport=1500)
    i = find(segs, 1500, lambda r: r[1] == 22)
    seg = segs[i]
    segs[i:i + 1] = [seg.copy(payload=seg.payload[:2]),
                     seg.copy(seq=seg.seq + 2, payload=seg.payload[2:])]
    (report,) = dissect(tmp_path, TLS12, segs)
    (want,) = truth(TLS12)
    assert report.client == "127.0.0.1:1500" and report.server == want["server"]
    assert report.messages == want["messages"]
    assert report.decrypted and report.errors == []
