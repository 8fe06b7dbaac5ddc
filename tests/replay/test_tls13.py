"""TLS 1.3 ClientHellos of real clients (curl, OpenSSL, GnuTLS, Python ssl) replayed with
fresh key shares, and the handshake completed against TLS 1.3 servers; a captured TLS 1.3
resumption replayed with ``--resume`` by the ticket of the earlier replay.

A client's hello is recorded by a listener that reads it and hangs up, then written into a
capture: what a capture of that client holds, without needing a packet capture here."""
import pathlib
import shutil
import socket
import subprocess
import threading

import pytest

from scapy_tls_hs.replay import replay_capture
from tests.peers.process import Peer, free_port
from tests.peers.servers import HTTP_GET
from tests.replay.helpers import pcap_with

ROOT = pathlib.Path(__file__).resolve().parents[2]
EARLY = ROOT / "tests" / "data" / "tls13" / "tls13_early_data_openssl.pcap"


def _record_hello(client_argv, timeout=10.0):
    """The bytes ``client_argv`` sends first (its ClientHello records) to a listener."""
    port = free_port()
    srv = socket.create_server(("127.0.0.1", port))
    srv.settimeout(timeout)
    got = []

    def accept():
        try:
            conn, _ = srv.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(timeout)
            data = b""
            while len(data) < 5 or len(data) < 5 + int.from_bytes(data[3:5], "big"):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            got.append(data)
    t = threading.Thread(target=accept, daemon=True)
    t.start()
    argv = [a.replace("PORT", str(port)) for a in client_argv]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    t.join(timeout)
    srv.close()
    proc.kill()
    proc.wait(timeout=5)
    assert got and got[0][:1] == b"\x16", "no ClientHello from %s" % client_argv[0]
    return got[0]


CLIENTS = {
    "curl": ["curl", "-sk", "--tlsv1.3", "https://127.0.0.1:PORT/"],
    "openssl": ["openssl", "s_client", "-connect", "127.0.0.1:PORT", "-tls1_3",
                "-servername", "server.test"],
    "gnutls": ["gnutls-cli", "--insecure", "--port", "PORT", "127.0.0.1"],
    "python": ["python3", "-c", "import socket,ssl; c=ssl.create_default_context(); "
               "c.check_hostname=False; c.verify_mode=ssl.CERT_NONE; "
               "c.wrap_socket(socket.create_connection(('127.0.0.1', PORT)))"],
}


@pytest.fixture(scope="module")
def s_server13(pki):
    port = free_port()
    argv = ["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-naccept", "1000",
            "-cert", pki.rsa_cert, "-key", pki.rsa_key, "-www", "-tls1_3",
            "-groups", "x25519:secp256r1:secp384r1:x448:ffdhe2048"]
    with Peer(argv, port=port) as peer:
        yield peer


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_real_client_hello_completes_against_s_server(client, s_server13, tmp_path):
    if shutil.which(CLIENTS[client][0]) is None:
        pytest.skip("%s is needed" % CLIENTS[client][0])
    hello = _record_hello(CLIENTS[client])
    pcap = pcap_with(tmp_path / "hello.pcap", hello)
    (res,) = replay_capture(pcap, "127.0.0.1", s_server13.port, data=HTTP_GET, timeout=5.0)
    rep = res.replayed
    assert rep["handshake_complete"], (rep["errors"], res.notes)
    assert rep["version"] == "TLS 1.3" and rep["group"]
    assert "New, TLSv1.3" in rep["received"]          # s_server's own page
    # Same offer: suites and extension types in the captured order.
    sent = res.sent_hello
    assert sent.cipher_suites == res.hello.cipher_suites
    assert [e.type for e in sent.extensions] == [e.type for e in res.hello.extensions
                                                if e.type not in (41, 42)]


@pytest.mark.parametrize("client", ["curl", "openssl"])
def test_real_client_hello_against_our_own_server(client, pki, tmp_path):
    from scapy_tls_hs.automata.listener import TLSListener
    if shutil.which(CLIENTS[client][0]) is None:
        pytest.skip("%s is needed" % CLIENTS[client][0])
    pcap = pcap_with(tmp_path / "hello.pcap", _record_hello(CLIENTS[client]))
    with TLSListener("127.0.0.1", 0, cert=pki.rsa_cert, key=pki.rsa_key) as listener:
        (res,) = replay_capture(pcap, "127.0.0.1", listener.port, data=HTTP_GET, timeout=5.0)
        listener.wait_for_results(1, timeout=10)
        server_side = listener.results[0]
    assert res.replayed["handshake_complete"], res.replayed["errors"]
    assert server_side["version"] == "TLS 1.3"
    assert server_side["group"] == res.replayed["group"]


def test_tls13_resumption_replayed_with_resume(s_server13):
    """The capture: a full handshake, a PSK resumption with 0-RTT, and a refused one. With
    --resume the PSK offers use the ticket the first replay got; s_server says "Reused"."""
    results = replay_capture(str(EARLY), "127.0.0.1", s_server13.port, data=HTTP_GET,
                             resume=True, timeout=5.0)
    assert len(results) == 3
    first, second = results[0], results[1]
    assert first.replayed["handshake_complete"] and not first.replayed["resumed"]
    assert second.replayed["handshake_complete"] and second.replayed["resumed"]
    assert "Reused, TLSv1.3" in second.replayed["received"]
    assert any("early_data left out" in n for n in second.notes)


def test_tls13_resumption_without_resume_is_full(s_server13):
    results = replay_capture(str(EARLY), "127.0.0.1", s_server13.port, data=HTTP_GET,
                             timeout=5.0, only=[2])
    (res,) = results
    assert res.replayed["handshake_complete"] and not res.replayed["resumed"]
    assert "resumed" in res.differences
    assert any("--resume" in n for n in res.notes)
