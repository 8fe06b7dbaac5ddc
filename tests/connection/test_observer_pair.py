"""The observer watching our own client and server wired in memory: every suite and
version they can run (TLS 1.0-1.2, CBC with and without encrypt_then_mac, RSA/DHE/ECDHE),
resumption by session id and by ticket, client authentication. The observer must see what
both ends agreed on, and decrypt with a key log line, or with the server's RSA key."""
import pytest

from scapy_tls_hs.capture.dissect import load_server_key
from scapy_tls_hs.connection import (ClientConfig, ClientConnection, ServerConfig,
                                     ServerConnection)
from scapy_tls_hs.connection.observer import ObserverConnection, SessionTable
from scapy_tls_hs.crypto.keylog import Keylog
from scapy_tls_hs.crypto.suites import CipherSuite
from tests.connection.pump import Link

NAMES = {0x0301: "1.0", 0x0302: "1.1", 0x0303: "1.2"}
CLIENT_DATA = bytes(range(256)) * 70        # more than one record
SERVER_DATA = b"pong" * 10


def _cases():
    for suite in CipherSuite.all():
        for version in NAMES:
            if suite.usable_in(version):
                yield pytest.param(suite, version, id="%s-%s" % (suite.name, NAMES[version]))


@pytest.fixture(scope="module")
def servers(pki):
    return {"RSA": ServerConfig(pki.rsa_chain, pki.rsa_key),
            "ECDSA": ServerConfig(pki.ecdsa_cert, pki.ecdsa_key)}


@pytest.fixture(scope="module")
def rsa_key(pki):
    return load_server_key(pki.rsa_key)


def converse(client_cfg, server_cfg):
    """A whole connection (handshake, data both ways, close); the chunks seen on the wire."""
    client, server = ClientConnection(client_cfg), ServerConnection(server_cfg)
    chunks = []

    def tap(direction):
        def see(data):
            chunks.append((direction, data))
            return data
        return see

    link = Link(client, server)
    taps = {"tamper_c2s": tap("client"), "tamper_s2c": tap("server")}
    client.start()
    link.pump(**taps)
    assert link.errors == {"client": None, "server": None}
    client.send_application_data(CLIENT_DATA)
    link.pump(**taps)
    server.send_application_data(SERVER_DATA)
    link.pump(**taps)
    client.close()
    link.pump(**taps)
    return client, server, chunks


def watch(chunks, **kw):
    obs = ObserverConnection(**kw)
    for direction, data in chunks:
        obs.receive(direction, data)
    obs.finish()
    return obs


def keylog_of(client):
    return Keylog.parse(client.keylog_line() + "\n")


def assert_sees(obs, client):
    assert obs.errors == []
    assert obs.decrypted
    assert obs.version == client.version and obs.suite == client.suite
    assert obs.extended_master_secret == client.extended_master_secret
    assert obs.encrypt_then_mac == client.encrypt_then_mac
    assert obs.resumed == client.resumed
    # What the client saw, then the data and the close_notify exchange.
    assert obs.messages[:len(client.messages)] == client.messages[:len(obs.messages)]
    assert obs.messages[-2:] == ["C:alert:close_notify", "S:alert:close_notify"]
    assert obs.client_side.app_bytes == len(CLIENT_DATA)
    assert obs.server_side.app_bytes == len(SERVER_DATA)


@pytest.mark.parametrize("suite,version", list(_cases()))
def test_every_suite_and_version_with_a_key_log(servers, pki, suite, version):
    client, server, chunks = converse(
        ClientConfig(versions=[version], ciphers=[suite], sni="server.test"),
        servers[suite.authentication])
    obs = watch(chunks, keylog=keylog_of(client))
    assert_sees(obs, client)
    assert obs.sni == "server.test"


@pytest.mark.parametrize("version", [0x0301, 0x0302, 0x0303])
@pytest.mark.parametrize("ems", [True, False])
def test_rsa_key_exchange_with_the_server_key_alone(pki, rsa_key, version, ems):
    suites = [s for s in CipherSuite.all() if s.key_exchange == "RSA" and s.usable_in(version)]
    client, server, chunks = converse(
        ClientConfig(versions=[version], ciphers=suites[:1], ems=ems),
        ServerConfig(pki.rsa_chain, pki.rsa_key, ems=ems))
    obs = watch(chunks, server_key=rsa_key)
    assert obs.key_source == "server_key"
    assert_sees(obs, client)


def test_without_keys_nothing_is_decrypted_and_nothing_is_an_error(servers):
    client, server, chunks = converse(ClientConfig(), servers["RSA"])
    obs = watch(chunks)
    assert not obs.decrypted and obs.errors == [] and obs.app_data is None
    assert "C:encrypted_handshake" in obs.messages and "S:encrypted_alert" in obs.messages


@pytest.mark.parametrize("tickets", [False, True])
def test_resumption_found_in_the_session_table(pki, tickets):
    server_cfg = ServerConfig(pki.rsa_cert, pki.rsa_key, tickets=tickets)
    client, _, chunks = converse(ClientConfig(), server_cfg)
    if tickets:
        server_cfg.session_cache.clear()    # only the ticket can resume
    client2, _, chunks2 = converse(ClientConfig(session=client.session), server_cfg)
    assert client2.resumed
    table = SessionTable()
    obs1 = watch(chunks, keylog=keylog_of(client), sessions=table)
    assert_sees(obs1, client)
    obs2 = watch(chunks2, keylog=Keylog(), sessions=table)
    assert obs2.key_source == "session"
    assert_sees(obs2, client2)
    assert obs2.resumed


def test_resumption_with_the_server_key_of_the_first_connection(pki, rsa_key):
    rsa_suite = [s for s in CipherSuite.all() if s.key_exchange == "RSA"][0]
    server_cfg = ServerConfig(pki.rsa_cert, pki.rsa_key, tickets=False)
    client, _, chunks = converse(ClientConfig(ciphers=[rsa_suite]), server_cfg)
    client2, _, chunks2 = converse(ClientConfig(ciphers=[rsa_suite], session=client.session),
                                   server_cfg)
    table = SessionTable()
    assert watch(chunks, server_key=rsa_key, sessions=table).decrypted
    obs2 = watch(chunks2, server_key=rsa_key, sessions=table)
    assert obs2.resumed and obs2.decrypted and obs2.key_source == "session"


@pytest.mark.parametrize("kind", ["rsa", "ecdsa"])
def test_client_authentication_is_seen(pki, kind):
    cfg = ClientConfig(cert_chain=getattr(pki, "client_%s_cert" % kind),
                       private_key=getattr(pki, "client_%s_key" % kind))
    server_cfg = ServerConfig(pki.rsa_cert, pki.rsa_key, client_auth="required",
                              cafile=pki.ca_cert)
    client, _, chunks = converse(cfg, server_cfg)
    obs = watch(chunks, keylog=keylog_of(client))
    assert obs.client_auth
    assert "C:certificate_verify" in obs.messages
    assert_sees(obs, client)


def test_alpn_is_the_servers_choice(pki):
    client, _, chunks = converse(ClientConfig(alpn=["h2", "http/1.1"]),
                                 ServerConfig(pki.rsa_cert, pki.rsa_key, alpn=["http/1.1"]))
    obs = watch(chunks, keylog=keylog_of(client))
    assert obs.alpn == "http/1.1"
