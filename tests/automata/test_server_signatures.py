"""TLS 1.2 signature schemes our server signs with or accepts, checked with openssl s_client:
SHA-224 ServerKeyExchange signatures, and DSA, Ed25519 and SHA-224 CertificateVerify from
client certificates (OpenSSL and GnuTLS servers accept them too; tlsfuzzer's
test-dsa-in-certificate-verify, -eddsa-, -ecdsa-in-certificate-verify)."""
import subprocess

import pytest

from scapy_tls_hs.automata.listener import TLSListener
from scapy_tls_hs.crypto import signatures
from tests.peers import clients

pytestmark = pytest.mark.skipif(not clients.have("openssl"), reason="openssl not installed")


@pytest.fixture(scope="module")
def server(pki):
    # Client certificates are asked for but not verified (no cafile): the CertificateVerify
    # signature is what these tests are about.
    with TLSListener("127.0.0.1", 0, cert=pki.rsa_cert, key=pki.rsa_key,
                     identities=[(pki.ecdsa_cert, pki.ecdsa_key)], client_auth="optional",
                     versions=["1.0", "1.1", "1.2"], timeout=5.0) as listener:
        yield listener


def _self_signed(tmp_path, name, *genkey):
    key, cert = tmp_path / (name + ".key"), tmp_path / (name + ".pem")
    subprocess.run(["openssl", *genkey, "-out", str(key)], check=True, capture_output=True)
    subprocess.run(["openssl", "req", "-new", "-x509", "-key", str(key), "-out", str(cert),
                    "-subj", "/CN=" + name, "-days", "2"], check=True, capture_output=True)
    return str(cert), str(key)


def served(server, run):
    before = len(server.results)
    out = run()
    assert server.wait_for_results(before + 1), "the server reported nothing"
    return out, server.results[before]


@pytest.mark.parametrize("kind,genkey,sigalg", [
    ("dsa", ["genpkey", "-genparam", "-algorithm", "DSA", "-pkeyopt", "dsa_paramgen_bits:2048"],
     "DSA+SHA256"),
    ("ed25519", ["genpkey", "-algorithm", "ed25519"], "ed25519"),
    ("ecdsa-sha224", ["ecparam", "-name", "prime256v1", "-genkey"], "ECDSA+SHA224"),
])
def test_client_certificate_verify(server, tmp_path, kind, genkey, sigalg):
    if kind == "dsa":
        params = tmp_path / "dsa.params"
        subprocess.run(["openssl", *genkey, "-out", str(params)], check=True,
                       capture_output=True)
        genkey = ["genpkey", "-paramfile", str(params)]
    cert, key = _self_signed(tmp_path, kind, *genkey)
    out, report = served(server, lambda: clients.s_client(
        server.port, version="1.2", cert=cert, key=key, cipher="DEFAULT:@SECLEVEL=0",
        extra=["-client_sigalgs", sigalg]))
    assert out.ok, out.output
    assert report["handshake_complete"] and report["client_auth"], report["errors"]
    assert "C:certificate_verify" in report["messages"]


def test_dsa_client_certificate_in_tls10(server, tmp_path):
    """TLS 1.0: DSA signs the SHA-1 of the handshake (no scheme on the wire)."""
    params = tmp_path / "dsa.params"
    subprocess.run(["openssl", "genpkey", "-genparam", "-algorithm", "DSA", "-pkeyopt",
                    "dsa_paramgen_bits:1024", "-out", str(params)], check=True,
                   capture_output=True)
    cert, key = _self_signed(tmp_path, "dsa10", "genpkey", "-paramfile", str(params))
    out, report = served(server, lambda: clients.s_client(server.port, version="1.0",
                                                          cert=cert, key=key))
    assert out.ok, out.output
    assert report["version"] == "TLS 1.0" and report["client_auth"]


@pytest.mark.parametrize("sigalgs,scheme", [("RSA+SHA224", 0x0301), ("ECDSA+SHA224", 0x0303)])
def test_server_key_exchange_signed_with_sha224(server, sigalgs, scheme):
    out, report = served(server, lambda: clients.s_client(
        server.port, version="1.2", cipher="ECDHE:@SECLEVEL=0", extra=["-sigalgs", sigalgs]))
    assert out.ok, out.output
    assert "Peer signing digest: SHA224" in out.output
    assert report["handshake_complete"]
    assert signatures.SCHEMES[scheme][2].name == "sha224"


# -- a DSA server certificate: the DHE_DSS suites ------------------------------------------

@pytest.fixture(scope="module")
def dsa_identity(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dsa")
    params = tmp / "dsa.params"
    subprocess.run(["openssl", "genpkey", "-genparam", "-algorithm", "DSA", "-pkeyopt",
                    "dsa_paramgen_bits:2048", "-out", str(params)], check=True,
                   capture_output=True)
    return _self_signed(tmp, "localhost", "genpkey", "-paramfile", str(params))


@pytest.mark.parametrize("version,cipher,suite", [
    ("1.2", "DHE-DSS-AES128-GCM-SHA256", "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256"),
    ("1.2", "DHE-DSS-AES256-SHA256", "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256"),
    ("1.0", "DHE-DSS-AES128-SHA", "TLS_DHE_DSS_WITH_AES_128_CBC_SHA"),
])
def test_dsa_server_certificate(dsa_identity, version, cipher, suite):
    cert, key = dsa_identity
    with TLSListener("127.0.0.1", 0, cert=cert, key=key, timeout=5.0) as server:
        out, report = served(server, lambda: clients.s_client(
            server.port, version=version, cipher=cipher + ":@SECLEVEL=0"))
    assert out.ok, out.output
    assert report["cipher_suite"] == suite and report["handshake_complete"]
    if version == "1.2":
        assert "Peer signature type: DSA" in out.output


def test_dsa_only_server_negotiates_tls12_without_downgrade_sentinel(dsa_identity):
    """TLS 1.3 has no DSA CertificateVerify: the server speaks TLS 1.2 to a TLS 1.3 client
    and does not mark its random as a downgrade (OpenSSL's client would abort)."""
    cert, key = dsa_identity
    with TLSListener("127.0.0.1", 0, cert=cert, key=key, timeout=5.0) as server:
        out, report = served(server, lambda: clients.s_client(
            server.port, cipher="ALL:@SECLEVEL=0"))
    assert out.ok, out.output
    assert report["version"] == "TLS 1.2" and "DHE_DSS" in report["cipher_suite"]


def test_our_client_with_dhe_dss(dsa_identity):
    from scapy_tls_hs.automata.client import TLSClientAutomaton
    from tests.peers.servers import openssl_server
    cert, key = dsa_identity
    with openssl_server(cert, key, version="1.2", cipher="DHE-DSS-AES128-GCM-SHA256") as peer:
        result = TLSClientAutomaton("127.0.0.1", peer.port, version="1.2",
                                    ciphers=["DHE-DSS-AES128-GCM-SHA256"],
                                    data=b"GET / HTTP/1.0\r\n\r\n", timeout=10).run()
    assert result.ok, result.errors
    assert result.cipher_suite == "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256"
