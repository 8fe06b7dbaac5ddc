"""Client authentication (required / optional) and refusals the client must see as alerts."""
import pytest

from scapy_tls_hs.automata.listener import TLSListener
from tests.peers import clients


def served(server, run):
    before = len(server.results)
    out = run()
    assert server.wait_for_results(before + 1), "the server reported nothing"
    return out, server.results[before]


@pytest.fixture(scope="module")
def required(pki):
    with TLSListener("127.0.0.1", 0, cert=pki.rsa_cert, key=pki.rsa_key,
                     identities=[(pki.ecdsa_cert, pki.ecdsa_key)], client_auth="required",
                     cafile=pki.ca_cert, timeout=5.0) as listener:
        yield listener


@pytest.mark.parametrize("version", ["1.0", "1.2"])
@pytest.mark.parametrize("kind", ["rsa", "ecdsa"])
def test_required_good_certificate(required, pki, kind, version):
    cert, key = getattr(pki, "client_%s_cert" % kind), getattr(pki, "client_%s_key" % kind)
    res, report = served(required, lambda: clients.python_client(
        required.port, version=version, cafile=pki.ca_cert, cert=cert, key=key))
    assert res.error is None, res.error
    assert res.received.startswith(b"HTTP/1.1 200 OK")
    assert report["client_auth"] and report["handshake_complete"]
    assert "C:certificate_verify" in report["messages"]


def test_required_good_certificate_s_client_and_resumption(required, pki, tmp_path):
    sess = str(tmp_path / "sess.pem")
    out, report = served(required, lambda: clients.s_client(
        required.port, cafile=pki.ca_cert, cert=pki.client_rsa_cert, key=pki.client_rsa_key,
        sess_out=sess))
    assert out.ok, out.output
    assert "HTTP/1.1 200 OK" in out.output and report["client_auth"]
    # A resumed session was authenticated when it was made: no Certificate this time
    # (so ``client_auth``, "the client sent a non-empty Certificate", is false).
    out, report = served(required, lambda: clients.s_client(
        required.port, cafile=pki.ca_cert, cert=pki.client_rsa_cert, key=pki.client_rsa_key,
        sess_in=sess))
    assert out.ok and "Reused" in out.output, out.output
    assert report["resumed"] and report["handshake_complete"] and not report["errors"]
    assert "C:certificate" not in report["messages"] and not report["client_auth"]


def test_required_missing_certificate(required, pki):
    res, report = served(required, lambda: clients.python_client(required.port,
                                                                 cafile=pki.ca_cert))
    assert res.error is not None and "HANDSHAKE_FAILURE" in res.error
    assert not report["handshake_complete"] and not report["client_auth"]
    assert any(e.startswith("sent alert handshake_failure") for e in report["errors"])


def test_required_wrong_certificate(required, pki):
    res, report = served(required, lambda: clients.python_client(
        required.port, cafile=pki.ca_cert, cert=pki.wrong_client_cert,
        key=pki.wrong_client_key))
    assert res.error is not None and "UNKNOWN_CA" in res.error
    assert any(e.startswith("sent alert unknown_ca") for e in report["errors"])


def test_required_wrong_certificate_s_client(required, pki):
    out, report = served(required, lambda: clients.s_client(
        required.port, cert=pki.wrong_client_cert, key=pki.wrong_client_key))
    assert not out.ok
    assert clients.s_client_alert(out.output) == "unknown_ca", out.output


@pytest.mark.skipif(not clients.have("gnutls-cli"), reason="gnutls-cli not installed")
@pytest.mark.parametrize("case,alert", [("good", None), ("missing", 40), ("wrong", 48)])
def test_required_gnutls_cli(required, pki, case, alert):
    """gnutls-cli with a good (ECDSA), no, and an untrusted certificate: 40 is
    handshake_failure, 48 unknown_ca."""
    cert = {"good": (pki.client_ecdsa_cert, pki.client_ecdsa_key), "missing": (None, None),
            "wrong": (pki.wrong_client_cert, pki.wrong_client_key)}[case]
    out, report = served(required, lambda: clients.gnutls_cli(
        required.port, cafile=pki.ca_cert, cert=cert[0], key=cert[1],
        priority=clients.gnutls_priority("1.2")))
    if alert is None:
        assert out.ok and "HTTP/1.1 200 OK" in out.output, out.output
        assert report["client_auth"] and not report["errors"]
    else:
        assert not out.ok
        assert "Received alert [%d]" % alert in out.output, out.output
        assert not report["handshake_complete"]
        name = {40: "handshake_failure", 48: "unknown_ca"}[alert]
        assert any(e.startswith("sent alert " + name) for e in report["errors"]), report


def test_optional_client_auth(pki):
    with TLSListener("127.0.0.1", 0, cert=pki.rsa_cert, key=pki.rsa_key,
                     client_auth="optional", cafile=pki.ca_cert) as server:
        res, report = served(server, lambda: clients.python_client(server.port))
        assert res.error is None, res.error
        assert not report["client_auth"] and "C:certificate" in report["messages"]
        res, report = served(server, lambda: clients.python_client(
            server.port, cert=pki.client_ecdsa_cert, key=pki.client_ecdsa_key))
        assert res.error is None, res.error
        assert report["client_auth"]


@pytest.fixture(scope="module")
def narrow(pki):
    """Serves TLS 1.2 only, with one suite only."""
    with TLSListener("127.0.0.1", 0, cert=pki.rsa_cert, key=pki.rsa_key, versions=["1.2"],
                     ciphers=["ECDHE-RSA-AES128-SHA"]) as listener:
        yield listener


@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_no_common_version(narrow, version):
    out, report = served(narrow, lambda: clients.s_client(narrow.port, version=version))
    assert not out.ok
    assert clients.s_client_alert(out.output) == "protocol_version", out.output
    assert any(e.startswith("sent alert protocol_version") for e in report["errors"])
    res, report = served(narrow, lambda: clients.python_client(narrow.port, version=version))
    assert res.error is not None and "PROTOCOL_VERSION" in res.error
    assert not report["handshake_complete"]


def test_highest_common_version_is_chosen(pki):
    """A server whose highest version is 1.1 answers a 1.2 client with 1.1 (RFC 5246
    appendix E.1); the client may accept it or refuse it with its own alert."""
    with TLSListener("127.0.0.1", 0, cert=pki.rsa_cert, key=pki.rsa_key,
                     version="1.1") as server:
        res, report = served(server, lambda: clients.python_client(
            server.port, ciphers="DEFAULT", **{"version": None}))
        assert report["messages"][:2] == ["C:client_hello", "S:server_hello"]
        assert report["version"] == "TLS 1.1"
        # A client that accepts 1.1 (s_client offers 1.2 and, at this security level, takes
        # what it is given) completes the handshake.
        out, report = served(server, lambda: clients.s_client(
            server.port, cipher="DEFAULT:@SECLEVEL=0", extra=["-no_tls1_3"]))
        assert out.ok, out.output
        assert clients.s_client_protocol(out.output) == "TLSv1.1"
        assert report["version"] == "TLS 1.1" and report["handshake_complete"]
    # And a server of every version answers each client with the client's highest.
    with TLSListener("127.0.0.1", 0, cert=pki.rsa_cert, key=pki.rsa_key) as server:
        for top, off in (("1.0", ["-no_tls1_1", "-no_tls1_2"]), ("1.1", ["-no_tls1_2"]),
                         ("1.2", [])):
            out, report = served(server, lambda: clients.s_client(
                server.port, cipher="DEFAULT:@SECLEVEL=0", extra=["-no_tls1_3"] + off))
            assert out.ok, out.output
            assert report["version"] == "TLS " + top


def test_no_common_cipher_suite(narrow):
    out, report = served(narrow, lambda: clients.s_client(narrow.port, version="1.2",
                                                          cipher="AES256-SHA"))
    assert not out.ok
    assert clients.s_client_alert(out.output) == "handshake_failure", out.output
    assert any(e.startswith("sent alert handshake_failure") for e in report["errors"])


def test_narrow_server_still_serves_what_it_can(narrow):
    out, report = served(narrow, lambda: clients.s_client(narrow.port))
    assert out.ok, out.output
    assert report["cipher_suite"] == "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"
    assert report["version"] == "TLS 1.2"


@pytest.mark.skipif(not clients.have("gnutls-cli"), reason="gnutls-cli not installed")
def test_no_common_suite_gnutls(narrow):
    out, report = served(narrow, lambda: clients.gnutls_cli(
        narrow.port, priority=clients.gnutls_priority("1.2", ":-KX-ALL:+RSA")))
    assert not out.ok
    assert "Received alert [40]" in out.output, out.output      # 40: handshake_failure
    assert any(e.startswith("sent alert handshake_failure") for e in report["errors"])


def test_bad_certificate_verify_gets_decrypt_error(required, pki):
    """A client whose CertificateVerify signature does not verify (RFC 5246 section 7.4.8)."""
    def tamper(msg_type, body):
        if msg_type == 15:                       # certificate_verify: spoil the signature
            return body[:-1] + bytes((body[-1] ^ 1,))
        return None

    before = len(required.results)
    conn, err = clients.core_client(required.port, tamper=tamper, cert_chain=pki.client_rsa_cert,
                                    private_key=pki.client_rsa_key)
    assert err is not None and err.received and err.description == "decrypt_error", err
    assert required.wait_for_results(before + 1)
    report = required.results[before]
    assert "C:certificate_verify" in report["messages"]
    assert any(e.startswith("sent alert decrypt_error") for e in report["errors"])
