"""Hybrid ECDHE + ML-KEM TLS 1.3 groups (crypto/hybrid.py): our client and server in memory
for each group and through a HelloRetryRequest, malformed shares, and the independent
implementations here: tlslite-ng with kyber-py (both roles) and headless Chromium."""
import importlib.util
import json
import shutil
import socket
import subprocess
import sys

import pytest

from scapy_tls_hs.connection import ClientConfig, ServerConfig
from scapy_tls_hs.crypto.hybrid import HYBRID_GROUPS, hybrid_respond, hybrid_supported
from scapy_tls_hs.crypto.keyexchange import generate_key_share, respond_key_share
from scapy_tls_hs.errors import AlertError
from scapy_tls_hs.registry import NAMED_GROUPS
from tests.connection.pump import assert_ok, run
from tests.peers.process import free_port, wait_port

pytestmark = pytest.mark.skipif(not hybrid_supported(0x11EC),
                                 reason="this cryptography has no ML-KEM")
needs_kyber = pytest.mark.skipif(importlib.util.find_spec("kyber_py") is None,
                                 reason="kyber-py is needed for tlslite-ng's ML-KEM")


@pytest.mark.parametrize("group", sorted(HYBRID_GROUPS), ids=lambda g: NAMED_GROUPS[g])
def test_shares_agree(group):
    client = generate_key_share(group)
    server_share, server_secret = respond_key_share(group, client.public_bytes())
    assert client.exchange(server_share) == server_secret
    assert len(server_secret) == 32 + (48 if group == 0x11ED else 32)    # ML-KEM + ECDHE


@pytest.mark.parametrize("group", sorted(HYBRID_GROUPS), ids=lambda g: NAMED_GROUPS[g])
def test_our_client_and_server(pki, group):
    name = NAMED_GROUPS[group]
    client, server, link = run(ClientConfig(groups=[name, "x25519"]),
                               ServerConfig(pki.rsa_cert, pki.rsa_key, groups=[name]))
    assert_ok(link)
    assert client.group == server.group == name and not client.hello_retry


def test_hello_retry_to_a_hybrid_group(pki):
    client, server, link = run(ClientConfig(groups=["x25519", "X25519MLKEM768"]),
                               ServerConfig(pki.rsa_cert, pki.rsa_key,
                                            groups=["X25519MLKEM768"]))
    assert_ok(link)
    assert client.hello_retry and client.group == "X25519MLKEM768"


def test_tls12_offer_leaves_hybrids_out(pki):
    client, server, link = run(ClientConfig(versions=["1.2"], groups=["X25519MLKEM768",
                                                                      "x25519"]),
                               ServerConfig(pki.rsa_cert, pki.rsa_key))
    assert_ok(link)
    assert client.version == 0x0303 and client.group == "x25519"


@pytest.mark.parametrize("cut", [1, 33, 1216])
def test_malformed_share_is_illegal_parameter(cut):
    good = generate_key_share(0x11EC).public_bytes()
    with pytest.raises(AlertError) as info:
        hybrid_respond(0x11EC, good[:-cut])
    assert info.value.description == "illegal_parameter"


# -- independent implementations ------------------------------------------------------------

def _serve(pki, *extra):
    port = free_port()
    argv = [sys.executable, "-m", "scapy_tls_hs", "server", "--cert", pki.rsa_cert, "--key",
            pki.rsa_key, "--port", str(port), "--group", "X25519MLKEM768", "--group", "x25519",
            "--max-connections", "1", "--json", "--timeout", "10", *extra]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    wait_port(port, proc=proc)
    return port, proc


def _report(proc):
    try:
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return json.loads(out.decode().strip().splitlines()[-1])


@needs_kyber
def test_tlslite_client_to_our_server(pki):
    from tlslite import HandshakeSettings, TLSConnection
    port, proc = _serve(pki, "--echo")
    settings = HandshakeSettings()
    settings.minVersion = settings.maxVersion = (3, 4)
    settings.eccCurves = ["x25519mlkem768", "x25519"]
    settings.keyShares = ["x25519mlkem768"]
    conn = TLSConnection(socket.create_connection(("127.0.0.1", port), timeout=10))
    conn.handshakeClientCert(settings=settings)
    conn.write(b"ping")
    assert conn.read(max=10) == b"ping"
    conn.close()
    report = _report(proc)
    assert report["group"] == "X25519MLKEM768" and report["handshake_complete"]


@needs_kyber
def test_our_client_to_tlslite_server(pki):
    from scapy_tls_hs.automata.client import TLSClientAutomaton
    from tests.peers.servers import tlslite_server
    with tlslite_server(pki.ecdsa_cert, pki.ecdsa_key) as peer:
        result = TLSClientAutomaton("127.0.0.1", peer.port,
                                    groups=["X25519MLKEM768", "x25519"], data=b"ping",
                                    timeout=10).run()
    assert result.ok, result.errors
    assert result.group == "X25519MLKEM768" and result.received == "ping"


def test_chromium_to_our_server(pki, tmp_path):
    """A real browser: Chromium's first offer is X25519MLKEM768, and our server takes it."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed")
    port, proc = _serve(pki)
    try:
        subprocess.run([browser, "--headless=new", "--no-sandbox", "--disable-gpu",
                        "--ignore-certificate-errors", "--user-data-dir=%s" % tmp_path,
                        "--dump-dom", "https://127.0.0.1:%d/" % port],
                       capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        pass
    report = _report(proc)
    assert report["version"] == "TLS 1.3" and report["group"] == "X25519MLKEM768"
    assert report["handshake_complete"]
