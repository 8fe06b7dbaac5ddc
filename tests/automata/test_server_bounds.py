"""What one server connection may take, whatever its client does: memory that does not grow
with the traffic (records are consumed, not kept), an HTTP request head scanned once and
bounded, a total time budget, a request head due and a minimum rate after the handshake."""
import socket
import threading
import time

import pytest

from scapy_tls_hs.automata.listener import TLSListener
from scapy_tls_hs.automata.server import MAX_REPORTED, RequestHead, TLSServerAutomaton
from scapy_tls_hs.automata.stream import EventBound
from tests.peers import clients


def _connect(port, timeout=10):
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return clients.python_context().wrap_socket(raw, server_hostname="localhost")


def _last_report(server, count):
    assert server.wait_for_results(count, timeout=30), server.results
    return server.results[count - 1]


def test_echo_stream_keeps_no_records(pki):
    """20 MB streamed through an echo connection: the report counts it all, the core's
    record lists stay bounded, the received sample is capped."""
    box = {}
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)

    def run():
        atmt = TLSServerAutomaton(cert=pki.rsa_cert, key=pki.rsa_key, listen_socket=lsock,
                                  echo=True)
        box["report"] = atmt.run()
        box["atmt"] = atmt

    t = threading.Thread(target=run, daemon=True)
    t.start()
    chunk = b"z" * 16384
    total = 20 << 20
    with _connect(lsock.getsockname()[1]) as s:
        # One thread (an SSL socket is not for two at once): read the echo back whenever
        # more than 256 KB are on their way.
        sent = echoed = 0
        while sent < total:
            s.sendall(chunk)
            sent += len(chunk)
            while sent - echoed > (256 << 10) or (sent == total and echoed < total):
                data = s.recv(65536)
                assert data
                echoed += len(data)
        s.unwrap()
    t.join(30)
    lsock.close()
    report, atmt = box["report"], box["atmt"]
    assert report["errors"] == [] and report["handshake_complete"]
    assert report["bytes_received"] > total
    assert len(report["received"]) == MAX_REPORTED
    bound = EventBound()
    assert len(atmt.conn.events) <= bound.max_data + bound.max_other
    assert len(report["messages"]) <= bound.max_data + bound.max_other
    # Each 16 KB record is one C: and one S: application_data entry: ~2,560 not listed.
    assert report["messages_dropped"] > 2000
    assert report["messages"][-2:] == ["C:alert:close_notify", "S:alert:close_notify"]


def test_event_bound_keeps_the_handshake_and_the_first_records():
    class Conn:
        events = []
        messages = []

    class ApplicationData:
        pass

    conn = Conn()
    bound = EventBound(max_data=2, max_other=3)
    conn.messages += ["C:client_hello", "S:server_hello"]
    conn.events += ["hello", "hello"]
    bound.trim(conn)
    for _ in range(5):
        conn.messages.append("C:application_data")
        conn.events.append(ApplicationData())
        bound.trim(conn)
    conn.messages += ["C:alert:close_notify", "S:alert:close_notify"]
    bound.trim(conn)
    assert conn.messages == ["C:client_hello", "S:server_hello", "C:application_data",
                             "C:application_data", "C:alert:close_notify"]
    assert len(conn.events) == 4 and bound.dropped == 4


@pytest.mark.parametrize("pieces,complete", [
    ([b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"], True),
    ([b"GET / HTTP/1.1\r\nHost: x\r\n", b"\r\n"], True),
    ([b"GET / HTTP/1.1\r\nHost: x\r", b"\n\r", b"\n"], True),     # blank line split in three
    ([b"GE", b"T / HTTP/1.1\n", b"\n"], True),
    ([b"GET / HTTP/1.1\r\n", b"Host: x\r\n"], False),
    ([b"ping"], True),
])
def test_request_head_across_arrivals(pieces, complete):
    head = RequestHead()
    results = [head.feed(p) for p in pieces]
    assert results[-1] == complete and not any(results[:-1])


def test_request_head_is_scanned_once_and_bounded():
    head = RequestHead(limit=1000)
    assert not head.feed(b"GET / HTTP/1.1\r\n")
    for _ in range(9):
        assert not head.feed(b"X-Filler: " + b"a" * 88 + b"\r\n")
        assert len(head.tail) <= 3            # nothing of the head is kept
    assert not head.too_large
    assert not head.feed(b"a" * 100) and head.too_large


def test_endless_request_head_gets_431(pki):
    with TLSListener("127.0.0.1", 0, cert=pki.rsa_cert, key=pki.rsa_key) as server:
        with _connect(server.port) as s:
            s.sendall(b"GET / HTTP/1.1\r\n")
            answer = b""
            try:
                for _ in range(100):           # 100 KB, never the blank line
                    s.sendall(b"X-Filler: " + b"a" * 1000 + b"\r\n")
            except OSError:                    # closed by the server while we sent
                pass
            try:
                while True:
                    data = s.recv(65536)
                    if not data:
                        break
                    answer += data
            except OSError:
                pass
        report = _last_report(server, 1)
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert any("larger than" in e for e in report["errors"]), report


def _trickle(sock, data, every, stop_after=30.0):
    """Send ``data`` one piece every ``every`` seconds until the server closes."""
    deadline = time.monotonic() + stop_after
    try:
        while time.monotonic() < deadline:
            sock.sendall(data)
            time.sleep(every)
    except OSError:
        return True
    return False


def test_request_head_must_be_complete_in_time(pki):
    with TLSListener("127.0.0.1", 0, cert=pki.rsa_cert, key=pki.rsa_key,
                     timeout=1.0) as server:
        with _connect(server.port) as s:
            s.sendall(b"GET / HTTP/1.1\r\n")
            _trickle(s, b"X", 0.2)            # never idle for the timeout
        report = _last_report(server, 1)
    assert any("HTTP request head not complete" in e for e in report["errors"]), report


def test_too_slow_after_the_handshake(pki):
    with TLSListener("127.0.0.1", 0, cert=pki.rsa_cert, key=pki.rsa_key, echo=True,
                     timeout=1.0, min_rate=20) as server:
        with _connect(server.port) as s:
            s.settimeout(0.01)
            _trickle(s, b"X", 0.2)
        report = _last_report(server, 1)
    assert any(e.startswith("too slow:") for e in report["errors"]), report


def test_lifetime_bounds_a_client_that_never_pauses(pki):
    """A client sending a record every millisecond re-enters APP_DATA each time (which re-arms
    its timer): the lifetime still ends it, long before its request head reaches the limit."""
    with TLSListener("127.0.0.1", 0, cert=pki.rsa_cert, key=pki.rsa_key, timeout=5.0,
                     lifetime=0.5) as server:
        with _connect(server.port, timeout=30) as s:
            s.sendall(b"GET / HTTP/1.1\r\n")
            closed = _trickle(s, b"X" * 20, 0.001)
        report = _last_report(server, 1)
    assert closed
    assert any("lifetime" in e for e in report["errors"]), report["errors"]
