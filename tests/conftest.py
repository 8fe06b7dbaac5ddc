"""Shared fixtures: a throw-away PKI, free ports, the capture corpus."""
import datetime
import ipaddress
import os
import pathlib
import types

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.peers.process import free_port as _free_port

DATA = pathlib.Path(__file__).parent / "data"


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "scapy-tls-hs tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject_cn, key, issuer_cn, issuer_key, *, ca=False, client=False, hosts=()):
    now = datetime.datetime.now(datetime.timezone.utc)
    pub = key.public_key()
    b = (x509.CertificateBuilder()
         .subject_name(_name(subject_cn)).issuer_name(_name(issuer_cn))
         .public_key(pub).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(days=1))
         .not_valid_after(now + datetime.timedelta(days=3650))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
             issuer_key.public_key()), critical=False))
    if ca:
        b = b.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
    else:
        b = b.add_extension(x509.ExtendedKeyUsage(
            [ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH]),
            critical=False)
    if hosts:
        names = []
        for h in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(h)))
            except ValueError:
                names.append(x509.DNSName(h))
        b = b.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def _write(directory, name, *objs):
    path = directory / name
    with open(path, "wb") as f:
        for obj in objs:
            if isinstance(obj, x509.Certificate):
                f.write(obj.public_bytes(serialization.Encoding.PEM))
            else:
                f.write(obj.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return str(path)


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    """CA, intermediate, RSA and ECDSA server certificates, client certificates.

    Server certificates are valid for server.test, localhost and 127.0.0.1. ``wrong_client_*``
    is signed by ``other_ca`` which no server trusts.
    """
    d = tmp_path_factory.mktemp("pki")
    hosts = ("server.test", "localhost", "127.0.0.1")
    rsa_new = lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)  # noqa: E731
    ca_key, inter_key, other_key = rsa_new(), rsa_new(), rsa_new()
    ca = _cert("Test Root CA", ca_key, "Test Root CA", ca_key, ca=True)
    inter = _cert("Test Intermediate CA", inter_key, "Test Root CA", ca_key, ca=True)
    other_ca = _cert("Other CA", other_key, "Other CA", other_key, ca=True)
    rsa_key = rsa_new()
    ecdsa_key = ec.generate_private_key(ec.SECP256R1())
    client_rsa_key = rsa_new()
    client_ecdsa_key = ec.generate_private_key(ec.SECP256R1())
    wrong_key = rsa_new()
    ns = types.SimpleNamespace(dir=str(d))
    ns.ca_cert = _write(d, "ca.pem", ca)
    ns.ca_key = _write(d, "ca.key", ca_key)
    ns.intermediate_cert = _write(d, "intermediate.pem", inter)
    ns.other_ca_cert = _write(d, "other_ca.pem", other_ca)
    ns.rsa_key = _write(d, "server_rsa.key", rsa_key)
    ns.rsa_cert = _write(d, "server_rsa.pem",
                         _cert("server.test", rsa_key, "Test Root CA", ca_key, hosts=hosts))
    ns.rsa_chain = _write(d, "server_rsa_chain.pem",
                          _cert("server.test", rsa_key, "Test Intermediate CA", inter_key,
                                hosts=hosts), inter)
    ns.ecdsa_key = _write(d, "server_ecdsa.key", ecdsa_key)
    ns.ecdsa_cert = _write(d, "server_ecdsa.pem",
                           _cert("server.test", ecdsa_key, "Test Root CA", ca_key, hosts=hosts))
    # DSA (the DHE_DSS suites): cryptography's verifier takes no DSA keys, so tests use it
    # without --cafile.
    dsa_key = dsa.generate_private_key(key_size=2048)
    ns.dsa_key = _write(d, "server_dsa.key", dsa_key)
    ns.dsa_cert = _write(d, "server_dsa.pem",
                         _cert("server.test", dsa_key, "Test Root CA", ca_key, hosts=hosts))
    ns.client_rsa_key = _write(d, "client_rsa.key", client_rsa_key)
    ns.client_rsa_cert = _write(d, "client_rsa.pem",
                                _cert("client", client_rsa_key, "Test Root CA", ca_key,
                                      client=True))
    ns.client_ecdsa_key = _write(d, "client_ecdsa.key", client_ecdsa_key)
    ns.client_ecdsa_cert = _write(d, "client_ecdsa.pem",
                                  _cert("client-ec", client_ecdsa_key, "Test Root CA", ca_key,
                                        client=True))
    ns.wrong_client_key = _write(d, "wrong_client.key", wrong_key)
    ns.wrong_client_cert = _write(d, "wrong_client.pem",
                                  _cert("intruder", wrong_key, "Other CA", other_key,
                                        client=True))
    return ns


@pytest.fixture
def free_port():
    """A function returning a TCP port free on 127.0.0.1 right now."""
    return _free_port


@pytest.fixture(scope="session")
def captures_dir():
    """tests/data/captures: a copy of the shared capture corpus with truth files."""
    return DATA / "captures"
