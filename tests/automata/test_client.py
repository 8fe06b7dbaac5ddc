"""The client automaton itself: its states, its result object, the Scapy packets it exposes,
a user-supplied ClientHello, the tamper hook, and how it fails (refused, silent, closing or
babbling servers) without ever raising out of ``run()``."""
import contextlib
import socket
import struct
import threading

import pytest

from scapy_tls_hs.automata.client import ClientResult, TLSClientAutomaton
from tests.contract import CLIENT_FIELDS
from tests.peers.servers import HTTP_GET, openssl_server

CONTRACT_FIELDS = CLIENT_FIELDS


@pytest.fixture(scope="module")
def server(pki):
    with openssl_server(pki.rsa_cert, pki.rsa_key, dcert=pki.ecdsa_cert,
                        dkey=pki.ecdsa_key) as peer:
        yield peer


def run(port, **options):
    options.setdefault("timeout", 5)
    return TLSClientAutomaton("127.0.0.1", port, **options).run()


def visited_states(automaton):
    """Run step by step (Scapy's single-step mode) and list the states entered."""
    states = []
    while True:
        try:
            result = next(automaton)
        except automaton.Singlestep as step:
            states.append(step.state)
            continue
        return states, result


def test_states_follow_the_handshake(server):
    states, result = visited_states(
        TLSClientAutomaton("127.0.0.1", server.port, data=HTTP_GET, timeout=5))
    assert result.handshake_complete
    # s_server sends its whole flight in one segment: the automaton still walks through
    # each state; the page then comes and s_server closes first.
    assert states == ["CONNECTED", "WAIT_SERVER_HELLO", "WAIT_SERVER_HELLO_DONE",
                      "WAIT_SERVER_FINISHED", "APP_DATA", "RECEIVING", "CLOSED"], states


def test_scapy_graph_shows_the_real_transitions():
    import re
    edges = set(re.findall(r'"(\w+)" -> "(\w+)"', TLSClientAutomaton.build_graph()))
    assert {("BEGIN", "CONNECTED"), ("CONNECTED", "WAIT_SERVER_HELLO"),
            ("WAIT_SERVER_HELLO", "WAIT_SERVER_HELLO_DONE"),
            ("WAIT_SERVER_HELLO", "WAIT_SERVER_FINISHED"),          # resumption
            ("WAIT_SERVER_HELLO_DONE", "WAIT_SERVER_FINISHED"),
            ("WAIT_SERVER_FINISHED", "APP_DATA"), ("APP_DATA", "RECEIVING"),
            ("APP_DATA", "CLOSING"), ("RECEIVING", "CLOSING"), ("CLOSING", "CLOSED"),
            ("WAIT_SERVER_HELLO", "ERROR")} <= edges
    # Nothing goes back in the handshake.
    assert ("WAIT_SERVER_FINISHED", "WAIT_SERVER_HELLO") not in edges
    assert ("APP_DATA", "WAIT_SERVER_HELLO_DONE") not in edges


def test_resumed_handshake_skips_the_server_flight(server):
    first = run(server.port)
    states, result = visited_states(
        TLSClientAutomaton("127.0.0.1", server.port, session=first.session, timeout=5))
    assert result.resumed
    assert "WAIT_SERVER_HELLO_DONE" not in states
    assert states[:3] == ["CONNECTED", "WAIT_SERVER_HELLO", "WAIT_SERVER_FINISHED"]
    assert states[-2:] == ["CLOSING", "CLOSED"]


def test_interception_point_shows_the_client_hello_before_it_leaves(server):
    """Scapy's interception points work (they need the control thread, which ``run()`` then
    starts): the ClientHello record is held until accepted."""
    from scapy_tls_hs.layers import TLSRecord
    automaton = TLSClientAutomaton("127.0.0.1", server.port, timeout=5)
    automaton.CONNECTED.intercepts()
    with pytest.raises(automaton.InterceptionPoint) as stop:
        automaton.run()
    record = TLSRecord(bytes(stop.value.packet))
    assert record.type == 22 and record.payload.msg_type == 1
    result = automaton.accept_packet(wait=True)
    assert result.handshake_complete and result.errors == []


def test_result_fields(server):
    result = run(server.port, data="GET / HTTP/1.0\r\n\r\n", alpn="http/1.1")
    assert isinstance(result, ClientResult)
    d = result.to_dict()
    assert CONTRACT_FIELDS <= set(d)
    assert d["client"].startswith("127.0.0.1:") and d["server"] == "127.0.0.1:%d" % server.port
    assert d["version"] == "TLS 1.2" and d["handshake_complete"] and result.ok
    assert d["received"].startswith("HTTP/1.0 200 ok") and result["received"] == d["received"]
    assert d["session_id"] == result.session.session_id.hex()
    assert d["ticket"] is True and d["errors"] == []
    assert result.session.cipher_suite == d["cipher_suite"]
    info = result.certificates()[0]
    assert "CN=server.test" in info["subject"] and "CN=Test Root CA" in info["issuer"]
    assert len(info["sha256"]) == 64
    assert "ClientResult TLS 1.2" in repr(result)


def test_messages_as_scapy_packets(server):
    from scapy_tls_hs.layers import TLSAlert, TLSChangeCipherSpec, TLSHandshake
    result = run(server.port, data=HTTP_GET)
    packets = result.packets
    assert len(packets) == len(result.events) - 1       # HandshakeComplete is no wire message
    first = packets[0]
    assert isinstance(first, TLSHandshake) and first.msg_type == 1
    assert bytes(first) == result.events[0].raw
    hello = first.payload
    assert hello.random == result.connection.client_random
    assert any(isinstance(p, TLSChangeCipherSpec) for p in packets)
    assert isinstance(packets[-1], TLSAlert)
    names = [p.payload.__class__.__name__ for p in packets if isinstance(p, TLSHandshake)]
    assert names == ["TLSClientHello", "TLSServerHello", "TLSCertificate",
                     "TLSServerKeyExchange", "TLSServerHelloDone", "TLSClientKeyExchange",
                     "TLSFinished", "TLSNewSessionTicket", "TLSFinished"]
    # Every message, in the order of the ladder, each packet rebuilding its wire bytes.
    from scapy_tls_hs.layers import TLSApplicationData
    kinds = {TLSHandshake: None, TLSChangeCipherSpec: "change_cipher_spec",
             TLSAlert: "alert", TLSApplicationData: "application_data"}
    wire = [ev for ev in result.events if hasattr(type(ev), "packet")]
    assert len(wire) == len(result.messages) == len(packets)
    for ev, pkt, entry in zip(wire, packets, result.messages):
        assert type(pkt) in kinds
        assert entry.split(":")[1] == (ev.name if type(pkt) is TLSHandshake
                                       else kinds[type(pkt)])
        if type(pkt) is TLSHandshake:
            assert bytes(pkt) == ev.raw
    # The application data packets hold the plaintext: ours, then the server's page.
    data = [(ev.direction, pkt.data) for ev, pkt in zip(wire, packets)
            if isinstance(pkt, TLSApplicationData)]
    assert data[0] == ("client", HTTP_GET)
    assert b"".join(d for side, d in data if side == "server") == result.received_bytes


def test_user_supplied_client_hello_is_sent_as_is(server, tmp_path):
    from scapy_tls_hs.layers import TLSClientHello
    random = bytes(range(32))
    hello = TLSClientHello(random=random, ciphers=[0xC030, 0x009C])
    keylog = tmp_path / "keys.log"
    result = run(server.port, client_hello=hello, data=HTTP_GET, keylog=str(keylog))
    assert result.handshake_complete, result.errors
    sent = result.events[0]
    assert sent.direction == "client" and sent.raw == b"\x01" + struct.pack(
        "!I", len(bytes(hello)))[1:] + bytes(hello)
    assert result.cipher_suite == "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
    assert keylog.read_text().split()[1] == random.hex()
    assert result.received.startswith("HTTP/1.0 200 ok")


def test_user_supplied_client_hello_as_records(server):
    from scapy_tls_hs.layers import TLSClientHello, TLSHandshake, TLSRecord
    hello = TLSClientHello(ciphers=[0xC02F])
    wire = bytes(TLSRecord() / TLSHandshake() / hello)
    result = run(server.port, client_hello=wire)
    assert result.handshake_complete and result.cipher_suite.endswith("AES_128_GCM_SHA256")
    assert result.events[0].body == bytes(hello)


def test_tamper_hook_changes_what_is_sent(server):
    """A wrong Finished (changed through the hook) is caught by the server."""
    def tamper(msg_type, body):
        return bytes(12) if msg_type == 20 else None

    result = run(server.port, tamper=tamper)
    assert not result.handshake_complete
    assert result.errors and "decrypt_error" in result.errors[0], result.errors
    sent_finished = [ev for ev in result.events
                     if getattr(ev, "name", "") == "finished" and ev.direction == "client"]
    assert sent_finished[0].body == bytes(12)


def _spoil(msg_type):
    """A server ``tamper`` hook flipping the last byte of one handshake message."""
    def tamper(t, body):
        return body[:-1] + bytes((body[-1] ^ 1,)) if t == msg_type else None
    return tamper


@pytest.mark.parametrize("what,msg_type,suite,version", [
    ("ske-rsa", 12, "ECDHE-RSA-AES128-GCM-SHA256", "1.2"),
    ("ske-ecdsa", 12, "ECDHE-ECDSA-CHACHA20-POLY1305", "1.2"),
    ("ske-dhe", 12, "DHE-RSA-AES128-SHA", "1.0"),
    ("finished", 20, "ECDHE-RSA-AES256-SHA384", "1.2"),
    ("finished-resumed", 20, "AES128-SHA", "1.1"),
])
def test_bad_server_signature_or_finished_is_refused(pki, what, msg_type, suite, version):
    """The server's ServerKeyExchange signature and its Finished are checked: a spoiled one
    gets a fatal decrypt_error alert (RFC 5246 sections 7.4.3, 7.4.9), which the server
    receives."""
    from scapy_tls_hs.automata.listener import TLSListener
    with TLSListener("127.0.0.1", 0, cert=pki.rsa_cert, key=pki.rsa_key,
                     identities=[(pki.ecdsa_cert, pki.ecdsa_key)], timeout=5) as good, \
            TLSListener("127.0.0.1", 0, config=good.config, tamper=_spoil(msg_type),
                        timeout=5) as bad:
        session = None
        if what == "finished-resumed":
            first = run(good.port, ciphers=[suite], version=version)
            assert first.ok, first.errors
            session = first.session
        result = run(bad.port, ciphers=[suite], version=version, session=session,
                     data=HTTP_GET)
        assert bad.wait_for_results(1)
        report = bad.results[0]
    assert result.resumed == (session is not None)
    assert not result.handshake_complete and result.received == ""
    assert result.errors[0].startswith("sent alert decrypt_error"), result.errors
    assert result.messages[-1] == "C:alert:decrypt_error"
    assert "C:application_data" not in result.messages
    assert report["errors"] == ["received alert decrypt_error: from the client"]


@pytest.mark.parametrize("mode", ["optional", "required"])
def test_certificate_of_a_type_not_asked_for_is_not_sent(pki, mode):
    """A CertificateRequest for rsa_sign only (RFC 5246 section 7.4.4) and an ECDSA client
    key: the client answers with an empty Certificate, no CertificateVerify."""
    from scapy_tls_hs.automata.listener import TLSListener

    def rsa_only(msg_type, body):
        return b"\x01\x01" + body[body[0] + 1:] if msg_type == 13 else None

    with TLSListener("127.0.0.1", 0, cert=pki.rsa_cert, key=pki.rsa_key, client_auth=mode,
                     cafile=pki.ca_cert, tamper=rsa_only, timeout=5, version="1.2") as server:
        result = run(server.port, cert=pki.client_ecdsa_cert, key=pki.client_ecdsa_key,
                     data=HTTP_GET)
        rsa = run(server.port, cert=pki.client_rsa_cert, key=pki.client_rsa_key,
                  data=HTTP_GET)
    cert_msg = next(ev for ev in result.events
                    if getattr(ev, "name", "") == "certificate" and ev.direction == "client")
    assert cert_msg.body == b"\x00\x00\x00" and not result.client_auth
    assert "C:certificate_verify" not in result.messages
    if mode == "optional":
        assert result.ok and result.received.startswith("HTTP/1.1 200 OK"), result.errors
    else:
        assert result.errors == ["received alert handshake_failure: from the server"]
    assert rsa.ok and rsa.client_auth, rsa.errors


@pytest.mark.parametrize("size", [1, 7])
def test_byte_stream_cut_into_tiny_segments(pki, server, size):
    """Every record split over many TCP segments (both ways): s_server and our own server
    (TLS 1.2 here; TLS 1.3 in test_client_tls13.py) through a proxy that forwards ``size``
    bytes per send."""
    from scapy_tls_hs.automata.listener import TLSListener
    from tests.peers.proxy import splitting_proxy
    with splitting_proxy(server.port, size=size) as port:
        theirs = run(port, data=HTTP_GET, ciphers=["DHE-RSA-AES128-SHA256"])
    assert theirs.ok, theirs.errors
    assert "Cipher is DHE-RSA-AES128-SHA256" in theirs.received
    with TLSListener("127.0.0.1", 0, cert=pki.rsa_cert, key=pki.rsa_key, timeout=5) as own, \
            splitting_proxy(own.port, size=size) as port:
        first = run(port, data=HTTP_GET, ciphers=["ECDHE-RSA-AES256-SHA384"], version="1.2")
        assert own.wait_for_results(1)
    with TLSListener("127.0.0.1", 0, config=own.config, timeout=5) as again, \
            splitting_proxy(again.port, size=size) as port:
        resumed = run(port, data=HTTP_GET, session=first.session, version="1.2")
        assert again.wait_for_results(1)
    for result, report in ((first, own.results[0]), (resumed, again.results[0])):
        assert result.ok and result.received.startswith("HTTP/1.1 200 OK"), result.errors
        assert report["handshake_complete"] and not report["errors"], report
        assert report["received"] == HTTP_GET.decode()
    assert resumed.resumed and again.results[0]["resumed"]


def test_keylog_line_per_connection(server, tmp_path):
    keylog = tmp_path / "keys.log"
    results = [run(server.port, keylog=str(keylog)) for _ in range(2)]
    lines = keylog.read_text().splitlines()
    assert len(lines) == 2
    for line, result in zip(lines, results):
        label, random, secret = line.split()
        assert label == "CLIENT_RANDOM"
        assert random == result.connection.client_random.hex()
        assert secret == result.session.master_secret.hex()


def test_automata_run_in_parallel_threads(server):
    """Each automaton owns its timers, stream and connection: threads do not mix them."""
    results = []

    def worker(suite):
        for _ in range(3):
            results.append((suite, run(server.port, ciphers=[suite], data=HTTP_GET)))

    suites = ["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305",
              "DHE-RSA-AES256-SHA256", "AES128-SHA"]
    threads = [threading.Thread(target=worker, args=(s,)) for s in suites]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 12
    for suite, result in results:
        assert result.ok, result.errors
        assert "Cipher is %s" % suite in result.received


def test_scapy_shell_import_brings_the_automaton_without_scapy_tls():
    import subprocess
    import sys
    code = ("import sys; from scapy_tls_hs.all import *; "
            "assert TLSClientAutomaton.__module__ == 'scapy_tls_hs.automata.client'; "
            "print(sorted(m for m in sys.modules if m.startswith('scapy.layers.tls.') and "
            "m.split('.')[3] in ('record', 'handshake', 'extensions', 'keyexchange', "
            "'session', 'automaton_cli')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_bad_options_raise_when_the_automaton_is_made():
    """A ValueError naming the option, at construction (not a KeyError from run())."""
    with pytest.raises(ValueError, match="NO-SUCH-SUITE"):
        TLSClientAutomaton("127.0.0.1", 1, ciphers=["NO-SUCH-SUITE"])
    with pytest.raises(ValueError, match="2.0"):
        TLSClientAutomaton("127.0.0.1", 1, version="2.0")
    with pytest.raises(ValueError, match="39321"):
        TLSClientAutomaton("127.0.0.1", 1, ciphers=[0x9999])
    from scapy_tls_hs.automata.server import TLSServerAutomaton
    with pytest.raises(ValueError, match="a server needs a certificate"):
        TLSServerAutomaton(ciphers=["TLS_AES_128_GCM_SHA256"])


# -- failing servers: a result with errors, never an exception ----------------------------

def test_connection_refused(free_port):
    result = run(free_port())
    assert not result.handshake_complete and result.messages == []
    assert result.errors[0].startswith("cannot connect to 127.0.0.1:")


@contextlib.contextmanager
def raw_server(handler):
    """A one-connection TCP server on 127.0.0.1 running ``handler(conn)`` in a thread."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    seen = {}

    def serve():
        conn, _ = lsock.accept()
        with conn:
            conn.settimeout(5)
            seen["result"] = handler(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield lsock.getsockname()[1], seen
    finally:
        thread.join(10)
        lsock.close()


def _read_record(conn):
    head = b""
    while len(head) < 5:
        chunk = conn.recv(5 - len(head))
        if not chunk:
            return head
        head += chunk
    (length,) = struct.unpack("!H", head[3:5])
    body = b""
    while len(body) < length:
        body += conn.recv(length - len(body))
    return head + body


def test_silent_server_times_out():
    with raw_server(lambda conn: _read_record(conn) and conn.recv(100)) as (port, _):
        result = run(port, timeout=0.5)
    assert not result.handshake_complete
    assert result.errors[0].startswith("timeout: no answer from the server in WAIT_SERVER_HELLO")


def test_server_closing_in_the_handshake():
    with raw_server(_read_record) as (port, _):
        result = run(port)
    assert result.errors == ["connection closed by the server during the handshake "
                             "(in WAIT_SERVER_HELLO)"]


def test_garbage_from_the_server_is_answered_with_an_alert():
    def handler(conn):
        _read_record(conn)
        # A ServerHello of two bytes: truncated.
        conn.sendall(b"\x16\x03\x03\x00\x06\x02\x00\x00\x02\x03\x03")
        return _read_record(conn)

    with raw_server(handler) as (port, seen):
        result = run(port)
    assert not result.handshake_complete
    assert result.errors[0].startswith("sent alert decode_error")
    # What reached the server: a fatal decode_error alert record.
    assert seen["result"][:1] == b"\x15" and seen["result"][-2:] == b"\x02\x32"
