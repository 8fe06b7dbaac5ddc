"""The listener under pressure: slow clients holding every worker do not lock good clients
out, and many clients keep completing their handshakes beside hostile connections."""
import socket
import threading
import time

import pytest

from scapy_tls_hs.automata.listener import TLSListener
from tests.peers import clients

SLOW = 64


def _client_hello():
    from scapy_tls_hs.connection.client import ClientConnection
    from scapy_tls_hs.connection.config import ClientConfig
    conn = ClientConnection(ClientConfig(versions=(0x0303,)))
    conn.start()
    return conn.data_to_send()


def _slow_after_handshake(port):
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    s = clients.python_context().wrap_socket(raw, server_hostname="localhost")
    s.sendall(b"GET / HTTP/1.1\r\n")
    return s


def _slow_in_handshake(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"\x16")
    return s


@pytest.mark.parametrize("phase", ["after-handshake", "in-handshake"])
def test_slow_clients_do_not_lock_good_clients_out(pki, phase):
    """64 clients sending one byte every 2 s hold all 64 workers (the default); good clients
    are still served, well before the slow ones' timeout (10 s, the default) frees a worker:
    each new client makes the longest idle connection give its worker up."""
    with TLSListener("127.0.0.1", 0, cert=pki.rsa_cert, key=pki.rsa_key) as server:
        hello = _client_hello()
        opener = _slow_after_handshake if phase == "after-handshake" else _slow_in_handshake
        slow = [opener(server.port) for _ in range(SLOW)]
        stop = threading.Event()

        def trickle():
            i = 0
            while not stop.wait(2.0 / SLOW):      # one byte per client every 2 s, staggered
                s = slow[i % SLOW]
                i += 1
                try:
                    s.sendall(b"X" if phase == "after-handshake"
                              else hello[1 + i // SLOW:2 + i // SLOW])
                except OSError:
                    pass

        t = threading.Thread(target=trickle, daemon=True)
        t.start()
        try:
            time.sleep(2.5)             # every slow client holds a worker by now
            results = [clients.python_client(server.port, timeout=6) for _ in range(8)]
        finally:
            stop.set()
            t.join(5)
            for s in slow:
                s.close()
        assert [r.error for r in results] == [None] * 8
        assert all(r.received.startswith(b"HTTP/1.1 200 OK") for r in results)
        # One worker given up is enough for clients that come one after the other.
        assert server.evicted >= 1
        assert server.wait_for_results(SLOW + 8, timeout=30)
        reports = list(server.results)
    evicted = [r for r in reports if any("closed by the server: idle" in e
                                         for e in r["errors"])]
    assert len(evicted) == server.evicted


def test_many_clients_beside_hostile_connections(pki):
    """Clients x handshakes with no failure while idle, half-sent, garbage, flooding and
    resetting connections come and go beside them."""
    hello = _client_hello()
    with TLSListener("127.0.0.1", 0, cert=pki.rsa_cert, key=pki.rsa_key,
                     timeout=1.5) as server:
        stop = threading.Event()
        failures = []

        def hostile(kind):
            while not stop.is_set():
                try:
                    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
                        if kind == "idle":
                            stop.wait(2.0)
                        elif kind == "half-sent":
                            s.sendall(hello[:len(hello) // 2])
                            stop.wait(2.0)
                        elif kind == "garbage":
                            s.sendall(b"\x16\x03\x01\x00\x05hello")
                            s.recv(100)
                        elif kind == "flood":
                            for _ in range(64):
                                s.sendall(b"\x17\x03\x03\x40\x00" + bytes(16384))
                        elif kind == "reset":
                            s.sendall(hello)
                            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                         b"\x01\x00\x00\x00\x00\x00\x00\x00")
                except OSError:
                    pass

        def good(n):
            for _ in range(n):
                r = clients.python_client(server.port, timeout=10)
                if r.error is not None or not r.received.startswith(b"HTTP/1.1 200 OK"):
                    failures.append(r.error)

        bad = [threading.Thread(target=hostile, args=(k,), daemon=True)
               for k in ("idle", "half-sent", "garbage", "flood", "reset")]
        goods = [threading.Thread(target=good, args=(5,)) for _ in range(8)]
        for t in bad + goods:
            t.start()
        for t in goods:
            t.join(120)
        stop.set()
        for t in bad:
            t.join(10)
    assert failures == []
