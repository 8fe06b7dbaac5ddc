"""Certificates in memory: client authentication none / optional / required with good,
missing and wrong certificates, and the client's check of the server chain."""
import pytest

from scapy_tls_hs.connection import ClientConfig, ClientConnection, ServerConnection
from tests.connection.pump import (assert_ok, auth_servers, connect, exchange_and_close, run,
                                   servers)


@pytest.mark.parametrize("version", [0x0301, 0x0303])
@pytest.mark.parametrize("kind", ["rsa", "ecdsa"])
@pytest.mark.parametrize("mode", ["optional", "required"])
def test_client_auth_good_certificate(pki, auth_servers, mode, kind, version):
    cfg = ClientConfig(versions=[version], cert_chain=getattr(pki, "client_%s_cert" % kind),
                       private_key=getattr(pki, "client_%s_key" % kind))
    client, server, link = run(cfg, auth_servers[mode])
    assert_ok(link)
    assert client.client_auth and server.client_auth
    assert server.peer_certificates and "C:certificate_verify" in server.messages
    assert server.messages.index("S:certificate_request") < server.messages.index(
        "S:server_hello_done")
    exchange_and_close(link)


def test_client_auth_optional_without_certificate(auth_servers):
    client, server, link = run(ClientConfig(), auth_servers["optional"])
    assert_ok(link)
    assert not client.client_auth and not server.client_auth
    assert "C:certificate" in server.messages and "C:certificate_verify" not in server.messages


def test_client_auth_required_without_certificate(auth_servers):
    client, server, link = run(ClientConfig(), auth_servers["required"])
    assert link.errors["server"].description == "handshake_failure"
    assert link.errors["client"].description == "handshake_failure"
    assert link.errors["client"].received
    assert server.messages[-1] == "S:alert:handshake_failure"


def test_client_auth_wrong_certificate(pki, auth_servers):
    cfg = ClientConfig(cert_chain=pki.wrong_client_cert, private_key=pki.wrong_client_key)
    client, server, link = run(cfg, auth_servers["required"])
    err = link.errors["server"]
    assert err.description in ("unknown_ca", "bad_certificate")
    assert link.errors["client"].description == err.description


def test_client_auth_bad_certificate_verify(pki, auth_servers):
    cfg = ClientConfig(cert_chain=pki.client_rsa_cert, private_key=pki.client_rsa_key)
    client = ClientConnection(cfg)

    def corrupt(msg_type, body):
        if msg_type == 15:
            return body[:-1] + bytes((body[-1] ^ 1,))
        return None

    client.tamper = corrupt
    link = connect(client, ServerConnection(auth_servers["required"]))
    assert link.errors["server"].description == "decrypt_error"
    assert link.errors["client"].description == "decrypt_error"


def test_server_certificate_verified_against_cafile(pki, servers):
    _, _, link = run(ClientConfig(cafile=pki.other_ca_cert, sni="server.test"), servers["RSA"])
    assert link.errors["client"].description in ("unknown_ca", "bad_certificate")
    assert link.errors["server"].received


def test_server_certificate_wrong_host(pki, servers):
    _, _, link = run(ClientConfig(cafile=pki.ca_cert, sni="other.test"), servers["RSA"])
    assert link.errors["client"] is not None
    assert link.errors["server"].received


@pytest.mark.parametrize("host,ok", [("127.0.0.1", True), ("10.1.2.3", False)])
def test_server_certificate_checked_against_an_ip(pki, servers, host, ok):
    _, _, link = run(ClientConfig(cafile=pki.ca_cert, verify_hostname=host), servers["RSA"])
    assert (link.errors["client"] is None) == ok
