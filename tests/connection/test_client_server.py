"""The client and server roles wired to each other in memory: every suite and version,
the extensions and what each side negotiates, events, user-supplied hellos."""
import pytest

from scapy_tls_hs.codec.messages import ServerHello
from scapy_tls_hs.connection import (ApplicationData, ClientConfig, ClientConnection,
                                     HandshakeComplete, HandshakeMessage, ServerConfig,
                                     ServerConnection)
from scapy_tls_hs.crypto.suites import CipherSuite
from tests.connection.pump import ServerConfig12, Link, assert_ok, connect, exchange_and_close, run, servers


NAMES = {0x0301: "1.0", 0x0302: "1.1", 0x0303: "1.2"}


FULL = ["C:client_hello", "S:server_hello", "S:certificate", "S:server_key_exchange",
        "S:server_hello_done", "C:client_key_exchange", "C:change_cipher_spec", "C:finished",
        "S:new_session_ticket", "S:change_cipher_spec", "S:finished"]


def _cases():
    for suite in CipherSuite.all():
        for version in NAMES:
            if suite.usable_in(version):
                yield pytest.param(suite, version, id="%s-%s" % (suite.name, NAMES[version]))


@pytest.mark.parametrize("suite,version", list(_cases()))
def test_every_suite_and_version(servers, pki, suite, version):
    client, server, link = run(
        ClientConfig(versions=[version], ciphers=[suite], sni="server.test",
                     cafile=pki.ca_cert if suite.authentication != "DSA" else None),
        servers[suite.authentication])
    assert_ok(link)
    assert client.version == server.version == version
    assert client.suite == server.suite == suite
    assert client.master_secret == server.master_secret
    assert client.extended_master_secret and server.extended_master_secret
    assert client.encrypt_then_mac == server.encrypt_then_mac == (not suite.aead)
    expected = [m for m in FULL if suite.key_exchange != "RSA" or m != "S:server_key_exchange"]
    assert client.messages == expected
    assert server.messages == expected
    assert len(client.peer_certificates) == (2 if suite.authentication == "RSA" else 1)
    exchange_and_close(link)


def test_events_carry_every_message(servers):
    client, server, link = run(ClientConfig(), servers["RSA"])
    assert_ok(link)
    sent = [e.name for e in client.events if isinstance(e, HandshakeMessage)
            and e.direction == "client"]
    assert sent == ["client_hello", "client_key_exchange", "finished"]
    assert any(isinstance(e, HandshakeComplete) for e in link.events["client"])
    fin = [e for e in link.events["client"] if isinstance(e, HandshakeMessage)
           and e.name == "finished"][0]
    assert fin.encrypted and fin.direction == "server"
    # the keylog line material
    assert client.keylog_line() == "CLIENT_RANDOM %s %s" % (client.client_random.hex(),
                                                            server.master_secret.hex())


@pytest.mark.parametrize("client_ems,server_ems", [(True, True), (True, False), (False, True),
                                                   (False, False)])
def test_extended_master_secret(pki, client_ems, server_ems):
    server_cfg = ServerConfig12(pki.rsa_cert, pki.rsa_key, ems=server_ems)
    client, server, link = run(ClientConfig(ems=client_ems), server_cfg)
    assert_ok(link)
    assert client.extended_master_secret == server.extended_master_secret == \
        (client_ems and server_ems)
    exchange_and_close(link)


@pytest.mark.parametrize("client_etm,server_etm", [(True, True), (True, False), (False, True)])
def test_encrypt_then_mac(pki, client_etm, server_etm):
    server_cfg = ServerConfig12(pki.rsa_cert, pki.rsa_key, etm=server_etm)
    cbc = CipherSuite.by_name("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA")
    client, server, link = run(ClientConfig(etm=client_etm, ciphers=[cbc]), server_cfg)
    assert_ok(link)
    assert client.encrypt_then_mac == server.encrypt_then_mac == (client_etm and server_etm)
    exchange_and_close(link)


def test_etm_not_offered_for_aead_only():
    cfg = ClientConfig(ciphers=["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"])
    client = ClientConnection(cfg)
    client.start()
    assert 22 not in client._offered_ext


def test_server_with_rsa_and_ecdsa_identities(pki):
    cfg = ServerConfig12(pki.rsa_cert, pki.rsa_key,
                       extra_identities=[(pki.ecdsa_cert, pki.ecdsa_key)])
    for name, auth in (("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDSA"),
                       ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "RSA")):
        client, server, link = run(ClientConfig(ciphers=[name]), cfg)
        assert_ok(link)
        assert client.suite.authentication == auth


def test_alpn_and_sni(pki):
    server_cfg = ServerConfig12(pki.rsa_cert, pki.rsa_key, alpn=["http/1.1", "h2"])
    client, server, link = run(ClientConfig(alpn=["h2", "http/1.1"], sni="server.test"),
                               server_cfg)
    assert_ok(link)
    assert client.alpn == server.alpn == "http/1.1"
    assert server.sni == "server.test"
    assert client.session.alpn == "http/1.1"


def test_alpn_not_answered_when_server_has_none(servers):
    client, server, link = run(ClientConfig(alpn=["h2"]), servers["RSA"])
    assert_ok(link)
    assert client.alpn is None and server.alpn is None


def test_alpn_no_overlap(pki):
    server_cfg = ServerConfig12(pki.rsa_cert, pki.rsa_key, alpn=["h2"])
    _, _, link = run(ClientConfig(alpn=["http/1.1"]), server_cfg)
    assert link.errors["server"].description == "no_application_protocol"
    assert link.errors["client"].description == "no_application_protocol"


def test_version_negotiated_down(pki):
    server_cfg = ServerConfig12(pki.rsa_cert, pki.rsa_key, versions=["1.0", "1.1"])
    client, server, link = run(ClientConfig(), server_cfg)
    assert_ok(link)
    assert client.version == 0x0302


def test_byte_at_a_time(servers):
    client = ClientConnection(ClientConfig())
    server = ServerConnection(servers["RSA"])
    client.start()
    for _ in range(10):
        for src, dst in ((client, server), (server, client)):
            data = src.data_to_send()
            for i in range(len(data)):
                dst.receive_data(data[i:i + 1])
    assert client.handshake_complete and server.handshake_complete


def test_user_supplied_client_hello(servers):
    from scapy_tls_hs.codec.messages import ClientHello
    proto = ClientConnection(ClientConfig(ciphers=["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"]))
    proto.start()
    raw = proto.data_to_send()
    body = raw[9:]
    hello = ClientHello.parse(body)
    for given in (raw, raw[5:], body, hello):
        client = ClientConnection(ClientConfig(client_hello=given))
        server = ServerConnection(servers["RSA"])
        link = connect(client, server)
        assert_ok(link)
        assert client.suite.name == "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
        assert client.data_to_send() == b""
        assert [e for e in client.events if isinstance(e, HandshakeMessage)][0].body == body


def test_app_data_events(servers):
    client, server, link = run(ClientConfig(), servers["ECDSA"])
    client.send_application_data(b"abc")
    evs = server.receive_data(client.data_to_send())
    assert evs == [ApplicationData("client", b"abc")]


def test_events_give_scapy_packets_lazily(servers):
    client, server, link = run(ClientConfig(), servers["RSA"])
    hello = client.events[0]
    pkt = hello.packet
    from scapy_tls_hs.layers import TLSClientHello, TLSHandshake
    assert isinstance(pkt, TLSHandshake) and pkt.haslayer(TLSClientHello)
    assert bytes(pkt) == hello.raw
    client.send_application_data(b"data")
    client.close()
    assert [bytes(e.packet) for e in client.events[-2:]] == [b"data", b"\x01\x00"]
    ccs = [e for e in client.events if e.name == "change_cipher_spec"][0]
    assert bytes(ccs.packet) == b"\x01"


def test_scapy_client_hello_sent_as_given(servers):
    from scapy_tls_hs.layers import TLSClientHello, TLSHandshake, TLSRecord
    proto = ClientConnection(ClientConfig())
    proto.start()
    raw = proto.data_to_send()
    for pkt in (TLSRecord(raw), TLSRecord(raw)[TLSHandshake], TLSRecord(raw)[TLSClientHello]):
        client = ClientConnection(ClientConfig(client_hello=pkt))
        link = connect(client, ServerConnection(servers["RSA"]))
        assert_ok(link)
        assert client.events[0].raw == raw[5:]


def test_hello_request_during_handshake_is_ignored(servers):
    server = ServerConnection(servers["RSA"])
    client = ClientConnection(ClientConfig())
    client.start()
    server.receive_data(client.data_to_send())
    flight = server.data_to_send()
    client.receive_data(b"\x16\x03\x03\x00\x04\x00\x00\x00\x00" + flight)
    assert client.messages[1] == "S:hello_request"
    link = Link(client, server).pump()
    assert_ok(link)


def test_config_rejects_key_that_does_not_match(pki):
    with pytest.raises(ValueError):
        ServerConfig12(pki.rsa_cert, pki.ecdsa_key)
    with pytest.raises(ValueError):
        ServerConfig12()
    with pytest.raises(ValueError):
        ClientConfig(versions=["1.3"], ciphers=["TLS_RSA_WITH_AES_128_CBC_SHA"])
    with pytest.raises(ValueError):
        ServerConfig12(pki.rsa_cert, pki.rsa_key, client_auth="sometimes")


def test_server_preference_order(pki):
    cfg = ServerConfig12(pki.rsa_cert, pki.rsa_key,
                       ciphers=["TLS_RSA_WITH_AES_128_CBC_SHA",
                                "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"])
    client, _, link = run(ClientConfig(ciphers=["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                                                "TLS_RSA_WITH_AES_128_CBC_SHA"]), cfg)
    assert_ok(link)
    assert client.suite.name == "TLS_RSA_WITH_AES_128_CBC_SHA"


@pytest.mark.parametrize("groups,expected", [((23, 29), 29), ((24,), 24), ((25, 23), 23)])
def test_ecdhe_group_choice(servers, groups, expected):
    client, server, link = run(ClientConfig(groups=groups), servers["RSA"])
    assert_ok(link)
    ske = [e for e in client.events if isinstance(e, HandshakeMessage) and e.msg_type == 12][0]
    assert int.from_bytes(ske.body[1:3], "big") == expected


def test_dhe_uses_ffdhe2048(servers):
    from scapy_tls_hs.crypto.keyexchange import FFDHE2048
    client, _, link = run(ClientConfig(ciphers=["TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"]),
                          servers["RSA"])
    assert_ok(link)
    ske = [e for e in client.events if isinstance(e, HandshakeMessage) and e.msg_type == 12][0]
    assert int.from_bytes(ske.body[2:258], "big") == FFDHE2048[0]


def test_renegotiation_info_and_scsv(servers):
    from scapy_tls_hs.codec.messages import ClientHello
    client, server, link = run(ClientConfig(), servers["RSA"])
    sh = ServerHello.parse(client.events[1].body)
    assert sh.ext(0xFF01).data == b"\x00"
    # a client that signals with the SCSV instead gets the extension too
    proto = ClientConnection(ClientConfig(secure_renegotiation=False))
    proto.start()
    hello = ClientHello.parse(proto.data_to_send()[9:])
    assert hello.ext(0xFF01) is None
    hello.cipher_suites.append(0x00FF)
    client = ClientConnection(ClientConfig(client_hello=hello))
    link = connect(client, ServerConnection(servers["RSA"]))
    assert_ok(link)
    assert ServerHello.parse(client.events[1].body).ext(0xFF01).data == b"\x00"


@pytest.mark.parametrize("scheme", [0x0804, 0x0601, 0x0201])
def test_ske_signed_with_a_scheme_the_client_offered(servers, scheme):
    client, _, link = run(ClientConfig(sig_schemes=[scheme]), servers["RSA"])
    assert_ok(link)
    ske = [e for e in client.events if isinstance(e, HandshakeMessage) and e.msg_type == 12][0]
    from scapy_tls_hs.codec.messages import ServerKeyExchange
    assert ServerKeyExchange.parse(ske.body, "ECDHE", 0x0303).scheme == scheme


def test_tampered_client_hello_is_what_the_client_holds_the_server_to(servers):
    from scapy_tls_hs.codec.messages import ClientHello
    client = ClientConnection(ClientConfig())

    def only_one_suite(msg_type, body):
        if msg_type == 1:
            hello = ClientHello.parse(body)
            hello.cipher_suites = [0xC030]
            return hello.encode()
        return None

    client.tamper = only_one_suite
    link = connect(client, ServerConnection(servers["RSA"]))
    assert_ok(link)
    assert client.suite.id == 0xC030


@pytest.mark.parametrize("text", ["1.2", "TLS 1.2", "tls1.2", "TLSv1.2", 0x0303])
def test_version_spellings(text):
    assert ClientConfig(versions=[text]).versions == (0x0303,)


def test_server_config_without_a_usable_suite(pki):
    with pytest.raises(ValueError):
        ServerConfig12(pki.ecdsa_cert, pki.ecdsa_key, ciphers=["TLS_RSA_WITH_AES_128_CBC_SHA"])


@pytest.mark.parametrize("version,suite,split", [
    ("1.0", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", True),
    ("1.1", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", False),
    ("1.2", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", False),
])
def test_tls10_cbc_application_data_split_1_n_minus_1(pki, version, suite, split):
    """As OpenSSL does against BEAST: in TLS 1.0 CBC the first byte of each write goes in a
    record of its own (the next record's IV is then unpredictable to the sender's peer)."""
    server_cfg = ServerConfig12(pki.rsa_cert, pki.rsa_key)
    client = ClientConnection(ClientConfig(versions=[version], ciphers=[suite]))
    link = connect(client, ServerConnection(server_cfg))
    assert_ok(link)
    client.send_application_data(b"GET / HTTP/1.0")
    link.pump()
    got = [e.data for e in link.events["server"] if type(e).__name__ == "ApplicationData"]
    assert got == ([b"G", b"ET / HTTP/1.0"] if split else [b"GET / HTTP/1.0"])
