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
from scapy_tls_hs.codec.messages import ServerKeyExchange
from scapy_tls_hs.crypto.suites import CipherSuite
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


def check_exchange(result, warnings=()):
    """Handshake done, our request out, the server's page in, both close_notify seen."""
    assert result.errors == ["received warning alert %s" % w for w in warnings], result.errors
    assert result.handshake_complete
    assert result.received.startswith("HTTP/1.0 200 ok"), result.received[:200]
    msgs = result.messages
    assert msgs[0] == "C:client_hello" and "S:finished" in msgs
    assert "C:application_data" in msgs and "S:application_data" in msgs
    assert "S:alert:close_notify" in msgs and "C:alert:close_notify" in msgs
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


@pytest.mark.parametrize("suite", [s.name for s in CipherSuite.all()])
def test_every_suite_tls12(server, suite):
    if CipherSuite.by_name(suite).openssl_name not in OPENSSL_SUITES:
        pytest.skip("this OpenSSL build has no %s (see the gnutls tests)" % suite)
    result = run(server.port, ciphers=[suite])
    check_exchange(result)
    assert result.cipher_suite == suite
    assert result.version == "TLS 1.2"
    assert result.extended_master_secret and page_field(result, "Extended master secret") == "yes"
    assert result.received.count("New, ") == 1
    # EtM (RFC 7366) is offered by default and OpenSSL takes it for CBC suites only.
    assert result.encrypt_then_mac == (not CipherSuite.by_name(suite).aead)


@pytest.mark.parametrize("version", ["1.0", "1.1"])
@pytest.mark.parametrize("suite", ["ECDHE-RSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA",
                                   "DHE-RSA-AES128-SHA", "AES256-SHA"])
def test_old_versions(server, version, suite):
    result = run(server.port, version=version, ciphers=[suite])
    check_exchange(result)
    assert result.version == "TLS " + version
    assert CipherSuite.by_name(result.cipher_suite).openssl_name == suite


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


@pytest.mark.parametrize("refused_by", ["server", "client"])
def test_cbc_without_encrypt_then_mac(pki, refused_by):
    """EtM refused by the server (OPENSSL_CONF) or not offered: MAC-then-encrypt works."""
    conf = ("-EncryptThenMac",) if refused_by == "server" else ()
    etm = refused_by != "client"
    with openssl_server(pki.rsa_cert, pki.rsa_key, conf_options=conf) as peer:
        results = [run(peer.port, etm=etm, ciphers=["ECDHE-RSA-AES128-SHA256"]),
                   run(peer.port, etm=etm, ciphers=["AES128-SHA"], version="1.0")]
    for r in results:
        check_exchange(r)
        assert not r.encrypt_then_mac


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


def test_refused_resumption_falls_back_to_full_handshake(pki, server):
    first = run(server.port)
    assert first.handshake_complete
    # Another server knows neither the session id nor the ticket key.
    with openssl_server(pki.rsa_cert, pki.rsa_key, dcert=pki.ecdsa_cert,
                        dkey=pki.ecdsa_key) as other:
        second = run(other.port, session=first.session)
    check_exchange(second)
    assert not second.resumed
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
    assert "C:certificate" in result.messages              # the empty one
    assert any("alert" in e for e in result.errors), result.errors


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
