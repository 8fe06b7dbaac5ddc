"""dissect_capture against the capture corpus: every field of every truth file.

Captures and truth files: tests/data/captures (README there says how each was made).
"""
import hashlib
import json
import pathlib
import random
import subprocess
import sys

import pytest

from scapy_tls_hs.capture.dissect import dissect_capture
from scapy_tls_hs.capture.ladder import render
from scapy_tls_hs.crypto.keylog import Keylog
from scapy_tls_hs.errors import CaptureError
from tests.contract import DISSECT_FIELDS

CAPTURES = pathlib.Path(__file__).resolve().parent.parent / "data" / "captures"
NAMES = sorted(p.name[:-len(".truth.jsonl")] for p in CAPTURES.glob("*.truth.jsonl"))
PCAPS = pathlib.Path(__file__).resolve().parent.parent.parent / "pcaps"
RSA_NAMES = [n for n in NAMES if (CAPTURES / (n + ".server.key")).exists()]
FIELDS = DISSECT_FIELDS
# Fields that do not depend on decryption (TLS 1.2: everything before ChangeCipherSpec is
# plaintext; ``messages`` is checked separately).
PLAIN_FIELDS = ["client", "server", "version", "cipher_suite", "session_id", "resumed",
                "sni", "alpn", "client_auth", "extended_master_secret"]


def capture(name, folder=CAPTURES):
    for ext in (".pcap", ".pcapng"):
        if (folder / (name + ext)).exists():
            return folder / (name + ext)
    raise FileNotFoundError(name)


def truth(name):
    with open(CAPTURES / (name + ".truth.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def optional(name, suffix, folder=CAPTURES):
    path = folder / (name + suffix)
    return str(path) if path.exists() else None


def assert_fields(got, want, fields):
    for field in fields:
        if field in want:
            assert got.get(field, "<missing>") == want[field], field
        elif field == "app_data":
            assert "app_data" not in got


def undecrypted_messages(messages):
    """TLS <= 1.2 truth messages as seen without keys: after a side's ChangeCipherSpec its
    handshake messages and alerts are encrypted (one record each in these captures)."""
    out, after_ccs = [], set()
    for m in messages:
        side, name = m.split(":", 1)
        if side in after_ccs and name.startswith("alert:"):
            name = "encrypted_alert"
        elif side in after_ccs and name not in ("application_data", "change_cipher_spec"):
            name = "encrypted_handshake"
        if name == "change_cipher_spec":
            after_ccs.add(side)
        out.append(side + ":" + name)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_matches_truth_with_all_keys(name):
    reports = dissect_capture(capture(name), keylog=optional(name, ".keylog"),
                              server_key=optional(name, ".server.key"))
    want = truth(name)
    assert len(reports) == len(want)
    for report, expected in zip(reports, want):
        got = report.to_dict()
        assert list(got)[:2] == ["client", "server"] and list(got)[-1] == "errors"
        assert_fields(got, expected, FIELDS)
        assert got["errors"] == []
        json.dumps(got)
    assert reports.warnings == []


def test_the_rsa_key_exchange_captures_have_their_server_key():
    rsa = [n for n in NAMES if truth(n)[0]["cipher_suite"].startswith("TLS_RSA_")]
    assert RSA_NAMES == rsa == ["tls12_rsa_aes128gcm_python", "tls12_rsa_aes128sha_openssl"]


@pytest.mark.parametrize("name", RSA_NAMES)
def test_rsa_decrypts_with_server_key_alone(name):
    reports = dissect_capture(capture(name), server_key=optional(name, ".server.key"))
    want = truth(name)
    assert len(reports) == len(want)
    for report, expected in zip(reports, want):
        assert report.key_source == "server_key"
        assert report.decrypted and expected["extended_master_secret"]  # RFC 7627 hash
        assert_fields(report.to_dict(), expected, FIELDS)
        assert report.errors == []


@pytest.mark.parametrize("name", NAMES)
def test_without_keys_the_plaintext_fields_still_match(name):
    reports = dissect_capture(capture(name))
    want = truth(name)
    assert len(reports) == len(want)
    for report, expected in zip(reports, want):
        got = report.to_dict()
        assert_fields(got, expected, PLAIN_FIELDS)
        assert got["decrypted"] is False and "app_data" not in got
        assert got["errors"] == []
        if expected["version"] != "TLS 1.3":
            assert got["messages"] == undecrypted_messages(expected["messages"])
        else:
            # Plaintext part of TLS 1.3, then protected records whose type is hidden.
            assert got["messages"][:3] == expected["messages"][:3]
            rest = {m.split(":", 1)[1] for m in got["messages"][3:]}
            assert rest <= {"encrypted_handshake", "application_data", "change_cipher_spec"}


def test_tls13_without_keys_names_the_handshake_flights():
    got = dissect_capture(capture("tls13_aes128gcm_openssl"))[0].messages
    first_client = next(i for i, m in enumerate(got) if m == "C:encrypted_handshake")
    assert all(m in ("S:encrypted_handshake", "C:change_cipher_spec")
               for m in got[3:first_client])
    assert "S:application_data" in got[first_client:]


@pytest.mark.parametrize("name", ["resume_session_id_openssl", "resume_ticket_python"])
def test_resumed_session_found_from_an_earlier_connection(name, tmp_path):
    # Only the first (full) handshake's key log line: the resumed connection must find its
    # master secret by session id / ticket.
    lines = (CAPTURES / (name + ".keylog")).read_text().splitlines()
    entries = [line for line in lines if line.startswith("CLIENT_RANDOM")]
    keylog = Keylog.parse(entries[0] + "\n")
    reports = dissect_capture(capture(name), keylog=keylog)
    want = truth(name)
    assert reports[1].key_source == "session"
    for report, expected in zip(reports, want):
        assert_fields(report.to_dict(), expected, FIELDS)
        assert report.errors == []


def test_resumed_session_without_earlier_keys_is_not_decrypted():
    name = "resume_session_id_openssl"
    lines = (CAPTURES / (name + ".keylog")).read_text().splitlines()
    entries = [line for line in lines if line.startswith("CLIENT_RANDOM")]
    reports = dissect_capture(capture(name), keylog=Keylog.parse(entries[1] + "\n"))
    assert [r.decrypted for r in reports] == [False, True]
    assert any("no key" in e for e in reports[0].errors)


def test_wrong_key_log_is_an_error_entry_not_a_crash():
    reports = dissect_capture(capture("tls12_ecdhe_rsa_aes128gcm_openssl"),
                              keylog=str(CAPTURES / "ems_off_gnutls.keylog"))
    (report,) = reports
    assert report.decrypted is False and report.app_data is None
    assert report.errors and "no key log entry" in report.errors[0]


def test_wrong_secret_in_key_log_reports_bad_record_mac():
    name = "tls12_ecdhe_rsa_aes128gcm_openssl"
    text = (CAPTURES / (name + ".keylog")).read_text()
    label, random_hex, secret = [l for l in text.splitlines()
                                 if l.startswith("CLIENT_RANDOM")][0].split()
    bad = "%s %s %s\n" % (label, random_hex, "00" * (len(secret) // 2))
    (report,) = dissect_capture(capture(name), keylog=Keylog.parse(bad))
    assert report.decrypted is False
    assert any("bad_record_mac" in e for e in report.errors)
    assert "C:encrypted_handshake" in report.messages  # the Finished stays a record


def _tls13_keylog(edit):
    lines = (CAPTURES / "tls13_aes128gcm_openssl.keylog").read_text().splitlines()
    return Keylog.parse("".join(edit(line.split()) + "\n" for line in lines if edit(line.split())))


@pytest.mark.parametrize("case", ["other-connection", "wrong-secret", "handshake-only",
                                  "server-key"])
def test_tls13_wrong_or_partial_key_log(case):
    server_key = None
    if case == "server-key":
        keylog, server_key = None, str(CAPTURES / "tls12_rsa_aes128sha_openssl.server.key")
        expect = "no keys for this connection: the server key only helps RSA key exchange"
    elif case == "other-connection":
        keylog = str(CAPTURES / "tls12_ecdhe_rsa_aes128gcm_openssl.keylog")
        expect = "no TLS 1.3 secrets in the key log for client random"
    elif case == "wrong-secret":
        keylog = _tls13_keylog(lambda f: " ".join(
            f[:2] + ["00" * (len(f[2]) // 2)] if f[0] == "SERVER_HANDSHAKE_TRAFFIC_SECRET"
            else f))
        expect = ("server->client: cannot decrypt the first application_data record "
                  "(bad_record_mac)")
    else:
        keylog = _tls13_keylog(lambda f: " ".join(f) if "HANDSHAKE" in f[0] else "")
        expect = "the key log has no SERVER_TRAFFIC_SECRET_0"
    (r,) = dissect_capture(capture("tls13_aes128gcm_openssl"), keylog=keylog,
                           server_key=server_key)
    (want,) = truth("tls13_aes128gcm_openssl")
    assert r.decrypted is False and "app_data" not in r.to_dict()
    assert any(expect in e for e in r.errors), r.errors
    assert_fields(r.to_dict(), want, ["client", "server", "version", "cipher_suite",
                                      "session_id", "sni"])
    if case == "handshake-only":
        # The handshake itself was decrypted and both Finished verified.
        assert r.messages[:9] == want["messages"][:9]
        assert [d for _, _, n, d in r.ladder if n == "finished"] == ["verify_data ok"] * 2


def test_server_key_that_does_not_fit(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "other.key"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    (report,) = dissect_capture(capture("tls12_rsa_aes128gcm_python"), server_key=str(path))
    assert report.decrypted is False
    assert report.errors
    assert report.version == "TLS 1.2" and report.messages[0] == "C:client_hello"


@pytest.mark.parametrize("content", [b"", b"hello, not a capture\n", b"\x0a\x0d\x0d"])
def test_not_a_capture_raises_capture_error(tmp_path, content):
    path = tmp_path / "x.pcap"
    path.write_bytes(content)
    with pytest.raises(CaptureError):
        dissect_capture(path)


def test_missing_files_raise_capture_error(tmp_path):
    with pytest.raises(CaptureError):
        dissect_capture(tmp_path / "nope.pcap")
    with pytest.raises(CaptureError):
        dissect_capture(capture(NAMES[0]), keylog=str(tmp_path / "nope.keylog"))
    with pytest.raises(CaptureError):
        dissect_capture(capture(NAMES[0]), server_key=str(tmp_path / "nope.key"))
    garbage = tmp_path / "garbage.key"
    garbage.write_bytes(b"not a key")
    with pytest.raises(CaptureError):
        dissect_capture(capture(NAMES[0]), server_key=str(garbage))


def test_ecdsa_server_key_is_refused(pki):
    with pytest.raises(CaptureError, match="not an RSA key"):
        dissect_capture(capture(NAMES[0]), server_key=pki.ecdsa_key)


def _dissect_copy(tmp_path, name, data, folder=CAPTURES):
    path = tmp_path / ("copy" + capture(name, folder).suffix)
    path.write_bytes(data)
    reports = dissect_capture(path, keylog=optional(name, ".keylog", folder),
                              server_key=optional(name, ".server.key", folder))
    for r in reports:
        json.dumps(r.to_dict())
        # The dissector's safety net must not be what caught the damage.
        assert not any(e.startswith("internal error") for e in r.errors), r.errors
    text = render(reports, width=80, warnings=reports.warnings)
    assert all(len(line) <= 80 for line in text.splitlines())
    return reports


# Every capture: the corpus, and the ones recorded for pcaps/ only.
ALL = [(n, CAPTURES) for n in NAMES] + sorted(
    (p.stem, PCAPS) for p in PCAPS.glob("*.pcap") if not (CAPTURES / p.name).exists())


@pytest.mark.parametrize("name,folder", ALL, ids=[n for n, _ in ALL])
def test_truncated_copies_give_errors_never_exceptions(tmp_path, name, folder):
    data = capture(name, folder).read_bytes()
    rng = random.Random(name)
    cuts = sorted(set(rng.randrange(40, len(data) - 1) for _ in range(10)))
    for cut in cuts:
        reports = _dissect_copy(tmp_path, name, data[:cut], folder)
        problems = list(reports.warnings) + [e for r in reports for e in r.errors]
        assert problems, "cut at %d: nothing reported" % cut
        # Whatever was complete before the cut is still reported.
        if reports:
            assert reports[0].messages[0] == "C:client_hello"


@pytest.mark.parametrize("name,folder", ALL, ids=[n for n, _ in ALL])
def test_corrupted_copies_never_raise(tmp_path, name, folder):
    data = bytearray(capture(name, folder).read_bytes())
    rng = random.Random(name)
    for _ in range(10):
        copy = bytearray(data)
        for _ in range(rng.choice((1, 3, 20))):
            pos = rng.randrange(24, len(copy))
            copy[pos] ^= 1 << rng.randrange(8)
        _dissect_copy(tmp_path, name, bytes(copy), folder)


def test_flipped_ciphertext_byte_is_reported(tmp_path):
    name = "tls12_ecdhe_rsa_aes128gcm_openssl"
    data = bytearray(capture(name).read_bytes())
    # The last alert record is the client's close_notify (AES-GCM: 8 + 2 + 16 bytes).
    pos = data.rfind(b"\x15\x03\x03\x00\x1a")
    data[pos + 5 + 12] ^= 0xFF
    (report,) = _dissect_copy(tmp_path, name, bytes(data))
    assert any("bad_record_mac" in e for e in report.errors)
    assert report.messages[-1] == "C:encrypted_alert"


def test_garbage_inside_a_tls_stream(tmp_path):
    """Records whose header is not TLS: the direction stops, the report goes on."""
    name = "tls12_ecdhe_rsa_aes256gcm_pyserver"
    data = bytearray(capture(name).read_bytes())
    # The ClientHello record header: overwrite its content type with 0x99.
    pos = data.find(b"\x16\x03\x01")
    data[pos] = 0x99
    (report,) = _dissect_copy(tmp_path, name, bytes(data))
    assert any("not a TLS record" in e for e in report.errors)
    assert report.messages[0] == "S:server_hello"


def test_packets_are_scapy_records_decrypted():
    layers = pytest.importorskip("scapy_tls_hs.layers")
    if not hasattr(layers, "TLSRecord"):
        pytest.skip("layers not written yet")
    name = "tls12_ecdhe_rsa_aes128gcm_openssl"
    (report,) = dissect_capture(capture(name), keylog=optional(name, ".keylog"))
    packets = report.packets
    assert report.packets is packets  # built once
    assert len(packets) == report.records
    assert all(isinstance(p, layers.TLSRecord) for p in packets)
    app = [p for p in packets if p.sent_by == "client" and p.decrypted and p.type == 23]
    assert sum(len(bytes(p)) - 5 for p in app) == report.app_data["client_bytes"]
    assert packets[0].sent_by == "client" and packets[0].decrypted is False


def test_dissect_does_not_import_scapy():
    name = "tls12_rsa_aes128sha_openssl"
    code = ("import sys\nfrom scapy_tls_hs import dissect_capture\n"
            "r = dissect_capture(%r, keylog=%r)\nassert r[0].decrypted\n"
            "print(sorted(m for m in sys.modules if m == 'scapy' or m.startswith('scapy.')))"
            % (str(capture(name)), optional(name, ".keylog")))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_unknown_suite_is_an_error_entry(tmp_path):
    """The ServerHello's suite patched to one we cannot decrypt (Camellia)."""
    name = "tls12_ecdhe_rsa_aes128gcm_openssl"
    data = bytearray(capture(name).read_bytes())
    pos = 0
    while True:
        pos = data.find(b"\x16\x03\x03", pos + 1)
        if data[pos + 5] == 2:      # a handshake record starting with a ServerHello
            break
    sid_len = data[pos + 5 + 4 + 2 + 32]
    at = pos + 5 + 4 + 2 + 32 + 1 + sid_len
    assert data[at:at + 2] == b"\xc0\x2f"
    data[at:at + 2] = b"\xc0\x76"
    (report,) = _dissect_copy(tmp_path, name, bytes(data))
    assert report.cipher_suite == "TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256"
    assert report.decrypted is False
    assert any("not supported for decryption" in e for e in report.errors)
    assert "C:encrypted_handshake" in report.messages


# -- pcaps/: extra captures recorded by pcaps/make_captures.py (OpenSSL peers) ----------

def app_data(client, server):
    """The CONTRACT ``app_data`` of a connection that carried these plaintexts."""
    return {"client_bytes": len(client), "client_sha256": hashlib.sha256(client).hexdigest(),
            "server_bytes": len(server), "server_sha256": hashlib.sha256(server).hexdigest()}


def reverse_lines(data):
    """What ``openssl s_server -rev`` answers."""
    return b"".join(line[::-1] + b"\n" for line in data.split(b"\n")[:-1])


def dissect_pcap(name, keylog=True, server_key=False):
    return dissect_capture(PCAPS / (name + ".pcap"),
                           keylog=str(PCAPS / (name + ".keylog")) if keylog else None,
                           server_key=str(PCAPS / (name + ".server.key")) if server_key else None)


def test_tls13_hello_retry_request_and_key_update():
    (r,) = dissect_pcap("tls13_hrr_keyupdate_openssl")
    assert r.errors == [] and r.decrypted and r.version == "TLS 1.3"
    m = r.messages
    assert m[:2] == ["C:client_hello", "S:hello_retry_request"]
    assert m.count("C:client_hello") == 2
    assert m.index("S:server_hello") > m.index("S:hello_retry_request")
    assert "C:key_update" in m
    after = m[m.index("C:key_update"):]
    assert "C:application_data" in after      # decrypted with the updated secret
    sent = b"hello\nafter the key update\n"
    assert r.app_data == app_data(sent, reverse_lines(sent))
    assert r.resumed is False and r.extended_master_secret is False


def test_tls13_resumption_flag():
    first, second = dissect_pcap("tls13_resumption_openssl")
    assert not first.resumed and second.resumed
    assert "S:certificate" in first.messages and "S:certificate" not in second.messages
    for r in (first, second):
        assert r.decrypted and r.errors == []
        assert r.app_data == app_data(b"hello\n", b"olleh\n")


@pytest.mark.parametrize("name,version", [("tls10_rsa_aes128sha_openssl", "TLS 1.0"),
                                          ("tls11_ecdhe_rsa_aes256sha_openssl", "TLS 1.1")])
def test_tls10_and_tls11_cbc(name, version):
    (r,) = dissect_pcap(name)
    assert r.version == version and r.decrypted and r.errors == []
    assert r.messages[:2] == ["C:client_hello", "S:server_hello"]
    assert "C:alert:close_notify" in r.messages
    sent = b"hello over %s\n" % version.encode()
    assert r.app_data == app_data(sent, reverse_lines(sent))


def test_tls10_rsa_with_the_server_key_alone():
    (r,) = dissect_pcap("tls10_rsa_aes128sha_openssl", keylog=False, server_key=True)
    assert r.decrypted and r.key_source == "server_key" and r.errors == []
    (with_keylog,) = dissect_pcap("tls10_rsa_aes128sha_openssl")
    assert r.to_dict() == with_keylog.to_dict()


PCAPS_ONLY = sorted(p.stem for p in PCAPS.glob("*.pcap") if not (CAPTURES / p.name).exists())


@pytest.mark.parametrize("name", PCAPS_ONLY)
def test_extra_captures_without_keys(name):
    """The key log absent: the same report as with it, but for what only keys reveal."""
    keyed = [r.to_dict() for r in dissect_pcap(name)]
    for r, want in zip(dissect_pcap(name, keylog=False), keyed):
        got = r.to_dict()
        assert not r.decrypted and r.errors == [] and "app_data" not in got
        fields = PLAIN_FIELDS if want["version"] != "TLS 1.3" else [
            f for f in PLAIN_FIELDS if f not in ("alpn", "client_auth")]  # encrypted in 1.3
        assert_fields(got, want, fields)
        if want["version"] != "TLS 1.3":
            assert got["messages"] == undecrypted_messages(want["messages"])
        else:
            plain = want["messages"][:want["messages"].index("S:server_hello") + 1]
            assert got["messages"][:len(plain)] == plain


def test_a_lost_segment_is_reported_and_the_rest_still_dissected(tmp_path):
    """The client's application data segment is missing from the capture."""
    from scapy.layers.inet import TCP
    from scapy.layers.l2 import Ether  # noqa: F401 (binds the link type for rdpcap)
    from scapy.utils import rdpcap, wrpcap
    name = "tls12_ecdhe_rsa_aes128gcm_openssl"
    packets = list(rdpcap(str(capture(name))))
    client_port = int(truth(name)[0]["client"].rsplit(":", 1)[1])
    data_segments = [i for i, p in enumerate(packets)
                     if p.haslayer(TCP) and p[TCP].sport == client_port
                     and bytes(p[TCP].payload)[:1] == b"\x17"]
    del packets[data_segments[0]]
    path = tmp_path / "lossy.pcap"
    wrpcap(str(path), packets)
    (report,) = dissect_capture(path, keylog=optional(name, ".keylog"))
    (want,) = truth(name)
    assert any("bytes missing" in e for e in report.errors)
    assert report.decrypted                    # the handshake was whole
    assert "C:application_data" not in report.messages
    assert report.messages[-1] == "C:alert:close_notify"   # sequence number recovered
    assert report.app_data["server_sha256"] == want["app_data"]["server_sha256"]
    assert report.app_data["client_bytes"] == 0


def test_connection_without_its_syn(tmp_path):
    """Capture started after the handshake's SYN: the ClientHello still names the client."""
    from scapy.layers.inet import TCP
    from scapy.layers.l2 import Ether  # noqa: F401 (binds the link type for rdpcap)
    from scapy.utils import rdpcap, wrpcap
    name = "tls12_ecdhe_ecdsa_chacha20_gnutls"
    packets = [p for p in rdpcap(str(capture(name))) if not p[TCP].flags & 0x02]
    path = tmp_path / "nosyn.pcap"
    wrpcap(str(path), packets)
    (report,) = dissect_capture(path, keylog=optional(name, ".keylog"))
    assert_fields(report.to_dict(), truth(name)[0], FIELDS)
    assert report.errors == []


def test_key_log_embedded_in_a_pcapng_is_used():
    """editcap --inject-secrets: the pcapng carries its key log; no --keylog needed."""
    path = CAPTURES.parent / "pcapng" / "editcap_dsb_tls12_rsa_aes128gcm_python.pcapng"
    name = "tls12_rsa_aes128gcm_python"
    for keylog in (None, str(CAPTURES / "ems_off_gnutls.keylog")):
        (report,) = dissect_capture(path, keylog=keylog)
        assert report.key_source == "keylog" and report.errors == []
        assert_fields(report.to_dict(), truth(name)[0], FIELDS)
    # A line of the given key log wins over the embedded one.
    line = next(line.split() for line in (CAPTURES / (name + ".keylog")).open()
                if line.startswith("CLIENT_RANDOM"))
    wrong = Keylog.parse("CLIENT_RANDOM %s %s\n" % (line[1], "00" * 48))
    (report,) = dissect_capture(path, keylog=wrong)
    assert report.decrypted is False
    assert any("bad_record_mac" in e for e in report.errors)


def test_tls13_packets_are_the_tls13_message_layers():
    layers = pytest.importorskip("scapy_tls_hs.layers")
    (r,) = dissect_pcap("tls13_hrr_keyupdate_openssl")
    inner = [(p.sent_by, type(p.payload.payload if p.type == 22 else p.payload).__name__)
             for p in r.packets if p.type != 20]
    assert inner == [
        ("client", "TLSClientHello"), ("server", "TLSHelloRetryRequest"),
        ("client", "TLSClientHello"), ("server", "TLSServerHello"),
        ("server", "TLSEncryptedExtensions"), ("server", "TLS13Certificate"),
        ("server", "TLSCertificateVerify"), ("server", "TLSFinished"),
        ("client", "TLSFinished"), ("server", "TLS13NewSessionTicket"),
        ("server", "TLS13NewSessionTicket"), ("client", "TLSApplicationData"),
        ("server", "TLSApplicationData"), ("client", "TLSKeyUpdate"),
        ("client", "TLSApplicationData"), ("client", "TLSAlert"),
        ("server", "TLSApplicationData"), ("server", "TLSAlert")]
    assert all(p.decrypted for p in r.packets[6:])
    assert all(isinstance(p, layers.TLSRecord) for p in r.packets)
