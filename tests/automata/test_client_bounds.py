"""What one client run may take against a server that never stops sending: ``timeout``
bounds the whole run, ``max_receive`` ends the read, and the result keeps a bounded number of
records. The server is Python's ``ssl`` streaming 16 KB records without a pause."""
import contextlib
import os
import socket
import ssl
import subprocess
import sys
import threading

from scapy_tls_hs.automata.client import MAX_RECEIVED, TLSClientAutomaton
from scapy_tls_hs.automata.stream import EventBound


@contextlib.contextmanager
def endless_server(pki):
    """A TLS 1.2 server that answers any request with 16 KB records until the client goes."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(pki.rsa_cert, pki.rsa_key)
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(4)
    lsock.settimeout(30)
    stop = threading.Event()

    def serve():
        try:
            raw, _ = lsock.accept()
        except OSError:
            return
        raw.settimeout(10)
        try:
            with ctx.wrap_socket(raw, server_side=True) as s:
                s.recv(65536)
                chunk = b"x" * 16384
                while not stop.is_set():
                    s.sendall(chunk)
        except (OSError, ssl.SSLError):
            pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        yield lsock.getsockname()[1]
    finally:
        stop.set()
        lsock.close()
        t.join(15)


def test_timeout_bounds_an_answer_that_never_ends(pki):
    with endless_server(pki) as port:
        result = TLSClientAutomaton("127.0.0.1", port, data=b"GET / HTTP/1.1\r\n\r\n",
                                    timeout=2.0, max_receive=1 << 30).run()
    assert result.handshake_complete
    assert any(e.startswith("timeout: the server was still sending after 2s")
               for e in result.errors), result.errors
    assert len(result.received_bytes) > MAX_RECEIVED      # it did read for a while
    bound = EventBound()
    assert len(result.events) <= bound.max_data + bound.max_other
    assert len(result.messages) <= bound.max_data + bound.max_other
    assert result.messages_dropped > 0


def test_max_receive_ends_the_read(pki):
    with endless_server(pki) as port:
        result = TLSClientAutomaton("127.0.0.1", port, data=b"GET / HTTP/1.1\r\n\r\n",
                                    timeout=20.0, max_receive=100000).run()
    assert result.handshake_complete
    assert result.errors == ["received more than 100000 bytes (max_receive): read stopped"]
    assert result.received_bytes == b"x" * 100000
    assert "C:alert:close_notify" in result.messages


def test_cli_max_receive(pki):
    with endless_server(pki) as port:
        proc = subprocess.run(
            [sys.executable, "-m", "scapy_tls_hs", "client", "127.0.0.1", str(port),
             "--tls", "1.2", "--send", "GET / HTTP/1.1\\r\\n\\r\\n", "--max-receive", "5000",
             "--timeout", "20"],
            capture_output=True, text=True, timeout=60,
            cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert proc.returncode == 1
    assert proc.stderr.strip() == ("scapy-tls-hs client: received more than 5000 bytes "
                                   "(max_receive): read stopped")
