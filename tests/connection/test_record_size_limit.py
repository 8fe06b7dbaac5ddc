"""record_size_limit (RFC 8449) between our client and server, in memory: the extension's
checks, the answer, and both sides keeping to the peer's limit on protected records only."""
import pytest

from scapy_tls_hs.codec import extensions as X
from scapy_tls_hs.codec.messages import ClientHello, EncryptedExtensions, Extension, ServerHello
from scapy_tls_hs.connection import (ClientConfig, ClientConnection, ServerConfig,
                                     ServerConnection)
from scapy_tls_hs.connection.events import HandshakeMessage

from tests.connection.pump import (Link, assert_ok, expect_alert, run,  # noqa: F401
                                   servers, split_records)

VERSIONS = ("1.2", "1.3")
_APPDATA = 23
_TAG = 16           # AES-GCM and ChaCha20-Poly1305
_EXPLICIT = 8       # TLS 1.2 AES-GCM explicit nonce


@pytest.fixture(scope="module")
def server13(pki):
    return ServerConfig(pki.rsa_chain, pki.rsa_key)


def _server_cfg(version, servers, server13, **kw):
    if kw:
        base = servers["RSA"]
        versions = ("1.0", "1.1", "1.2") if version == "1.2" else None
        return ServerConfig(base.identity.chain, base.identity.private_key, versions=versions,
                            **kw)
    return servers["RSA"] if version == "1.2" else server13


def _client_cfg(version, **kw):
    # AES-GCM in both versions, so the record overhead is known.
    ciphers = (["ECDHE-RSA-AES128-GCM-SHA256"] if version == "1.2"
               else ["TLS_AES_128_GCM_SHA256"])
    return ClientConfig(versions=[version], ciphers=ciphers, **kw)


def _answer(client, version):
    """The record_size_limit value the server answered with, or None."""
    name = "server_hello" if version == "1.2" else "encrypted_extensions"
    msg = next(e for e in client.events if isinstance(e, HandshakeMessage) and e.name == name)
    parsed = (ServerHello if version == "1.2" else EncryptedExtensions).parse(msg.body)
    ext = next((e for e in parsed.extensions or () if e.type == X.EXT_RECORD_SIZE_LIMIT), None)
    return None if ext is None else X.parse_record_size_limit(ext.data)


def _max_plaintext(data, version):
    """The largest record content (TLS 1.3: TLSInnerPlaintext) among protected records."""
    sizes = [len(frag) - _TAG - (_EXPLICIT if version == "1.2" else 0)
             for ct, _, frag in split_records(data) if ct == _APPDATA]
    assert sizes
    return max(sizes)


def _collect(link, side):
    """Send 3000 bytes from ``side`` and return the bytes that went on the wire."""
    sender = getattr(link, side)
    sender.send_application_data(b"x" * 3000)
    wire = sender.data_to_send()
    other = link.server if side == "client" else link.client
    other.receive_data(wire)
    return wire


@pytest.mark.parametrize("version", VERSIONS)
def test_server_answers_with_the_protocol_maximum(servers, server13, version):
    client, server, link = run(_client_cfg(version, record_size_limit=2 ** 14 + 1),
                               _server_cfg(version, servers, server13))
    assert_ok(link)
    # TLS 1.3 counts the inner content type byte (RFC 8449 section 4).
    assert _answer(client, version) == (2 ** 14 if version == "1.2" else 2 ** 14 + 1)


@pytest.mark.parametrize("version", VERSIONS)
def test_no_extension_no_answer(servers, server13, version):
    client, _, link = run(_client_cfg(version), _server_cfg(version, servers, server13))
    assert_ok(link)
    assert _answer(client, version) is None
    assert X.EXT_RECORD_SIZE_LIMIT not in {e.type for e in ClientHello.parse(
        client.events[0].body).extensions}


@pytest.mark.parametrize("limit", [64, 100, 1000])
@pytest.mark.parametrize("version", VERSIONS)
def test_server_keeps_to_the_client_limit(servers, server13, version, limit):
    _, _, link = run(_client_cfg(version, record_size_limit=limit),
                     _server_cfg(version, servers, server13))
    assert_ok(link)
    wire = _collect(link, "server")
    assert _max_plaintext(wire, version) == limit
    assert link.client.receive_data(b"") == []


@pytest.mark.parametrize("version", VERSIONS)
def test_client_keeps_to_the_server_limit(servers, server13, version):
    cfg = _server_cfg(version, servers, server13, record_size_limit=200)
    client, _, link = run(_client_cfg(version, record_size_limit=2 ** 14 + 1), cfg)
    assert_ok(link)
    assert _answer(client, version) == 200
    assert _max_plaintext(_collect(link, "client"), version) == 200


@pytest.mark.parametrize("version", VERSIONS)
def test_a_longer_record_than_our_limit_is_record_overflow(servers, server13, version):
    cfg = _server_cfg(version, servers, server13, record_size_limit=200)
    _, server, link = run(_client_cfg(version, record_size_limit=2 ** 14 + 1), cfg)
    assert_ok(link)
    link.client._records.limit_sending(None, now=True)     # a client ignoring the limit
    link.client.send_application_data(b"x" * 300)
    link.pump()
    expect_alert(link, "server", "record_overflow")


@pytest.mark.parametrize("version", VERSIONS)
def test_the_client_enforces_its_own_limit(servers, server13, version):
    _, server, link = run(_client_cfg(version, record_size_limit=100),
                          _server_cfg(version, servers, server13))
    assert_ok(link)
    server._records.limit_sending(None, now=True)          # a server ignoring the limit
    server.send_application_data(b"x" * 300)
    link.pump()
    expect_alert(link, "client", "record_overflow")


def test_tls12_limit_binds_protected_records_only(servers):
    """RFC 8449 section 4: the Certificate in the clear is not cut to the limit."""
    client = ClientConnection(_client_cfg("1.2", record_size_limit=64))
    server = ServerConnection(servers["RSA"])
    client.start()
    server.receive_data(client.data_to_send())
    flight = split_records(server.data_to_send())
    assert max(len(frag) for _, _, frag in flight) > 64


def _hello_with(version, data):
    """A ClientHello of our client whose record_size_limit body is ``data``."""
    cfg = _client_cfg(version, record_size_limit=100)
    hello, _ = ClientConnection(cfg)._build_hello()
    hello.extensions = [Extension(e.type, data) if e.type == X.EXT_RECORD_SIZE_LIMIT else e
                        for e in hello.extensions]
    return _client_cfg(version, client_hello=hello)


@pytest.mark.parametrize("data,alert", [
    (b"\x00\x3f", "illegal_parameter"),       # 63: below the minimum of 64
    (b"\x00\x00", "illegal_parameter"),
    (b"", "decode_error"),
    (b"\x00", "decode_error"),
    (b"\x40\x00\x00", "decode_error"),
])
@pytest.mark.parametrize("version", VERSIONS)
def test_bad_extension_from_the_client(servers, server13, version, data, alert):
    _, server, link = run(_hello_with(version, data), _server_cfg(version, servers, server13))
    expect_alert(link, "server", alert)
    assert "S:server_hello" not in server.messages


@pytest.mark.parametrize("data,alert", [(b"\x00\x10", "illegal_parameter"),
                                        (b"\x40", "decode_error")])
@pytest.mark.parametrize("version", VERSIONS)
def test_bad_extension_from_the_server(servers, server13, version, data, alert, monkeypatch):
    client = ClientConnection(_client_cfg(version, record_size_limit=100))
    client.start()                  # the client's own offer is a good one
    monkeypatch.setattr(X, "record_size_limit", lambda limit: data)
    link = Link(client, ServerConnection(_server_cfg(version, servers, server13))).pump()
    expect_alert(link, "client", alert)


def test_config_checks_the_value(pki):
    for bad in (0, 63, 65536):
        with pytest.raises(ValueError):
            ClientConfig(record_size_limit=bad)
        with pytest.raises(ValueError):
            ServerConfig(pki.rsa_chain, pki.rsa_key, record_size_limit=bad)
    assert ClientConfig(record_size_limit=64).record_size_limit == 64
