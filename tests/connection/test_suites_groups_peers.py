"""AES-CCM, x448, RFC 7919 FFDHE groups and record_size_limit against other implementations:
openssl s_client / s_server, gnutls-cli and tlslite-ng (each skipped when missing). The full
suite matrices run in tests/automata; these are the pieces of RFC 6655/7251, 7748, 7919 and
8449 that a matrix does not show."""
import shutil
import socket
import threading

import pytest

from scapy_tls_hs.automata.listener import TLSListener
from scapy_tls_hs.connection import ClientConfig, ClientConnection, ServerConfig
from scapy_tls_hs.crypto.suites import CipherSuite
from tests.automata.test_server_interop import served
from tests.connection.test_real_peers import TIMEOUT, drive
from tests.peers import clients
from tests.peers.servers import openssl_server

CCM = ["AES128-CCM", "AES256-CCM8", "DHE-RSA-AES256-CCM", "DHE-RSA-AES128-CCM8"]
CCM_ECDSA = ["ECDHE-ECDSA-AES128-CCM", "ECDHE-ECDSA-AES256-CCM8"]


def _need(tool):
    if shutil.which(tool) is None:
        pytest.skip("%s is not installed" % tool)


def _listener(pki, **options):
    cfg = ServerConfig(pki.rsa_chain, pki.rsa_key,
                       extra_identities=[(pki.ecdsa_cert, pki.ecdsa_key)])
    return TLSListener("127.0.0.1", 0, config=cfg, timeout=5.0, **options)


@pytest.fixture(scope="module")
def listener(pki):
    """Answers one HTTP request with a page, then closes."""
    with _listener(pki).start() as server:
        yield server


@pytest.fixture(scope="module")
def echo_listener(pki):
    with _listener(pki, echo=True).start() as server:
        yield server


# -- our server --------------------------------------------------------------------------

@pytest.mark.parametrize("cipher", CCM + CCM_ECDSA)
def test_s_client_ccm(listener, cipher):
    _need("openssl")
    out, report = served(listener, lambda: clients.s_client(
        listener.port, version="1.2", cipher=cipher, data=clients.HTTP_GET))
    assert out.ok, out.output
    assert clients.s_client_cipher(out.output) == cipher
    assert report["cipher_suite"] == CipherSuite.by_name(cipher).name
    assert report["handshake_complete"] and not report["errors"]


def test_s_client_x448(listener):
    _need("openssl")
    out, report = served(listener, lambda: clients.s_client(
        listener.port, version="1.2", cipher="ECDHE-RSA-AES128-GCM-SHA256",
        extra=("-groups", "X448"), data=clients.HTTP_GET))
    assert out.ok, out.output
    assert "Server Temp Key: X448" in out.output
    assert report["group"] == "x448"


@pytest.mark.parametrize("group", ["FFDHE3072", "FFDHE4096"])
def test_gnutls_cli_ffdhe(listener, group):
    _need("gnutls-cli")
    prio = "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+DHE-RSA:-GROUP-ALL:+GROUP-" + group
    out, report = served(listener, lambda: clients.gnutls_cli(listener.port, priority=prio,
                                                               data=clients.HTTP_GET))
    assert out.ok, out.output
    assert "(DHE-%s)" % group in clients.gnutls_description(out.output)
    assert report["group"] == group.lower()


def _tlslite_settings(version, limit):
    from tlslite import HandshakeSettings
    settings = HandshakeSettings()
    settings.minVersion = (3, 3)
    settings.maxVersion = (3, 4) if version == "1.3" else (3, 3)
    settings.record_size_limit = limit
    return settings


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_tlslite_client_limit_is_kept(echo_listener, version):
    """tlslite-ng refuses (record_overflow) any record over the limit it advertised."""
    tlslite = pytest.importorskip("tlslite")
    data = bytes(range(256)) * 12
    with socket.create_connection(("127.0.0.1", echo_listener.port), timeout=TIMEOUT) as sock:
        conn = tlslite.TLSConnection(sock)
        conn.handshakeClientCert(settings=_tlslite_settings(version, 64), serverName="localhost")
        conn.write(data)
        got = b""
        while len(got) < len(data):
            chunk = conn.read(max=65536)
            assert chunk, "the server closed"
            got += bytes(chunk)
        conn.close()
    assert got == data


# -- our client --------------------------------------------------------------------------

def _client_exchange(port, cfg, data=b"GET / HTTP/1.0\r\n\r\n"):
    conn = ClientConnection(cfg)
    conn.start()
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        drive(conn, sock, lambda: conn.handshake_complete)
        conn.send_application_data(data)
        got = drive(conn, sock, lambda: conn.peer_closed)
    return conn, got


@pytest.mark.parametrize("cipher", CCM)
def test_client_ccm_against_s_server(pki, cipher):
    _need("openssl")
    with openssl_server(pki.rsa_cert, pki.rsa_key, version="1.2", cipher=cipher) as peer:
        conn, got = _client_exchange(peer.port, ClientConfig(versions=["1.2"], ciphers=[cipher]))
    assert conn.suite.openssl_name == cipher
    assert b"HTTP/1.0 200 ok" in got


def test_client_x448_against_s_server(pki):
    _need("openssl")
    with openssl_server(pki.rsa_cert, pki.rsa_key, version="1.2",
                        extra=("-groups", "X448")) as peer:
        conn, got = _client_exchange(peer.port, ClientConfig(versions=["1.2"],
                                                             groups=["x448"]))
    assert conn.group == "x448"
    assert b"HTTP/1.0 200 ok" in got


def _tlslite_server(pki, version, limit, ready, port_box, done):
    from tlslite import TLSConnection, X509, X509CertChain, parsePEMKey
    with open(pki.rsa_cert) as f:
        chain = X509CertChain([X509().parse(f.read())])
    with open(pki.rsa_key) as f:
        key = parsePEMKey(f.read(), private=True)
    with socket.create_server(("127.0.0.1", 0)) as srv:
        srv.settimeout(TIMEOUT)
        port_box.append(srv.getsockname()[1])
        ready.set()
        sock, _ = srv.accept()
        sock.settimeout(TIMEOUT)
        conn = TLSConnection(sock)
        try:
            conn.handshakeServer(certChain=chain, privateKey=key,
                                 settings=_tlslite_settings(version, limit))
            data = b""
            while len(data) < 3000:
                chunk = conn.read(max=65536)
                if not chunk:
                    break
                data += bytes(chunk)
            conn.write(data)
            conn.close()
            done.append(len(data))
        except Exception as exc:        # reported to the test, which fails on it
            done.append(exc)
        finally:
            sock.close()


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_client_keeps_to_the_tlslite_server_limit(pki, version):
    pytest.importorskip("tlslite")
    ready, port_box, done = threading.Event(), [], []
    thread = threading.Thread(target=_tlslite_server,
                              args=(pki, version, 100, ready, port_box, done), daemon=True)
    thread.start()
    assert ready.wait(TIMEOUT)
    cfg = ClientConfig(versions=[version], record_size_limit=2 ** 14 + 1,
                       groups=["secp256r1", "x25519"])
    conn, got = _client_exchange(port_box[0], cfg, data=b"y" * 3000)
    thread.join(TIMEOUT)
    assert done == [3000]
    assert got == b"y" * 3000
