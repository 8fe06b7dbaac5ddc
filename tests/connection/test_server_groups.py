"""The server's key exchange choices in TLS 1.0-1.2, in memory: RFC 7919 FFDHE groups for DHE
suites, x448 for ECDHE, and the RFC 8446 downgrade sentinel in the ServerHello random."""
import pytest

from scapy_tls_hs.codec import extensions as X
from scapy_tls_hs.codec.messages import ClientHello, Extension, ServerHello
from scapy_tls_hs.connection import (ClientConfig, ClientConnection, ServerConfig,
                                     ServerConnection)
from scapy_tls_hs.connection.events import HandshakeMessage
from scapy_tls_hs.crypto.keyexchange import FFDHE2048, ffdhe_group_of, ffdhe_prime

from tests.connection.pump import (assert_ok, connect, exchange_and_close,  # noqa: F401
                                   expect_alert, run, servers)

DHE = "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"
RSA = "TLS_RSA_WITH_AES_128_GCM_SHA256"


def _ske_prime(client):
    ske = next(e for e in client.events if isinstance(e, HandshakeMessage) and e.msg_type == 12)
    plen = int.from_bytes(ske.body[:2], "big")
    return int.from_bytes(ske.body[2:2 + plen], "big")


def _hello(ciphers, groups, version="1.2"):
    """A client config whose ClientHello offers exactly ``groups`` (raw code points)."""
    cfg = ClientConfig(versions=[version], ciphers=ciphers)
    hello, _ = ClientConnection(cfg)._build_hello()
    exts = [e for e in hello.extensions if e.type != X.EXT_SUPPORTED_GROUPS]
    if groups is not None:
        exts.append(Extension(X.EXT_SUPPORTED_GROUPS, X.supported_groups(groups)))
    hello.extensions = exts
    return ClientConfig(versions=[version], ciphers=ciphers, client_hello=hello)


@pytest.mark.parametrize("group", [256, 257, 258, 259, 260])
def test_dhe_uses_the_client_ffdhe_group(servers, group):
    client, server, link = run(ClientConfig(versions=["1.2"], ciphers=[DHE],
                                            groups=["x25519", group]), servers["RSA"])
    assert_ok(link)
    assert _ske_prime(client) == ffdhe_prime(group)
    assert client.group == server.group == ["ffdhe2048", "ffdhe3072", "ffdhe4096", "ffdhe6144",
                                            "ffdhe8192"][group - 256]
    exchange_and_close(link)


def test_server_preference_among_the_client_groups(servers):
    # The server's order (ffdhe2048 first) decides among the groups both have.
    client, _, link = run(ClientConfig(versions=["1.2"], ciphers=[DHE],
                                       groups=["ffdhe4096", "ffdhe3072", "ffdhe2048"]),
                          servers["RSA"])
    assert_ok(link)
    assert ffdhe_group_of(_ske_prime(client)) == 256


@pytest.mark.parametrize("groups", [None, [23], [29, 23]])
def test_no_ffdhe_group_offered_means_the_default_parameters(servers, groups):
    client, _, link = run(_hello([DHE], groups), servers["RSA"])
    assert_ok(link)
    assert _ske_prime(client) == FFDHE2048[0]


@pytest.mark.parametrize("groups", [[511], [23, 511], [0x01FC]])
def test_unknown_ffdhe_groups_only_fall_back_to_another_suite(servers, groups):
    """RFC 7919 section 4: FFDHE groups named, none known: no DHE suite."""
    client, server, link = run(_hello([DHE, RSA], groups), servers["RSA"])
    assert_ok(link)
    assert server.suite.name == RSA


def test_unknown_ffdhe_groups_and_no_other_suite_is_insufficient_security(servers):
    _, server, link = run(_hello([DHE], [511]), servers["RSA"])
    expect_alert(link, "server", "insufficient_security")


def test_a_group_the_server_does_not_take(pki):
    cfg = ServerConfig(pki.rsa_chain, pki.rsa_key, versions=["1.2"],
                       groups=["x25519", "ffdhe2048"])
    _, server, link = run(_hello([DHE, RSA], [257]), cfg)
    assert_ok(link)
    assert server.suite.name == RSA
    client, _, link = run(_hello([DHE, RSA], [257, 256]), cfg)
    assert_ok(link)
    assert ffdhe_group_of(_ske_prime(client)) == 256


def test_tls12_client_offers_ffdhe_groups_with_dhe_suites():
    for ciphers, expect in (([DHE], True), (["ECDHE-RSA-AES128-GCM-SHA256"], False)):
        hello, _ = ClientConnection(ClientConfig(versions=["1.2"], ciphers=ciphers))._build_hello()
        groups = X.parse_supported_groups(hello.ext(X.EXT_SUPPORTED_GROUPS)[1])
        assert any(g >= 256 for g in groups) == expect


@pytest.mark.parametrize("suite", ["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-SHA"])
def test_x448_in_tls12(servers, suite):
    client, server, link = run(ClientConfig(versions=["1.2"], ciphers=[suite], groups=["x448"]),
                               servers["RSA"])
    assert_ok(link)
    assert client.group == server.group == "x448"
    exchange_and_close(link)


def _server_random(client):
    sh = next(e for e in client.events if isinstance(e, HandshakeMessage) and e.msg_type == 2)
    return ServerHello.parse(sh.body).random


@pytest.mark.parametrize("server_versions,client_version,tail", [
    (("1.0", "1.1", "1.2"), "1.1", b"DOWNGRD\x00"),
    (("1.0", "1.1", "1.2"), "1.0", b"DOWNGRD\x00"),
    (("1.0", "1.1", "1.2", "1.3"), "1.1", b"DOWNGRD\x00"),
    (("1.0", "1.1", "1.2", "1.3"), "1.2", b"DOWNGRD\x01"),
    (("1.0", "1.1", "1.2"), "1.2", None),
    (("1.0", "1.1"), "1.1", None),
])
def test_downgrade_sentinel(pki, server_versions, client_version, tail):
    """RFC 8446 section 4.1.3: a TLS 1.3 server MUST, a TLS 1.2 server SHOULD mark a
    negotiation below its best version."""
    cfg = ServerConfig(pki.rsa_chain, pki.rsa_key, versions=server_versions)
    client, server, link = run(ClientConfig(versions=[client_version], ciphers=["AES128-SHA"]),
                               cfg)
    assert_ok(link)
    random = _server_random(client)
    if tail is None:
        assert random[-8:-1] != b"DOWNGRD"
    else:
        assert random[-8:] == tail
    assert ClientHello.parse(client.events[0].body).version == {"1.0": 0x0301, "1.1": 0x0302,
                                                                "1.2": 0x0303}[client_version]


def test_tls12_client_refuses_a_marked_tls11_server_hello(pki, monkeypatch):
    """RFC 8446 section 4.1.3: a TLS 1.2 client SHOULD check DOWNGRD\\x00 too. A server
    limited to TLS 1.1 that still marks its random (as one supporting TLS 1.2 would) looks
    like a downgrade to a client offering TLS 1.2."""
    cfg = ServerConfig(pki.rsa_chain, pki.rsa_key, versions=("1.0", "1.1", "1.2"))
    client = ClientConnection(ClientConfig(versions=["1.0", "1.1", "1.2"],
                                           ciphers=["AES128-SHA"]))
    # The attacker's effect: the server answers TLS 1.1 although both could do TLS 1.2.
    monkeypatch.setattr(ServerConnection, "_choose_version", lambda self, ch: 0x0302)
    link = connect(client, ServerConnection(cfg))
    expect_alert(link, "client", "illegal_parameter")
    # Without TLS 1.2 offered, the mark means nothing to the client.
    client, _, link = run(ClientConfig(versions=["1.0", "1.1"], ciphers=["AES128-SHA"]), cfg)
    assert_ok(link)
