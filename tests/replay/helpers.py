"""Shared by the replay tests: the captured server's own certificate, to run a live server
"configured like" the captured one."""
import pathlib

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from scapy_tls_hs.replay import read_captured

ROOT = pathlib.Path(__file__).resolve().parents[2]
CAPTURES = ROOT / "tests" / "data" / "captures"
# Most captures of the corpus were made with one RSA certificate (CN=server.test) whose key
# ships beside the RSA key exchange captures.
SERVER_KEY = CAPTURES / "tls12_rsa_aes128sha_openssl.server.key"


def capture(name):
    return str(CAPTURES / name)


def captured_identity(directory, name="tls12_rsa_aes128sha_openssl.pcap"):
    """(cert.pem, key.pem): the certificate the captured server sent, and its key."""
    leaf = read_captured(capture(name))[0].certificates[0]
    return write_leaf(directory, leaf), str(SERVER_KEY)


def write_leaf(directory, der):
    """A captured certificate (DER) as a PEM file in ``directory``; its path."""
    pem = x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)
    path = pathlib.Path(directory) / "captured_server.pem"
    path.write_bytes(pem)
    return str(path)
