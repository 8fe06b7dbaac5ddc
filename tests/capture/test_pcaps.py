"""pcaps/: the sample captures shipped for users. Every file is listed in its README, the
README's commands work, the copies of the corpus are the corpus, and the captures recorded
here (pcaps/make_captures.py) dissect to what their peers sent."""
import hashlib
import re
import shlex
import subprocess
import sys

import pytest

from scapy_tls_hs.capture.dissect import dissect_capture
from scapy_tls_hs.capture.pcapfile import read_packets
from tests.capture.rewrite import CAPTURES, PCAPS, ROOT

README = (PCAPS / "README.md").read_text()


def listed():
    return set(re.findall(r"^- `([^`]+)`:", README, re.M))


def test_readme_lists_every_file_and_only_files_that_exist():
    present = {p.name for p in PCAPS.iterdir() if p.is_file()}
    assert listed() == present


def test_test_data_readmes_list_every_file():
    """tests/data/: each file with a line saying how it was made."""
    data = ROOT / "tests" / "data"
    corpus = (data / "captures" / "README.md").read_text()
    assert all("`%s`" % p.name in corpus for p in (data / "captures").iterdir())
    own = (data / "README.md").read_text()
    assert all(p.name in own for p in (data / "pcapng").iterdir())


def test_copies_of_the_corpus_are_byte_for_byte_the_corpus():
    copies = [p for p in PCAPS.iterdir() if (CAPTURES / p.name).exists() and p.suffix != ".md"]
    assert len(copies) >= 17 * 2
    for path in copies:
        assert path.read_bytes() == (CAPTURES / path.name).read_bytes(), path.name


def test_every_capture_has_its_key_log_and_dissects_cleanly():
    captures = sorted(p for p in PCAPS.iterdir() if p.suffix in (".pcap", ".pcapng"))
    assert len(captures) >= 23
    for path in captures:
        keylog = path.with_suffix(".keylog")
        assert keylog.exists(), path.name
        reports = dissect_capture(path, keylog=str(keylog))
        assert reports and reports.warnings == []
        for r in reports:
            assert r.decrypted or "alert_client_rejects_cert" in path.name, path.name
            assert r.errors == [], (path.name, r.errors)


def test_readme_commands_run():
    """pcaps/README.md's examples, and the main job of the project's README."""
    block = re.search(r"```\n(.*?)```", README, re.S).group(1)
    commands = [shlex.split(line) for line in block.splitlines() if line.strip()]
    assert commands and all(c[:2] == ["scapy-tls-hs", "dissect"] for c in commands)
    main = re.search(r"(scapy-tls-hs dissect pcaps/[^\n`]*)", (ROOT / "README.md").read_text())
    commands.append(shlex.split(main.group(1)))
    for argv in commands:
        out = subprocess.run([sys.executable, "-m", "scapy_tls_hs"] + argv[1:], cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and out.stderr == "", out.stderr
        assert "decrypted: yes" in out.stdout or '"decrypted": true' in out.stdout


# The captures over IPv6 on ::1 (tcpdump -i any): s_client sent this line, s_server -rev
# answered it reversed.
SENT = b"hello over IPv6\n"


@pytest.mark.parametrize("name,linktype,version", [
    ("tls12_ipv6_sll2_openssl", 276, "TLS 1.2"),
    ("tls13_ipv6_sll_openssl", 113, "TLS 1.3"),
])
def test_real_ipv6_loopback_captures(name, linktype, version):
    path = PCAPS / (name + ".pcap")
    assert {lt for _, lt, _ in read_packets(path)} == {linktype}
    (r,) = dissect_capture(path, keylog=str(PCAPS / (name + ".keylog")))
    assert r.client.startswith("[::1]:") and r.server.startswith("[::1]:")
    assert r.version == version and r.decrypted and r.errors == []
    assert r.sni == "server.test" and not r.resumed
    assert r.app_data == {
        "client_bytes": len(SENT), "client_sha256": hashlib.sha256(SENT).hexdigest(),
        "server_bytes": len(SENT),
        "server_sha256": hashlib.sha256(SENT[:-1][::-1] + b"\n").hexdigest()}
    assert r.messages[0] == "C:client_hello" and r.messages[1] == "S:server_hello"
    assert r.messages[-2:] == ["C:alert:close_notify", "S:alert:close_notify"]
    if version == "TLS 1.2":
        assert r.extended_master_secret and len(r.session_id) == 64
        assert "S:server_key_exchange" in r.messages
    else:
        assert "S:encrypted_extensions" in r.messages
        assert r.messages.count("S:new_session_ticket") == 2


# Every message of the captures recorded here, in order, as tshark 4.0.17 decrypts them with
# the same key logs (checked when they were recorded: HelloRetryRequest is its ServerHello,
# close_notify its alert 0).
MESSAGES = {
    "tls13_hrr_keyupdate_openssl": [
        ["C:client_hello", "S:hello_retry_request", "S:change_cipher_spec",
         "C:change_cipher_spec", "C:client_hello", "S:server_hello", "S:encrypted_extensions",
         "S:certificate", "S:certificate_verify", "S:finished", "C:finished",
         "S:new_session_ticket", "S:new_session_ticket", "C:application_data",
         "S:application_data", "C:key_update", "C:application_data", "C:alert:close_notify",
         "S:application_data", "S:alert:close_notify"],
    ],
    "tls13_resumption_openssl": [
        ["C:client_hello", "S:server_hello", "S:change_cipher_spec", "S:encrypted_extensions",
         "S:certificate", "S:certificate_verify", "S:finished", "C:change_cipher_spec",
         "C:finished", "S:new_session_ticket", "S:new_session_ticket", "C:application_data",
         "S:application_data", "C:alert:close_notify", "S:alert:close_notify"],
        ["C:client_hello", "S:server_hello", "S:change_cipher_spec", "S:encrypted_extensions",
         "S:finished", "C:change_cipher_spec", "C:finished", "S:new_session_ticket",
         "C:application_data", "S:application_data", "C:alert:close_notify",
         "S:alert:close_notify"],
    ],
    "tls10_rsa_aes128sha_openssl": [
        ["C:client_hello", "S:server_hello", "S:certificate", "S:server_hello_done",
         "C:client_key_exchange", "C:change_cipher_spec", "C:finished", "S:new_session_ticket",
         "S:change_cipher_spec", "S:finished", "C:application_data", "C:application_data",
         "S:application_data", "S:application_data", "C:alert:close_notify",
         "S:alert:close_notify"],
    ],
    "tls11_ecdhe_rsa_aes256sha_openssl": [
        ["C:client_hello", "S:server_hello", "S:certificate", "S:server_key_exchange",
         "S:server_hello_done", "C:client_key_exchange", "C:change_cipher_spec", "C:finished",
         "S:new_session_ticket", "S:change_cipher_spec", "S:finished", "C:application_data",
         "S:application_data", "C:alert:close_notify", "S:alert:close_notify"],
    ],
    "tls12_ipv6_sll2_openssl": [
        ["C:client_hello", "S:server_hello", "S:certificate", "S:server_key_exchange",
         "S:server_hello_done", "C:client_key_exchange", "C:change_cipher_spec", "C:finished",
         "S:change_cipher_spec", "S:finished", "C:application_data", "S:application_data",
         "C:alert:close_notify", "S:alert:close_notify"],
    ],
    "tls13_ipv6_sll_openssl": [
        ["C:client_hello", "S:server_hello", "S:change_cipher_spec", "S:encrypted_extensions",
         "S:certificate", "S:certificate_verify", "S:finished", "C:change_cipher_spec",
         "C:finished", "S:new_session_ticket", "S:new_session_ticket", "C:application_data",
         "S:application_data", "C:alert:close_notify", "S:alert:close_notify"],
    ],
}


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_recorded_captures_message_by_message(name):
    reports = dissect_capture(PCAPS / (name + ".pcap"), keylog=str(PCAPS / (name + ".keylog")))
    assert [r.messages for r in reports] == MESSAGES[name]
