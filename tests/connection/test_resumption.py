"""Resumption in memory: by session id, by ticket (RFC 5077), refused resumptions that fall
back to a full handshake, EMS across resumption (RFC 7627 section 5.3)."""
import pytest

from scapy_tls_hs.codec.messages import ServerHello
from scapy_tls_hs.connection import (ClientConfig, ClientConnection, ServerConfig,
                                     ServerConnection, Session)
from scapy_tls_hs.crypto.tickets import TicketKeys
from tests.connection.pump import (ServerConfig12, assert_ok, auth_servers, client_hello_tamper,
                                   connect, exchange_and_close, expect_alert,
                                   only_signature_algorithms_cert, run)


ABBREVIATED = ["C:client_hello", "S:server_hello", "S:change_cipher_spec", "S:finished",
               "C:change_cipher_spec", "C:finished"]


def test_resumption_by_session_id(pki):
    server_cfg = ServerConfig12(pki.rsa_cert, pki.rsa_key, tickets=False)
    client, server, link = run(ClientConfig(), server_cfg)
    assert_ok(link)
    session = client.session
    assert session.ticket is None and len(session.session_id) == 32
    assert not client.resumed
    client2, server2, link2 = run(ClientConfig(session=session), server_cfg)
    assert_ok(link2)
    assert client2.resumed and server2.resumed
    assert client2.messages == server2.messages == ABBREVIATED
    assert client2.master_secret == session.master_secret
    assert client2.session.session_id == session.session_id
    assert client2.peer_certificates == client.peer_certificates
    exchange_and_close(link2)


def test_resumption_by_ticket(pki):
    server_cfg = ServerConfig12(pki.rsa_cert, pki.rsa_key)
    client, server, link = run(ClientConfig(), server_cfg)
    assert_ok(link)
    assert client.ticket and client.session.ticket
    server_cfg.session_cache.clear()         # only the ticket can resume now
    client2, server2, link2 = run(ClientConfig(session=client.session), server_cfg)
    assert_ok(link2)
    assert client2.resumed and server2.resumed
    assert client2.messages == ["C:client_hello", "S:server_hello", "S:new_session_ticket",
                                "S:change_cipher_spec", "S:finished", "C:change_cipher_spec",
                                "C:finished"]
    # a new ticket after a ticket resumption, and it works again
    assert client2.session.ticket and client2.session.ticket != client.session.ticket
    client3, server3, link3 = run(ClientConfig(session=client2.session), server_cfg)
    assert_ok(link3)
    assert client3.resumed
    exchange_and_close(link3)


def test_ticket_resumption_without_session_id_echo(pki):
    """RFC 5077 3.4: the client must also see a resumption when the server does not echo
    the session id (it goes straight to ChangeCipherSpec)."""
    server_cfg = ServerConfig12(pki.rsa_cert, pki.rsa_key)
    client, _, _ = run(ClientConfig(), server_cfg)
    server_cfg.session_cache.clear()

    def no_echo(msg_type, body):
        if msg_type == 2:
            sh = ServerHello.parse(body)
            sh.session_id = b"\x07" * 32
            return sh.encode()
        return None

    client2 = ClientConnection(ClientConfig(session=client.session))
    server2 = ServerConnection(server_cfg)
    server2.tamper = no_echo
    link = connect(client2, server2)
    assert_ok(link)
    assert client2.resumed and server2.resumed


@pytest.mark.parametrize("how", ["unknown_id", "garbage_ticket", "expired_ticket",
                                 "other_server_key"])
def test_refused_resumption_falls_back_to_full(pki, how):
    server_cfg = ServerConfig12(pki.rsa_cert, pki.rsa_key)
    client, _, _ = run(ClientConfig(), server_cfg)
    session = client.session
    server_cfg.session_cache.clear()
    if how == "unknown_id":
        session.ticket = None
    elif how == "garbage_ticket":
        session.ticket = b"\x42" * 100
    elif how == "expired_ticket":
        server_cfg.ticket_keys.lifetime = 0        # any age is too old now
    else:
        server_cfg.ticket_keys = TicketKeys()
    client2, server2, link = run(ClientConfig(session=session), server_cfg)
    assert_ok(link)
    assert not client2.resumed and not server2.resumed
    assert "S:certificate" in client2.messages
    assert client2.session.session_id != session.session_id
    exchange_and_close(link)


def test_resumption_refused_when_ems_differs(pki):
    server_cfg = ServerConfig12(pki.rsa_cert, pki.rsa_key, tickets=False)
    client, _, _ = run(ClientConfig(ems=False), server_cfg)
    client2, server2, link = run(ClientConfig(session=client.session), server_cfg)
    assert_ok(link)
    assert not client2.resumed and client2.extended_master_secret


def test_session_round_trips_through_bytes(pki):
    server_cfg = ServerConfig12(pki.rsa_cert, pki.rsa_key)
    client, server, _ = run(ClientConfig(alpn=["h2"], sni="server.test"), server_cfg)
    s = server.session
    again = Session.from_bytes(s.to_bytes(), session_id=s.session_id)
    assert (again.version, again.suite, again.master_secret, again.extended_master_secret,
            again.sni) == (s.version, s.suite, s.master_secret, s.extended_master_secret,
                           "server.test")


def test_tickets_only_server(pki):
    cfg = ServerConfig12(pki.rsa_cert, pki.rsa_key, session_cache=False)
    client, server, link = run(ClientConfig(), cfg)
    assert_ok(link)
    client2, server2, link2 = run(ClientConfig(session=client.session), cfg)
    assert client2.resumed
    client3, _, _ = run(ClientConfig(session=client.session, tickets=False), cfg)
    assert not client3.resumed


def test_client_identity_survives_resumption(pki, auth_servers):
    cfg = ClientConfig(cert_chain=pki.client_rsa_cert, private_key=pki.client_rsa_key)
    client, server, _ = run(cfg, auth_servers["required"])
    assert server.client_auth and server.peer_authenticated
    cfg2 = ClientConfig(cert_chain=pki.client_rsa_cert, private_key=pki.client_rsa_key,
                        session=client.session)
    client2, server2, link = run(cfg2, auth_servers["required"])
    assert_ok(link)
    assert server2.resumed and not server2.client_auth      # no Certificate this time
    assert server2.peer_authenticated
    assert server2.peer_certificates == server.peer_certificates


@pytest.mark.parametrize("tickets", [False, True])
def test_ems_session_resumed_without_ems_is_refused(pki, tickets):
    """RFC 7627 section 5.3: the abbreviated handshake is aborted (handshake_failure, as
    OpenSSL does), by session id and by ticket."""
    server_cfg = ServerConfig12(pki.rsa_cert, pki.rsa_key, tickets=tickets)
    client, _, _ = run(ClientConfig(), server_cfg)
    assert client.session.extended_master_secret
    _, _, link = run(ClientConfig(session=client.session, ems=False), server_cfg)
    expect_alert(link, "server", "handshake_failure")


@pytest.mark.parametrize("tickets", [False, True])
def test_resumption_without_the_session_suite_is_refused(pki, tickets):
    """RFC 5246 section 7.4.1.2: the ClientHello of a resumption MUST offer the session's
    suite; OpenSSL answers illegal_parameter (tlsfuzzer test-resumption-with-wrong-ciphers)."""
    server_cfg = ServerConfig12(pki.rsa_cert, pki.rsa_key, tickets=tickets)
    client, _, _ = run(ClientConfig(), server_cfg)
    again = ClientConnection(ClientConfig(session=client.session))
    again.tamper = client_hello_tamper(
        lambda hello: hello.cipher_suites.remove(client.session.suite.id))
    link = connect(again, ServerConnection(server_cfg))
    expect_alert(link, "server", "illegal_parameter")


def test_resumption_needs_no_signature_algorithms(pki):
    """A resumption signs nothing: a hello with signature_algorithms_cert but without
    signature_algorithms (handshake_failure in a full handshake) still resumes."""
    server_cfg = ServerConfig12(pki.rsa_cert, pki.rsa_key, tickets=False)
    client, _, _ = run(ClientConfig(), server_cfg)
    again = ClientConnection(ClientConfig(session=client.session))
    again.tamper = client_hello_tamper(only_signature_algorithms_cert)
    link = connect(again, ServerConnection(server_cfg))
    assert_ok(link)
    assert again.resumed
