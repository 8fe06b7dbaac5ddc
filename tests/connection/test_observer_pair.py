"""The observer watching our own client and server wired in memory: every suite and
version they can run (TLS 1.0-1.2, CBC with and without encrypt_then_mac, RSA/DHE/ECDHE;
TLS 1.3 with HelloRetryRequest, KeyUpdate, PSK resumption and 0-RTT), resumption by session
id and by ticket, client authentication. The observer must see what both ends agreed on (the
same ``HandshakeSummary``), and decrypt with the key log lines the client wrote, or with the
server's RSA key."""
import pytest

from scapy_tls_hs.capture.dissect import load_server_key
from scapy_tls_hs.connection import (ClientConfig, ClientConnection, ServerConfig,
                                     ServerConnection)
from scapy_tls_hs.connection.observer import ObserverConnection, SessionTable
from scapy_tls_hs.connection.summary import HandshakeSummary
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
            "ECDSA": ServerConfig(pki.ecdsa_cert, pki.ecdsa_key),
            "DSA": ServerConfig(pki.dsa_cert, pki.dsa_key)}


@pytest.fixture(scope="module")
def rsa_key(pki):
    return load_server_key(pki.rsa_key)


def converse(client_cfg, server_cfg, key_update=False):
    """A whole connection (handshake, data both ways, close); the chunks seen on the wire.
    ``key_update``: the client sends a KeyUpdate asking for one back after the handshake."""
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
    if key_update:
        client.send_key_update(request=True)
        link.pump(**taps)
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
    """The NSS lines the client writes (TLS 1.2: CLIENT_RANDOM; TLS 1.3: every secret)."""
    return Keylog.parse("".join(line + "\n" for line in client.keylog_lines()))


def one_way(messages, tag):
    return [m for m in messages if m.startswith(tag)]


def assert_sees(obs, client):
    assert obs.errors == []
    assert obs.decrypted
    assert obs.version == client.version and obs.suite == client.suite
    assert obs.extended_master_secret == client.extended_master_secret
    assert obs.encrypt_then_mac == client.encrypt_then_mac
    assert obs.resumed == client.resumed
    # The same summary as the client's, but for the messages: the observer saw the data and
    # the close_notify exchange too, in wire order (the client's list interleaves what it
    # sent with what it read in its own order, so only each direction's order is the same).
    seen = obs.summary().fields()
    own = HandshakeSummary.from_connection(client).fields()
    del seen["messages"], own["messages"]
    assert seen == own
    for tag in ("C:", "S:"):
        theirs = one_way(client.messages, tag)
        assert one_way(obs.messages, tag)[:len(theirs)] == theirs
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


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_without_keys_nothing_is_decrypted_and_nothing_is_an_error(servers, version):
    client, server, chunks = converse(ClientConfig(versions=[version]), servers["RSA"])
    obs = watch(chunks)
    assert not obs.decrypted and obs.errors == [] and obs.app_data is None
    assert "C:encrypted_handshake" in obs.messages
    if version == "1.2":
        assert "S:encrypted_alert" in obs.messages
    else:
        # A TLS 1.3 record hides its type: named by its likely role.
        assert "S:encrypted_handshake" in obs.messages
        assert obs.messages[-2:] == ["C:application_data", "S:application_data"]
    # In clear either way: the version, suite and group.
    assert obs.summary().fields() | {"messages": None} == \
        HandshakeSummary.from_connection(client).fields() | {"messages": None}


@pytest.mark.parametrize("tickets", [False, True])
def test_resumption_found_in_the_session_table(pki, tickets):
    server_cfg = ServerConfig(pki.rsa_cert, pki.rsa_key, tickets=tickets)
    client, _, chunks = converse(ClientConfig(versions=["1.2"]), server_cfg)
    if tickets:
        server_cfg.session_cache.clear()    # only the ticket can resume
    client2, _, chunks2 = converse(ClientConfig(versions=["1.2"], session=client.session),
                                   server_cfg)
    assert client2.resumed
    table = SessionTable()
    obs1 = watch(chunks, keylog=keylog_of(client), sessions=table)
    assert_sees(obs1, client)
    obs2 = watch(chunks2, keylog=Keylog(), sessions=table)
    assert obs2.key_source == "session"
    assert_sees(obs2, client2)
    assert obs2.resumed and obs2.group is None     # no key exchange in an abbreviated one


def test_resumption_with_the_server_key_of_the_first_connection(pki, rsa_key):
    rsa_suite = [s for s in CipherSuite.all() if s.key_exchange == "RSA"][0]
    server_cfg = ServerConfig(pki.rsa_cert, pki.rsa_key, tickets=False)
    client, _, chunks = converse(ClientConfig(versions=["1.2"], ciphers=[rsa_suite]),
                                 server_cfg)
    client2, _, chunks2 = converse(ClientConfig(versions=["1.2"], ciphers=[rsa_suite],
                                                session=client.session), server_cfg)
    table = SessionTable()
    assert watch(chunks, server_key=rsa_key, sessions=table).decrypted
    obs2 = watch(chunks2, server_key=rsa_key, sessions=table)
    assert obs2.resumed and obs2.decrypted and obs2.key_source == "session"


@pytest.mark.parametrize("version", ["1.2", "1.3"])
@pytest.mark.parametrize("kind", ["rsa", "ecdsa"])
def test_client_authentication_is_seen(pki, kind, version):
    cfg = ClientConfig(versions=[version], cert_chain=getattr(pki, "client_%s_cert" % kind),
                       private_key=getattr(pki, "client_%s_key" % kind))
    server_cfg = ServerConfig(pki.rsa_cert, pki.rsa_key, client_auth="required",
                              cafile=pki.ca_cert)
    client, _, chunks = converse(cfg, server_cfg)
    obs = watch(chunks, keylog=keylog_of(client))
    assert obs.client_auth
    assert "C:certificate_verify" in obs.messages
    assert_sees(obs, client)


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_alpn_is_the_servers_choice(pki, version):
    client, _, chunks = converse(ClientConfig(versions=[version], alpn=["h2", "http/1.1"]),
                                 ServerConfig(pki.rsa_cert, pki.rsa_key, alpn=["http/1.1"]))
    obs = watch(chunks, keylog=keylog_of(client))
    assert obs.alpn == "http/1.1"
    assert_sees(obs, client)


# -- TLS 1.3 -----------------------------------------------------------------------------

@pytest.mark.parametrize("group", ["x25519", "secp256r1", "secp384r1", "x448", "ffdhe2048"])
def test_tls13_groups(servers, group):
    client, _, chunks = converse(ClientConfig(versions=["1.3"], groups=[group]),
                                 servers["ECDSA"])
    obs = watch(chunks, keylog=keylog_of(client))
    assert_sees(obs, client)
    assert obs.group == group and not obs.hello_retry


def test_tls13_hello_retry_request(pki):
    client, _, chunks = converse(ClientConfig(versions=["1.3"], groups=["x25519", "secp384r1"]),
                                 ServerConfig(pki.rsa_cert, pki.rsa_key, groups=["secp384r1"]))
    assert client.hello_retry
    obs = watch(chunks, keylog=keylog_of(client))
    assert_sees(obs, client)
    assert obs.hello_retry and obs.group == "secp384r1"
    assert obs.messages[:2] == ["C:client_hello", "S:hello_retry_request"]


def test_tls13_key_update_both_ways(servers):
    client, server, chunks = converse(ClientConfig(versions=["1.3"]), servers["RSA"],
                                      key_update=True)
    obs = watch(chunks, keylog=keylog_of(client))
    # The client's request and the server's answer; the data after it decrypts.
    assert obs.key_updates == client.key_updates == server.key_updates == 2
    assert_sees(obs, client)


def test_tls13_psk_resumption_and_early_data(pki):
    server_cfg = ServerConfig(pki.rsa_cert, pki.rsa_key, early_data_max=1 << 14)
    client, _, chunks = converse(ClientConfig(versions=["1.3"]), server_cfg)
    client2, _, chunks2 = converse(ClientConfig(versions=["1.3"], session=client.session,
                                                early_data=b"0-RTT request"), server_cfg)
    assert client2.resumed and client2.early_data == "accepted"
    obs = watch(chunks2, keylog=keylog_of(client2))
    assert obs.resumed and obs.early_data == "accepted"
    assert obs.messages[:3] == ["C:client_hello", "C:change_cipher_spec", "C:application_data"]
    assert "C:end_of_early_data" in obs.messages
    assert obs.client_side.app_bytes == len(b"0-RTT request") + len(CLIENT_DATA)
    assert obs.errors == [] and obs.decrypted
    seen, own = obs.summary().fields(), HandshakeSummary.from_connection(client2).fields()
    del seen["messages"], own["messages"]
    assert seen == own


def test_tls13_early_data_rejected(pki):
    client, _, chunks = converse(ClientConfig(versions=["1.3"]),
                                 ServerConfig(pki.rsa_cert, pki.rsa_key, early_data_max=1024))
    # Another server (no early data): the ticket is not its own, full handshake.
    client2, _, chunks2 = converse(ClientConfig(versions=["1.3"], session=client.session,
                                                early_data=b"refused"),
                                   ServerConfig(pki.rsa_cert, pki.rsa_key))
    assert client2.early_data == "rejected"
    obs = watch(chunks2, keylog=keylog_of(client2))
    assert obs.early_data == "rejected" and not obs.resumed
    assert obs.errors == [] and obs.decrypted


def test_a_later_connection_resumes_the_renegotiated_session(pki, rsa_key):
    """Connection 1 renegotiates; connection 2 resumes the session of that second handshake.
    With the server key alone the observer decrypts both (as tshark does on Wireshark's
    rsasnakeoil2.pcap): the renegotiated session goes into the shared table too."""
    rsa = [s for s in CipherSuite.all() if s.key_exchange == "RSA" and s.usable_in(0x0303)]
    server_cfg = ServerConfig(pki.rsa_chain, pki.rsa_key, tickets=False, versions=["1.2"])
    client = ClientConnection(ClientConfig(versions=["1.2"], ciphers=rsa[:1], tickets=False))
    server = ServerConnection(server_cfg)
    chunks = []
    taps = {"tamper_c2s": lambda d: chunks.append(("client", d)) or d,
            "tamper_s2c": lambda d: chunks.append(("server", d)) or d}
    link = Link(client, server)
    client.start()
    link.pump(**taps)
    first_id = client.session.session_id
    client.renegotiate()
    link.pump(**taps)
    assert client.renegotiations == 1 and client.session.session_id != first_id
    client.close()
    link.pump(**taps)
    sessions = SessionTable()
    first = watch(chunks, server_key=rsa_key, sessions=sessions)
    assert first.decrypted and first.renegotiations == 1 and first.errors == []
    again, _, chunks2 = converse(ClientConfig(versions=["1.2"], ciphers=rsa[:1], tickets=False,
                                              session=client.session), server_cfg)
    assert again.resumed
    second = watch(chunks2, server_key=rsa_key, sessions=sessions)
    assert second.resumed and second.decrypted and second.errors == []
