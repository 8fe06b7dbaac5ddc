"""The client automaton against a Python ``ssl`` server (OpenSSL underneath, but driven the
way Python programs drive it). The server answers each request with one JSON line: its own
view of the session (version, cipher, ``session_reused``, ALPN, SNI, client certificate,
what it received), which the tests compare with the client's.
"""
import json

import pytest

from scapy_tls_hs.automata.client import TLSClientAutomaton
from scapy_tls_hs.crypto.suites import CipherSuite
from tests.peers import matrix
from tests.peers.servers import python_server

PY_VERSION = {"TLS 1.0": "TLSv1", "TLS 1.1": "TLSv1.1", "TLS 1.2": "TLSv1.2"}
REQUEST = b"hello from scapy-tls-hs\n"


def run(port, **options):
    options.setdefault("data", REQUEST)
    options.setdefault("timeout", 5)
    result = TLSClientAutomaton("127.0.0.1", port, **options).run()
    view = None
    if result.received:
        view = json.loads(result.received)
    return result, view


def check_exchange(result, view):
    assert result.errors == [], result.errors
    assert result.handshake_complete
    assert view["received"] == REQUEST.decode()
    assert view["version"] == PY_VERSION[result.version]
    assert view["cipher"] == CipherSuite.by_name(result.cipher_suite).openssl_name
    assert view["session_reused"] == result.resumed
    assert "S:alert:close_notify" in result.messages
    assert "C:alert:close_notify" in result.messages


@pytest.fixture(scope="module")
def server(pki):
    with python_server([(pki.rsa_cert, pki.rsa_key), (pki.ecdsa_cert, pki.ecdsa_key)],
                       alpn=["h2", "http/1.1"]) as peer:
        yield peer


# Each key exchange x cipher family x version (CBC with and without EtM) once, plus a few
# more suites (AES-256, SHA-384 PRF) at TLS 1.2.
CASES = matrix.cases() + [("1.2", CipherSuite.by_name(n), True) for n in (
    "ECDHE-ECDSA-AES256-SHA384", "DHE-RSA-AES256-GCM-SHA384", "AES256-SHA")]


@pytest.mark.parametrize("version,suite,etm", CASES, ids=[matrix.case_id(c) for c in CASES])
def test_handshake_and_data(server, version, suite, etm):
    result, view = run(server.port, version=version, ciphers=[suite.name], etm=etm)
    check_exchange(result, view)
    assert result.version == "TLS " + version
    assert view["cipher"] == suite.openssl_name
    assert result.encrypt_then_mac == (etm and not suite.aead)
    assert result.extended_master_secret        # on by default on both sides


def _server_hello_extensions(result):
    from scapy_tls_hs.codec.messages import ServerHello
    sh = next(ev for ev in result.events if getattr(ev, "name", "") == "server_hello")
    return [e.type for e in ServerHello.parse(sh.body).extensions or ()]


def test_ems_not_offered(server):
    result, view = run(server.port, ems=False, ciphers=["ECDHE-RSA-AES128-SHA256"])
    check_exchange(result, view)
    assert not result.extended_master_secret and 23 not in _server_hello_extensions(result)


def test_ems_off_on_the_server(pki):
    """A server with EMS disabled (OPENSSL_CONF): the RFC 5246 master secret, also when the
    session is resumed."""
    with python_server([(pki.rsa_cert, pki.rsa_key)],
                       conf_options=("-ExtendedMasterSecret",)) as peer:
        first, view1 = run(peer.port, ciphers=["DHE-RSA-AES128-GCM-SHA256"])
        second, view2 = run(peer.port, session=first.session)
    check_exchange(first, view1)
    assert not first.extended_master_secret and 23 not in _server_hello_extensions(first)
    check_exchange(second, view2)
    assert second.resumed and view2["session_reused"] and not second.extended_master_secret


def test_sni_and_alpn_reach_the_server(server):
    result, view = run(server.port, sni="server.test", alpn=["http/1.1", "h2"])
    check_exchange(result, view)
    assert view["sni"] == "server.test"
    # The server's preference (h2 first) among what we offered.
    assert view["alpn"] == result.alpn == "h2"


def test_no_sni_for_an_ip_address(server):
    result, view = run(server.port)
    check_exchange(result, view)
    assert view["sni"] is None and result.sni is None


@pytest.mark.parametrize("tickets", [True, False], ids=["ticket", "session-id"])
def test_resumption(pki, tickets):
    with python_server([(pki.rsa_cert, pki.rsa_key)], tickets=tickets) as peer:
        first, view1 = run(peer.port, ciphers=["ECDHE-RSA-AES128-GCM-SHA256"])
        second, view2 = run(peer.port, session=first.session)
    check_exchange(first, view1)
    assert first.ticket == tickets and bool(first.session.ticket) == tickets
    check_exchange(second, view2)
    assert second.resumed and view2["session_reused"]
    assert "S:certificate" not in second.messages


@pytest.fixture(scope="module")
def auth_server(pki):
    with python_server([(pki.rsa_cert, pki.rsa_key)], client_auth="required",
                       cafile=pki.ca_cert) as required, \
            python_server([(pki.rsa_cert, pki.rsa_key)], client_auth="optional",
                          cafile=pki.ca_cert) as optional:
        yield {"required": required, "optional": optional}


@pytest.mark.parametrize("mode", ["required", "optional"])
@pytest.mark.parametrize("kind", ["rsa", "ecdsa"])
def test_client_auth(pki, auth_server, mode, kind):
    result, view = run(auth_server[mode].port, cert=getattr(pki, "client_%s_cert" % kind),
                       key=getattr(pki, "client_%s_key" % kind))
    check_exchange(result, view)
    assert result.client_auth and view["client_cert"]
    assert view["client_subject"]["commonName"] == ("client-ec" if kind == "ecdsa" else "client")


def test_client_auth_optional_without_certificate(auth_server):
    result, view = run(auth_server["optional"].port)
    check_exchange(result, view)
    assert not result.client_auth and not view["client_cert"]
    assert "C:certificate" in result.messages


def test_client_auth_required_without_certificate(auth_server):
    result, view = run(auth_server["required"].port)
    assert not result.handshake_complete and view is None
    assert result.errors and result.errors[0].startswith("received alert ")


def test_untrusted_client_certificate_is_refused(pki, auth_server):
    result, _ = run(auth_server["required"].port, cert=pki.wrong_client_cert,
                    key=pki.wrong_client_key)
    assert not result.handshake_complete
    assert result.errors[0].startswith("received alert unknown_ca"), result.errors
