"""The TLS 1.3 client core against real servers: ``openssl s_server`` (TLS 1.3 only, and
1.3 + 1.2), Python ``ssl``, tlslite-ng and ``gnutls-serv``. Each proves what the server itself
reports: its session page ("New, TLSv1.3" / "Reused, TLSv1.3"), its log ("Early data
received"), or what it echoes."""
import os
import shutil
import subprocess
import sys
import time

import pytest

from scapy_tls_hs.connection import ClientConfig
from tests.peers.clients import core_client
from tests.peers.process import Peer, free_port
from tests.peers.servers import (gnutls_connections, gnutls_serv_argv, openssl_server,
                                 python_server, run_clients_with_gnutls, server_views)

GET = b"GET / HTTP/1.0\r\n\r\n"
SUITES = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
          "TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_8_SHA256"]
GROUPS = ["x25519", "secp256r1", "secp384r1", "secp521r1", "x448", "ffdhe2048", "ffdhe3072"]
ALL13 = ":".join(SUITES)

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is needed")


def received(conn):
    return b"".join(e.data for e in conn.events
                    if type(e).__name__ == "ApplicationData" and e.direction == "server")


def page_line(conn, start):
    """The line of s_server's -www page that starts with ``start``."""
    for line in received(conn).decode("latin-1").splitlines():
        if line.startswith(start):
            return line
    return None


@pytest.fixture(scope="module")
def s_server13(pki):
    with openssl_server(pki.rsa_chain, pki.rsa_key, version="1.3",
                        extra=["-ciphersuites", ALL13,
                               "-groups", ":".join(GROUPS)]) as peer:
        yield peer


@needs_openssl
@pytest.mark.parametrize("suite", SUITES)
def test_every_suite_against_s_server(s_server13, suite):
    conn, err = core_client(s_server13.port, data=GET, ciphers=[suite])
    assert err is None and conn.handshake_complete
    assert page_line(conn, "New, TLSv1.3, Cipher is ") == "New, TLSv1.3, Cipher is " + suite


@needs_openssl
@pytest.mark.parametrize("group", GROUPS)
def test_every_group_against_s_server(s_server13, group):
    conn, err = core_client(s_server13.port, data=GET, groups=[group])
    assert err is None and conn.group == group and not conn.hello_retry
    assert page_line(conn, "New, TLSv1.3")


@needs_openssl
def test_hello_retry_against_s_server(pki):
    with openssl_server(pki.rsa_cert, pki.rsa_key, version="1.3",
                        extra=["-groups", "secp384r1"]) as peer:
        conn, err = core_client(peer.port, data=GET, groups=["x25519", "secp384r1"])
    assert err is None and conn.hello_retry and conn.group == "secp384r1"
    assert conn.messages[:2] == ["C:client_hello", "S:hello_retry_request"]
    assert page_line(conn, "New, TLSv1.3")


@needs_openssl
@pytest.mark.parametrize("modes", [(1,), (0, 1)])
def test_resumption_confirmed_by_s_server(s_server13, modes):
    first, err = core_client(s_server13.port, data=GET)
    assert err is None and first.session is not None
    again, err = core_client(s_server13.port, data=GET, session=first.session,
                             psk_modes=modes)
    assert err is None and again.resumed
    assert page_line(again, "Reused, TLSv1.3")


@needs_openssl
def test_tls13_and_tls12_server_picks_tls13(pki):
    with openssl_server(pki.rsa_cert, pki.rsa_key, version="1.2+1.3") as peer:
        conn, err = core_client(peer.port, data=GET)
        assert err is None and conn.version_name == "TLS 1.3"
        old, err = core_client(peer.port, data=GET, versions=["1.0", "1.1", "1.2"])
        assert err is None and old.version_name == "TLS 1.2"
        assert page_line(old, "New, TLSv1.2")


@needs_openssl
@pytest.mark.parametrize("kind", ["rsa", "ecdsa"])
def test_client_certificate_against_s_server(pki, kind):
    cert, key = ((pki.client_rsa_cert, pki.client_rsa_key) if kind == "rsa"
                 else (pki.client_ecdsa_cert, pki.client_ecdsa_key))
    with openssl_server(pki.ecdsa_cert, pki.ecdsa_key, version="1.3", verify=1,
                        require_cert=True, cafile=pki.ca_cert) as peer:
        conn, err = core_client(peer.port, data=GET, cert_chain=cert, private_key=key,
                                cafile=pki.ca_cert, sni="server.test")
    assert err is None and conn.client_auth
    assert b"Client certificate" in received(conn)


def _s_server_plain(pki, port, *extra):
    """s_server printing what it reads (0-RTT and KeyUpdate need that mode); stdin is ours."""
    argv = ["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-cert", pki.rsa_cert, "-key", pki.rsa_key, "-tls1_3"] + list(extra)
    return Peer(argv, port=port, stdin=subprocess.PIPE)


@needs_openssl
def test_early_data_accepted_by_s_server(pki):
    port = free_port()
    with _s_server_plain(pki, port, "-early_data") as peer:
        first = ClientConnection_run(port)
        conn, err = core_client(port, session=first.session, early_data=b"zero-rtt-hello\n",
                                data=b"after\n")
        time.sleep(0.3)
        output = peer.stop()
    assert err is None and conn.resumed and conn.early_data == "accepted"
    assert "Early data received:" in output and "zero-rtt-hello" in output


def ClientConnection_run(port):
    """One full handshake that ends with close_notify (OpenSSL keeps only sessions closed
    cleanly)."""
    conn, err = core_client(port, data=b"first\n")
    assert err is None and conn.session is not None
    return conn


class Driven:
    """Our client core on a socket, step by step (for what core_client cannot script)."""

    def __init__(self, port, **options):
        import socket
        from scapy_tls_hs.connection import ClientConnection
        self.conn = ClientConnection(ClientConfig(**options))
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.conn.start()
        self.flush()
        self.until(lambda: self.conn.handshake_complete)

    def flush(self):
        out = self.conn.data_to_send()
        if out:
            self.sock.sendall(out)

    def until(self, done, timeout=10.0):
        deadline = time.time() + timeout
        while not done() and time.time() < deadline:
            data = self.sock.recv(65536)
            if not data:
                break
            self.conn.receive_data(data)
            self.flush()
        return done()

    def close(self):
        self.conn.close()
        self.flush()
        self.sock.close()


@needs_openssl
def test_key_update_requested_by_s_server(pki):
    """s_server's "K" command: a KeyUpdate with update_requested; our client answers with
    its own and both sides go on with new keys."""
    port = free_port()
    with _s_server_plain(pki, port) as peer:
        d = Driven(port)
        peer.proc.stdin.write(b"K\n")
        peer.proc.stdin.flush()
        assert d.until(lambda: d.conn.key_updates == 2)     # theirs, and our answer
        d.conn.send_application_data(b"after-update\n")
        d.flush()
        time.sleep(0.5)
        d.close()
        output = peer.stop()
    assert "after-update" in output          # read under our updated keys


@needs_openssl
def test_our_key_update_answered_by_s_server(s_server13):
    """We send KeyUpdate(update_requested) then a request: s_server must answer the page
    under its updated keys, after its own KeyUpdate."""
    d = Driven(s_server13.port)
    d.conn.send_key_update(request=True)
    d.conn.send_application_data(GET)
    d.flush()
    assert d.until(lambda: d.conn.key_updates == 2 and b"TLSv1.3" in received(d.conn))
    assert d.conn.messages.count("S:key_update") == 1
    d.close()


def test_python_ssl_server(pki):
    with python_server([(pki.rsa_cert, pki.rsa_key)], max_version="TLSv1_3") as peer:
        conn, err = core_client(peer.port, data=b"hello\n")
        time.sleep(0.3)
        views = server_views(peer)
    assert err is None and conn.version_name == "TLS 1.3"
    assert views and views[0]["version"] == "TLSv1.3"


@pytest.fixture
def tlslite_server(pki):
    port = free_port()
    tls_py = shutil.which("tls.py")
    if tls_py is None:
        pytest.skip("tlslite-ng's tls.py is needed")
    argv = [sys.executable, tls_py, "server", "-c", pki.rsa_cert, "-k", pki.rsa_key,
            "--echo", "127.0.0.1:%d" % port]
    with Peer(argv, port=port, env=dict(os.environ)) as peer:
        yield peer


def test_tlslite_server_echo_and_resumption(tlslite_server):
    conn, err = core_client(tlslite_server.port, data=b"ping\n")
    assert err is None and conn.version_name == "TLS 1.3"
    assert received(conn) == b"ping\n"


@pytest.mark.skipif(shutil.which("gnutls-serv") is None or shutil.which("unshare") is None,
                    reason="gnutls-serv and unshare are needed")
def test_gnutls_server(pki):
    priority = "NORMAL:+VERS-TLS1.3:+GROUP-FFDHE2048:+GROUP-X448"
    jobs = [{"version": "1.3", "groups": [g]} for g in ("x25519", "secp384r1", "x448",
                                                         "ffdhe2048")]
    jobs += [{"version": "1.3", "ciphers": [s]} for s in SUITES[:3]]
    jobs.append({"version": "1.3", "resume": True})
    argv = gnutls_serv_argv(4433, [(pki.rsa_cert, pki.rsa_key)], priority=priority)
    results, log = run_clients_with_gnutls(argv, jobs)
    assert len(results) == len(jobs) + 1
    assert all(r["handshake_complete"] and r["version"] == "TLS 1.3" for r in results), results
    blocks = gnutls_connections(log)
    assert all("TLS1.3" in b for b in blocks)
    assert results[-1]["resumed"] and "This is a resumed session" in blocks[-1]


def test_post_handshake_authentication_with_tlslite(pki):
    """tlslite-ng's server asks for a certificate after the handshake (--request-pha): our
    client answers with Certificate, CertificateVerify and Finished on the application keys,
    and the server goes on (a wrong Finished would end the connection with an alert)."""
    tls_py = shutil.which("tls.py")
    if tls_py is None:
        pytest.skip("tlslite-ng's tls.py is needed")
    port = free_port()
    argv = [sys.executable, tls_py, "server", "-c", pki.rsa_cert, "-k", pki.rsa_key,
            "--request-pha", "--echo", "127.0.0.1:%d" % port]
    with Peer(argv, port=port):
        d = Driven(port, cert_chain=pki.client_ecdsa_cert, private_key=pki.client_ecdsa_key)
        assert d.until(lambda: "C:finished" in d.conn.messages[8:])
        d.conn.send_application_data(b"ping\n")
        d.flush()
        assert d.until(lambda: received(d.conn) == b"ping\n")
        d.close()
    conn = d.conn
    assert conn.client_auth and conn.error is None
    i = conn.messages.index("S:certificate_request")
    assert conn.messages[i:i + 4] == ["S:certificate_request", "C:certificate",
                                      "C:certificate_verify", "C:finished"]


@needs_openssl
def test_rsassa_pss_certificate_needs_rsa_pss_pss(tmp_path):
    """A server whose key is RSASSA-PSS (not rsaEncryption) signs with rsa_pss_pss_*; our
    client checks the scheme against the key and the signature."""
    key, cert = tmp_path / "pss.key", tmp_path / "pss.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa-pss", "-pkeyopt",
                    "rsa_keygen_bits:2048", "-nodes", "-keyout", key, "-out", cert, "-days",
                    "2", "-subj", "/CN=localhost"], check=True, capture_output=True, timeout=60)
    with openssl_server(str(cert), str(key), version="1.3") as peer:
        conn, err = core_client(peer.port, data=GET)
    assert err is None and page_line(conn, "New, TLSv1.3")
    cv = [e for e in conn.events if getattr(e, "msg_type", None) == 15][0]
    assert cv.body[:2] in (b"\x08\x09", b"\x08\x0a", b"\x08\x0b")


def _issued(pki, tmp_path, name, *newkey):
    """A server key of the given kind and its certificate for server.test, by the test CA."""
    key, csr, cert = (tmp_path / (name + ext) for ext in (".key", ".csr", ".pem"))
    ext = tmp_path / "san.cnf"
    ext.write_text("subjectAltName=DNS:server.test\n")
    subprocess.run(["openssl", "req", "-new", "-newkey"] + list(newkey) +
                   ["-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=server.test"],
                   check=True, capture_output=True, timeout=60)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", pki.ca_cert, "-CAkey",
                    pki.ca_key, "-CAcreateserial", "-days", "2", "-out", cert, "-extfile", ext],
                   check=True, capture_output=True, timeout=60)
    return str(cert), str(key)


@needs_openssl
@pytest.mark.parametrize("name,newkey,scheme", [
    ("ed25519", ["ed25519"], b"\x08\x07"),
    ("p384", ["ec", "-pkeyopt", "ec_paramgen_curve:P-384"], b"\x05\x03"),
    ("p521", ["ec", "-pkeyopt", "ec_paramgen_curve:P-521"], b"\x06\x03"),
])
def test_server_signature_algorithms_with_cafile(pki, tmp_path, name, newkey, scheme):
    """Ed25519 and ECDSA P-384 / P-521 server certificates: the CertificateVerify scheme
    is the one bound to the key, and the chain verifies against --cafile."""
    cert, key = _issued(pki, tmp_path, name, *newkey)
    with openssl_server(cert, key, version="1.3") as peer:
        conn, err = core_client(peer.port, data=GET, cafile=pki.ca_cert, sni="server.test")
    assert err is None and page_line(conn, "New, TLSv1.3")
    cv = [e for e in conn.events if getattr(e, "msg_type", None) == 15][0]
    assert cv.body[:2] == scheme


@needs_openssl
def test_empty_certificate_when_no_key_fits_the_request(pki):
    """The server asks for RSA-PSS signatures only; our ECDSA client key cannot make one,
    so the client answers with an empty Certificate (and no CertificateVerify)."""
    with openssl_server(pki.rsa_cert, pki.rsa_key, version="1.3", verify=1,
                        cafile=pki.ca_cert,
                        extra=["-client_sigalgs", "rsa_pss_rsae_sha256"]) as peer:
        conn, err = core_client(peer.port, data=GET, cert_chain=pki.client_ecdsa_cert,
                                private_key=pki.client_ecdsa_key)
    assert err is None and not conn.client_auth
    assert "C:certificate" in conn.messages and "C:certificate_verify" not in conn.messages
    assert b"no client certificate available" in received(conn)
