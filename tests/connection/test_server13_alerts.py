"""Every malformed or misplaced TLS 1.3 ClientHello (and second ClientHello after a
HelloRetryRequest) gets the RFC 8446 alert. Hellos are crafted with the codec encoders and
fed to a ``ServerConnection`` directly."""
import pytest

from scapy_tls_hs.codec import extensions as X
from scapy_tls_hs.codec.messages import ClientHello, Extension, ServerHello
from scapy_tls_hs.codec.records import encode_record, handshake
from scapy_tls_hs.connection import ClientConfig, ClientConnection, ServerConfig, \
    ServerConnection
from scapy_tls_hs.crypto.keyexchange import EphemeralKey
from scapy_tls_hs.errors import AlertError
from tests.connection.pump import connect, split_records

X25519, P256 = 29, 23


@pytest.fixture(scope="module")
def cfg(pki):
    return ServerConfig(pki.rsa_cert, pki.rsa_key)


@pytest.fixture(scope="module")
def hrr_cfg(pki):
    return ServerConfig(pki.rsa_cert, pki.rsa_key, groups=["x25519"])


def share(group):
    return group, EphemeralKey.generate(group).public_bytes()


def hello(shares=((X25519, None),), groups=(X25519, P256), versions=(0x0304, 0x0303),
          suites=(0x1301,), version=0x0303, compression=(0,), session_id=b"",
          drop=(), extra=(), order=None):
    exts = [Extension(X.EXT_SUPPORTED_VERSIONS, X.supported_versions_client(list(versions))),
            Extension(X.EXT_SUPPORTED_GROUPS, X.supported_groups(list(groups))),
            Extension(X.EXT_SIGNATURE_ALGORITHMS, X.signature_algorithms([0x0804, 0x0403])),
            Extension(X.EXT_KEY_SHARE, X.key_share_client(
                [s if s[1] is not None else share(s[0]) for s in shares]))]
    exts = [e for e in exts if e.type not in drop] + [Extension(t, d) for t, d in extra]
    return ClientHello(version, bytes(32), session_id, list(suites), list(compression), exts)


def records(ch):
    return encode_record(22, 0x0301, handshake(1, ch.encode()))


def alert_for(server, data):
    with pytest.raises(AlertError) as info:
        server.receive_data(data)
    out = split_records(server.data_to_send())
    if out[-1][0] == 21:                            # in clear: a fatal alert went out
        assert out[-1][2][0] == 2
    else:                                           # under the handshake keys
        assert out[-1][0] == 23 and server.tls13
    return info.value.description


def server_hello_of(server):
    """The ServerHello (or HRR) the server answered with, parsed."""
    (ct, _, frag), *_ = split_records(server.data_to_send())
    assert ct == 22 and frag[0] == 2
    return ServerHello.parse(frag[4:4 + int.from_bytes(frag[1:4], "big")])


def test_well_formed_hello_is_answered(cfg):
    server = ServerConnection(cfg)
    server.receive_data(records(hello()))
    sh = server_hello_of(server)
    assert sh.selected_version() == 0x0304 and sh.cipher_suite == 0x1301
    assert server.tls13 and server.group == "x25519"


@pytest.mark.parametrize("ch,alert", [
    (dict(version=0x0300), "protocol_version"),
    (dict(versions=(0x7F1C, 0x0300)), "protocol_version"),
    (dict(compression=(1, 0)), "illegal_parameter"),
    (dict(drop=(X.EXT_SIGNATURE_ALGORITHMS,)), "missing_extension"),
    (dict(drop=(X.EXT_KEY_SHARE,)), "missing_extension"),
    (dict(drop=(X.EXT_SUPPORTED_GROUPS,)), "missing_extension"),
    (dict(drop=(X.EXT_KEY_SHARE, X.EXT_SUPPORTED_GROUPS)), "missing_extension"),
    (dict(groups=(P256,)), "illegal_parameter"),                # share not in groups
    (dict(shares=((X25519, None), (X25519, None))), "illegal_parameter"),
    (dict(shares=((X25519, b"\x01" * 31),)), "illegal_parameter"),
    (dict(shares=((X25519, bytes(32)),)), "illegal_parameter"),   # all-zero secret
    (dict(shares=((X25519, b""),)), "illegal_parameter"),
    (dict(shares=((P256, b"\x04" + b"\x01" * 64),), groups=(P256,)), "illegal_parameter"),
    (dict(suites=(0xC02F,)), "handshake_failure"),
    (dict(groups=(0x1234,), shares=()), "handshake_failure"),  # unknown group only
    (dict(groups=(21,), shares=()), "illegal_parameter"),       # only obsolete groups
    (dict(extra=[(X.EXT_SUPPORTED_GROUPS, X.supported_groups([X25519]))]),
     "illegal_parameter"),                                      # extension twice
    (dict(extra=[(X.EXT_COOKIE, X.cookie(b"made up"))]), "illegal_parameter"),
    (dict(extra=[(X.EXT_PRE_SHARED_KEY,
                  X.pre_shared_key_client([(b"id", 0)], [bytes(32)])),
                 (X.EXT_PADDING, b"")]), "illegal_parameter"),  # pre_shared_key not last
    (dict(extra=[(X.EXT_PRE_SHARED_KEY,
                  X.pre_shared_key_client([(b"id", 0)], [bytes(32)]))]),
     "missing_extension"),                                      # no psk_key_exchange_modes
    (dict(extra=[(X.EXT_PSK_KEY_EXCHANGE_MODES, X.psk_key_exchange_modes([1])),
                 (X.EXT_PRE_SHARED_KEY,
                  X.pre_shared_key_client([(b"id", 0)], [bytes(32), bytes(32)]))]),
     "illegal_parameter"),                                      # binders != identities
    (dict(extra=[(X.EXT_KEY_SHARE + 0, b"")]), "illegal_parameter"),
])
def test_bad_hello_gets_its_alert(cfg, ch, alert):
    assert alert_for(ServerConnection(cfg), records(hello(**ch))) == alert


@pytest.mark.parametrize("ext,body", [
    (X.EXT_KEY_SHARE, b"\x00\x05\x00\x1d\x00\x20"),             # truncated
    (X.EXT_SUPPORTED_VERSIONS, b"\x03\x03\x04"),
    (X.EXT_SIGNATURE_ALGORITHMS, b"\x00\x03\x08\x04\x04"),
    (X.EXT_EARLY_DATA, b"\x00"),
    (X.EXT_PSK_KEY_EXCHANGE_MODES, b"\x05\x01"),
])
def test_malformed_extension_is_decode_error(cfg, ext, body):
    ch = hello()
    ch.extensions = [e for e in ch.extensions if e.type != ext] + [Extension(ext, body)]
    assert alert_for(ServerConnection(cfg), records(ch)) == "decode_error"


def test_tls12_only_client_of_a_13_server_gets_the_downgrade_sentinel(cfg):
    server = ServerConnection(cfg)
    server.receive_data(records(hello(versions=(0x0303,), suites=(0xC02F,))))
    sh = server_hello_of(server)
    assert sh.version == 0x0303 and sh.random[-8:] == b"DOWNGRD\x01"
    assert sh.ext(X.EXT_SUPPORTED_VERSIONS) is None


def test_tls11_client_gets_the_other_sentinel(cfg):
    server = ServerConnection(cfg)
    server.receive_data(records(hello(version=0x0302, drop=(X.EXT_SUPPORTED_VERSIONS,),
                                      suites=(0xC013,))))
    assert server_hello_of(server).random[-8:] == b"DOWNGRD\x00"


def test_legacy_version_13_without_supported_versions_is_tls12(cfg):
    server = ServerConnection(cfg)
    server.receive_data(records(hello(version=0x0304, drop=(X.EXT_SUPPORTED_VERSIONS,),
                                      suites=(0x1301, 0xC02F))))
    assert server_hello_of(server).version == 0x0303 and not server.tls13


# ---------------------------------------------------------------- HelloRetryRequest

def hrr_then(hrr_cfg, **first):
    """A server that answered ``hello(P-256 share)`` with a HelloRetryRequest, the first
    hello and the HRR."""
    server = ServerConnection(hrr_cfg)
    ch1 = hello(shares=((P256, None),), session_id=b"\x07" * 32, **first)
    server.receive_data(records(ch1))
    out = split_records(server.data_to_send())
    assert out[0][0] == 22 and [r[0] for r in out[1:]] == [20]      # HRR, then dummy CCS
    hrr = ServerHello.parse(out[0][2][4:])
    assert hrr.is_hello_retry_request and server.hello_retry
    assert X.parse_key_share_hello_retry(hrr.ext(X.EXT_KEY_SHARE)[1]) == X25519
    return server, ch1, hrr


def second(ch1, hrr, shares=((X25519, None),), cookie=True, **changes):
    ch2 = hello(shares=shares, session_id=ch1.session_id)
    ch2.random = ch1.random
    if cookie:
        ch2.extensions.append(hrr.ext(X.EXT_COOKIE))
    for k, v in changes.items():
        setattr(ch2, k, v)
    return ch2


def test_hello_retry_request_then_second_hello_completes_the_hello(hrr_cfg):
    server, ch1, hrr = hrr_then(hrr_cfg)
    assert hrr.session_id == ch1.session_id and hrr.cipher_suite == 0x1301
    server.receive_data(encode_record(20, 0x0303, b"\x01") + records(second(ch1, hrr)))
    sh = server_hello_of(server)
    assert not sh.is_hello_retry_request and server.group == "x25519"
    assert server.messages[:5] == ["C:client_hello", "S:hello_retry_request",
                                   "S:change_cipher_spec", "C:change_cipher_spec",
                                   "C:client_hello"]
    # one dummy CCS only: none after the ServerHello this time
    assert "S:change_cipher_spec" not in server.messages[5:]


@pytest.mark.parametrize("change,alert", [
    (dict(shares=((P256, None),)), "illegal_parameter"),        # still not the asked group
    (dict(shares=((X25519, None), (P256, None))), "illegal_parameter"),
    (dict(cookie=False), "missing_extension"),
    (dict(cipher_suites=[0x1301, 0x1302]), "illegal_parameter"),
    (dict(session_id=b"\x08" * 32), "illegal_parameter"),
    (dict(random=b"\x01" * 32), "illegal_parameter"),
    (dict(version=0x0302), "illegal_parameter"),
])
def test_second_hello_that_changes_what_it_must_not(hrr_cfg, change, alert):
    server, ch1, hrr = hrr_then(hrr_cfg)
    ch2 = second(ch1, hrr, **change)
    assert alert_for(server, records(ch2)) == alert


def test_second_hello_with_a_changed_cookie(hrr_cfg):
    server, ch1, hrr = hrr_then(hrr_cfg)
    ch2 = second(ch1, hrr, cookie=False)
    ch2.extensions.append(Extension(X.EXT_COOKIE, X.cookie(b"\x00" * 68)))
    assert alert_for(server, records(ch2)) == "illegal_parameter"


def test_second_hello_with_early_data(hrr_cfg):
    server, ch1, hrr = hrr_then(hrr_cfg)
    ch2 = second(ch1, hrr)
    ch2.extensions.append(Extension(X.EXT_EARLY_DATA, b""))
    assert alert_for(server, records(ch2)) == "illegal_parameter"


def test_second_hello_with_other_extensions(hrr_cfg):
    server, ch1, hrr = hrr_then(hrr_cfg)
    ch2 = second(ch1, hrr)
    ch2.extensions.insert(0, Extension(X.EXT_ALPN, X.alpn([b"h2"])))
    assert alert_for(server, records(ch2)) == "illegal_parameter"


def test_third_hello_is_unexpected(hrr_cfg):
    server, ch1, hrr = hrr_then(hrr_cfg)
    server.receive_data(records(second(ch1, hrr)))
    server.data_to_send()
    assert alert_for(server, records(second(ch1, hrr))) == "unexpected_message"


def test_no_common_group_at_all_is_handshake_failure(hrr_cfg):
    ch = hello(shares=((P256, None),), groups=(P256,))
    assert alert_for(ServerConnection(hrr_cfg), records(ch)) == "handshake_failure"


# ---------------------------------------------------------------- PSK binders

@pytest.fixture(scope="module")
def ticket(cfg, pki):
    client = ClientConnection(ClientConfig(cafile=pki.ca_cert, sni="localhost"))
    link = connect(client, ServerConnection(cfg))
    assert link.errors == {"client": None, "server": None}
    assert client.session.ticket
    return client.session


def psk_hello(session, binder=None, modes=(1,)):
    ch = hello(extra=[(X.EXT_SERVER_NAME, X.server_name("localhost")),
                      (X.EXT_PSK_KEY_EXCHANGE_MODES, X.psk_key_exchange_modes(list(modes))),
                      (X.EXT_PRE_SHARED_KEY, X.pre_shared_key_client(
                          [(session.ticket, 0)], [binder or bytes(32)]))])
    return ch


def test_bad_binder_is_decrypt_error(cfg, ticket):
    assert alert_for(ServerConnection(cfg), records(psk_hello(ticket))) == "decrypt_error"


def test_short_binder_is_decode_error(cfg, ticket):
    ch = psk_hello(ticket)
    ch.extensions[-1] = Extension(X.EXT_PRE_SHARED_KEY, ch.extensions[-1].data[:-1])
    assert alert_for(ServerConnection(cfg), records(ch)) == "decode_error"


def test_unknown_ticket_means_a_full_handshake(cfg, ticket):
    ch = psk_hello(ticket)
    ch.extensions[-1] = Extension(X.EXT_PRE_SHARED_KEY, X.pre_shared_key_client(
        [(b"\x42" * 120, 7)], [bytes(32)]))
    server = ServerConnection(cfg)
    server.receive_data(records(ch))
    sh = server_hello_of(server)
    assert sh.ext(X.EXT_PRE_SHARED_KEY) is None and not server.resumed


def test_ticket_of_another_sni_means_a_full_handshake(cfg, ticket):
    ch = psk_hello(ticket)
    ch.extensions = [e for e in ch.extensions if e.type != X.EXT_SERVER_NAME]
    server = ServerConnection(cfg)
    server.receive_data(records(ch))
    assert not server.resumed


# ---------------------------------------------------------------- no crash on any bytes

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

_GOOD = handshake(1, hello(extra=[(X.EXT_PSK_KEY_EXCHANGE_MODES, b"\x01\x01"),
                                  (X.EXT_PRE_SHARED_KEY, X.pre_shared_key_client(
                                      [(b"\x42" * 40, 1)], [bytes(32)]))]).encode())


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, len(_GOOD) - 1), st.integers(0, 255)),
                min_size=1, max_size=4))
def test_mutated_tls13_hello_never_breaks_the_server(cfg, edits):
    data = bytearray(_GOOD)
    for pos, value in edits:
        data[pos] = value
    server = ServerConnection(cfg)
    try:
        server.receive_data(encode_record(22, 0x0301, bytes(data)))
    except AlertError as exc:
        assert exc.description != "internal_error", exc


def test_clear_alert_after_our_first_flight_is_the_peers_alert(cfg):
    # RFC 8446 section 5: a client that fails on our ServerHello has no keys and alerts in
    # clear; it is its alert, not an unexpected plaintext record.
    server = ServerConnection(cfg)
    server.receive_data(records(hello()))
    server.data_to_send()
    with pytest.raises(AlertError) as info:
        server.receive_data(encode_record(21, 0x0303, b"\x02\x28"))
    assert info.value.received and info.value.description == "handshake_failure"
    assert server.data_to_send() == b""             # no alert answers an alert


def test_client_takes_a_clear_alert_after_the_server_hello(cfg):
    # The same rule for the client (connection/base.py): the server's flight is read up to
    # its ServerHello, then the server gives up in clear.
    client, server = ClientConnection(ClientConfig()), ServerConnection(cfg)
    client.start()
    server.receive_data(client.data_to_send())
    ct, version, frag = split_records(server.data_to_send())[0]
    client.receive_data(encode_record(ct, version, frag))
    assert client.tls13
    with pytest.raises(AlertError) as info:
        client.receive_data(encode_record(21, 0x0303, b"\x02\x50"))
    assert info.value.received and info.value.description == "internal_error"
    # Anything longer than an alert is still an unexpected plaintext record.
    client = ClientConnection(ClientConfig())
    client.start()
    server = ServerConnection(cfg)
    server.receive_data(client.data_to_send())
    client.receive_data(encode_record(ct, version,
                                      split_records(server.data_to_send())[0][2]))
    with pytest.raises(AlertError) as info:
        client.receive_data(encode_record(21, 0x0303, b"\x02\x50\x00"))
    assert not info.value.received
