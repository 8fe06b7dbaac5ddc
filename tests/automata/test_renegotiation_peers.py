"""Secure renegotiation (RFC 5746) with real peers: our server against openssl s_client's
"R" command and gnutls-cli --rehandshake, and asking s_client itself (HelloRequest); our
client against openssl s_server, which refuses client renegotiation unless told."""
import subprocess
import time

import pytest

from scapy_tls_hs.automata.client import TLSClientAutomaton
from scapy_tls_hs.automata.listener import TLSListener
from scapy_tls_hs.automata.server import parse_renegotiate_after
from tests.peers import clients
from tests.peers.servers import openssl_server

pytestmark = pytest.mark.skipif(not clients.have("openssl"), reason="openssl not installed")

HANDSHAKE = ["C:client_hello", "S:server_hello", "S:certificate", "S:server_key_exchange",
             "S:server_hello_done", "C:client_key_exchange", "C:change_cipher_spec",
             "C:finished"]


def _listener(pki, **options):
    return TLSListener("127.0.0.1", 0, cert=pki.rsa_chain, key=pki.rsa_key, versions=["1.2"],
                       echo=True, timeout=5.0, **options)


def _s_client_lines(port, lines, pause=0.7, extra=()):
    """s_client fed one line at a time (its commands, such as "R", are read per line; with
    -ign_eof they are off, so stdin is closed only after the last pause)."""
    argv = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-tls1_2",
            "-servername", "localhost"] + list(extra)
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        for line in lines:
            time.sleep(pause)
            try:
                proc.stdin.write(line.encode() + b"\n")
                proc.stdin.flush()
            except BrokenPipeError:     # s_client gave up (a refused renegotiation)
                break
        else:
            time.sleep(pause)
        out, _ = proc.communicate(timeout=10)     # closes stdin: s_client ends
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return out.decode("utf-8", "replace")


def _report(listener):
    assert listener.wait_for_results(1, timeout=15), "the server reported nothing"
    return listener.results[0]


def test_server_renegotiates_when_s_client_asks(pki):
    with _listener(pki).start() as server:
        out = _s_client_lines(server.port, ["hello", "R", "after"])
        report = _report(server)
    assert "RENEGOTIATING" in out and "after" in out
    assert report["handshake_complete"] and not report["errors"]
    msgs = report["messages"]
    assert msgs.count("C:client_hello") == 2 and msgs.count("S:finished") == 2
    second = msgs.index("C:client_hello", 1)
    assert msgs[second:second + len(HANDSHAKE)] == HANDSHAKE
    assert report["received"] == "hello\nafter\n"


def test_server_refuses_with_no_renegotiation(pki):
    with _listener(pki, renegotiation=False).start() as server:
        out = _s_client_lines(server.port, ["hello", "R", "after"])
        report = _report(server)
    msgs = report["messages"]
    assert msgs.count("C:client_hello") == 2
    assert "S:alert:no_renegotiation" in msgs and msgs.count("S:server_hello") == 1
    assert "hello" in out


def test_server_asks_s_client_to_renegotiate(pki):
    with _listener(pki, renegotiate_after="3").start() as server:   # after 3 bytes
        out = _s_client_lines(server.port, ["hello", "after"])
        report = _report(server)
    msgs = report["messages"]
    assert "S:hello_request" in msgs, msgs
    after = msgs[msgs.index("S:hello_request") + 1:]
    assert after[:2] == ["C:client_hello", "S:server_hello"] and "C:finished" in after
    assert report["handshake_complete"] and not report["errors"]
    assert report["received"] == "hello\nafter\n" and "after" in out


def test_server_asks_after_seconds(pki):
    with _listener(pki, renegotiate_after="1s").start() as server:
        _s_client_lines(server.port, ["hello", "", "after"], pause=0.8)
        report = _report(server)
    assert "S:hello_request" in report["messages"]
    assert report["messages"].count("C:finished") == 2 and not report["errors"]


@pytest.mark.skipif(not clients.have("gnutls-cli"), reason="gnutls-cli not installed")
def test_server_with_gnutls_rehandshake(pki):
    with _listener(pki).start() as server:
        out = clients.gnutls_cli(server.port, data=b"hi\n", extra=["--rehandshake"])
        report = _report(server)
    assert "ReHandshake was completed" in out.output
    assert report["messages"].count("C:finished") == 2 and not report["errors"]


def test_client_renegotiates_with_s_server(pki):
    with openssl_server(pki.rsa_chain, pki.rsa_key, version="1.2",
                        extra=["-client_renegotiation"]) as peer:
        result = TLSClientAutomaton("127.0.0.1", peer.port, version="1.2", renegotiate=True,
                                    data=b"GET / HTTP/1.0\r\n\r\n", timeout=10).run()
    assert result.ok, result.errors
    msgs = result.messages
    assert msgs.count("C:client_hello") == 2 and msgs.count("S:finished") == 2
    # Our request went after the new handshake, under its keys.
    assert msgs.index("C:application_data") > len(msgs) - msgs[::-1].index("S:finished") - 1
    assert result.received.startswith("HTTP/1.0 200 ok")
    assert result.connection.renegotiations == 1


def test_client_goes_on_when_s_server_refuses(pki):
    with openssl_server(pki.rsa_chain, pki.rsa_key, version="1.2") as peer:
        result = TLSClientAutomaton("127.0.0.1", peer.port, version="1.2", renegotiate=True,
                                    data=b"GET / HTTP/1.0\r\n\r\n", timeout=10).run()
    assert "S:alert:no_renegotiation" in result.messages
    assert any("refused to renegotiate" in e for e in result.errors)
    assert result.received.startswith("HTTP/1.0 200 ok")      # the old session went on


def test_parse_renegotiate_after():
    assert parse_renegotiate_after("30s") == ("seconds", 30.0)
    assert parse_renegotiate_after("64k") == ("bytes", 65536.0)
    assert parse_renegotiate_after("1M") == ("bytes", 1048576.0)
    assert parse_renegotiate_after("100") == ("bytes", 100.0)
    for bad in ("", "0", "-1s", "x", "3q"):
        with pytest.raises(ValueError):
            parse_renegotiate_after(bad)

