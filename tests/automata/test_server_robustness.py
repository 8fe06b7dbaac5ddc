"""Hostile, broken and many clients: each gets the right alert (or a timeout) and nobody else
is disturbed. One in-process listener with a short read timeout serves the whole module."""
import socket
import threading
import time

import pytest

from scapy_tls_hs.automata.listener import TLSListener
from tests.peers import clients

TIMEOUT = 1.5


@pytest.fixture(scope="module")
def server(pki):
    with TLSListener("127.0.0.1", 0, cert=pki.rsa_cert, key=pki.rsa_key, timeout=TIMEOUT,
                     max_workers=32) as listener:
        yield listener


def _report_for(server, local_port, timeout=10.0):
    """The server's report for the connection that came from ``local_port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for r in list(server.results):
            if r.get("client") == "127.0.0.1:%d" % local_port:
                return r
        server.wait_for_results(len(server.results) + 1, timeout=0.2)
    raise AssertionError("no report for the connection from port %d" % local_port)


def _good_client(server):
    res = clients.python_client(server.port)
    assert res.error is None, res.error
    assert res.received.startswith(b"HTTP/1.1 200 OK")
    return res


@pytest.mark.parametrize("garbage,alert", [
    # A handshake record whose ClientHello is five bytes of nonsense.
    (b"\x16\x03\x01\x00\x05hello", "decode_error"),
    # A handshake record holding a complete handshake header of an unknown message type.
    (b"\x16\x03\x01\x00\x04\x63\x00\x00\x00", "unexpected_message"),
    # Not TLS at all: a plaintext HTTP request on the TLS port.
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "decode_error"),
    # Application data before any handshake.
    (b"\x17\x03\x03\x00\x03abc", "unexpected_message"),
], ids=["bad-client-hello", "unknown-message", "plain-http", "early-app-data"])
def test_garbage_gets_fatal_alert(server, garbage, alert):
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(garbage)
        alerts = clients.read_alerts(s)
        local = s.getsockname()[1]
    assert alerts == [(2, alert)]
    report = _report_for(server, local)
    assert not report["handshake_complete"]
    assert any(e.startswith("sent alert " + alert) for e in report["errors"]), report
    _good_client(server)


def test_stalled_and_silent_clients_time_out_while_others_are_served(server):
    hello = _client_hello_bytes()
    stalled = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    silent = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        stalled.sendall(hello[:len(hello) // 2])      # stops in the middle of its ClientHello
        # While both hang, other clients are served.
        for _ in range(3):
            _good_client(server)
        start = time.monotonic()
        assert clients.read_alerts(stalled, timeout=10) == []     # closed, no alert
        assert clients.read_alerts(silent, timeout=10) == []
        assert time.monotonic() - start < 10      # closed by the server, not by our timeout
        for sock in (stalled, silent):
            report = _report_for(server, sock.getsockname()[1])
            assert any("timeout" in e for e in report["errors"]), report
    finally:
        stalled.close()
        silent.close()


@pytest.mark.parametrize("record,alert", [
    # A CertificateRequest (a server's message) where ClientKeyExchange is due.
    (b"\x16\x03\x03\x00\x08\x0d\x00\x00\x04\x01\x01\x00\x00", "unexpected_message"),
    # A ClientKeyExchange whose ECDH point is cut short: its own length says 65, 3 follow.
    (b"\x16\x03\x03\x00\x08\x10\x00\x00\x04\x41\x04\x01\x02", "decode_error"),
], ids=["unexpected", "malformed"])
def test_bad_message_mid_handshake(server, record, alert):
    """After a good ClientHello and the server's flight, a wrong or malformed message."""
    hello = _client_hello_bytes()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(hello)
        flight = b""
        while not flight.endswith(b"\x0e\x00\x00\x00"):       # ServerHelloDone
            chunk = s.recv(65536)
            assert chunk, "server closed"
            flight += chunk
        s.sendall(record)
        alerts = clients.read_alerts(s)
        local = s.getsockname()[1]
    assert alerts == [(2, alert)]
    report = _report_for(server, local)
    assert report["messages"][-1] == "S:alert:" + alert
    _good_client(server)


def test_trickling_client_is_cut_off(server):
    """One byte of ClientHello every 0.1 s would take far longer than the handshake timeout:
    the timeout bounds the whole handshake, not each read."""
    hello = _client_hello_bytes()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        local = s.getsockname()[1]
        sent = 0
        try:
            for byte in hello:
                s.sendall(bytes((byte,)))
                sent += 1
                time.sleep(0.1)
        except OSError:          # reset or broken pipe: the server closed the connection
            pass
        assert clients.read_alerts(s, timeout=5) == []
    assert sent < len(hello)
    report = _report_for(server, local)
    assert any("timeout" in e for e in report["errors"]), report


def test_client_leaving_mid_handshake(server):
    """EOF in the middle of the handshake: the server drops the connection and serves on."""
    hello = _client_hello_bytes()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(hello)
        s.recv(1)         # the server answered; now vanish
        local = s.getsockname()[1]
    report = _report_for(server, local)
    assert "S:server_hello" in report["messages"] and not report["handshake_complete"]
    assert any("closed" in e for e in report["errors"]), report
    _good_client(server)


def test_bad_finished_gets_decrypt_error(server):
    conn, err = clients.core_client(
        server.port, tamper=lambda t, body: bytes(12) if t == 20 else None,
        ciphers=["ECDHE-RSA-AES128-GCM-SHA256"], versions=(0x0303,))
    assert err is not None and err.received and err.description == "decrypt_error"
    assert not conn.handshake_complete
    _good_client(server)


def test_bad_record_mac(server):
    conn, err = clients.core_client(server.port, corrupt_last_record=True,
                                    ciphers=["ECDHE-RSA-AES256-SHA384"], versions=(0x0303,))
    assert err is not None and err.received and err.description == "bad_record_mac"
    _good_client(server)


def test_core_client_completes(server):
    """The same driver without tampering completes: the failures above are the tampering."""
    conn, err = clients.core_client(server.port, ciphers=["ECDHE-RSA-AES128-GCM-SHA256"],
                                    data=b"GET / HTTP/1.0\r\n\r\n")
    assert err is None and conn.handshake_complete


def test_twenty_clients_at_once(server):
    n = 20
    before = len(server.results)
    results = [None] * n
    barrier = threading.Barrier(n)

    def one(i):
        barrier.wait()
        results[i] = clients.python_client(server.port, timeout=20)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(r is not None and r.error is None for r in results), \
        [r.error for r in results if r is not None]
    assert all(r.received.startswith(b"HTTP/1.1 200 OK") for r in results)
    assert server.wait_for_results(before + n)
    assert sum(r["handshake_complete"] for r in server.results[before:]) >= n


def test_port_probe_is_not_a_connection(server):
    probe = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    probe_port = probe.getsockname()[1]
    probe.close()
    res = _good_client(server)
    assert res.session is not None
    time.sleep(0.2)           # room for a (wrong) report of the probe to arrive
    assert not [r for r in server.results if r.get("client") == "127.0.0.1:%d" % probe_port]


def _client_hello_bytes():
    from scapy_tls_hs.connection.client import ClientConnection
    from scapy_tls_hs.connection.config import ClientConfig
    # TLS 1.2: the tests follow its flights (ServerHelloDone, a plaintext client flight).
    conn = ClientConnection(ClientConfig(versions=(0x0303,)))
    conn.start()
    return conn.data_to_send()


def test_hostile_mix_while_good_clients_are_served(server):
    """Garbage, a stalled handshake and a bad Finished at the same time as good clients."""
    hello = _client_hello_bytes()
    outcome = {}

    def garbage():
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.sendall(b"\x16\x03\x01\x00\x05hello")
            outcome["garbage"] = clients.read_alerts(s)

    def stalled():
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.sendall(hello[:20])
            outcome["stalled"] = clients.read_alerts(s)

    def bad_finished():
        _, err = clients.core_client(server.port, versions=(0x0303,),
                                     tamper=lambda t, b: bytes(12) if t == 20 else None)
        outcome["bad_finished"] = err.description if err is not None else None

    def good(i):
        outcome["good%d" % i] = clients.python_client(server.port).error

    threads = [threading.Thread(target=f) for f in (garbage, stalled, bad_finished)]
    threads += [threading.Thread(target=good, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert outcome["garbage"] == [(2, "decode_error")]
    assert outcome["stalled"] == []                      # timed out and closed, no alert
    assert outcome["bad_finished"] == "decrypt_error"
    assert all(outcome["good%d" % i] is None for i in range(8)), outcome


def test_close_notify_in_the_middle_of_the_handshake(server):
    hello = _client_hello_bytes()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(hello)
        s.recv(65536)
        s.sendall(b"\x15\x03\x03\x00\x02\x01\x00")     # warning close_notify, in clear
        alerts = clients.read_alerts(s)
        local = s.getsockname()[1]
    assert alerts[-1:] == [(1, "close_notify")]
    report = _report_for(server, local)
    assert not report["handshake_complete"]
    assert "C:alert:close_notify" in report["messages"]
    assert any("close_notify during the handshake" in e for e in report["errors"]), report


def test_busy_workers_make_room_for_a_new_client(pki):
    """With every worker held by a silent client, a new client is not locked out: the serving
    thread sees it waiting in the accept queue and ends the connection idle the longest."""
    with TLSListener("127.0.0.1", 0, cert=pki.rsa_cert, key=pki.rsa_key, timeout=5.0,
                     max_workers=2) as small:
        silent = [socket.create_connection(("127.0.0.1", small.port), timeout=10)
                  for _ in range(2)]
        try:
            for s in silent:
                s.sendall(b"\x16")             # not a probe: one byte, then silence
            res = clients.python_client(small.port, timeout=20)
            assert res.error is None, res.error
            assert small.wait_for_results(2)
            reports = list(small.results)
            good = [r for r in reports if r["handshake_complete"]]
            evicted = [r for r in reports if any("closed by the server: idle" in e
                                                 for e in r["errors"])]
            assert len(good) == 1 and len(evicted) == 1, reports
            assert small.evicted == 1
            # The other silent client still has its worker until its own timeout.
            assert small.wait_for_results(3)
            assert any("timeout" in e for e in small.results[2]["errors"]), small.results
        finally:
            for s in silent:
                s.close()
