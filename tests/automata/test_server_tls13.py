"""The server automaton speaking TLS 1.3 to ``openssl s_client``: the client's own view
("Protocol : TLSv1.3", "Reused, TLSv1.3", "Early data was accepted", the KeyUpdate it asked
for) against the server's report (group, hello_retry, early_data, key_updates, tickets).
One listener serves the module; a test that needs other options runs its own."""
import selectors
import subprocess
import time

import pytest

from scapy_tls_hs.automata.listener import TLSListener
from tests.contract import CLIENT_FIELDS, TLS13_FIELDS
from tests.peers import clients



@pytest.fixture(scope="module")
def server(pki):
    with TLSListener("127.0.0.1", 0, cert=pki.rsa_chain, key=pki.rsa_key, early_data=4096,
                     alpn=["http/1.1"], timeout=5) as listener:
        yield listener


def served(listener, run):
    before = len(listener.results)
    out = run()
    assert listener.wait_for_results(before + 1), "the server reported nothing"
    return out, listener.results[before]


def s_client13(port, **kwargs):
    return clients.s_client(port, version="1.3", **kwargs)


def test_s_client_tls13(server, pki):
    out, report = served(server, lambda: s_client13(server.port, cafile=pki.ca_cert,
                                                    extra=["-alpn", "http/1.1"]))
    assert out.ok, out.output
    assert clients.s_client_protocol(out.output) == "TLSv1.3"
    assert "Verify return code: 0 (ok)" in out.output and "HTTP/1.1 200 OK" in out.output
    assert CLIENT_FIELDS | TLS13_FIELDS <= set(report)
    assert report["version"] == "TLS 1.3" and report["handshake_complete"]
    assert report["cipher_suite"] == "TLS_AES_128_GCM_SHA256"      # the server's first
    assert (report["group"], report["hello_retry"], report["early_data"],
            report["key_updates"]) == ("x25519", False, None, 0)
    assert report["alpn"] == "http/1.1" and report["sni"] == "localhost"
    assert report["ticket"] and report["messages"].count("S:new_session_ticket") == 2
    assert report["received"].startswith("GET / HTTP/1.1") and not report["errors"]


def test_hello_retry_for_the_servers_group(pki):
    """s_client's only share is x25519; the server takes secp384r1 only: HelloRetryRequest."""
    with TLSListener("127.0.0.1", 0, cert=pki.rsa_cert, key=pki.rsa_key,
                     groups=["secp384r1"], timeout=5) as listener:
        out, report = served(listener, lambda: s_client13(
            listener.port, extra=["-groups", "x25519:secp384r1"]))
    assert out.ok, out.output
    assert "Server Temp Key: ECDH, secp384r1" in out.output
    assert report["hello_retry"] and report["group"] == "secp384r1"
    assert report["messages"][:2] == ["C:client_hello", "S:hello_retry_request"]
    assert report["messages"].count("C:client_hello") == 2


def test_resumption_and_early_data(server, tmp_path):
    sess = str(tmp_path / "sess.pem")
    early = tmp_path / "early.txt"
    early.write_bytes(b"GET /early HTTP/1.1\r\nHost: localhost\r\n\r\n")
    first, r1 = served(server, lambda: s_client13(server.port, sess_out=sess))
    assert first.ok, first.output
    assert "Max Early Data: 4096" in first.output
    second, r2 = served(server, lambda: s_client13(server.port, sess_in=sess, data=b"",
                                                   extra=["-early_data", str(early)]))
    assert second.ok, second.output
    assert "Reused, TLSv1.3" in second.output and "Early data was accepted" in second.output
    assert r2["resumed"] and r2["early_data"] == "accepted"
    assert "S:certificate" not in r2["messages"] and "C:end_of_early_data" in r2["messages"]
    # The request came as 0-RTT data and is answered once the handshake is done.
    assert r2["received"].startswith("GET /early HTTP/1.1")
    assert "HTTP/1.1 200 OK" in second.output and "(resumed)" in second.output
    # A ticket carries 0-RTT once, server-wide: every connection of the listener shares one
    # context, so the same ticket again is resumed without its early data.
    # (The request goes again as ordinary data, or the server would wait for one.)
    third, r3 = served(server, lambda: s_client13(server.port, sess_in=sess,
                                                  extra=["-early_data", str(early)]))
    assert third.ok, third.output
    assert "Reused, TLSv1.3" in third.output and "Early data was rejected" in third.output
    assert r3["resumed"] and r3["early_data"] == "rejected"


def test_listener_gives_every_connection_one_context(server):
    from scapy_tls_hs.connection.server_context import ServerContext
    assert isinstance(server.context, ServerContext)
    assert server.context.ticket_keys is server.config.ticket_keys
    assert server.context is not ServerContext.of_config(server.config)


def test_no_tickets(pki):
    with TLSListener("127.0.0.1", 0, cert=pki.rsa_cert, key=pki.rsa_key, tickets=False,
                     timeout=5) as listener:
        out, report = served(listener, lambda: s_client13(listener.port))
    assert out.ok, out.output
    assert "Post-Handshake New Session Ticket" not in out.output
    assert not report["ticket"] and "S:new_session_ticket" not in report["messages"]


def _interactive_s_client(port, lines, timeout=10.0):
    """s_client reading commands: each line is sent once the echo of the previous one (or
    s_client's "KEYUPDATE") came back; no -ign_eof, which turns commands off."""
    proc = subprocess.Popen(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                             "-tls1_3", "-servername", "localhost"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = b""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    try:
        for line, expect in lines:
            proc.stdin.write(line)
            proc.stdin.flush()
            while expect not in output and time.monotonic() < deadline:
                if sel.select(deadline - time.monotonic()):
                    chunk = proc.stdout.read1(65536)
                    if not chunk:
                        break
                    output += chunk
        proc.stdin.close()
        proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        output += proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        sel.close()
    return output.decode("utf-8", "replace")


def test_key_update_asked_by_s_client(pki):
    with TLSListener("127.0.0.1", 0, cert=pki.rsa_cert, key=pki.rsa_key, echo=True,
                     timeout=5) as listener:
        output, report = served(listener, lambda: _interactive_s_client(
            listener.port, [(b"before\n", b"before\n"), (b"K\n", b"KEYUPDATE"),
                            (b"after\n", b"after\n")]))
    assert "KEYUPDATE" in output and output.count("after\n") == 1, output
    assert report["key_updates"] == 2 and not report["errors"], report
    msgs = report["messages"]
    assert msgs.index("C:key_update") < msgs.index("S:key_update")
    assert report["received"] == "before\nafter\n"
