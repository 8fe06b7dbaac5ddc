"""The corpus's real ClientHellos (OpenSSL, GnuTLS, curl, Python ssl) replayed against our
own server automaton: every TLS 1.2 offer is served, resumptions resume, and what differs
from the captured server is what our server does differently (said per field)."""

import pytest

from scapy_tls_hs.automata.listener import TLSListener
from scapy_tls_hs.replay import replay_capture
from tests.replay.helpers import CAPTURES, captured_identity

TLS12 = sorted(p for p in CAPTURES.glob("*.pcap*") if not p.name.startswith("tls13"))


@pytest.fixture(scope="module")
def server(tmp_path_factory, pki):
    cert, key = captured_identity(tmp_path_factory.mktemp("own"))
    with TLSListener("127.0.0.1", 0, cert=cert, key=key, identities=[
            (pki.ecdsa_cert, pki.ecdsa_key)], echo=True, timeout=5) as listener:
        yield listener


@pytest.mark.parametrize("path", TLS12, ids=lambda p: p.stem)
def test_every_captured_offer_is_served(server, path):
    results = replay_capture(str(path), "127.0.0.1", server.port, resume=True,
                             data=b"ping\n", timeout=5.0)
    assert results
    for res in results:
        rep = res.replayed
        assert rep["handshake_complete"], (res.number, rep["errors"])
        assert rep["received"] == "ping\n"                 # --echo
        assert rep["version"] == "TLS 1.2"
        # The suite is one the client offered; resumption is honoured as captured.
        assert rep["cipher_suite"] in res.to_dict()["offered"]["cipher_suites"]
        assert rep["resumed"] == res.captured["resumed"], res.notes
        assert rep["extended_master_secret"] == res.captured["extended_master_secret"]
        assert rep["alpn"] is None          # our server was given no ALPN list
        assert "server_alerts" not in res.differences


def test_own_server_like_the_captured_one(tmp_path):
    """tls12_rsa_aes128sha_openssl: s_server -no_etm with tickets and one suite. Our server
    with the same certificate, tickets and no encrypt-then-MAC differs in one way only: it
    gives a session id beside the ticket (RFC 5077 allows both; OpenSSL leaves it empty)."""
    cert, key = captured_identity(tmp_path)
    with TLSListener("127.0.0.1", 0, cert=cert, key=key, etm=False,
                     ciphers=["TLS_RSA_WITH_AES_128_CBC_SHA"]) as listener:
        (res,) = replay_capture(str(CAPTURES / "tls12_rsa_aes128sha_openssl.pcap"),
                                "127.0.0.1", listener.port, timeout=5.0)
    assert res.differences == ["session_id_kind"], (res.captured, res.replayed)
    assert res.replayed["session_id_kind"] == "new" and res.replayed["ticket"]
