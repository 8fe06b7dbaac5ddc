"""Secure renegotiation (RFC 5746) between our client and server in memory: started by either
side, the binding of renegotiation_info, application data around the new handshake, and the
refusals (legacy peer, turned off, TLS 1.3, forged binding, changed version)."""
import dataclasses

import pytest

from scapy_tls_hs.codec import extensions as X
from scapy_tls_hs.codec.messages import ClientHello
from scapy_tls_hs.connection import ClientConfig, ClientConnection, ServerConnection, states
from scapy_tls_hs.errors import TLSError
from tests.connection.pump import ServerConfig12, assert_ok, run, servers  # noqa: F401

SECOND = ["C:client_hello", "S:server_hello", "S:certificate", "S:server_key_exchange",
          "S:server_hello_done", "C:client_key_exchange", "C:change_cipher_spec", "C:finished"]


def _tls12(**kw):
    kw.setdefault("versions", ["1.2"])
    return ClientConfig(**kw)


@pytest.fixture()
def pair(servers):
    client, server, link = run(_tls12(tickets=False), servers["RSA"])
    assert_ok(link)
    assert client.secure_renegotiation and server.secure_renegotiation
    return client, server, link


def test_client_initiated(pair):
    client, server, link = pair
    first_master = client.master_secret
    first_vd = dict(client._verify_data)
    n = len(client.messages)
    client.renegotiate()
    assert client.renegotiating and client.state == states.EXPECT_SERVER_HELLO
    link.pump()
    assert_ok(link)
    assert client.renegotiations == server.renegotiations == 1
    assert not client.renegotiating and not server.renegotiating
    assert client.master_secret == server.master_secret != first_master
    assert client._verify_data["client"] != first_vd["client"]
    assert client.messages[n:n + len(SECOND)] == SECOND
    # The new handshake travelled under the old keys: nothing of it is plaintext.
    hello = [e for e in server.events if getattr(e, "name", "") == "client_hello"]
    assert len(hello) == 2 and hello[1].encrypted and not hello[0].encrypted
    # renegotiation_info bound to the first handshake, both ways.
    ch = ClientHello.parse(hello[1].body)
    assert X.parse_renegotiation_info(ch.ext(X.EXT_RENEGOTIATION_INFO)[1]) == first_vd["client"]
    # The connection still carries data with the new keys.
    client.send_application_data(b"after")
    server.send_application_data(b"back")
    link.pump()
    assert link.received == {"server": b"after", "client": b"back"}


def test_server_initiated(pair):
    client, server, link = pair
    server.renegotiate()
    link.pump()
    assert_ok(link)
    assert client.renegotiations == server.renegotiations == 1
    assert "S:hello_request" in server.messages
    assert server.messages.count("C:client_hello") == 2


def test_twice_and_data_interleaved(pair):
    client, server, link = pair
    for i in range(2):
        client.send_application_data(b"GET / HTTP/1.0\r\n")
        client.renegotiate()
        client.send_application_data(b"x%d" % i)     # interleaved with the new handshake
        server.send_application_data(b"y%d" % i)
        link.pump()
        assert_ok(link)
    assert client.renegotiations == server.renegotiations == 2
    assert link.received["server"] == b"GET / HTTP/1.0\r\nx0GET / HTTP/1.0\r\nx1"
    assert link.received["client"] == b"y0y1"


def test_client_refuses_when_turned_off(servers):
    client, server, link = run(_tls12(renegotiation=False), servers["RSA"])
    assert_ok(link)
    server.renegotiate()
    link.pump()
    assert_ok(link)
    assert client.messages[-2:] == ["S:hello_request", "C:alert:no_renegotiation"]
    assert [(e.level, e.description) for e in server.events if type(e).__name__ == "Alert"] \
        == [(1, "no_renegotiation")]
    assert client.renegotiations == 0


def test_server_refuses_when_turned_off(pki):
    server_cfg = ServerConfig12(pki.rsa_chain, pki.rsa_key, renegotiation=False)
    client, server, link = run(_tls12(), server_cfg)
    assert_ok(link)
    client.renegotiate()
    link.pump()
    assert link.errors["server"] is None
    assert server.messages[-2:] == ["C:client_hello", "S:alert:no_renegotiation"]
    assert [(e.level, e.description) for e in client.events if type(e).__name__ == "Alert"] \
        == [(1, "no_renegotiation")]
    assert server.state == states.CONNECTED and server.renegotiations == 0


def test_client_goes_on_when_the_server_refuses(pki):
    server_cfg = ServerConfig12(pki.rsa_chain, pki.rsa_key, renegotiation=False, alpn=["h2"])
    client, server, link = run(_tls12(alpn=["h2"]), server_cfg)
    assert_ok(link)
    session, random = client.session, client.client_random
    client.renegotiate()
    link.pump()
    assert_ok(link)
    assert not client.renegotiating and client.renegotiations == 0
    assert client.session is session and client.client_random == random
    assert client.alpn == "h2"
    client.send_application_data(b"on")
    link.pump()
    assert link.received["server"] == b"on"


def test_legacy_client_is_refused(servers):
    client, server, link = run(_tls12(secure_renegotiation=False), servers["RSA"])
    assert_ok(link)
    assert not server.secure_renegotiation
    with pytest.raises(TLSError):
        server.renegotiate()
    with pytest.raises(TLSError):
        client.renegotiate()        # the server said nothing of RFC 5746 either


@pytest.mark.parametrize("forger,failing", [("client", "server"), ("server", "client")])
def test_forged_binding_is_handshake_failure(pair, forger, failing):
    """Either side's renegotiation_info that does not carry the last verify_data."""
    client, server, link = pair
    {"client": client, "server": server}[forger]._verify_data[forger] = bytes(12)
    client.renegotiate()
    link.pump()
    assert link.errors[failing].description == "handshake_failure"
    assert link.errors[forger].received


def test_renegotiation_may_not_drop_ems(pair):
    """RFC 7627: a connection that used EMS keeps it (tlsfuzzer "drop extended_master_secret
    in renegotiation")."""
    client, server, link = pair
    assert server.extended_master_secret
    client.config = dataclasses.replace(client.config, ems=False)
    client.renegotiate()
    link.pump()
    assert link.errors["server"].description == "handshake_failure"


def test_tls13_has_no_renegotiation(pki):
    from scapy_tls_hs.connection import ServerConfig
    client, server, link = run(ClientConfig(), ServerConfig(pki.rsa_chain, pki.rsa_key))
    assert_ok(link)
    assert client.tls13
    with pytest.raises(TLSError):
        server.renegotiate()
    with pytest.raises(TLSError):
        client.renegotiate()


def test_renegotiation_resumes_the_same_session(servers):
    """An abbreviated renegotiation: same master secret, new randoms, so new keys."""
    client, server, link = run(_tls12(tickets=False), servers["RSA"])
    assert_ok(link)
    keys = client._records._write
    client.renegotiate(resume=True)
    link.pump()
    assert_ok(link)
    assert server.resumed and client.resumed and client.renegotiations == 1
    assert client.messages[-6:] == ["C:client_hello", "S:server_hello", "S:change_cipher_spec",
                                    "S:finished", "C:change_cipher_spec", "C:finished"]
    assert client._records._write is not keys
    client.send_application_data(b"still")
    link.pump()
    assert link.received["server"] == b"still"
