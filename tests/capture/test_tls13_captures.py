"""The TLS 1.3 fields of ``dissect`` (group, hello_retry, early_data, key_updates) on real
captures: OpenSSL peers recorded by tcpdump (tests/data/tls13, made by its
make_captures.py) and the shared corpus's TLS 1.3 capture. The groups are checked against
tshark's reading of the same ServerHello / HelloRetryRequest key_share."""
import os
import shutil
import subprocess

import pytest

from scapy_tls_hs.capture.dissect import dissect_capture
from scapy_tls_hs.capture.ladder import render_report
from scapy_tls_hs.registry import NAMED_GROUPS

HERE = os.path.dirname(os.path.abspath(__file__))
TLS13_DIR = os.path.join(HERE, "..", "data", "tls13")
CORPUS_DIR = os.path.join(HERE, "..", "data", "captures")

# What the peers were made to do (make_captures.py), per connection:
# (group, hello_retry, early_data, key_updates, resumed)
EXPECTED = {
    (TLS13_DIR, "tls13_hrr_openssl"): [("secp384r1", True, None, 0, False)],
    (TLS13_DIR, "tls13_keyupdate_openssl"): [("x25519", False, None, 4, False)],
    (TLS13_DIR, "tls13_early_data_openssl"): [("x25519", False, None, 0, False),
                                              ("x25519", False, "accepted", 0, True),
                                              ("x25519", False, "rejected", 0, False)],
    (CORPUS_DIR, "tls13_aes128gcm_openssl"): [("x25519", False, None, 0, False)],
}
CASES = sorted(EXPECTED, key=lambda k: k[1])


def dissect(folder, name):
    base = os.path.join(folder, name)
    return dissect_capture(base + ".pcap", keylog=base + ".keylog")


@pytest.mark.parametrize("folder,name", CASES, ids=[c[1] for c in CASES])
def test_tls13_fields(folder, name):
    reports = dissect(folder, name)
    got = [(r.group, r.hello_retry, r.early_data, r.key_updates, r.resumed) for r in reports]
    assert got == EXPECTED[(folder, name)]
    for report in reports:
        assert report.version == "TLS 1.3"
        assert report.decrypted and report.errors == []
        obj = report.to_dict()
        for key in ("group", "hello_retry", "early_data", "key_updates"):
            assert obj[key] == getattr(report, key)
        assert list(obj)[-3:] == ["decrypted", "app_data", "errors"]


def test_hello_retry_request_in_messages_and_ladder():
    report, = dissect(TLS13_DIR, "tls13_hrr_openssl")
    assert report.messages[:6] == [
        "C:client_hello", "S:hello_retry_request", "S:change_cipher_spec",
        "C:change_cipher_spec", "C:client_hello", "S:server_hello"]
    # The summary keeps the first ClientHello (x25519 share) and the real ServerHello.
    assert report.summary.client_hello is not None
    assert report.summary.server_hello.random != bytes.fromhex(
        "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
    text = render_report(report)
    assert "secp384r1 · hello retry" in text
    assert "hello_retry_request   group secp384r1" in text
    assert report.app_data["client_bytes"] == len(b"hello after a retry\n")
    assert report.app_data["server_bytes"] == len(b"welcome\n")


def test_key_updates_both_ways_keep_decrypting():
    report, = dissect(TLS13_DIR, "tls13_keyupdate_openssl")
    assert [m for m in report.messages if m.endswith("key_update")] == [
        "C:key_update", "S:key_update", "S:key_update", "C:key_update"]
    # Every line typed into s_client / s_server, each under a newer traffic secret.
    client = (b"before any update\n", b"client after its update\n",
              b"client after the server's update\n")
    server = (b"server after the client's update\n", b"server after its update\n")
    assert report.app_data["client_bytes"] == sum(map(len, client))
    assert report.app_data["server_bytes"] == sum(map(len, server))
    assert "4 key updates" in render_report(report)


def test_early_data_accepted_and_rejected():
    first, accepted, rejected = dissect(TLS13_DIR, "tls13_early_data_openssl")
    assert "C:end_of_early_data" in accepted.messages
    assert "C:end_of_early_data" not in rejected.messages
    for report in (accepted, rejected):
        # The 0-RTT record comes before the ServerHello and is decrypted with
        # CLIENT_EARLY_TRAFFIC_SECRET, also when the server refused it.
        assert report.messages[:3] == ["C:client_hello", "C:change_cipher_spec",
                                       "C:application_data"]
        zero_rtt = [d for _, _, n, d in report.ladder if n == "application_data"][0]
        assert zero_rtt == "%d bytes, 0-RTT" % len(b"GET /early HTTP/1.0\r\n\r\n")
    assert "early data accepted" in render_report(accepted)
    assert "early data rejected" in render_report(rejected)


def _tshark_groups(path, keylog=None):
    """Per TCP stream, tshark's group: the ServerHello key_share (or the HRR's selected
    group) for TLS 1.3, the ServerKeyExchange named curve for TLS 1.2 ECDHE; None else."""
    out = subprocess.run(
        ["tshark", "-r", path, "-Y", "tls.handshake.type == 2 or tls.handshake.type == 12",
         "-T", "fields", "-e", "tcp.stream", "-e", "tls.handshake.extensions_key_share_group",
         "-e", "tls.handshake.extensions_key_share_selected_group",
         "-e", "tls.handshake.server_named_curve"],
        capture_output=True, text=True, timeout=60, check=True).stdout
    groups = {}
    streams = set()
    for line in out.splitlines():
        fields = (line.split("\t") + ["", "", ""])[:4]
        streams.add(int(fields[0]))
        code = next((f for f in fields[1:] if f), None)
        if code:
            groups[int(fields[0])] = NAMED_GROUPS[int(code.split(",")[-1], 0)]
    return [groups.get(i) for i in range(max(streams) + 1)] if streams else []


# TLS 1.2 ones with x25519, secp256r1, a resumption (no key exchange), DHE and RSA.
CORPUS = ["tls12_ecdhe_rsa_aes128gcm_openssl", "ems_off_gnutls", "resume_session_id_openssl",
          "tls12_dhe_rsa_aes256gcm_openssl", "tls12_rsa_aes128sha_openssl"]


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
@pytest.mark.parametrize("folder,name", CASES + [(CORPUS_DIR, n) for n in CORPUS],
                         ids=[c[1] for c in CASES] + CORPUS)
def test_groups_agree_with_tshark(folder, name):
    base = os.path.join(folder, name)
    path = base + (".pcap" if os.path.exists(base + ".pcap") else ".pcapng")
    reports = dissect_capture(path, keylog=base + ".keylog")
    assert [r.group for r in reports] == _tshark_groups(path)


def test_dhe_group_is_named_only_for_rfc7919_primes():
    """s_server's default DH parameters are the RFC 3526 2048-bit MODP group, which has no
    TLS name: group is null (the ladder still says the size)."""
    report, = dissect(CORPUS_DIR, "tls12_dhe_rsa_aes256gcm_openssl")
    assert report.cipher_suite.startswith("TLS_DHE_") and report.group is None
    assert ("server", "server_key_exchange", "DH 2048 bits") in [
        entry[1:] for entry in report.ladder]


def test_packets_hold_the_tls13_messages():
    """A report's packets are the decrypted TLS 1.3 messages as Scapy layers (issue 11,
    section 4): EncryptedExtensions, Certificate entries, CertificateVerify,
    NewSessionTicket, KeyUpdate, EndOfEarlyData."""
    def decrypted_messages(report):
        return {type(p[2]).__name__ for p in report.packets
                if p.decrypted and type(p[1]).__name__ == "TLSHandshake"}

    report, = dissect(TLS13_DIR, "tls13_keyupdate_openssl")
    assert decrypted_messages(report) == {
        "TLSEncryptedExtensions", "TLS13Certificate", "TLSCertificateVerify", "TLSFinished",
        "TLS13NewSessionTicket", "TLSKeyUpdate"}
    accepted = dissect(TLS13_DIR, "tls13_early_data_openssl")[1]
    assert "TLSEndOfEarlyData" in decrypted_messages(accepted)
    hrr = dissect(TLS13_DIR, "tls13_hrr_openssl")[0].packets[1]
    assert "HelloRetryRequest" in hrr.summary()


def test_reports_pickle_with_their_summary():
    """Reports cross process boundaries (dissect --jobs): the summary's parsed hellos too."""
    import pickle
    report, = dissect(TLS13_DIR, "tls13_hrr_openssl")
    again = pickle.loads(pickle.dumps(report))
    assert again.to_dict() == report.to_dict()
    assert again.summary == report.summary
    assert again.summary.client_hello == report.summary.client_hello
    assert again.summary.client_hello.extensions[0].type == \
        report.summary.client_hello.extensions[0].type
