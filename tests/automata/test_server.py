"""The server automaton itself: its states, one connection served standalone, echo, keylog,
the report, and the small helpers."""
import socket
import threading

import pytest

from scapy_tls_hs.automata.server import (TLSServerAutomaton, _request_complete, http_response,
                                          server_config)
from tests.peers import clients


def test_states_and_transitions():
    graph = TLSServerAutomaton.build_graph()
    for edge in ("IDLE -> WAIT", "WAIT -> APP_DATA", "WAIT -> ERROR", "APP_DATA -> CLOSING",
                 "CLOSING -> CLOSED", "APP_DATA -> CLOSED"):
        src, dst = edge.split(" -> ")
        assert '"%s" -> "%s"' % (src, dst) in graph, edge
    assert {"IDLE", "WAIT", "APP_DATA", "CLOSING", "CLOSED", "ERROR"} <= \
        set(TLSServerAutomaton.states)


def _standalone(pki, port, **options):
    """Run one automaton in a thread; it accepts exactly one connection on ``port``."""
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", port))
    lsock.listen(1)
    box = {}

    def run():
        try:
            atmt = TLSServerAutomaton(cert=pki.rsa_cert, key=pki.rsa_key, listen_socket=lsock,
                                      **options)
            box["report"] = atmt.run()
            box["atmt"] = atmt
        finally:
            lsock.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, box


def test_standalone_run_returns_report(pki, free_port, tmp_path):
    port = free_port()
    keylog = tmp_path / "keys.log"
    client_keylog = tmp_path / "client.log"
    t, box = _standalone(pki, port, keylog=str(keylog))
    ctx = clients.python_context(cafile=pki.ca_cert)
    ctx.keylog_filename = str(client_keylog)
    res = clients.python_client(port, ctx)
    t.join(15)
    assert res.error is None, res.error
    report = box["report"]
    assert report["handshake_complete"] and report["version"] == "TLS 1.2"
    assert report["messages"][:2] == ["C:client_hello", "S:server_hello"]
    assert "S:finished" in report["messages"] and "C:finished" in report["messages"]
    assert report["received"].startswith("GET / ")
    assert report["client"].startswith("127.0.0.1:") and report["server"].endswith(":%d" % port)
    assert report["sni"] == "localhost" and report["errors"] == []
    assert len(report["session_id"]) == 64
    assert box["atmt"].session.master_secret
    line = keylog.read_text().strip()
    assert line == box["atmt"].conn.keylog_line() and line.startswith("CLIENT_RANDOM ")
    # The client's own key log (OpenSSL) has the same client random and master secret.
    assert line in client_keylog.read_text().splitlines()


def test_echo_mode(pki, free_port):
    port = free_port()
    t, box = _standalone(pki, port, echo=True)
    ctx = clients.python_context()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            for msg in (b"hello", b"world" * 1000):
                s.sendall(msg)
                got = b""
                while len(got) < len(msg):
                    got += s.recv(65536)
                assert got == msg
            s.unwrap()       # close_notify both ways
    t.join(15)
    report = box["report"]
    assert report["received"] == "hello" + "world" * 1000
    assert report["messages"][-2:] == ["C:alert:close_notify", "S:alert:close_notify"]
    assert report["errors"] == []


def test_custom_response_and_alpn(pki, free_port):
    port = free_port()
    t, box = _standalone(pki, port, response=b"pong", alpn=["x-test", "http/1.1"])
    ctx = clients.python_context()
    ctx.set_alpn_protocols(["http/1.1", "x-test"])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            assert s.selected_alpn_protocol() == "x-test"     # server preference
            s.sendall(b"ping")
            assert s.recv(100) == b"pong"
    t.join(15)
    assert box["report"]["alpn"] == "x-test"


def test_idle_client_after_handshake_is_closed(pki, free_port):
    port = free_port()
    t, box = _standalone(pki, port, timeout=0.5)
    ctx = clients.python_context()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            assert s.recv(100) == b""        # the server's close_notify after its timeout
    t.join(15)
    assert box["report"]["handshake_complete"]
    assert box["report"]["messages"][-1] == "S:alert:close_notify"


def test_bad_options_fail_at_run():
    with pytest.raises(ValueError):
        server_config(cert=None, key=None)


@pytest.mark.parametrize("data,complete", [
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", True),
    (b"GET / HTTP/1.1\r\nHost: x\r\n", False),
    (b"GET", False),
    (b"POST /x HTTP/1.1\r\n", False),
    (b"ping", True),
    (b"hello there, not http\n", True),
    (b"\x00\x01binary", True),
])
def test_request_complete(data, complete):
    assert _request_complete(data) == complete


def test_http_response_is_well_formed():
    resp = http_response(None)
    head, body = resp.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Content-Length: %d" % len(body) in head
