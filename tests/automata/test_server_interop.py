"""Real clients (openssl s_client, gnutls-cli, curl, Python ssl) against our server automaton.

One in-process listener for the whole module serves an RSA chain and an ECDSA certificate
(the suite decides which); each test reads the server's own report for the connection it made
and the client's own output, so both ends must agree.
"""
import subprocess

import pytest

from scapy_tls_hs.automata.listener import TLSListener
from scapy_tls_hs.crypto.suites import CipherSuite
from tests.peers import clients, matrix


@pytest.fixture(scope="module")
def server(pki):
    listener = TLSListener("127.0.0.1", 0, cert=pki.rsa_chain, key=pki.rsa_key,
                           identities=[(pki.ecdsa_cert, pki.ecdsa_key)],
                           alpn=["http/1.1"], timeout=5.0)
    with listener.start():
        yield listener


def served(server, run):
    """Run ``run()`` (one client connection) and return (its result, the server's report)."""
    before = len(server.results)
    out = run()
    assert server.wait_for_results(before + 1), "the server reported nothing"
    return out, server.results[before]


def _openssl_suites():
    out = subprocess.run(["openssl", "ciphers", "ALL:@SECLEVEL=0"], capture_output=True,
                         text=True).stdout
    return set(out.strip().split(":"))


OPENSSL_SUITES = _openssl_suites()
TLS12_SUITES = [s for s in matrix.PEER_SUITES if s.usable_in(0x0303)]


# -- openssl s_client: every suite we run, at TLS 1.2, and the CBC ones at 1.0 and 1.1 -------

@pytest.mark.parametrize("suite", [s for s in TLS12_SUITES if s.openssl_name in OPENSSL_SUITES],
                         ids=lambda s: s.openssl_name)
def test_s_client_every_suite_tls12(server, suite):
    out, report = served(server, lambda: clients.s_client(
        server.port, version="1.2", cipher=suite.openssl_name + ":@SECLEVEL=0"))
    assert out.ok, out.output
    assert clients.s_client_cipher(out.output) == suite.openssl_name
    assert "HTTP/1.1 200 OK" in out.output
    assert report["handshake_complete"] and not report["errors"]
    assert report["version"] == "TLS 1.2"
    assert report["cipher_suite"] == suite.name
    assert report["received"].startswith("GET / HTTP/1.1")
    assert report["extended_master_secret"] and "Extended master secret: yes" in out.output
    assert report["sni"] == "localhost"
    # OpenSSL offers encrypt-then-MAC: taken for CBC suites only (RFC 7366 section 3).
    assert report["encrypt_then_mac"] == (not suite.aead)
    # client_auth "none": no CertificateRequest, no client Certificate.
    assert "S:certificate_request" not in report["messages"] and not report["client_auth"]


# Every suite TLS 1.0/1.1 can run, at both versions (3DES, if this OpenSSL lacks it, through
# gnutls-cli below).
OLD = [(v, s.openssl_name) for s in matrix.PEER_SUITES if s.usable_in(0x0301)
       and s.openssl_name in OPENSSL_SUITES for v in ("1.0", "1.1")]


@pytest.mark.parametrize("version,cipher", OLD, ids=["-".join(v) for v in OLD])
def test_s_client_tls10_tls11(server, version, cipher):
    out, report = served(server, lambda: clients.s_client(server.port, version=version,
                                                          cipher=cipher))
    assert out.ok, out.output
    assert clients.s_client_protocol(out.output) == clients.openssl_version_name(version)
    assert clients.s_client_cipher(out.output) == cipher
    assert "HTTP/1.1 200 OK" in out.output
    assert report["version"] == "TLS " + version
    assert report["cipher_suite"] == CipherSuite.by_name(cipher).name
    assert report["handshake_complete"] and not report["errors"]
    assert report["encrypt_then_mac"] and report["extended_master_secret"]


NO_ETM = [c for c in matrix.cases(lambda s: s.openssl_name in OPENSSL_SUITES) if not c[2]]


@pytest.mark.parametrize("version,suite,etm", NO_ETM, ids=[matrix.case_id(c) for c in NO_ETM])
def test_s_client_cbc_without_encrypt_then_mac(server, version, suite, etm):
    out, report = served(server, lambda: clients.s_client(
        server.port, version=version, cipher=suite.openssl_name, no_etm=True))
    assert out.ok, out.output
    assert "HTTP/1.1 200 OK" in out.output
    assert report["handshake_complete"] and not report["encrypt_then_mac"]
    assert report["cipher_suite"] == suite.name and report["version"] == "TLS " + version


def test_server_with_ems_and_etm_turned_off(pki):
    """``ems=False, etm=False``: offered by s_client, not taken; s_client agrees."""
    with TLSListener("127.0.0.1", 0, cert=pki.rsa_cert, key=pki.rsa_key, ems=False,
                     etm=False) as own:
        out, report = served(own, lambda: clients.s_client(own.port, version="1.2",
                                                           cipher="ECDHE-RSA-AES128-SHA256"))
    assert out.ok, out.output
    assert "Extended master secret: no" in out.output
    assert report["handshake_complete"] and not report["errors"]
    assert not report["extended_master_secret"] and not report["encrypt_then_mac"]


def test_s_client_verifies_chain_and_alpn(server, pki):
    out, report = served(server, lambda: clients.s_client(
        server.port, version="1.2", cipher="ECDHE-RSA-AES128-GCM-SHA256", cafile=pki.ca_cert,
        extra=["-alpn", "h2,http/1.1"]))
    assert out.ok, out.output
    assert "Verify return code: 0 (ok)" in out.output
    assert "ALPN protocol: http/1.1" in out.output
    assert "Secure Renegotiation IS supported" in out.output      # RFC 5746 signalling
    assert report["alpn"] == "http/1.1"


def test_s_client_resumes_by_session_id(server, tmp_path):
    sess = str(tmp_path / "sess.pem")
    first, r1 = served(server, lambda: clients.s_client(server.port, no_ticket=True,
                                                        sess_out=sess, version="1.2"))
    assert first.ok, first.output
    assert not r1["ticket"] and not r1["resumed"] and r1["session_id"]
    second, r2 = served(server, lambda: clients.s_client(server.port, no_ticket=True,
                                                         sess_in=sess, version="1.2"))
    assert second.ok, second.output
    assert "Reused, TLSv1.2" in second.output
    assert r2["resumed"] and r2["session_id"] == r1["session_id"]
    assert "S:certificate" not in r2["messages"]


def test_s_client_resumes_by_ticket(server, tmp_path):
    sess = str(tmp_path / "sess.pem")
    first, r1 = served(server, lambda: clients.s_client(server.port, sess_out=sess,
                                                        version="1.2"))
    assert first.ok, first.output
    assert r1["ticket"] and "S:new_session_ticket" in r1["messages"]
    second, r2 = served(server, lambda: clients.s_client(server.port, sess_in=sess,
                                                         version="1.2"))
    assert second.ok, second.output
    assert "Reused, TLSv1.2" in second.output
    assert r2["resumed"] and "S:certificate" not in r2["messages"]


def test_s_client_reconnect(server):
    """-reconnect: one full handshake, then five resumed ones on new connections."""
    before = len(server.results)
    out = clients.s_client(server.port, version="1.1", reconnect=True)
    assert out.ok, out.output
    # (OpenSSL 3.0 prints "Reused, TLSv1.0" for any version here; "Protocol" is right.)
    assert out.output.count("Reused, ") == 5
    assert out.output.count("Protocol  : TLSv1.1") == 6
    assert server.wait_for_results(before + 6)
    reports = server.results[before:before + 6]
    assert sum(r["resumed"] for r in reports) == 5


def test_unusable_session_falls_back_to_full_handshake(server, tmp_path, pki):
    """A session the server does not know (another server's) gives a full handshake."""
    sess = str(tmp_path / "sess.pem")
    with TLSListener("127.0.0.1", 0, cert=pki.rsa_cert, key=pki.rsa_key) as other:
        out = clients.s_client(other.port, sess_out=sess, version="1.2")
        assert out.ok, out.output
        assert other.wait_for_results(1)
    out, report = served(server, lambda: clients.s_client(server.port, sess_in=sess,
                                                          version="1.2"))
    assert out.ok, out.output
    assert "New, TLSv1.2" in out.output
    assert report["handshake_complete"] and not report["resumed"]


# -- gnutls-cli ------------------------------------------------------------------------------

GNUTLS = matrix.cases()


@pytest.mark.skipif(not clients.have("gnutls-cli"), reason="gnutls-cli not installed")
@pytest.mark.parametrize("version,suite,etm", GNUTLS, ids=[matrix.case_id(c) for c in GNUTLS])
def test_gnutls_cli(server, pki, version, suite, etm):
    out, report = served(server, lambda: clients.gnutls_cli(
        server.port, cafile=pki.ca_cert, priority=matrix.gnutls_priority(version, suite, etm)))
    assert out.ok, out.output
    assert "HTTP/1.1 200 OK" in out.output
    assert report["handshake_complete"] and not report["errors"], report
    assert report["version"] == "TLS " + version
    assert report["cipher_suite"] == suite.name
    assert report["encrypt_then_mac"] == (etm and not suite.aead)
    assert report["extended_master_secret"] and "extended master secret" in out.output


@pytest.mark.skipif(not clients.have("gnutls-cli"), reason="gnutls-cli not installed")
@pytest.mark.parametrize("version", ["1.0", "1.2"])
def test_gnutls_cli_without_extended_master_secret(server, pki, version):
    suite = CipherSuite.by_name("ECDHE-RSA-AES128-SHA")
    out, report = served(server, lambda: clients.gnutls_cli(
        server.port, cafile=pki.ca_cert,
        priority=matrix.gnutls_priority(version, suite) + ":%NO_SESSION_HASH"))
    assert out.ok, out.output
    assert "HTTP/1.1 200 OK" in out.output
    assert report["handshake_complete"] and not report["errors"], report
    assert not report["extended_master_secret"]
    assert "extended master secret" not in out.output


MISSING = [(v, s) for s in matrix.PEER_SUITES if s.openssl_name not in OPENSSL_SUITES
           for v, code in (("1.0", 0x0301), ("1.1", 0x0302), ("1.2", 0x0303))
           if s.usable_in(code)]


@pytest.mark.skipif(not clients.have("gnutls-cli"), reason="gnutls-cli not installed")
@pytest.mark.parametrize("version,suite", MISSING, ids=["%s-%s" % (v, s.name) for v, s in MISSING])
def test_gnutls_cli_suites_openssl_lacks(server, version, suite):
    """This OpenSSL build has no 3DES: GnuTLS runs the suites s_client cannot."""
    assert "3DES" in suite.cipher, suite      # the only ones OpenSSL 3 may leave out
    kx = {"ECDHE": "ECDHE-" + suite.authentication, "DHE": "DHE-RSA", "RSA": "RSA"}
    prio = ":-KX-ALL:+%s:-CIPHER-ALL:+3DES-CBC:-MAC-ALL:+SHA1" % kx[suite.key_exchange]
    out, report = served(server, lambda: clients.gnutls_cli(
        server.port, priority=clients.gnutls_priority(version, prio)))
    assert out.ok, out.output
    assert "HTTP/1.1 200 OK" in out.output
    assert report["cipher_suite"] == suite.name and not report["errors"]
    assert report["version"] == "TLS " + version


def test_every_suite_at_every_version_is_covered():
    """s_client (TLS 1.2, and 1.0/1.1 above) plus gnutls-cli cover every runnable pair."""
    covered = {(s.name, "1.2") for s in TLS12_SUITES if s.openssl_name in OPENSSL_SUITES}
    covered |= {(CipherSuite.by_name(c).name, v) for v, c in OLD}
    covered |= {(s.name, v) for v, s in MISSING}
    wanted = {(s.name, v) for s in matrix.PEER_SUITES
              for v, code in (("1.0", 0x0301), ("1.1", 0x0302), ("1.2", 0x0303))
              if s.usable_in(code)}
    assert wanted - covered == set()


@pytest.mark.skipif(not clients.have("gnutls-cli"), reason="gnutls-cli not installed")
@pytest.mark.parametrize("no_ticket", [False, True], ids=["ticket", "session-id"])
def test_gnutls_cli_resumes(server, pki, no_ticket):
    before = len(server.results)
    out = clients.gnutls_cli(server.port, cafile=pki.ca_cert, resume=True,
                             no_ticket=no_ticket, priority=clients.gnutls_priority("1.2"))
    assert out.ok, out.output
    assert "This is a resumed session" in out.output
    assert server.wait_for_results(before + 2)
    first, second = server.results[before:before + 2]
    assert first["ticket"] != no_ticket
    assert second["resumed"] and not second["errors"]


# -- curl ------------------------------------------------------------------------------------

CURL = matrix.cases(lambda s: s.openssl_name in OPENSSL_SUITES)


@pytest.mark.parametrize("version,suite,etm", CURL, ids=[matrix.case_id(c) for c in CURL])
def test_curl(server, pki, tmp_path, version, suite, etm):
    # curl has no switch for encrypt-then-MAC: its OpenSSL reads it from OPENSSL_CONF.
    from tests.peers.servers import openssl_conf
    env = None if etm else {"OPENSSL_CONF": openssl_conf(tmp_path, ("-EncryptThenMac",))}
    out, report = served(server, lambda: clients.curl(server.port, cacert=pki.ca_cert,
                                                      version=version,
                                                      ciphers=suite.openssl_name, env=env))
    assert out.ok, out.output
    assert "scapy-tls-hs: TLS %s" % version in out.output
    assert "ALPN: server accepted http/1.1" in out.output
    assert "SSL connection using %s / %s" % (clients.openssl_version_name(version),
                                             suite.openssl_name) in out.output
    assert report["version"] == "TLS " + version and report["alpn"] == "http/1.1"
    assert report["received"].startswith("GET / HTTP/1.1") and not report["errors"]
    assert report["cipher_suite"] == suite.name
    assert report["encrypt_then_mac"] == (etm and not suite.aead)


def test_curl_default(server, pki):
    out, report = served(server, lambda: clients.curl(server.port, cacert=pki.ca_cert))
    assert out.ok, out.output
    # TLS 1.3 is what curl and the server (by default) both prefer.
    assert "scapy-tls-hs: TLS 1.3" in out.output and report["handshake_complete"]
    assert report["version"] == "TLS 1.3" and report["group"] == "x25519"


def test_curl_resumes_on_second_url(server, pki):
    before = len(server.results)
    out = clients.curl(server.port, cacert=pki.ca_cert, paths=("/a", "/b"))
    assert out.ok, out.output
    assert "SSL re-using session ID" in out.output
    assert "(resumed)" in out.output
    assert server.wait_for_results(before + 2)
    assert [r["resumed"] for r in server.results[before:before + 2]] == [False, True]


# -- Python ssl ------------------------------------------------------------------------------

PY = matrix.cases(lambda s: s.openssl_name in OPENSSL_SUITES)


@pytest.mark.parametrize("version,cipher,etm", [(None, None, True)] + PY,
                         ids=["default"] + [matrix.case_id(c) for c in PY])
def test_python_ssl(server, pki, version, cipher, etm):
    res, report = served(server, lambda: clients.python_client(
        server.port, version=version, ciphers=cipher and cipher.openssl_name,
        cafile=pki.ca_cert, etm=etm))
    assert res.error is None, res.error
    assert res.version == clients.openssl_version_name(version or "1.2")
    assert res.received.startswith(b"HTTP/1.1 200 OK")
    assert report["version"] == "TLS " + (version or "1.2")
    assert report["received"].startswith("GET / HTTP/1.1") and not report["errors"]
    if cipher:
        assert res.cipher == cipher.openssl_name
        assert report["cipher_suite"] == cipher.name
        assert report["encrypt_then_mac"] == (etm and not cipher.aead)


@pytest.mark.parametrize("tickets", [True, False], ids=["ticket", "session-id"])
def test_python_ssl_session_reuse(server, pki, tickets):
    ctx = clients.python_context(cafile=pki.ca_cert, tickets=tickets)
    first, r1 = served(server, lambda: clients.python_client(server.port, ctx))
    assert first.error is None and not first.session_reused
    assert r1["ticket"] == tickets
    second, r2 = served(server, lambda: clients.python_client(server.port, ctx,
                                                              session=first.session))
    assert second.error is None, second.error
    assert second.session_reused
    assert r2["resumed"] and r2["cipher_suite"] == r1["cipher_suite"]
