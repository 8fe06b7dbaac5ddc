"""Every failure path in memory: the side that detects it sends the right alert, the other
side receives it."""
import pytest

from scapy_tls_hs.codec.messages import Extension, ServerHello
from scapy_tls_hs.connection import (ClientConfig, ClientConnection, ServerConfig,
                                     ServerConnection, states)
from scapy_tls_hs.errors import TLSError
from tests.connection.pump import (ServerConfig12, assert_ok, client_hello_tamper,
                                   client_side_alert, connect, exchange_and_close, expect_alert,
                                   flip_in_record, only_signature_algorithms_cert, run, servers,
                                   split_records)


def test_no_common_suite(servers):
    _, _, link = run(ClientConfig(ciphers=["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"]),
                     servers["RSA"])
    expect_alert(link, "server", "handshake_failure")


def test_no_common_version(pki):
    server_cfg = ServerConfig12(pki.rsa_cert, pki.rsa_key, versions=["1.2"])
    _, _, link = run(ClientConfig(versions=["1.0", "1.1"]), server_cfg)
    expect_alert(link, "server", "protocol_version")


def test_server_version_not_offered_by_client(pki):
    server_cfg = ServerConfig12(pki.rsa_cert, pki.rsa_key, versions=["1.1"])
    _, _, link = run(ClientConfig(versions=["1.0", "1.2"]), server_cfg)
    expect_alert(link, "client", "protocol_version")


def _tamper_server_hello(change):
    def tamper(msg_type, body):
        if msg_type != 2:
            return None
        sh = ServerHello.parse(body)
        change(sh)
        return sh.encode()
    return tamper


@pytest.mark.parametrize("change,alert", [
    (lambda sh: sh.extensions.append(Extension(0x1234, b"")), "unsupported_extension"),
    (lambda sh: setattr(sh, "cipher_suite", 0x009C), "illegal_parameter"),
    (lambda sh: setattr(sh, "compression_method", 1), "illegal_parameter"),
])
def test_client_checks_server_hello(servers, change, alert):
    client = ClientConnection(ClientConfig(ciphers=["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]))
    server = ServerConnection(servers["RSA"])
    server.tamper = _tamper_server_hello(change)
    link = connect(client, server)
    expect_alert(link, "client", alert)


def test_bad_finished(servers):
    client = ClientConnection(ClientConfig())
    client.tamper = lambda t, body: bytes(12) if t == 20 else None
    link = connect(client, ServerConnection(servers["RSA"]))
    expect_alert(link, "server", "decrypt_error")


def test_bad_server_finished(servers):
    server = ServerConnection(servers["RSA"])
    server.tamper = lambda t, body: bytes(12) if t == 20 else None
    link = connect(ClientConnection(ClientConfig()), server)
    expect_alert(link, "client", "decrypt_error")


@pytest.mark.parametrize("suite", ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                                   "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
                                   "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"])
def test_bit_flip_in_finished_record(servers, suite):
    def flip_last_record(data, _done=[]):
        recs = split_records(data)
        if not _done and recs[-1][0] == 22 and any(r[0] == 20 for r in recs):
            _done.append(1)
            return flip_in_record(data, -1)
        return data

    client = ClientConnection(ClientConfig(ciphers=[suite]))
    link = connect(client, ServerConnection(servers["RSA"]), tamper_c2s=flip_last_record)
    expect_alert(link, "server", "bad_record_mac")


def test_bit_flip_in_application_data(servers):
    client, server, link = run(ClientConfig(), servers["RSA"])
    assert_ok(link)
    client.send_application_data(b"hello")
    data = flip_in_record(client.data_to_send(), 0, 8)
    with pytest.raises(TLSError) as info:
        server.receive_data(data)
    assert info.value.description == "bad_record_mac"
    alert = client_side_alert(client, server.data_to_send())
    assert alert.description == "bad_record_mac" and alert.received


def test_unexpected_message_to_server(servers):
    server = ServerConnection(servers["RSA"])
    with pytest.raises(TLSError) as info:
        server.receive_data(b"\x16\x03\x01\x00\x04\x0e\x00\x00\x00")    # ServerHelloDone
    assert info.value.description == "unexpected_message"
    assert server.data_to_send() == b"\x15\x03\x01\x00\x02\x02\x0a"


def test_unexpected_client_hello_repeated(servers):
    client = ClientConnection(ClientConfig())
    server = ServerConnection(servers["RSA"])
    client.start()
    hello = client.data_to_send()
    server.receive_data(hello)
    with pytest.raises(TLSError) as info:
        server.receive_data(hello)
    assert info.value.description == "unexpected_message"


def test_application_data_before_handshake(servers):
    server = ServerConnection(servers["RSA"])
    with pytest.raises(TLSError) as info:
        server.receive_data(b"\x17\x03\x03\x00\x02hi")
    assert info.value.description == "unexpected_message"


def test_unexpected_message_to_client(servers):
    client = ClientConnection(ClientConfig())
    client.start()
    client.data_to_send()
    with pytest.raises(TLSError) as info:
        client.receive_data(b"\x16\x03\x03\x00\x04\x0e\x00\x00\x00")
    assert info.value.description == "unexpected_message"
    assert client.data_to_send().endswith(b"\x02\x0a")


@pytest.mark.parametrize("data", [
    b"\x16\x03\x01\x00\x08\x01\x00\x00\x04\x03\x03\x00\x00",        # truncated ClientHello
    b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x03",
    b"\x15\x03\x01\x00\x03\x02\x28\x00",                              # alert of 3 bytes
    b"\x14\x03\x01\x00\x01\x02",                                      # bad CCS
])
def test_malformed_input_is_decode_error(servers, data):
    server = ServerConnection(servers["RSA"])
    with pytest.raises(TLSError) as info:
        server.receive_data(data)
    assert info.value.description == "decode_error"
    assert server.data_to_send().endswith(b"\x02\x32")


def test_garbage_is_an_alert_not_a_crash(servers):
    server = ServerConnection(servers["RSA"])
    with pytest.raises(TLSError):
        server.receive_data(b"GET / HTTP/1.1\r\n\r\n")
    assert server.closed


def test_fatal_alert_received_is_raised(servers):
    client = ClientConnection(ClientConfig())
    client.start()
    client.data_to_send()
    with pytest.raises(TLSError) as info:
        client.receive_data(b"\x15\x03\x03\x00\x02\x02\x28")
    assert info.value.received and info.value.description == "handshake_failure"
    assert client.messages[-1] == "S:alert:handshake_failure"
    assert client.data_to_send() == b""          # no alert answers an alert


def test_warning_alert_is_reported(servers):
    client, server, link = run(ClientConfig(), servers["RSA"])
    server._send_alert(1, "user_canceled")
    evs = client.receive_data(server.data_to_send())
    assert evs[0].description == "user_canceled" and not evs[0].fatal
    assert client.state == states.CONNECTED


def test_renegotiation_refused_with_warning(servers):
    client, server, link = run(ClientConfig(renegotiation=False), servers["RSA"])
    server._send_handshake(0, b"")
    server._flush()
    link.pump()
    assert client.messages[-2:] == ["S:hello_request", "C:alert:no_renegotiation"]
    assert client.state == server.state == states.CONNECTED
    exchange_and_close(link)


def test_send_before_handshake_is_refused(servers):
    client = ClientConnection(ClientConfig())
    with pytest.raises(TLSError):
        client.send_application_data(b"x")


def test_ecdsa_server_only_picks_ecdsa_suites(servers):
    assert all(s.authentication == "ECDSA" for s in servers["ECDSA"].suites)
    _, _, link = run(ClientConfig(ciphers=["TLS_RSA_WITH_AES_128_GCM_SHA256"]),
                     servers["ECDSA"])
    expect_alert(link, "server", "handshake_failure")


def test_records_before_garbage_are_processed(servers):
    client = ClientConnection(ClientConfig())
    server = ServerConnection(servers["RSA"])
    client.start()
    with pytest.raises(TLSError) as info:
        server.receive_data(client.data_to_send() + b"\x99garbage")
    assert info.value.description == "decode_error"
    assert server.messages[:2] == ["C:client_hello", "S:server_hello"]


def test_no_signature_scheme_for_the_server_key(servers):
    _, _, link = run(ClientConfig(sig_schemes=[0x0403],
                                  ciphers=["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]),
                     servers["RSA"])
    expect_alert(link, "server", "handshake_failure")


def test_bit_flip_in_server_finished_record(servers):
    def flip_finished(data, _done=[]):
        recs = split_records(data)
        if not _done and recs[-1][0] == 22 and any(r[0] == 20 for r in recs):
            _done.append(1)
            return flip_in_record(data, -1, 3)
        return data

    link = connect(ClientConnection(ClientConfig()), ServerConnection(servers["ECDSA"]),
                   tamper_s2c=flip_finished)
    expect_alert(link, "client", "bad_record_mac")


def test_malformed_user_client_hello_is_sent_as_is(servers):
    client = ClientConnection(ClientConfig(client_hello=b"\x03\x03" + b"\x01" * 10))
    client.start()
    assert client.data_to_send() == b"\x16\x03\x01\x00\x10\x01\x00\x00\x0c\x03\x03" + b"\x01" * 10
    server = ServerConnection(servers["RSA"])
    with pytest.raises(TLSError) as info:
        server.receive_data(b"\x16\x03\x01\x00\x10\x01\x00\x00\x0c\x03\x03" + b"\x01" * 10)
    assert info.value.description == "decode_error"


def test_fallback_scsv_is_refused(servers):
    from scapy_tls_hs.codec.messages import ClientHello
    proto = ClientConnection(ClientConfig(versions=["1.0", "1.1"]))
    proto.start()
    hello = ClientHello.parse(proto.data_to_send()[9:])
    hello.cipher_suites.append(0x5600)         # RFC 7507: "I fell back from a higher version"
    _, _, link = run(ClientConfig(client_hello=hello), servers["RSA"])
    expect_alert(link, "server", "inappropriate_fallback")


def test_early_change_cipher_spec_is_refused(servers):
    """CVE-2014-0224: a ChangeCipherSpec before the keys exist is unexpected."""
    client = ClientConnection(ClientConfig())
    server = ServerConnection(servers["RSA"])
    client.start()
    server.receive_data(client.data_to_send())
    with pytest.raises(TLSError) as info:
        server.receive_data(b"\x14\x03\x03\x00\x01\x01")
    assert info.value.description == "unexpected_message"
    with pytest.raises(TLSError) as info:
        client.receive_data(b"\x14\x03\x03\x00\x01\x01")     # before ServerHello
    assert info.value.description == "unexpected_message"


# ---- RFC 5246 and extension alerts for malformed ClientHello extensions (TLS 1.2 server)

def _hello_with(ext_type, data):
    """A client whose ClientHello carries ``data`` as extension ``ext_type`` (replacing the
    one it would send, else added)."""
    from scapy_tls_hs.codec.messages import Extension

    def change(hello):
        hello.extensions = [e for e in hello.extensions if e.type != ext_type]
        hello.extensions.insert(0, Extension(ext_type, data))
    client = ClientConnection(ClientConfig(versions=["1.2"]))
    client.tamper = client_hello_tamper(change)
    return client


@pytest.mark.parametrize("ext_type,data,alert", [
    (0, b"", "decode_error"),                                   # empty server_name
    (0, b"\x00\x00", "decode_error"),                           # empty ServerNameList
    (0, b"\x00\x03\x00\x00\x00", "decode_error"),               # empty host_name
    (0, b"\x00\x0a\x00\x00\x07a.b\x00c.d", "illegal_parameter"),   # NUL in the host name
    (0, b"\x00\x0a\x00\x00\x07a.b\x07c.d", "illegal_parameter"),   # BEL
    (0, b"\x00\x0a" + b"\x00\x00\x02ab" + b"\x00\x00\x02cd", "illegal_parameter"),  # 2 names
    (13, b"\x00\x00", "decode_error"),                          # empty signature_algorithms
    (16, b"\x00\x00", "decode_error"),                          # empty ALPN list
    (16, b"", "decode_error"),                                  # empty ALPN extension
    (16, b"\x00\x04\x02h2\x00", "decode_error"),                # empty protocol name
    (16, b"\x00\x05\x02h2", "decode_error"),                    # list overflows
    (11, b"\x00", "decode_error"),                              # empty ec_point_formats
    (11, b"\x01\x01", "illegal_parameter"),                     # no uncompressed point
    (23, b"\x00", "decode_error"),                              # non-empty EMS
])
def test_malformed_client_extension(servers, ext_type, data, alert):
    link = connect(_hello_with(ext_type, data), ServerConnection(servers["RSA"]))
    expect_alert(link, "server", alert)


def test_alpn_checked_without_alpn_configured(servers):
    # The server that offers no protocol still refuses a malformed list (as OpenSSL does).
    assert not servers["RSA"].alpn
    link = connect(_hello_with(16, b"\x00\x00"), ServerConnection(servers["RSA"]))
    expect_alert(link, "server", "decode_error")


def test_valid_client_extensions_still_accepted(servers):
    # Other name types next to a DNS host name, and compressed point formats beside
    # uncompressed, are fine.
    for ext_type, data in ((0, b"\x00\x0e\x01\x00\x03\x00\x01\x02\x00\x00\x05a.b-c"),
                           (11, b"\x02\x01\x00")):
        link = connect(_hello_with(ext_type, data), ServerConnection(servers["RSA"]))
        assert_ok(link)


def _rsa_cke(change):
    client = ClientConnection(ClientConfig(ciphers=["TLS_RSA_WITH_AES_128_CBC_SHA"]))
    client.tamper = lambda t, body: change(body) if t == 16 else None
    return client


@pytest.mark.parametrize("change", [lambda b: b[:-1], lambda b: b + b"\x00",
                                    lambda b: b[2:]])
def test_rsa_client_key_exchange_length_mismatch(servers, change):
    """A truncated, padded or SSL 3.0-style (no length) encrypted pre-master: decode_error
    at once, not a wait for a Finished that cannot come (tlsfuzzer
    test-truncating-of-kRSA-client-key-exchange)."""
    link = connect(_rsa_cke(change), ServerConnection(servers["RSA"]))
    expect_alert(link, "server", "decode_error")


def _client_after_hello(servers):
    client = ClientConnection(ClientConfig(versions=["1.2"]))
    server = ServerConnection(servers["RSA"])
    client.start()
    server.receive_data(client.data_to_send())
    server.data_to_send()
    return server


def test_four_warnings_in_a_handshake_are_ignored(servers):
    server = _client_after_hello(servers)
    evs = server.receive_data(b"\x15\x03\x03\x00\x02\x01\x2b" * 4)
    assert [e.description for e in evs] == ["unsupported_certificate"] * 4
    assert not server.closed


def test_fifth_warning_in_a_handshake_is_fatal(servers):
    """CVE-2016-8610: OpenSSL's limit (tlsfuzzer test-ssl-death-alert)."""
    server = _client_after_hello(servers)
    with pytest.raises(TLSError) as info:
        server.receive_data(b"\x15\x03\x03\x00\x02\x01\x2b" * 5)
    assert info.value.description == "unexpected_message"
    assert server.data_to_send()[-2:] == b"\x02\x0a"
    assert server.closed


def test_warnings_after_the_handshake_do_not_add_up(servers):
    client, server, link = run(ClientConfig(), servers["RSA"])
    for _ in range(6):
        server._send_alert(1, "user_canceled")
        client.receive_data(server.data_to_send())
    assert client.state == states.CONNECTED


@pytest.mark.parametrize("length", [16384 + 2048 + 1, 0xFFFF])
def test_record_longer_than_allowed_is_record_overflow(servers, length):
    """RFC 5246 section 6.2.3: record_overflow, also for the records before it in the
    same read (they are processed first)."""
    client = ClientConnection(ClientConfig(versions=["1.2"]))
    client.start()
    server = ServerConnection(servers["RSA"])
    with pytest.raises(TLSError) as info:
        server.receive_data(client.data_to_send() + b"\x16\x03\x03" + length.to_bytes(2, "big"))
    assert info.value.description == "record_overflow"
    assert "C:client_hello" in server.messages
    assert server.data_to_send()[-2:] == b"\x02\x16"


def test_empty_certificate_entry_is_decode_error(pki):
    """tlsfuzzer test-certificate-malformed: a client Certificate whose list holds an empty
    entry (alone or after a good certificate) is decode_error, not bad_certificate."""
    server_cfg = ServerConfig12(pki.rsa_cert, pki.rsa_key, client_auth="optional",
                                cafile=pki.ca_cert)
    for body in (b"\x00\x00\x03\x00\x00\x00", None):
        client = ClientConnection(ClientConfig(cert_chain=pki.client_rsa_cert,
                                               private_key=pki.client_rsa_key))

        def tamper(msg_type, data, body=body):
            if msg_type != 11:
                return None
            return body if body is not None else (
                (int.from_bytes(data[:3], "big") + 3).to_bytes(3, "big") + data[3:] + bytes(3))
        client.tamper = tamper
        link = connect(client, ServerConnection(server_cfg))
        expect_alert(link, "server", "decode_error")


def test_certificate_verify_scheme_of_another_key_type(pki):
    """An ECDSA client that labels its CertificateVerify rsa_pkcs1_sha256 (a scheme we
    requested, for another key type): illegal_parameter, not decrypt_error."""
    server_cfg = ServerConfig12(pki.rsa_cert, pki.rsa_key, client_auth="optional",
                                cafile=pki.ca_cert)
    client = ClientConnection(ClientConfig(versions=["1.2"], cert_chain=pki.client_ecdsa_cert,
                                           private_key=pki.client_ecdsa_key))
    client.tamper = lambda t, body: b"\x04\x01" + body[2:] if t == 15 else None
    link = connect(client, ServerConnection(server_cfg))
    expect_alert(link, "server", "illegal_parameter")


def test_signature_algorithms_cert_alone_is_handshake_failure(servers):
    """tlsfuzzer test-sig-algs-renegotiation-resumption "without signature_algorithms ext":
    signature_algorithms_cert but no signature_algorithms in a TLS 1.2 hello."""
    client = ClientConnection(ClientConfig(versions=["1.2"]))
    client.tamper = client_hello_tamper(only_signature_algorithms_cert)
    link = connect(client, ServerConnection(servers["RSA"]))
    expect_alert(link, "server", "handshake_failure")
