"""Checks of the TLS 1.2 server command lines (run: pytest conformance/; not part of CI)."""

from pathlib import Path

import servers
from scripts import TLS12, by_name
from servers import Pki, server_command


def _cmd(target, name, tls="1.2"):
    return server_command(target, by_name(name), Pki(Path("/pki")), 4433, tls)[0]


def test_tls12_names_are_unique_and_known():
    keys = [s.key for s in TLS12]
    assert len(keys) == len(set(keys))
    assert by_name("test-fuzzed-MAC[dhe]").args == ("-d",)


def test_openssl_renegotiates_unless_the_script_wants_it_refused():
    assert "-client_renegotiation" in _cmd("openssl", "test-renegotiation-changed-clienthello")
    assert "-client_renegotiation" not in _cmd("openssl", "test-renegotiation-disabled")
    assert "-client_renegotiation" not in _cmd("openssl", "test-tls13-hrr", tls="1.3")


def test_ours_refuses_renegotiation_only_for_the_disabled_script(monkeypatch):
    monkeypatch.setattr(servers, "our_flags", lambda: frozenset({"--no-renegotiation"}))
    assert "--no-renegotiation" in _cmd("ours", "test-renegotiation-disabled")
    assert "--no-renegotiation" not in _cmd("ours", "test-legacy-renegotiation")
    monkeypatch.setattr(servers, "our_flags", lambda: frozenset())
    _, missing = server_command("ours", by_name("test-renegotiation-disabled"),
                                Pki(Path("/pki")), 4433, "1.2")
    assert missing == ["--no-renegotiation"]


def test_alpn_and_dsa_options_per_target():
    gnutls = _cmd("gnutls", "test-alpn-negotiation")
    assert gnutls[gnutls.index("--alpn") + 1] == "http/1.1" and "--alpn-fatal" in gnutls
    assert "-alpn" in _cmd("openssl", "test-alpn-negotiation")
    dsa = _cmd("gnutls", "test-dsa-sig-flexibility")
    assert dsa.count("--priority") == 1 and "+DHE-DSS" in dsa[dsa.index("--priority") + 1]
    openssl = _cmd("openssl", "test-dsa-sig-flexibility")
    last_cipher = max(i for i, arg in enumerate(openssl) if arg == "-cipher")
    assert openssl[last_cipher + 1] == "ALL:@SECLEVEL=0"     # s_server keeps the last one
