"""The TLS 1.3 server against our own TLS 1.3 client, in memory (``pump``): resumption
(psk_dhe_ke, psk_ke), 0-RTT accepted once per ticket, HelloRetryRequest, client
authentication, KeyUpdate both ways, Finished / CertificateVerify tampering, the shared
server context."""
import pytest

from scapy_tls_hs.codec import extensions as X
from scapy_tls_hs.codec.messages import CertificateRequest13, find_ext
from scapy_tls_hs.crypto.certs import load_certificates
from scapy_tls_hs.connection import ClientConfig, ClientConnection, ServerConfig, \
    ServerConnection
from scapy_tls_hs.connection.server_context import ServerContext, UsedTickets
from scapy_tls_hs.crypto.tickets import TicketKeys
from scapy_tls_hs.errors import AlertError, TLSError
from tests.connection.pump import connect

OK = {"client": None, "server": None}


def run(client_cfg, server_cfg, context=None, **kw):
    client = ClientConnection(client_cfg)
    server = ServerConnection(server_cfg, context)
    link = connect(client, server, **kw)
    return client, server, link


def ccfg(pki, **kw):
    kw.setdefault("cafile", pki.ca_cert)
    kw.setdefault("sni", "localhost")
    return ClientConfig(**kw)


@pytest.fixture
def scfg(pki):
    return ServerConfig(pki.rsa_cert, pki.rsa_key, early_data_max=4096)


def test_full_handshake_and_data(pki, scfg):
    client, server, link = run(ccfg(pki), scfg)
    assert link.errors == OK
    assert server.version == client.version == 0x0304
    assert server.handshake_complete and server.group == "x25519"
    assert server.messages.count("S:new_session_ticket") == 2
    client.send_application_data(b"ping")
    link.pump()
    assert link.received["server"] == b"ping"
    assert server.keylog_lines() and all(" %s " % server.client_random.hex() in line
                                         for line in server.keylog_lines())


@pytest.mark.parametrize("modes,group", [((1,), "x25519"), ((0,), None)])
def test_resumption_psk_dhe_ke_and_psk_ke(pki, scfg, modes, group):
    client, _, _ = run(ccfg(pki), scfg)
    client2, server2, link = run(ccfg(pki, session=client.session, psk_modes=modes), scfg)
    assert link.errors == OK
    assert server2.resumed and client2.resumed
    assert server2.group == group
    assert "S:certificate" not in server2.messages
    assert server2.peer_certificates == [] and server2.session.version == 0x0304


def test_early_data_once_per_ticket(pki, scfg):
    client, _, _ = run(ccfg(pki), scfg)
    session = client.session
    _, server2, link2 = run(ccfg(pki, session=session, early_data=b"zero rtt"), scfg)
    assert link2.errors == OK and server2.early_data == "accepted"
    assert link2.received["server"] == b"zero rtt"
    _, server3, link3 = run(ccfg(pki, session=session, early_data=b"replayed"), scfg)
    assert link3.errors == OK and server3.early_data == "rejected"
    assert server3.resumed and link3.received["server"] == b""


def test_early_data_refused_by_a_server_without_it(pki):
    issuing = ServerConfig(pki.rsa_cert, pki.rsa_key, early_data_max=4096)
    client, _, _ = run(ccfg(pki), issuing)
    ctx = ServerContext.of_config(issuing)
    refusing = ServerConfig(pki.rsa_cert, pki.rsa_key)          # early_data_max=0
    _, server, link = run(ccfg(pki, session=client.session, early_data=b"x" * 100),
                          refusing, context=ctx)
    assert link.errors == OK and server.resumed and server.early_data == "rejected"


def test_early_data_beyond_the_limit(pki):
    cfg = ServerConfig(pki.rsa_cert, pki.rsa_key, early_data_max=10)
    client, _, _ = run(ccfg(pki), cfg)
    assert client.session.max_early_data == 10
    _, server, link = run(ccfg(pki, session=client.session, early_data=b"y" * 11), cfg)
    assert link.errors["server"].description == "unexpected_message"


def test_early_data_needs_the_same_alpn(pki):
    cfg = ServerConfig(pki.rsa_cert, pki.rsa_key, early_data_max=100, alpn=["h2", "x"])
    client, _, _ = run(ccfg(pki, alpn=["h2"]), cfg)
    _, server, link = run(ccfg(pki, alpn=["x"], session=client.session, early_data=b"e"),
                          cfg)
    assert link.errors == OK and server.resumed and server.early_data == "rejected"


def test_hello_retry_request_in_memory(pki):
    cfg = ServerConfig(pki.rsa_cert, pki.rsa_key, groups=["secp384r1"])
    client, server, link = run(ccfg(pki, groups=["x25519", "secp384r1"]), cfg)
    assert link.errors == OK
    assert server.hello_retry and server.group == "secp384r1"
    assert "S:hello_retry_request" in server.messages


def test_hello_retry_request_then_resumption(pki):
    cfg = ServerConfig(pki.rsa_cert, pki.rsa_key, groups=["secp256r1"])
    client, _, _ = run(ccfg(pki, groups=["secp256r1"]), cfg)
    client2, server2, link = run(ccfg(pki, groups=["x25519", "secp256r1"],
                                      session=client.session), cfg)
    assert link.errors == OK and server2.hello_retry and server2.resumed


@pytest.mark.parametrize("kind", ["rsa", "ecdsa"])
def test_client_authentication(pki, kind):
    cfg = ServerConfig(pki.rsa_cert, pki.rsa_key, client_auth="required", cafile=pki.ca_cert)
    client, server, link = run(
        ccfg(pki, cert_chain=getattr(pki, "client_%s_cert" % kind),
             private_key=getattr(pki, "client_%s_key" % kind)), cfg)
    assert link.errors == OK and server.client_auth
    request = next(e for e in server.events if getattr(e, "msg_type", None) == 13)
    cr = CertificateRequest13.parse(request.body)
    assert cr.context == b""
    names = X.parse_certificate_authorities(
        find_ext(cr.extensions, X.EXT_CERTIFICATE_AUTHORITIES)[1])
    assert names == [load_certificates(pki.ca_cert)[0].subject.public_bytes()]
    assert 0x0401 not in X.parse_signature_algorithms(
        find_ext(cr.extensions, X.EXT_SIGNATURE_ALGORITHMS)[1])       # no PKCS#1 in 1.3
    # the client certificate travels in the ticket
    _, server2, link2 = run(ccfg(pki, session=client.session), cfg)
    assert link2.errors == OK and server2.resumed and server2.peer_authenticated
    assert not server2.client_auth


def test_client_auth_required_without_certificate(pki):
    cfg = ServerConfig(pki.rsa_cert, pki.rsa_key, client_auth="required", cafile=pki.ca_cert)
    _, _, link = run(ccfg(pki), cfg)
    assert link.errors["server"].description == "certificate_required"


def test_bad_client_certificate_verify(pki):
    cfg = ServerConfig(pki.rsa_cert, pki.rsa_key, client_auth="required", cafile=pki.ca_cert)
    client = ClientConnection(ccfg(pki, cert_chain=pki.client_ecdsa_cert,
                                   private_key=pki.client_ecdsa_key))
    client.tamper = lambda t, body: body[:-1] + bytes((body[-1] ^ 1,)) if t == 15 else None
    link = connect(client, ServerConnection(cfg))
    assert link.errors["server"].description == "decrypt_error"


def test_client_certificate_verify_with_pkcs1_is_illegal(pki):
    cfg = ServerConfig(pki.rsa_cert, pki.rsa_key, client_auth="required", cafile=pki.ca_cert)
    client = ClientConnection(ccfg(pki, cert_chain=pki.client_rsa_cert,
                                   private_key=pki.client_rsa_key))
    client.tamper = lambda t, body: b"\x04\x01" + body[2:] if t == 15 else None
    link = connect(client, ServerConnection(cfg))
    assert link.errors["server"].description == "illegal_parameter"


@pytest.mark.parametrize("finished,alert", [(lambda b: bytes(len(b)), "decrypt_error"),
                                            (lambda b: b[:12], "decode_error"),
                                            (lambda b: b + b"\x00", "decode_error")])
def test_bad_client_finished(pki, scfg, finished, alert):
    client = ClientConnection(ccfg(pki))
    client.tamper = lambda t, body: finished(body) if t == 20 else None
    link = connect(client, ServerConnection(scfg))
    assert link.errors["server"].description == alert


def test_key_update_both_ways(pki, scfg):
    client, server, link = run(ccfg(pki), scfg)
    client.send_key_update(request=True)
    client.send_application_data(b"after client update")
    link.pump()
    assert link.errors == OK
    assert server.key_updates == 2                       # one received, one sent back
    assert server.messages.count("S:key_update") == 1
    server.send_application_data(b"answer")
    server.send_key_update(request=False)
    server.send_application_data(b"after server update")
    link.pump()
    assert link.errors == OK
    assert link.received["server"] == b"after client update"
    assert link.received["client"] == b"answer" + b"after server update"
    assert server.key_updates == 3


def test_key_update_with_a_bad_value(pki, scfg):
    client, server, link = run(ccfg(pki), scfg)
    client._send_handshake(24, b"\x02")
    client._flush()
    link.pump()
    assert link.errors["server"].description == "illegal_parameter"


def test_tls12_client_gets_the_downgrade_sentinel(pki, scfg):
    client, server, link = run(ccfg(pki, versions=["1.2"]), scfg)
    assert link.errors == OK and server.version == 0x0303
    assert server.server_random[-8:] == b"DOWNGRD\x01"


def test_tls13_only_server_refuses_tls12_client(pki):
    cfg = ServerConfig(pki.rsa_cert, pki.rsa_key, versions=["1.3"])
    _, _, link = run(ccfg(pki, versions=["1.2"]), cfg)
    assert link.errors["server"].description == "protocol_version"


def test_no_tickets_when_tickets_are_off(pki):
    cfg = ServerConfig(pki.rsa_cert, pki.rsa_key, tickets=False)
    client, server, link = run(ccfg(pki), cfg)
    assert link.errors == OK and "S:new_session_ticket" not in server.messages


# ---------------------------------------------------------------- the server context

def test_connections_of_one_config_share_its_context(pki, scfg):
    a, b = ServerConnection(scfg), ServerConnection(scfg)
    assert a._context is b._context is ServerContext.of_config(scfg)
    assert a._context.ticket_keys is scfg.ticket_keys


def test_context_follows_keys_replaced_on_the_config(pki, scfg):
    client, _, _ = run(ccfg(pki), scfg)
    scfg.ticket_keys = TicketKeys()                     # the old tickets no longer open
    _, server, link = run(ccfg(pki, session=client.session), scfg)
    assert link.errors == OK and not server.resumed


def test_a_context_given_explicitly_wins(pki, scfg):
    ctx = ServerContext(ticket_keys=TicketKeys())
    client, _, _ = run(ccfg(pki), scfg, context=ctx)
    _, server, _ = run(ccfg(pki, session=client.session), scfg)          # config's context
    assert not server.resumed
    _, server, _ = run(ccfg(pki, session=client.session), scfg, context=ctx)
    assert server.resumed


def test_rotated_ticket_keys_still_open_recent_tickets(pki, scfg):
    client, _, _ = run(ccfg(pki), scfg)
    scfg.ticket_keys.rotate()
    _, server, _ = run(ccfg(pki, session=client.session), scfg)
    assert server.resumed


def test_used_tickets_is_bounded_and_single_use():
    used = UsedTickets(max_entries=2)
    assert used.first_use(b"a") and not used.first_use(b"a")
    assert used.first_use(b"b") and used.first_use(b"c")
    assert len(used) == 2 and used.first_use(b"a")      # "a" was forgotten first


def test_cookies_are_bound_to_their_context():
    a, b = ServerContext(), ServerContext()
    cookie = a.cookie(b"state")
    assert a.open_cookie(cookie) == b"state"
    assert b.open_cookie(cookie) is None
    assert a.open_cookie(cookie[:-1] + bytes((cookie[-1] ^ 1,))) is None


# ---------------------------------------------------------------- post-handshake auth

def pha_pair(pki, **client_kw):
    cfg = ServerConfig(pki.rsa_cert, pki.rsa_key, cafile=pki.ca_cert)
    client, server, link = run(ccfg(pki, **client_kw), cfg)
    assert link.errors == OK and not server.client_auth
    return client, server, link


def test_post_handshake_authentication(pki):
    client, server, link = pha_pair(pki, cert_chain=pki.client_ecdsa_cert,
                                    private_key=pki.client_ecdsa_key)
    server.request_client_certificate()
    link.pump()
    assert link.errors == OK
    assert server.client_auth and server.peer_certificates
    assert server.messages[-4:] == ["S:certificate_request", "C:certificate",
                                    "C:certificate_verify", "C:finished"]
    client.send_application_data(b"still fine")          # the keys did not change
    link.pump()
    assert link.received["server"] == b"still fine"


def test_post_handshake_authentication_after_a_key_update(pki):
    client, server, link = pha_pair(pki, cert_chain=pki.client_rsa_cert,
                                    private_key=pki.client_rsa_key)
    client.send_key_update(request=False)
    link.pump()
    server.request_client_certificate()
    link.pump()
    assert link.errors == OK and server.client_auth


def test_post_handshake_authentication_needs_the_offer(pki):
    _, server, _ = pha_pair(pki)                          # no client certificate: no offer
    with pytest.raises(TLSError):
        server.request_client_certificate()


def test_unrequested_post_handshake_certificate_is_unexpected(pki):
    client, server, link = pha_pair(pki, cert_chain=pki.client_rsa_cert,
                                    private_key=pki.client_rsa_key)
    client._send_handshake(11, b"\x00\x00\x00\x00")
    client._flush()
    link.pump()
    assert link.errors["server"].description == "unexpected_message"


def test_bad_post_handshake_finished(pki):
    client, server, link = pha_pair(pki, cert_chain=pki.client_rsa_cert,
                                    private_key=pki.client_rsa_key)
    client.tamper = lambda t, body: bytes(len(body)) if t == 20 else None
    server.request_client_certificate()
    link.pump()
    assert link.errors["server"].description == "decrypt_error"
    assert not server.client_auth


def test_client_rsa_pss_pss_scheme_with_an_rsae_certificate_is_illegal(pki):
    cfg = ServerConfig(pki.rsa_cert, pki.rsa_key, client_auth="required", cafile=pki.ca_cert)
    client = ClientConnection(ccfg(pki, cert_chain=pki.client_rsa_cert,
                                   private_key=pki.client_rsa_key))
    client.tamper = lambda t, body: b"\x08\x09" + body[2:] if t == 15 else None
    link = connect(client, ServerConnection(cfg))
    assert link.errors["server"].description == "illegal_parameter"


def test_end_of_early_data_with_a_body(pki, scfg):
    client, _, _ = run(ccfg(pki), scfg)
    client2 = ClientConnection(ccfg(pki, session=client.session, early_data=b"e"))
    client2.tamper = lambda t, body: b"\x00" if t == 5 else None
    link = connect(client2, ServerConnection(scfg))
    assert link.errors["server"].description == "decode_error"


def test_application_data_before_the_client_finished(pki, scfg):
    """0.5-RTT the other way: the client may not send data before its Finished."""
    client = ClientConnection(ccfg(pki))
    server = ServerConnection(scfg)
    client.start()
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    flight = client.data_to_send()                   # CCS, Finished (protected)
    assert not server.handshake_complete
    # a protected application_data record under the client handshake keys, before Finished
    server._records.set_write13(server.suite, server.schedule.client_handshake)
    forged = server._records.seal(23, b"too early")
    with pytest.raises(AlertError) as info:
        server.receive_data(forged + flight)
    assert info.value.description == "unexpected_message"


from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402


@pytest.fixture(scope="module")
def auth_cfg(pki):
    return ServerConfig(pki.rsa_cert, pki.rsa_key, client_auth="required", cafile=pki.ca_cert)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(msg_type=st.sampled_from([11, 15, 20]), body=st.binary(max_size=80))
def test_random_client_flight_bodies_get_an_alert_not_a_crash(pki, auth_cfg, msg_type, body):
    client = ClientConnection(ccfg(pki, cert_chain=pki.client_ecdsa_cert,
                                   private_key=pki.client_ecdsa_key))
    client.tamper = lambda t, b: body if t == msg_type else None
    link = connect(client, ServerConnection(auth_cfg))
    error = link.errors["server"]
    assert error is not None and error.description != "internal_error", error
