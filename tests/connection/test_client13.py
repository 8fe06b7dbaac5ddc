"""The TLS 1.3 client in memory against our TLS 1.3 server: every suite and group, HRR,
PSK resumption with both modes, 0-RTT, client authentication, KeyUpdate, key log lines, and
the alerts the client sends for a server that breaks RFC 8446."""
import pytest

from scapy_tls_hs.codec import extensions as X
from scapy_tls_hs.codec.messages import Extension, ServerHello
from scapy_tls_hs.codec.messages13 import EncryptedExtensions
from scapy_tls_hs.connection import (ClientConfig, ClientConnection, ServerConfig,
                                     ServerConnection, states)
from scapy_tls_hs.crypto.keylog import Keylog
from scapy_tls_hs.crypto.suites import CipherSuite
from tests.connection.pump import assert_ok, connect, expect_alert

SUITES13 = [s.name for s in CipherSuite.all13()]
GROUPS = ["x25519", "secp256r1", "secp384r1", "secp521r1", "x448", "ffdhe2048", "ffdhe3072"]


@pytest.fixture(scope="module")
def server13(pki):
    return ServerConfig(pki.rsa_chain, pki.rsa_key, ciphers=SUITES13, early_data_max=4096,
                        groups=GROUPS)


@pytest.fixture(scope="module")
def ecdsa13(pki):
    return ServerConfig(pki.ecdsa_cert, pki.ecdsa_key, versions=["1.3"])


def handshake(client_cfg, server_cfg, **kw):
    client, server = ClientConnection(client_cfg), ServerConnection(server_cfg)
    return client, server, connect(client, server, **kw)


@pytest.mark.parametrize("suite", SUITES13)
def test_every_suite(server13, suite):
    client, server, link = handshake(ClientConfig(ciphers=[suite]), server13)
    assert_ok(link)
    assert client.version_name == server.version_name == "TLS 1.3"
    assert client.cipher_suite == server.cipher_suite == suite
    assert client.messages == server.messages
    client.send_application_data(b"ping")
    link.pump()
    assert link.received["server"] == b"ping"


@pytest.mark.parametrize("group", GROUPS)
def test_every_group_gets_the_key_share(server13, group):
    client, server, link = handshake(ClientConfig(groups=[group]), server13)
    assert_ok(link)
    assert client.group == server.group == group
    assert not client.hello_retry


def test_default_offer_is_tls13_and_tls12(server13):
    client, _, link = handshake(ClientConfig(), server13)
    assert_ok(link)
    hello = client._hello
    assert hello.version == 0x0303                                  # legacy_version
    sv = X.find_ext(hello.extensions, X.EXT_SUPPORTED_VERSIONS)
    assert X.parse_supported_versions_client(sv.data)[:2] == [0x0304, 0x0303]
    assert len(hello.session_id) == 32                             # middlebox compatibility
    assert client.messages[:3] == ["C:client_hello", "S:server_hello", "S:change_cipher_spec"]
    assert "C:change_cipher_spec" in client.messages


def test_tls12_server_still_works_and_no_sentinel(pki):
    client, _, link = handshake(ClientConfig(),
                                ServerConfig(pki.rsa_cert, pki.rsa_key, versions=["1.2"]))
    assert_ok(link)
    assert client.version_name == "TLS 1.2" and client.group == "x25519"


def test_hello_retry_request(pki):
    server_cfg = ServerConfig(pki.rsa_cert, pki.rsa_key, groups=["secp384r1"])
    client, server, link = handshake(ClientConfig(groups=["x25519", "secp384r1"]), server_cfg)
    assert_ok(link)
    assert client.hello_retry and server.hello_retry
    assert client.group == "secp384r1"
    assert client.messages[:4] == ["C:client_hello", "S:hello_retry_request",
                                   "S:change_cipher_spec", "C:change_cipher_spec"] or \
        client.messages[:3] == ["C:client_hello", "S:hello_retry_request",
                                "C:change_cipher_spec"]
    assert client.messages.count("C:client_hello") == 2


def _resume(server_cfg, first_cfg=None, **kw):
    client, _, link = handshake(first_cfg or ClientConfig(), server_cfg)
    assert_ok(link)
    assert client.session is not None and client.session.version == 0x0304
    return handshake(ClientConfig(session=client.session, **kw), server_cfg)


@pytest.mark.parametrize("modes", [(1,), (0,)])
def test_psk_resumption(server13, modes):
    client, server, link = _resume(server13, psk_modes=modes)
    assert_ok(link)
    assert client.resumed and server.resumed
    assert "S:certificate" not in client.messages
    assert client.peer_certificates                     # carried by the ticket's session
    if modes == (0,):
        assert client.group is None                     # psk_ke: no (EC)DHE at all
    else:
        assert client.group == "x25519"


def test_early_data_accepted(server13):
    client, server, link = _resume(server13, early_data=b"GET /early\r\n")
    assert_ok(link)
    assert client.early_data == server.early_data == "accepted"
    assert link.received["server"] == b"GET /early\r\n"
    assert "C:end_of_early_data" in client.messages


def test_early_data_rejected_by_a_server_that_takes_none(pki):
    server_cfg = ServerConfig(pki.rsa_cert, pki.rsa_key, early_data_max=0)
    client, server, link = _resume(server_cfg, early_data=b"never")
    assert_ok(link)
    assert client.resumed
    # No ticket allowed early data, so none is offered: early_data stays null.
    assert client.early_data is None


def test_early_data_rejected_after_hello_retry(pki):
    server_cfg = ServerConfig(pki.rsa_cert, pki.rsa_key, early_data_max=100,
                              groups=["secp256r1"])
    first = ClientConfig(groups=["secp256r1"])
    client, server, link = _resume(server_cfg, first, groups=["x25519", "secp256r1"],
                                   early_data=b"lost")
    assert_ok(link)
    assert client.hello_retry and client.early_data == "rejected"
    assert link.received["server"] == b""


@pytest.mark.parametrize("kind", ["rsa", "ecdsa"])
def test_client_authentication(pki, kind):
    server_cfg = ServerConfig(pki.rsa_cert, pki.rsa_key, client_auth="required",
                              cafile=pki.ca_cert)
    cert, key = ((pki.client_rsa_cert, pki.client_rsa_key) if kind == "rsa"
                 else (pki.client_ecdsa_cert, pki.client_ecdsa_key))
    client, server, link = handshake(ClientConfig(cert_chain=cert, private_key=key),
                                     server_cfg)
    assert_ok(link)
    assert client.client_auth and server.client_auth
    assert client.messages[7:11] == ["S:finished", "C:change_cipher_spec", "C:certificate",
                                     "C:certificate_verify"]


def test_client_without_certificate_sends_an_empty_one(pki):
    server_cfg = ServerConfig(pki.rsa_cert, pki.rsa_key, client_auth="optional",
                              cafile=pki.ca_cert)
    client, server, link = handshake(ClientConfig(), server_cfg)
    assert_ok(link)
    assert not client.client_auth and "C:certificate" in client.messages
    assert "C:certificate_verify" not in client.messages


def test_ecdsa_server_and_cafile(ecdsa13, pki):
    _, _, link = handshake(ClientConfig(cafile=pki.ca_cert, sni="server.test"), ecdsa13)
    assert_ok(link)


def test_cafile_rejects_unknown_ca(ecdsa13, pki):
    _, _, link = handshake(ClientConfig(cafile=pki.other_ca_cert, sni="server.test"), ecdsa13)
    expect_alert(link, "client", "unknown_ca")


@pytest.mark.parametrize("request_update", [True, False])
def test_key_update_both_ways(server13, request_update):
    client, server, link = handshake(ClientConfig(), server13)
    assert_ok(link)
    before = client._write_secret
    client.send_key_update(request=request_update)
    client.send_application_data(b"after update")
    link.pump()
    assert link.errors == {"client": None, "server": None}
    assert client._write_secret != before
    assert link.received["server"] == b"after update"
    server.send_application_data(b"answer")
    link.pump()
    assert link.received["client"] == b"answer"
    assert client.key_updates == (2 if request_update else 1)
    assert server.key_updates == client.key_updates


def test_keylog_lines_decrypt_everything(server13):
    client, server, link = handshake(ClientConfig(), server13)
    assert_ok(link)
    keylog = Keylog.parse("\n".join(client.keylog_lines()))
    labels = {line.split()[0] for line in client.keylog_lines()}
    assert labels == {"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                      "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0", "EXPORTER_SECRET"}
    assert keylog.secret("CLIENT_TRAFFIC_SECRET_0", client.client_random) == \
        server.schedule.client_application
    assert client.keylog_lines() == server.keylog_lines()


def test_keylog_has_early_secret_with_0rtt(server13):
    client, _, link = _resume(server13, early_data=b"x")
    assert_ok(link)
    assert any(line.startswith("CLIENT_EARLY_TRAFFIC_SECRET") for line in client.keylog_lines())


# -- a server that breaks the rules: the client's alert ---------------------------------------

def _tamper(msg_type_wanted, change):
    def tamper(msg_type, body):
        return change(body) if msg_type == msg_type_wanted else None
    return tamper


def _sh_change(fn):
    def change(body):
        sh = ServerHello.parse(body)
        fn(sh)
        return sh.encode()
    return change


def _ee_with(ext):
    def change(body):
        ee = EncryptedExtensions.parse(body)
        ee.extensions.append(ext)
        return ee.encode()
    return change


def _set_random_tail(tail):
    def fn(sh):
        sh.random = sh.random[:24] + tail
    return fn


@pytest.mark.parametrize("msg_type,change,alert", [
    (2, _sh_change(lambda sh: setattr(sh, "session_id", b"\x01" * 32)), "illegal_parameter"),
    (2, _sh_change(lambda sh: setattr(sh, "cipher_suite", 0x1305)), "illegal_parameter"),
    (2, _sh_change(lambda sh: setattr(sh, "version", 0x0304)), "illegal_parameter"),
    (2, _sh_change(lambda sh: sh.extensions.append(Extension(0x1234, b""))),
     "unsupported_extension"),
    (2, _sh_change(lambda sh: setattr(sh, "extensions", [e for e in sh.extensions
                                                         if e.type != X.EXT_KEY_SHARE])),
     "missing_extension"),
    (8, _ee_with(Extension(X.EXT_KEY_SHARE, b"")), "illegal_parameter"),
    (8, _ee_with(Extension(X.EXT_ALPN, X.alpn([b"h2"]))), "unsupported_extension"),
    (15, lambda body: body[:-1] + bytes((body[-1] ^ 1,)), "decrypt_error"),
    (15, lambda body: b"\x04\x01" + body[2:], "illegal_parameter"),     # rsa_pkcs1 in 1.3
    (20, lambda body: bytes(len(body)), "decrypt_error"),
    (11, lambda body: b"\x00\x00\x00\x00", "decode_error"),             # empty certificate
])
def test_client_alerts(server13, msg_type, change, alert):
    server = ServerConnection(server13)
    server.tamper = _tamper(msg_type, change)
    link = connect(ClientConnection(ClientConfig()), server)
    assert link.errors["client"] is not None and not link.errors["client"].received
    assert link.errors["client"].description == alert
    assert link.client.state == states.CLOSED


@pytest.mark.parametrize("tail,version", [(b"DOWNGRD\x01", "1.2"), (b"DOWNGRD\x00", "1.1")])
def test_downgrade_sentinel(pki, tail, version):
    server = ServerConnection(ServerConfig(pki.rsa_cert, pki.rsa_key, versions=[version]))
    server.tamper = _tamper(2, _sh_change(_set_random_tail(tail)))
    link = connect(ClientConnection(ClientConfig()), server)
    expect_alert(link, "client", "illegal_parameter")


def test_second_hello_retry_is_unexpected(pki):
    """A server that answers the second ClientHello with another HelloRetryRequest."""
    server_cfg = ServerConfig(pki.rsa_cert, pki.rsa_key, groups=["secp384r1"])
    client = ClientConnection(ClientConfig(groups=["x25519", "secp384r1", "secp256r1"]))
    server = ServerConnection(server_cfg)
    hrr = []

    def replay_hrr(data):
        if not hrr and data[5:6] == b"\x02":
            hrr.append(data)
        elif hrr and len(hrr) == 1 and data[:1] == b"\x16":
            hrr.append(data)
            return hrr[0]
        return data
    link = connect(client, server, tamper_s2c=replay_hrr)
    assert link.errors["client"] is not None
    assert link.errors["client"].description == "unexpected_message"


# -- hostile bytes: only proper alerts ----------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from scapy_tls_hs.errors import AlertError  # noqa: E402


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(0, 1 << 12), st.integers(0, 255)), min_size=1,
                      max_size=4),
       cut=st.integers(0, 1 << 12))
def test_mutated_tls13_server_flight_gets_an_alert(server13, edits, cut):
    client, server = ClientConnection(ClientConfig()), ServerConnection(server13)
    client.start()
    server.receive_data(client.data_to_send())
    flight = bytearray(server.data_to_send())
    for pos, value in edits:
        flight[pos % len(flight)] = value
    flight = bytes(flight[:max(1, len(flight) - cut % 64)])
    try:
        client.receive_data(flight)
    except AlertError as exc:
        assert exc.received or exc.description != "internal_error", exc
        assert client.state == states.CLOSED


def test_tls13_hello_crafted_with_the_layers_is_completed(server13):
    """A shell user's TLS 1.3 ClientHello: key_share entries left empty are filled with
    fresh keys by the client, everything else is sent as crafted."""
    from scapy_tls_hs.layers import (TLSClientHello, TLSExtKeyShare, TLSExtSignatureAlgorithms,
                                     TLSExtSupportedGroups, TLSExtSupportedVersions,
                                     TLSKeyShareEntry)
    hello = TLSClientHello(ciphers=[0x1302], ext=[
        TLSExtSupportedVersions(versions=[0x0304]),
        TLSExtSupportedGroups(groups=[24]),
        TLSExtSignatureAlgorithms(sig_algs=[0x0804]),
        TLSExtKeyShare(client_shares=[TLSKeyShareEntry(group=24)])])
    client, server, link = handshake(ClientConfig(client_hello=hello), server13)
    assert_ok(link)
    assert client.version_name == "TLS 1.3" and client.group == "secp384r1"
    assert client.cipher_suite == "TLS_AES_256_GCM_SHA384"
    sent = link.client.events[0].body
    assert sent[2:34] == hello.random           # the crafted hello, filled, not rebuilt
