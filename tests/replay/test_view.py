"""The server view read from captures: what the captured servers chose (no network)."""
import hashlib
import json
import pathlib

import pytest

from scapy_tls_hs.replay import read_captured

ROOT = pathlib.Path(__file__).resolve().parents[2]
CAPTURES = ROOT / "tests" / "data" / "captures"


def _truth(name):
    path = CAPTURES / (name + ".truth.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines() if line]


@pytest.mark.parametrize("path", sorted(CAPTURES.glob("*.pcap*")), ids=lambda p: p.stem)
def test_view_agrees_with_the_truth(path):
    stem = path.name.rsplit(".", 1)[0]
    caps = read_captured(str(path), keylog=str(CAPTURES / (stem + ".keylog")))
    truth = _truth(stem)
    assert len(caps) == len(truth)
    for cap, want in zip(caps, truth):
        view = cap.view
        assert cap.hello is not None
        assert view["version"] == want["version"]
        assert view["cipher_suite"] == want["cipher_suite"]
        assert view["resumed"] == want["resumed"]
        assert view["alpn"] == want["alpn"]
        assert view["extended_master_secret"] == want["extended_master_secret"]
        assert ("extended_master_secret" in view["server_extensions"]) == \
            want["extended_master_secret"]
        kind = {"": "empty"}.get(want["session_id"],
                                 "echoed" if cap.hello.session_id.hex() == want["session_id"]
                                 else "new")
        assert view["session_id_kind"] == kind
        server_msgs = [m[2:] for m in want["messages"] if m.startswith("S:")]
        flight = view["server_messages"]
        assert flight == server_msgs[:len(flight)]
        if want["version"] != "TLS 1.3" and "S:change_cipher_spec" in want["messages"]:
            assert flight[-1] == "change_cipher_spec"
        # Alerts are the server's only, close_notify left out.
        assert view["server_alerts"] == [m[8:] for m in want["messages"]
                                         if m.startswith("S:alert:")
                                         and m != "S:alert:close_notify"]
        fields = cap.fields()
        for key, value in want.items():
            assert fields[key] == value, key


def test_certificate_and_ticket_seen_in_clear():
    caps = read_captured(str(CAPTURES / "big_cert_chain_multisegment.pcap"))
    view = caps[0].view
    assert view["certificate"]["chain"] == 4
    assert view["certificate"]["subject"] == "CN=server.test"
    assert view["certificate"]["sha256"] == hashlib.sha256(caps[0].certificates[0]).hexdigest()
    assert caps[0].ticket and "new_session_ticket" in view["server_messages"]


def test_resumed_connection_has_no_certificate():
    first, second = read_captured(str(CAPTURES / "resume_session_id_openssl.pcap"))
    assert first.view["certificate"] is not None
    assert second.view["certificate"] is None
    assert second.view["server_messages"] == ["server_hello", "change_cipher_spec"]
    assert second.view["session_id_kind"] == "echoed"


def test_a_keylog_does_not_change_the_view():
    """The view holds what was in clear only, so a replay (which sees no more) compares."""
    path = CAPTURES / "mutual_auth_rsa_openssl.pcap"
    plain = read_captured(str(path))[0]
    keyed = read_captured(str(path), keylog=str(path.with_suffix(".keylog")))[0]
    assert keyed.report.decrypted and not plain.report.decrypted
    assert plain.view == keyed.view
    assert "certificate_request" in plain.view["server_messages"]


def test_tls13_version_comes_from_supported_versions():
    cap = read_captured(str(CAPTURES / "tls13_aes128gcm_openssl.pcap"))[0]
    assert cap.view["version"] == "TLS 1.3"
    assert cap.view["server_extensions"] == ["supported_versions", "key_share"]
    assert cap.view["certificate"] is None      # encrypted in TLS 1.3


def test_hello_retry_request_is_named():
    cap = read_captured(str(ROOT / "pcaps" / "tls13_hrr_keyupdate_openssl.pcap"))[0]
    assert cap.view["server_messages"][0] == "hello_retry_request"
