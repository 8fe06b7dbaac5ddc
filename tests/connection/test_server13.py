"""The TLS 1.3 server role against real clients: ``openssl s_client -tls1_3`` (suites,
groups, HelloRetryRequest, resumption, 0-RTT, client authentication, KeyUpdate) and Python
``ssl``. The server is a sans-IO ``ServerConnection`` behind a socket in a thread."""
import shutil
import socket
import ssl
import subprocess
import time

import pytest

from scapy_tls_hs.connection import ServerConfig
from scapy_tls_hs.connection.server_context import ServerContext
from tests.connection.server13_peer import TIMEOUT, ServerThread

pytestmark = pytest.mark.skipif(not shutil.which("openssl"), reason="openssl not installed")


def s_client(port, pki, *args, stdin=b"hello\n"):
    argv = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-tls1_3",
            "-CAfile", pki.ca_cert, "-servername", "localhost", "-ign_eof", *args]
    p = subprocess.run(argv, input=stdin, capture_output=True, timeout=TIMEOUT + 5)
    return p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")


def serve(cfg, port, **kw):
    return ServerThread(cfg, port, **kw)


@pytest.fixture(scope="module")
def rsa_cfg(pki):
    return ServerConfig(pki.rsa_cert, pki.rsa_key)


@pytest.mark.parametrize("suite", ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                   "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_CCM_SHA256"])
def test_openssl_every_suite(pki, free_port, suite):
    cfg = ServerConfig(pki.rsa_cert, pki.rsa_key, versions=["1.3"],
                       ciphers=["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_CCM_SHA256"])
    port = free_port()
    with serve(cfg, port) as st:
        out = s_client(port, pki, "-ciphersuites", suite)
    assert "New, TLSv1.3, Cipher is %s" % suite in out
    assert "Verify return code: 0 (ok)" in out
    assert "echo:hello" in out
    conn = st.conns[0]
    assert conn.version == 0x0304 and conn.cipher_suite == suite
    assert conn.handshake_complete and not st.errors


@pytest.mark.parametrize("group,name", [("X25519", "x25519"), ("P-256", "secp256r1"),
                                        ("P-384", "secp384r1"), ("P-521", "secp521r1"),
                                        ("X448", "x448"), ("ffdhe2048", "ffdhe2048"),
                                        ("ffdhe3072", "ffdhe3072")])
def test_openssl_every_group(pki, free_port, rsa_cfg, group, name):
    port = free_port()
    with serve(rsa_cfg, port) as st:
        out = s_client(port, pki, "-groups", group)
    assert "echo:hello" in out
    conn = st.conns[0]
    assert conn.group == name and not conn.hello_retry
    assert "S:hello_retry_request" not in conn.messages


def test_openssl_hello_retry_request(pki, free_port):
    """s_client shares P-256 only; the server wants x25519: HRR, cookie, second hello."""
    cfg = ServerConfig(pki.rsa_cert, pki.rsa_key, groups=["x25519"])
    port = free_port()
    with serve(cfg, port) as st:
        out = s_client(port, pki, "-groups", "P-256:X25519")
    assert "echo:hello" in out and "Server Temp Key: X25519" in out
    conn = st.conns[0]
    assert conn.hello_retry and conn.group == "x25519"
    assert conn.messages[:3] == ["C:client_hello", "S:hello_retry_request",
                                 "S:change_cipher_spec"]
    assert conn.messages.count("C:client_hello") == 2


def test_openssl_no_common_group_is_handshake_failure(pki, free_port):
    cfg = ServerConfig(pki.rsa_cert, pki.rsa_key, groups=["x25519"])
    port = free_port()
    with serve(cfg, port) as st:
        out = s_client(port, pki, "-groups", "P-256")
    assert "handshake failure" in out
    assert st.errors[0].description == "handshake_failure"


@pytest.mark.parametrize("kind", ["ecdsa", "rsa"])
def test_openssl_certificate_kinds(pki, free_port, kind):
    cfg = ServerConfig(getattr(pki, kind + "_cert"), getattr(pki, kind + "_key"))
    port = free_port()
    with serve(cfg, port):
        out = s_client(port, pki)
    assert "Verify return code: 0 (ok)" in out and "echo:hello" in out
    assert ("Peer signature type: ECDSA" if kind == "ecdsa"
            else "Peer signature type: RSA-PSS") in out


def test_openssl_resumption_and_early_data(pki, free_port, tmp_path):
    """A ticket from the first connection resumes the second ("Reused, TLSv1.3"); with 0-RTT
    allowed the third sends early data on the second ticket, the fourth tries the same
    ticket again and its early data is refused (single use), but it still resumes."""
    cfg = ServerConfig(pki.rsa_cert, pki.rsa_key, early_data_max=1024)
    sess = str(tmp_path / "sess.pem")
    early = tmp_path / "early.txt"
    early.write_bytes(b"early bird\n")
    port = free_port()
    with serve(cfg, port, count=5) as st:
        out1 = s_client(port, pki, "-sess_out", sess)
        out2 = s_client(port, pki, "-sess_in", sess)
        s_client(port, pki, "-sess_out", sess)          # a fresh ticket allowing 0-RTT
        out3 = s_client(port, pki, "-sess_in", sess, "-early_data", str(early))
        out4 = s_client(port, pki, "-sess_in", sess, "-early_data", str(early))
    assert "New, TLSv1.3" in out1 and "Reused, TLSv1.3" in out2
    assert "Reused, TLSv1.3" in out3 and "Early data was accepted" in out3
    assert "Reused, TLSv1.3" in out4 and "Early data was rejected" in out4
    first, second, _, third, fourth = st.conns
    assert not first.resumed and second.resumed and third.resumed
    assert "S:certificate" not in second.messages
    assert third.early_data == "accepted" and fourth.early_data == "rejected"
    got = b"".join(e.data for e in third.events
                   if type(e).__name__ == "ApplicationData" and e.direction == "client")
    assert got.startswith(b"early bird\n")
    assert "C:end_of_early_data" in third.messages
    assert "C:end_of_early_data" not in fourth.messages
    assert not st.errors


def test_openssl_early_data_refused_when_not_configured(pki, free_port, tmp_path):
    cfg = ServerConfig(pki.rsa_cert, pki.rsa_key)       # early_data_max=0
    sess = str(tmp_path / "sess.pem")
    early = tmp_path / "early.txt"
    early.write_bytes(b"x" * 100)
    port = free_port()
    with serve(cfg, port, count=2) as st:
        s_client(port, pki, "-sess_out", sess)
        out = s_client(port, pki, "-sess_in", sess, "-early_data", str(early))
    # Without max_early_data in the ticket s_client does not even try.
    assert "Reused, TLSv1.3" in out and "echo:hello" in out
    assert st.conns[1].early_data is None and not st.errors


def test_no_tickets(pki, free_port):
    cfg = ServerConfig(pki.rsa_cert, pki.rsa_key, tickets=False)
    port = free_port()
    with serve(cfg, port) as st:
        s_client(port, pki)
    assert "S:new_session_ticket" not in st.conns[0].messages


def test_tickets13_count(pki, free_port):
    cfg = ServerConfig(pki.rsa_cert, pki.rsa_key, tickets13=3)
    port = free_port()
    with serve(cfg, port) as st:
        s_client(port, pki)
    assert st.conns[0].messages.count("S:new_session_ticket") == 3


@pytest.mark.parametrize("mode", ["required", "optional"])
@pytest.mark.parametrize("kind", ["rsa", "ecdsa"])
def test_openssl_client_auth(pki, free_port, mode, kind):
    cfg = ServerConfig(pki.rsa_cert, pki.rsa_key, client_auth=mode, cafile=pki.ca_cert)
    port = free_port()
    with serve(cfg, port) as st:
        out = s_client(port, pki, "-cert", getattr(pki, "client_%s_cert" % kind),
                       "-key", getattr(pki, "client_%s_key" % kind))
    assert "echo:hello" in out
    conn = st.conns[0]
    assert conn.client_auth and conn.peer_certificates
    assert conn.messages.index("S:certificate_request") < conn.messages.index("S:certificate")
    assert "C:certificate_verify" in conn.messages


def test_openssl_client_auth_required_without_certificate(pki, free_port):
    cfg = ServerConfig(pki.rsa_cert, pki.rsa_key, client_auth="required", cafile=pki.ca_cert)
    port = free_port()
    with serve(cfg, port) as st:
        out = s_client(port, pki)
    assert "certificate required" in out
    assert st.errors[0].description == "certificate_required"


def test_openssl_client_auth_optional_without_certificate(pki, free_port):
    cfg = ServerConfig(pki.rsa_cert, pki.rsa_key, client_auth="optional", cafile=pki.ca_cert)
    port = free_port()
    with serve(cfg, port) as st:
        out = s_client(port, pki)
    assert "echo:hello" in out
    assert not st.conns[0].client_auth and not st.errors


def test_openssl_client_auth_unknown_ca(pki, free_port):
    cfg = ServerConfig(pki.rsa_cert, pki.rsa_key, client_auth="required", cafile=pki.ca_cert)
    port = free_port()
    with serve(cfg, port) as st:
        s_client(port, pki, "-cert", pki.wrong_client_cert, "-key", pki.wrong_client_key)
    assert st.errors[0].description == "unknown_ca"


@pytest.mark.parametrize("letter", ["k", "K"])
def test_openssl_key_update(pki, free_port, rsa_cfg, letter):
    """s_client "k" sends KeyUpdate(update_not_requested), "K" asks for ours as well; data
    still flows under the new keys both ways."""
    port = free_port()
    with serve(rsa_cfg, port) as st:
        proc = subprocess.Popen(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                                 "-tls1_3", "-CAfile", pki.ca_cert], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + TIMEOUT
            while not (st.conns and st.conns[0].handshake_complete):
                assert time.monotonic() < deadline
                time.sleep(0.02)
            proc.stdin.write(letter.encode() + b"\n")
            proc.stdin.flush()
            while st.conns[0].key_updates < (1 if letter == "k" else 2):
                assert time.monotonic() < deadline, st.conns[0].messages
                time.sleep(0.02)
            proc.stdin.write(b"after update\n")
            proc.stdin.flush()
            # The server answers, then closes: s_client exits on its close_notify.
            out = proc.stdout.read().decode(errors="replace")
        finally:
            proc.kill()
            proc.wait()
    conn = st.conns[0]
    assert "echo:after update" in out
    assert conn.messages.count("C:key_update") == 1
    assert conn.messages.count("S:key_update") == (1 if letter == "K" else 0)
    assert not st.errors


@pytest.mark.parametrize("kind", ["rsa", "ecdsa"])
def test_python_ssl_client(pki, free_port, kind):
    cfg = ServerConfig(getattr(pki, kind + "_cert"), getattr(pki, kind + "_key"),
                       alpn=["h2", "http/1.1"])
    ctx = ssl.create_default_context(cafile=pki.ca_cert)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.set_alpn_protocols(["http/1.1"])
    port = free_port()
    with serve(cfg, port) as st:
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
            with ctx.wrap_socket(sock, server_hostname="localhost") as tls:
                tls.sendall(b"ping")
                got = tls.recv(100)
                assert tls.version() == "TLSv1.3"
                assert tls.selected_alpn_protocol() == "http/1.1"
    assert got == b"echo:ping"
    conn = st.conns[0]
    assert conn.alpn == "http/1.1" and conn.sni == "localhost"


def test_shared_context_resumes_across_configs(pki, free_port, tmp_path):
    """Two configs, one context: a ticket from one resumes on the other."""
    ctx = ServerContext.from_config(ServerConfig(pki.rsa_cert, pki.rsa_key))
    sess = str(tmp_path / "sess.pem")
    port = free_port()
    with serve(ServerConfig(pki.rsa_cert, pki.rsa_key), port, context=ctx):
        s_client(port, pki, "-sess_out", sess)
    port = free_port()
    with serve(ServerConfig(pki.rsa_cert, pki.rsa_key), port, context=ctx) as st:
        out = s_client(port, pki, "-sess_in", sess)
    assert "Reused, TLSv1.3" in out and st.conns[0].resumed


def test_tls12_client_gets_downgrade_sentinel(pki, free_port, rsa_cfg):
    """RFC 8446 section 4.1.3: a TLS 1.3 server negotiating TLS 1.2 says so in its random
    (OpenSSL as a 1.3-capable client checks it; forced to 1.2 it must still connect)."""
    port = free_port()
    with serve(rsa_cfg, port) as st:
        argv = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-tls1_2",
                "-CAfile", pki.ca_cert, "-ign_eof"]
        out = subprocess.run(argv, input=b"hello\n", capture_output=True,
                             timeout=TIMEOUT + 5).stdout.decode(errors="replace")
    assert "echo:hello" in out
    conn = st.conns[0]
    assert conn.version == 0x0303 and conn.server_random[-8:] == b"DOWNGRD\x01"


@pytest.mark.skipif(not shutil.which("gnutls-cli"), reason="gnutls-cli not installed")
def test_gnutls_cli_resumes(pki, free_port, rsa_cfg):
    port = free_port()
    with serve(rsa_cfg, port, count=2) as st:
        argv = ["gnutls-cli", "-p", str(port), "--x509cafile", pki.ca_cert,
                "--priority", "NORMAL:-VERS-ALL:+VERS-TLS1.3", "-r", "localhost"]
        out = subprocess.run(argv, input=b"hello\n", capture_output=True,
                             timeout=TIMEOUT + 5).stdout.decode(errors="replace")
    assert "(TLS1.3-X.509)" in out and "*** This is a resumed session" in out
    assert [c.resumed for c in st.conns] == [False, True] and not st.errors


def test_tlslite_client_resumes(pki, free_port, rsa_cfg):
    tlslite = pytest.importorskip("tlslite")
    port = free_port()
    results = []
    with serve(rsa_cfg, port, count=2) as st:
        session = None
        for _ in range(2):
            with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
                conn = tlslite.TLSConnection(sock)
                settings = tlslite.HandshakeSettings()
                settings.minVersion = settings.maxVersion = (3, 4)
                conn.handshakeClientCert(settings=settings, session=session,
                                         serverName="localhost")
                conn.write(b"ping")
                results.append((conn.version, conn.resumed, bytes(conn.read(max=100))))
                session = conn.session
                conn.close()
    assert results == [((3, 4), False, b"echo:ping"), ((3, 4), True, b"echo:ping")]
    assert [c.resumed for c in st.conns] == [False, True]


@pytest.mark.parametrize("mode", ["psk_ke", "psk_dhe_ke"])
def test_tlslite_client_with_an_external_psk(pki, free_port, rsa_cfg, mode):
    """RFC 8446 section 4.2.11 external PSKs from the server context ("ext binder")."""
    tlslite = pytest.importorskip("tlslite")
    ctx = ServerContext.from_config(rsa_cfg)
    ctx.external_psks = ServerContext(external_psks={b"test": b"\xaa" * 32}).external_psks
    port = free_port()
    with serve(rsa_cfg, port, context=ctx) as st:
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
            conn = tlslite.TLSConnection(sock)
            settings = tlslite.HandshakeSettings()
            settings.minVersion = settings.maxVersion = (3, 4)
            settings.pskConfigs = [(b"test", b"\xaa" * 32, "sha256")]
            settings.psk_modes = [mode]
            conn.handshakeClientCert(settings=settings)
            conn.write(b"ping")
            got = bytes(conn.read(max=100))
            conn.close()
    assert got == b"echo:ping"
    server = st.conns[0]
    assert server.resumed and "S:certificate" not in server.messages
    assert server.group == (None if mode == "psk_ke" else "x25519")


@pytest.fixture(scope="module")
def pss_identity(tmp_path_factory):
    """An RSASSA-PSS certificate (its key may only make rsa_pss_pss_* signatures), made by
    openssl: cryptography cannot write such a key."""
    d = tmp_path_factory.mktemp("pss")
    key, cert = str(d / "pss.key"), str(d / "pss.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA-PSS", "-pkeyopt",
                    "rsa_keygen_bits:2048", "-out", key], check=True, capture_output=True)
    subprocess.run(["openssl", "req", "-x509", "-new", "-key", key, "-out", cert, "-days", "30",
                    "-subj", "/CN=localhost"], check=True, capture_output=True)
    return cert, key


@pytest.mark.parametrize("sigalgs,ok", [("rsa_pss_pss_sha256", True),
                                        ("rsa_pss_rsae_sha256", False)])
def test_openssl_with_an_rsassa_pss_certificate(pki, free_port, pss_identity, sigalgs, ok):
    cfg = ServerConfig(*pss_identity)
    port = free_port()
    with serve(cfg, port) as st:
        out = s_client(port, pki, "-sigalgs", sigalgs)
    if ok:
        assert "echo:hello" in out and "Peer signature type: RSA-PSS" in out
    else:
        assert st.errors[0].description == "handshake_failure"
