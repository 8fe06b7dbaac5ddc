"""The client automaton against OpenSSL's ``s_server``: every suite, every version, EtM and
EMS on and off, client authentication, resumption, SNI, ALPN, certificate verification.

``s_server -www`` answers a GET with a page describing the session from the server's side
("New"/"Reused", protocol, cipher, master key, "Extended master secret: yes/no", the client
certificate): the tests check that view, not only the client's.
"""
import re
import subprocess

import pytest

from scapy_tls_hs.automata.client import TLSClientAutomaton
from scapy_tls_hs.codec.messages import ClientHello, ServerHello, ServerKeyExchange, find_ext
from scapy_tls_hs.crypto.suites import CipherSuite
from tests.peers import matrix
from tests.peers.servers import HTTP_GET, openssl_server

OPENSSL_PROTOCOL = {"TLS 1.0": "TLSv1", "TLS 1.1": "TLSv1.1", "TLS 1.2": "TLSv1.2"}
# What this OpenSSL build can serve (3DES is often compiled out; gnutls covers it then).
OPENSSL_SUITES = set(subprocess.run(["openssl", "ciphers", "ALL:@SECLEVEL=0"],
                                    capture_output=True, text=True).stdout.strip().split(":"))


def run(port, **options):
    options.setdefault("data", HTTP_GET)
    options.setdefault("timeout", 5)
    return TLSClientAutomaton("127.0.0.1", port, **options).run()


def page_field(result, name):
    """A ``Name : value`` line of the s_server -www page."""
    m = re.search(r"^\s*%s\s*:\s*(.*?)\s*$" % re.escape(name), result.received, re.M)
    return m.group(1) if m else None


def server_extensions(result):
    """The extension types of the ServerHello, in order."""
    sh = next(ev for ev in result.events if getattr(ev, "name", "") == "server_hello")
    return [e.type for e in ServerHello.parse(sh.body).extensions or ()]


def check_exchange(result, warnings=()):
    """Handshake done, our request out, the server's page in, both close_notify seen."""
    assert result.errors == ["received warning alert %s" % w for w in warnings], result.errors
    assert result.handshake_complete
    assert result.received.startswith("HTTP/1.0 200 ok"), result.received[:200]
    msgs = result.messages
    assert msgs[0] == "C:client_hello" and "S:finished" in msgs
    assert "C:application_data" in msgs and "S:application_data" in msgs
    assert "S:alert:close_notify" in msgs and "C:alert:close_notify" in msgs
    # RFC 5746: we signal secure renegotiation (empty renegotiation_info), the server answers.
    assert 0xFF01 in server_extensions(result)
    # The server's view of the session is the client's.
    assert page_field(result, "Protocol") == OPENSSL_PROTOCOL[result.version]
    assert page_field(result, "Cipher") == CipherSuite.by_name(result.cipher_suite).openssl_name
    assert page_field(result, "Master-Key") == result.session.master_secret.hex().upper()


@pytest.fixture(scope="module")
def server(pki):
    """RSA and ECDSA identities, every suite, TLS 1.0-1.2, tickets on."""
    with openssl_server(pki.rsa_cert, pki.rsa_key, dcert=pki.ecdsa_cert,
                        dkey=pki.ecdsa_key) as peer:
        yield peer


# What this OpenSSL lacks (3DES) runs against gnutls-serv: test_client_gnutls.py checks that
# the two modules together cover every suite at every version it can be used with.
TLS12_SUITES = [s.name for s in matrix.PEER_SUITES if s.openssl_name in OPENSSL_SUITES]
OLD_SUITES = [s.openssl_name for s in matrix.PEER_SUITES
              if s.usable_in(0x0301) and s.openssl_name in OPENSSL_SUITES]


@pytest.mark.parametrize("suite", TLS12_SUITES)
def test_every_suite_tls12(server, suite):
    result = run(server.port, ciphers=[suite])
    check_exchange(result)
    assert result.cipher_suite == suite
    assert result.version == "TLS 1.2"
    assert result.extended_master_secret and page_field(result, "Extended master secret") == "yes"
    assert result.received.count("New, ") == 1
    # EtM (RFC 7366) is offered by default and OpenSSL takes it for CBC suites only.
    s = CipherSuite.by_name(suite)
    assert result.encrypt_then_mac == (not s.aead)
    # ec_point_formats (RFC 8422 section 5.2) comes back for the ECC suites only.
    assert (11 in server_extensions(result)) == (s.key_exchange == "ECDHE"
                                                 or s.authentication == "ECDSA")


@pytest.mark.parametrize("version", ["1.0", "1.1"])
@pytest.mark.parametrize("suite", OLD_SUITES)
def test_old_versions(server, version, suite):
    """Every suite TLS 1.0/1.1 can run (CBC with SHA-1), at both versions."""
    result = run(server.port, version=version, ciphers=[suite])
    check_exchange(result)
    assert result.version == "TLS " + version
    assert CipherSuite.by_name(result.cipher_suite).openssl_name == suite
    # EtM offered by default and taken by OpenSSL (these are all CBC suites).
    assert result.encrypt_then_mac


@pytest.mark.parametrize("group,name", [(29, "X25519"), (30, "X448"), (23, "P-256"),
                                        (24, "P-384"), (25, "P-521")])
def test_ecdhe_groups(pki, group, name):
    # (An RSA certificate: in TLS 1.2 an ECDSA one also needs its own curve offered.)
    with openssl_server(pki.rsa_cert, pki.rsa_key, extra=["-groups", name]) as peer:
        result = run(peer.port, groups=[group], ciphers=["ECDHE-RSA-AES128-GCM-SHA256"])
        other = run(peer.port, groups=[g for g in (29, 23, 24, 25, 30) if g != group],
                    ciphers=["ECDHE-RSA-AES128-GCM-SHA256"])
    check_exchange(result)
    ske = next(ev for ev in result.events if getattr(ev, "name", "") == "server_key_exchange")
    assert ske.body[:3] == bytes((3, 0, group))          # named_curve, the one offered
    assert other.errors == ["received alert handshake_failure: from the server"]


@pytest.mark.parametrize("scheme,suite", [
    (0x0401, "ECDHE-RSA-AES128-GCM-SHA256"),     # rsa_pkcs1_sha256
    (0x0601, "DHE-RSA-AES128-GCM-SHA256"),       # rsa_pkcs1_sha512
    (0x0804, "ECDHE-RSA-AES128-GCM-SHA256"),     # rsa_pss_rsae_sha256
    (0x0806, "ECDHE-RSA-AES256-GCM-SHA384"),     # rsa_pss_rsae_sha512
    (0x0201, "ECDHE-RSA-AES128-SHA"),            # rsa_pkcs1_sha1
    (0x0403, "ECDHE-ECDSA-AES128-GCM-SHA256"),   # ecdsa_secp256r1_sha256
    (0x0503, "ECDHE-ECDSA-AES256-GCM-SHA384"),   # ecdsa_secp384r1_sha384 (any curve in 1.2)
    (0x0203, "ECDHE-ECDSA-AES128-SHA"),          # ecdsa_sha1
])
def test_server_signature_schemes(server, scheme, suite):
    result = run(server.port, sig_schemes=[scheme], ciphers=[suite])
    check_exchange(result)
    ske = next(ev for ev in result.events if getattr(ev, "name", "") == "server_key_exchange")
    parsed = ServerKeyExchange.parse(ske.body, CipherSuite.by_name(suite).key_exchange, 0x0303)
    assert parsed.scheme == scheme


def test_highest_common_version_is_chosen(pki):
    with openssl_server(pki.rsa_cert, pki.rsa_key, version="1.1") as peer:
        result = run(peer.port)           # offers 1.2, accepts the server's 1.1
    check_exchange(result)
    assert result.version == "TLS 1.1"


@pytest.fixture(scope="module")
def no_etm_server(pki):
    """An s_server that refuses encrypt-then-MAC (OPENSSL_CONF)."""
    with openssl_server(pki.rsa_cert, pki.rsa_key, dcert=pki.ecdsa_cert, dkey=pki.ecdsa_key,
                        conf_options=("-EncryptThenMac",)) as peer:
        yield peer


# Each key exchange x CBC x version, without EtM.
NO_ETM = [c for c in matrix.cases(lambda s: s.openssl_name in OPENSSL_SUITES) if not c[2]]


@pytest.mark.parametrize("refused_by", ["server", "client"])
@pytest.mark.parametrize("version,suite,etm", NO_ETM, ids=[matrix.case_id(c) for c in NO_ETM])
def test_cbc_without_encrypt_then_mac(server, no_etm_server, refused_by, version, suite, etm):
    """EtM refused by the server or not offered: MAC-then-encrypt (RFC 5246 section 6.2.3.1)."""
    if refused_by == "server":
        result = run(no_etm_server.port, version=version, ciphers=[suite.name])
        assert 22 in _client_hello_extensions(result)        # offered, not taken
    else:
        result = run(server.port, version=version, ciphers=[suite.name], etm=False)
        assert 22 not in _client_hello_extensions(result)
    check_exchange(result)
    assert not result.encrypt_then_mac and 22 not in server_extensions(result)
    assert result.version == "TLS " + version and result.cipher_suite == suite.name


def _client_hello_extensions(result):
    return [e.type for e in ClientHello.parse(result.events[0].body).extensions]


def test_ems_off_on_the_server(pki):
    with openssl_server(pki.rsa_cert, pki.rsa_key,
                        conf_options=("-ExtendedMasterSecret",)) as peer:
        result = run(peer.port, ciphers=["ECDHE-RSA-AES128-GCM-SHA256"])
        resumed = run(peer.port, session=result.session)
    check_exchange(result)
    assert not result.extended_master_secret
    assert page_field(result, "Extended master secret") == "no"
    check_exchange(resumed)
    assert resumed.resumed and "Reused, " in resumed.received


def test_ems_not_offered(server):
    result = run(server.port, ems=False, ciphers=["DHE-RSA-AES128-GCM-SHA256"])
    check_exchange(result)
    assert not result.extended_master_secret
    assert page_field(result, "Extended master secret") == "no"


# -- resumption ---------------------------------------------------------------------------

def test_resumption_by_ticket(server):
    first = run(server.port, ciphers=["ECDHE-ECDSA-AES128-GCM-SHA256"])
    check_exchange(first)
    assert first.ticket and first.session.ticket
    second = run(server.port, session=first.session)
    check_exchange(second)
    assert second.resumed
    assert "Reused, TLSv1.2, Cipher is ECDHE-ECDSA-AES128-GCM-SHA256" in second.received
    assert "S:certificate" not in second.messages and "C:client_key_exchange" not in \
        second.messages
    assert second.messages[:2] == ["C:client_hello", "S:server_hello"]
    assert second.session.master_secret == first.session.master_secret
    # Resumed again from the ticket the resumed handshake brought.
    third = run(server.port, session=second.session)
    check_exchange(third)
    assert third.resumed and "Reused, " in third.received


def test_resumption_by_session_id(pki):
    with openssl_server(pki.rsa_cert, pki.rsa_key, tickets=False) as peer:
        first = run(peer.port, version="1.1", ciphers=["DHE-RSA-AES256-SHA"])
        second = run(peer.port, version="1.1", session=first.session)
    check_exchange(first)
    assert not first.ticket and first.session_id
    check_exchange(second)
    assert second.resumed and second.session_id == first.session_id
    # (s_server names the suite's own protocol here, "SSLv3"; "Protocol" is checked above.)
    assert re.search(r"Reused, \S+, Cipher is DHE-RSA-AES256-SHA", second.received)
    assert re.search(r"^\s*1 session cache hits", second.received, re.M)


@pytest.mark.parametrize("tickets", [True, False], ids=["ticket", "session-id"])
def test_refused_resumption_falls_back_to_full_handshake(pki, tickets):
    with openssl_server(pki.rsa_cert, pki.rsa_key, tickets=tickets) as one:
        first = run(one.port)
    assert first.handshake_complete and first.ticket == tickets
    # Another server knows neither the session id nor the ticket key.
    with openssl_server(pki.rsa_cert, pki.rsa_key, tickets=tickets) as other:
        second = run(other.port, session=first.session)
    check_exchange(second)
    # The session was offered, and refused. (With a ticket, the client makes up a session
    # id to see it accepted: RFC 5077 section 3.4.)
    hello = ClientHello.parse(second.events[0].body)
    if tickets:
        assert find_ext(hello.extensions, 35).data == first.session.ticket
        assert len(hello.session_id) == 32
    else:
        assert hello.session_id == first.session.session_id != b""
    assert hello.session_id != second.session.session_id
    assert not second.resumed and second.session.master_secret != first.session.master_secret
    assert "New, " in second.received and "S:certificate" in second.messages


# -- client authentication ----------------------------------------------------------------

@pytest.fixture(scope="module")
def auth_required(pki):
    with openssl_server(pki.rsa_cert, pki.rsa_key, verify=1, require_cert=True,
                        cafile=pki.ca_cert) as peer:
        yield peer


@pytest.fixture(scope="module")
def auth_optional(pki):
    with openssl_server(pki.rsa_cert, pki.rsa_key, verify=1, cafile=pki.ca_cert) as peer:
        yield peer


@pytest.mark.parametrize("kind,version", [("rsa", "1.2"), ("ecdsa", "1.2"), ("rsa", "1.0"),
                                          ("ecdsa", "1.1")])
def test_client_auth_required(pki, auth_required, kind, version):
    result = run(auth_required.port, version=version,
                 cert=getattr(pki, "client_%s_cert" % kind),
                 key=getattr(pki, "client_%s_key" % kind))
    check_exchange(result)
    assert result.client_auth
    assert "C:certificate" in result.messages and "C:certificate_verify" in result.messages
    assert "S:certificate_request" in result.messages
    assert "Client certificate" in result.received
    cn = "client-ec" if kind == "ecdsa" else "client"
    assert re.search(r"Subject:.*CN\s*=\s*%s\s*$" % cn, result.received, re.M)


def test_client_auth_required_without_certificate_fails(auth_required):
    result = run(auth_required.port)
    assert not result.handshake_complete
    assert result.errors == ["received alert handshake_failure: from the server"]
    cert_msg = next(ev for ev in result.events
                    if getattr(ev, "name", None) == "certificate" and ev.direction == "client")
    assert cert_msg.body == b"\x00\x00\x00"              # the empty one
    assert "C:certificate_verify" not in result.messages


def test_client_auth_optional_sends_empty_certificate(auth_optional):
    result = run(auth_optional.port)
    check_exchange(result)
    assert not result.client_auth
    assert "C:certificate" in result.messages and "C:certificate_verify" not in result.messages
    assert "no client certificate available" in result.received
    cert_msg = next(ev for ev in result.events
                    if getattr(ev, "name", None) == "certificate" and ev.direction == "client")
    assert cert_msg.body == b"\x00\x00\x00"


def test_client_auth_optional_with_certificate(pki, auth_optional):
    result = run(auth_optional.port, cert=pki.client_ecdsa_cert, key=pki.client_ecdsa_key)
    check_exchange(result)
    assert result.client_auth and "Client certificate" in result.received


def test_certificate_not_asked_is_not_sent(pki, server):
    result = run(server.port, cert=pki.client_rsa_cert, key=pki.client_rsa_key)
    check_exchange(result)
    assert not result.client_auth and "C:certificate" not in result.messages


# -- SNI, ALPN, server certificate verification -------------------------------------------

def test_sni_selects_the_server_certificate(pki):
    """``-servername server.test -cert2 ...``: only a client naming server.test gets the
    second certificate (the one issued by the intermediate CA)."""
    with openssl_server(pki.rsa_cert, pki.rsa_key, servername="server.test",
                        cert2=pki.rsa_chain, key2=pki.rsa_key) as peer:
        named = run(peer.port, sni="server.test")
        other = run(peer.port, sni="other.test")
    check_exchange(named)
    check_exchange(other, warnings=["unrecognized_name"])
    assert named.sni == "server.test"
    assert "CN=Test Intermediate CA" in named.certificates()[0]["issuer"]
    assert "CN=Test Root CA" in other.certificates()[0]["issuer"]


def test_alpn(pki):
    with openssl_server(pki.rsa_cert, pki.rsa_key, alpn="h2,http/1.1") as peer:
        chosen = run(peer.port, alpn=["http/1.1"])
        none = run(peer.port)
    check_exchange(chosen)
    assert chosen.alpn == "http/1.1"
    check_exchange(none)
    assert none.alpn is None


def test_cafile_verification(pki, server):
    good = run(server.port, cafile=pki.ca_cert, sni="server.test")
    check_exchange(good)
    wrong_ca = run(server.port, cafile=pki.other_ca_cert, sni="server.test")
    assert not wrong_ca.handshake_complete
    assert wrong_ca.errors and wrong_ca.errors[0].startswith("sent alert unknown_ca")
    assert wrong_ca.messages[-1] == "C:alert:unknown_ca"
    wrong_host = run(server.port, cafile=pki.ca_cert, sni="wrong.test")
    assert not wrong_host.handshake_complete
    assert wrong_host.errors[0].startswith("sent alert bad_certificate")


def test_cafile_checks_the_ip_address_connected_to(pki, server, tmp_path):
    """Connecting to an IP address (no SNI), the certificate must be valid for that address."""
    from cryptography.hazmat.primitives import serialization
    from tests.conftest import _cert, _write

    def load(path):
        with open(path, "rb") as f:
            return serialization.load_pem_private_key(f.read(), None)

    # The same server key, certified for server.test only (no IP address).
    cert = _write(tmp_path, "name_only.pem", _cert("server.test", load(pki.rsa_key),
                                                   "Test Root CA", load(pki.ca_key),
                                                   hosts=("server.test",)))
    with openssl_server(cert, pki.rsa_key) as peer:
        by_ip = run(peer.port, cafile=pki.ca_cert)
        by_name = run(peer.port, cafile=pki.ca_cert, sni="server.test")
        unchecked = run(peer.port)
    assert not by_ip.handshake_complete and by_ip.sni is None
    assert by_ip.errors[0].startswith("sent alert bad_certificate"), by_ip.errors
    check_exchange(by_name)
    check_exchange(unchecked)
    # The usual certificate names 127.0.0.1 too.
    good = run(server.port, cafile=pki.ca_cert)
    check_exchange(good)
    assert good.sni is None


def test_cafile_verification_through_an_intermediate(pki):
    with openssl_server(pki.rsa_chain, pki.rsa_key,
                        extra=["-cert_chain", pki.intermediate_cert]) as peer:
        good = run(peer.port, cafile=pki.ca_cert, sni="localhost")
        other = run(peer.port, cafile=pki.other_ca_cert, sni="localhost")
    check_exchange(good)
    assert len(good.peer_certificates) == 2
    assert [c["subject"].split(",")[0] for c in good.certificates()] == [
        "CN=server.test", "CN=Test Intermediate CA"]
    assert other.errors[0].startswith("sent alert unknown_ca")


def test_no_common_suite(pki):
    with openssl_server(pki.rsa_cert, pki.rsa_key, cipher="AES128-SHA") as peer:
        result = run(peer.port, ciphers=["ECDHE-RSA-AES128-GCM-SHA256"])
    assert not result.handshake_complete
    assert result.errors == ["received alert handshake_failure: from the server"]
    assert result.messages == ["C:client_hello", "S:alert:handshake_failure"]
