"""Shared by the replay tests: the captured server's own certificate, to run a live server
"configured like" the captured one; a capture made of what a client sent."""
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


def pcap_with(path, data):
    """A capture of one TCP connection whose client sent ``data`` (no answer)."""
    from scapy.layers.inet import IP, TCP
    from scapy.utils import wrpcap
    c, s = dict(src="10.0.0.1", dst="10.0.0.2"), dict(src="10.0.0.2", dst="10.0.0.1")
    wrpcap(str(path), [IP(**c) / TCP(sport=40000, dport=443, flags="S", seq=100),
                       IP(**s) / TCP(sport=443, dport=40000, flags="SA", seq=500, ack=101),
                       IP(**c) / TCP(sport=40000, dport=443, flags="A", seq=101, ack=501),
                       IP(**c) / TCP(sport=40000, dport=443, flags="PA", seq=101, ack=501)
                       / data])
    return str(path)
