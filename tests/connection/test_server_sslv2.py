"""The server and an SSL 2.0-format ClientHello (RFC 5246 appendix E.2), in memory.

Our client speaks TLS only, so its first flight is rewritten into the SSL 2.0 format on the way
and its transcript made to start from that body (what a real SSL 2.0-compatible client hashes):
the handshake then only completes when the server hashed the same bytes.
"""
import pytest

from scapy_tls_hs.codec.messages import ClientHello
from scapy_tls_hs.codec.sslv2 import SSLv2ClientHello
from scapy_tls_hs.connection import ClientConfig, ClientConnection, ServerConnection
from scapy_tls_hs.crypto.prf import Transcript
from scapy_tls_hs.errors import AlertError
from tests.connection.pump import (Link, assert_ok, exchange_and_close, servers,  # noqa: F401
                                   split_records)


def _v2_of(client):
    """The SSL 2.0 form of the client's ClientHello (no extensions: there are none in it)."""
    (ct, _, frag), = split_records(client.data_to_send())
    assert ct == 22 and frag[0] == 1
    ch = ClientHello.parse(frag[4:])
    return SSLv2ClientHello(ch.version, [0x010080] + ch.cipher_suites, b"", ch.random)


def _start(cfg, server_cfg):
    client = ClientConnection(cfg)
    server = ServerConnection(server_cfg)
    client.start()
    v2 = _v2_of(client)
    client.transcript = Transcript()
    client.transcript.update(v2.encode())
    return client, server, v2


@pytest.mark.parametrize("suite,version", [
    ("TLS_RSA_WITH_AES_128_CBC_SHA", "1.2"),
    ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "1.2"),
    ("TLS_DHE_RSA_WITH_AES_128_CBC_SHA", "1.0"),
])
@pytest.mark.parametrize("chunk", [None, 1])
def test_full_handshake_from_an_sslv2_hello(servers, suite, version, chunk):
    client, server, v2 = _start(ClientConfig(ciphers=[suite], versions=[version]),
                                servers["RSA"])
    record = v2.record()
    pieces = [record] if chunk is None else [record[i:i + 1] for i in range(len(record))]
    for piece in pieces[:-1]:
        assert server.receive_data(piece) == []
        assert server.data_to_send() == b""
    server.receive_data(pieces[-1])
    link = Link(client, server)
    client.receive_data(server.data_to_send())
    link.pump()
    assert_ok(link)
    assert server.client_random == v2.random
    assert server.cipher_suite == suite
    assert server.messages[0] == "C:client_hello"
    exchange_and_close(link)


def test_short_challenge_is_right_aligned(servers):
    client, server, v2 = _start(ClientConfig(ciphers=["TLS_RSA_WITH_AES_128_CBC_SHA"],
                                             versions=["1.2"]), servers["RSA"])
    v2.challenge = v2.challenge[16:]
    client.client_random = bytes(16) + v2.challenge       # what the server will take
    client.transcript = Transcript()
    client.transcript.update(v2.encode())
    server.receive_data(v2.record())
    link = Link(client, server)
    client.receive_data(server.data_to_send())
    link.pump()
    assert_ok(link)
    assert server.client_random == bytes(16) + v2.challenge


def _refusal(server_cfg, data):
    server = ServerConnection(server_cfg)
    with pytest.raises(AlertError) as info:
        server.receive_data(data)
    out = server.data_to_send()
    assert out[:1] == b"\x15" and out[-2] == 2          # a fatal alert in a TLS record
    assert server.closed
    return info.value.description


@pytest.mark.parametrize("body", [b"", b"\x00", b"\x01", b"\x01\x03\x03",
                                  b"\x01\x03\x03\x00\x00\x00\x00\x00\x10" + bytes(16)])
def test_malformed_sslv2_hello_is_decode_error(servers, body):
    record = bytes((0x80, len(body))) + body
    assert _refusal(servers["RSA"], record + b"\x16\x03\x01") == "decode_error"


def test_real_sslv2_is_refused(servers):
    # An SSL 2.0 client (version 0.2, SSL 2.0 ciphers only) is told protocol_version.
    hello = SSLv2ClientHello(0x0002, [0x0700C0, 0x010080], b"", bytes(range(16)))
    assert _refusal(servers["RSA"], hello.record()) == "protocol_version"


def test_sslv2_hello_without_a_tls_suite(servers):
    hello = SSLv2ClientHello(0x0303, [0x0700C0, 0x010080], b"", bytes(range(16)))
    assert _refusal(servers["RSA"], hello.record()) == "handshake_failure"


def test_tls_record_later_is_not_sslv2(servers):
    # Only the first byte of the stream can start an SSL 2.0 hello.
    server = ServerConnection(servers["RSA"])
    assert server.receive_data(b"\x16") == []
    with pytest.raises(AlertError) as info:
        server.receive_data(b"\x83\x00\x00\x00")
    assert info.value.description != "protocol_version"


def test_sslv2_hello_over_tcp_to_the_listener(pki):
    """The server automaton over a real socket: the SSL 2.0 hello is sent in small pieces,
    the handshake completes and the request is answered."""
    import socket
    import time

    from scapy_tls_hs.automata.listener import TLSListener

    listener = TLSListener("127.0.0.1", 0, cert=pki.rsa_cert, key=pki.rsa_key,
                           versions=["1.2"], timeout=5.0)
    with listener.start():
        client = ClientConnection(ClientConfig(ciphers=["TLS_RSA_WITH_AES_128_GCM_SHA256"],
                                               versions=["1.2"]))
        client.start()
        v2 = _v2_of(client)
        client.transcript = Transcript()
        client.transcript.update(v2.encode())
        with socket.create_connection(("127.0.0.1", listener.port), timeout=10) as s:
            record = v2.record()
            s.sendall(record[:3])
            time.sleep(0.05)           # a separate segment: the server must wait for the rest
            s.sendall(record[3:])
            answer, asked = b"", False
            while not client.closed:
                chunk = s.recv(65536)
                if not chunk:
                    break
                for ev in client.receive_data(chunk):
                    if type(ev).__name__ == "ApplicationData":
                        answer += ev.data
                s.sendall(client.data_to_send())
                if client.handshake_complete and not asked:
                    client.send_application_data(b"GET / HTTP/1.0\r\n\r\n")
                    s.sendall(client.data_to_send())
                    asked = True
        assert listener.wait_for_results(1)
        report = listener.results[0]
    assert client.handshake_complete
    assert report["handshake_complete"] and not report["errors"]
    assert report["cipher_suite"] == "TLS_RSA_WITH_AES_128_GCM_SHA256"
    assert answer.startswith(b"HTTP/1.")


def test_high_bit_garbage_is_refused_at_once(servers):
    # A 32 KiB "SSL 2.0 record" of something else does not hold the connection open.
    assert _refusal(servers["RSA"], b"\xff\xff\x04\x03") == "decode_error"
