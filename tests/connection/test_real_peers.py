"""The sans-IO roles over a real socket against real TLS stacks (Python's ``ssl`` in a thread,
``openssl s_server``): a cheap check that the core speaks the same TLS as everyone else.
The automata tests run the full matrices."""
import shutil
import socket
import ssl
import threading

import pytest

from tests.connection.pump import ServerConfig12

from scapy_tls_hs.connection import (ApplicationData, ClientConfig, ClientConnection,
                                     ServerConfig, ServerConnection)
from tests.peers.process import Peer

TIMEOUT = 10


def drive(conn, sock, until):
    """Move bytes between ``conn`` and ``sock`` until ``until()``; returns app data read."""
    received = b""
    out = conn.data_to_send()
    if out:
        sock.sendall(out)
    while not until():
        data = sock.recv(65536)
        if not data:
            break
        for ev in conn.receive_data(data):
            if isinstance(ev, ApplicationData):
                received += ev.data
        out = conn.data_to_send()
        if out:
            sock.sendall(out)
    return received


def _python_server(pki, port, ready, result, version=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.rsa_cert, pki.rsa_key)
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    if version:
        ctx.minimum_version = ctx.maximum_version = version
    with socket.create_server(("127.0.0.1", port)) as srv:
        srv.settimeout(TIMEOUT)
        ready.set()
        for _ in range(2):
            conn, _ = srv.accept()
            conn.settimeout(TIMEOUT)
            with ctx.wrap_socket(conn, server_side=True) as tls:
                data = tls.recv(1024)
                tls.sendall(b"echo:" + data)
                result.append((tls.version(), tls.cipher()[0], tls.session_reused))
                try:
                    tls.unwrap()
                except (ssl.SSLError, OSError):
                    pass


@pytest.mark.parametrize("cipher", ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                                    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
                                    "TLS_RSA_WITH_AES_128_CBC_SHA256"])
def test_client_against_python_ssl_server(pki, free_port, cipher):
    port = free_port()
    ready, result = threading.Event(), []
    t = threading.Thread(target=_python_server, args=(pki, port, ready, result), daemon=True)
    t.start()
    assert ready.wait(TIMEOUT)
    session = None
    for attempt in range(2):
        conn = ClientConnection(ClientConfig(ciphers=[cipher], cafile=pki.ca_cert,
                                             sni="localhost", session=session))
        conn.start()
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
            drive(conn, sock, lambda: conn.handshake_complete)
            conn.send_application_data(b"hello")
            got = drive(conn, sock, lambda: conn.peer_closed)
            assert got == b"echo:hello"
            conn.close()
            sock.sendall(conn.data_to_send())
        session = conn.session
        assert conn.resumed == (attempt == 1)
    t.join(TIMEOUT)
    assert result[0][0] == "TLSv1.2" and not result[0][2]
    assert result[1][2]          # Python's own word: the session was reused


def _python_client(ctx, port, result, session=None):
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost", session=session) as tls:
            tls.sendall(b"ping")
            data = tls.recv(1024)
            result.append((data, tls.session, tls.session_reused, tls.cipher()[0]))


@pytest.mark.parametrize("kind", ["rsa", "ecdsa"])
def test_server_against_python_ssl_client(pki, free_port, kind):
    cfg = ServerConfig12(getattr(pki, "%s_cert" % kind), getattr(pki, "%s_key" % kind))
    port = free_port()
    result = []
    ctx = ssl.create_default_context(cafile=pki.ca_cert)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_server(("127.0.0.1", port)) as srv:
        srv.settimeout(TIMEOUT)
        session = None
        for attempt in range(2):
            t = threading.Thread(target=_python_client, args=(ctx, port, result, session),
                                 daemon=True)
            t.start()
            sock, _ = srv.accept()
            with sock:
                sock.settimeout(TIMEOUT)
                conn = ServerConnection(cfg)
                got = drive(conn, sock, lambda: conn.handshake_complete)
                if not got:
                    got = drive(conn, sock, lambda: False if not conn.events else
                                isinstance(conn.events[-1], ApplicationData))
                assert got == b"ping"
                conn.send_application_data(b"pong")
                conn.close()
                sock.sendall(conn.data_to_send())
            t.join(TIMEOUT)
            assert result[-1][0] == b"pong"
            assert conn.resumed == (attempt == 1) == result[-1][2]
            session = result[-1][1]


@pytest.mark.skipif(not shutil.which("openssl"), reason="openssl not installed")
@pytest.mark.parametrize("version,cipher", [
    ("1.2", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
    ("1.2", "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"),
    ("1.0", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"),
])
def test_client_against_openssl_s_server(pki, free_port, version, cipher):
    port = free_port()
    argv = ["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-4",
            "-cert", pki.rsa_cert, "-key", pki.rsa_key, "-www", "-cipher", "ALL:@SECLEVEL=0",
            "-tls1_2" if version == "1.2" else "-tls1"]
    with Peer(argv, port=port):
        conn = ClientConnection(ClientConfig(versions=[version], ciphers=[cipher],
                                             cafile=pki.ca_cert, sni="localhost"))
        conn.start()
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
            drive(conn, sock, lambda: conn.handshake_complete)
            conn.send_application_data(b"GET / HTTP/1.0\r\n\r\n")
            got = drive(conn, sock, lambda: conn.peer_closed)
    assert got.startswith(b"HTTP/1.0 200 ok")
    assert conn.suite.name.encode() in got or conn.suite.openssl_name.encode() in got


def _serve(cfg, srv, count, log):
    """Serve ``count`` connections one after the other: answer any data with a line."""
    for _ in range(count):
        try:
            sock, _ = srv.accept()
        except OSError:
            return
        with sock:
            sock.settimeout(TIMEOUT)
            conn = ServerConnection(cfg)
            try:
                while not conn.closed:
                    data = sock.recv(65536)
                    if not data:
                        break
                    for ev in conn.receive_data(data):
                        if isinstance(ev, ApplicationData) and not conn._close_sent:
                            conn.send_application_data(b"served\n")
                    out = conn.data_to_send()
                    if out:
                        sock.sendall(out)
            except Exception as exc:       # noqa: BLE001 - reported to the test
                log.append(exc)
                try:
                    sock.sendall(conn.data_to_send())
                except OSError:
                    pass
            log.append(conn)


@pytest.mark.skipif(not shutil.which("openssl"), reason="openssl not installed")
@pytest.mark.parametrize("ticket", [True, False])
def test_server_against_openssl_s_client_reconnect(pki, free_port, ticket):
    import subprocess
    cfg = ServerConfig12(pki.rsa_cert, pki.rsa_key, tickets=ticket)
    log = []
    with socket.create_server(("127.0.0.1", free_port())) as srv:
        srv.settimeout(TIMEOUT)
        port = srv.getsockname()[1]
        t = threading.Thread(target=_serve, args=(cfg, srv, 6, log), daemon=True)
        t.start()
        argv = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-tls1_2",
                "-reconnect", "-CAfile", pki.ca_cert, "-servername", "localhost"]
        if not ticket:
            argv.append("-no_ticket")
        out = subprocess.run(argv, input=b"", capture_output=True, timeout=TIMEOUT * 2).stdout
        t.join(TIMEOUT)
    text = out.decode(errors="replace")
    assert text.count("Reused, TLSv1.2") == 5, text
    conns = [c for c in log if isinstance(c, ServerConnection)]
    assert len(conns) == 6 and [c.resumed for c in conns] == [False] + [True] * 5
    assert ("S:new_session_ticket" in conns[1].messages) == ticket
