"""Hostile bytes: whatever arrives, the roles answer with a proper alert (never an
internal_error, never a Python exception other than AlertError)."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scapy_tls_hs.connection import ClientConfig, ClientConnection, ServerConnection
from scapy_tls_hs.errors import AlertError
from tests.connection.pump import ServerConfig12

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def server_cfg(pki):
    return ServerConfig12(pki.rsa_cert, pki.rsa_key, client_auth="optional", cafile=pki.ca_cert)


@pytest.fixture(scope="module")
def flights(server_cfg):
    """A real client hello and a real server first flight."""
    client = ClientConnection(ClientConfig(sni="server.test", alpn=["h2"]))
    client.start()
    hello = client.data_to_send()
    server = ServerConnection(server_cfg)
    server.receive_data(hello)
    return hello, server.data_to_send()


def feed(conn, data):
    try:
        conn.receive_data(data)
    except AlertError as exc:
        assert exc.received or exc.description != "internal_error", exc
        return exc
    return None


def mutate(data, edits):
    buf = bytearray(data)
    for pos, value in edits:
        buf[pos % len(buf)] = value
    return bytes(buf)


EDITS = st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), min_size=1,
                 max_size=4)


@SETTINGS
@given(edits=EDITS)
def test_mutated_client_hello(server_cfg, flights, edits):
    feed(ServerConnection(server_cfg), mutate(flights[0], edits))


@SETTINGS
@given(edits=EDITS)
def test_mutated_server_flight(flights, edits):
    client = ClientConnection(ClientConfig(sni="server.test", alpn=["h2"]))
    client.start()
    client.data_to_send()
    # the random is the client's own now, so a clean flight fails on the signature: fine,
    # what matters is that every answer is a proper alert
    feed(client, mutate(flights[1], edits))


@SETTINGS
@given(body=st.binary(max_size=300), msg_type=st.integers(0, 255),
       content_type=st.sampled_from([20, 21, 22, 23]))
def test_random_records(server_cfg, body, msg_type, content_type):
    if content_type == 22:
        body = bytes((msg_type,)) + len(body).to_bytes(3, "big") + body
    record = bytes((content_type, 3, 3)) + len(body).to_bytes(2, "big") + body
    server = ServerConnection(server_cfg)
    err = feed(server, record)
    if err is not None and not err.received:
        assert server.data_to_send()[-2:] == bytes((2, err.code))


@SETTINGS
@given(chunks=st.lists(st.integers(1, 50), min_size=1, max_size=30))
def test_any_segmentation_gives_the_same_handshake(server_cfg, chunks):
    client = ClientConnection(ClientConfig())
    server = ServerConnection(server_cfg)
    client.start()
    for _ in range(6):
        for src, dst in ((client, server), (server, client)):
            data = src.data_to_send()
            pos, i = 0, 0
            while pos < len(data):
                n = chunks[i % len(chunks)]
                dst.receive_data(data[pos:pos + n])
                pos += n
                i += 1
    assert client.handshake_complete and server.handshake_complete


VERSIONS = [0x0301, 0x0302, 0x0303]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_configurations_agree(pki, data):
    """Any pair of configurations: a handshake exactly when they overlap, and then both
    ends agree on everything negotiated."""
    from scapy_tls_hs.crypto.suites import CipherSuite
    from tests.connection.pump import ServerConfig12, connect
    suites = list(CipherSuite.all())
    cv = data.draw(st.lists(st.sampled_from(VERSIONS), min_size=1, unique=True))
    sv = data.draw(st.lists(st.sampled_from(VERSIONS), min_size=1, unique=True))
    cs = data.draw(st.lists(st.sampled_from(suites), min_size=1, max_size=6, unique=True))
    ss = data.draw(st.lists(st.sampled_from(suites), min_size=1, max_size=6, unique=True))
    key = data.draw(st.sampled_from(["rsa", "ecdsa"]))
    flags = data.draw(st.tuples(*[st.booleans()] * 4))
    try:
        client_cfg = ClientConfig(versions=cv, ciphers=cs, ems=flags[0], etm=flags[1])
        server_cfg = ServerConfig12(getattr(pki, key + "_cert"), getattr(pki, key + "_key"),
                                  versions=sv, ciphers=ss, ems=flags[2], etm=flags[3])
    except ValueError:
        return                      # nothing the server could ever serve
    if not client_cfg.suites:
        return
    client, server = ClientConnection(client_cfg), ServerConnection(server_cfg)
    link = connect(client, server)
    top = max(cv)
    common_version = [v for v in sv if v <= top]
    possible = bool(common_version) and min(sv) <= top and any(
        s in server_cfg.suites and s.usable_in(max(common_version)) for s in client_cfg.suites)
    if max(common_version or [0]) not in cv:
        possible = False             # the server would pick a version the client refuses
    assert client.handshake_complete == possible, (link.errors, cv, sv)
    if possible:
        assert (client.version, client.suite, client.extended_master_secret,
                client.encrypt_then_mac, client.master_secret) == \
               (server.version, server.suite, server.extended_master_secret,
                server.encrypt_then_mac, server.master_secret)
        assert client.extended_master_secret == (flags[0] and flags[2])
    else:
        for side in ("client", "server"):
            err = link.errors[side]
            assert err is not None and err.description != "internal_error"
