"""Loading PEM files and verifying chains (good, wrong CA, wrong host, expired)."""
import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from scapy_tls_hs.crypto.certs import (load_certificates, load_private_key,
                                       parse_certificate, verify_chain)
from scapy_tls_hs.errors import AlertError


def _alert(fn, *args, **kwargs):
    with pytest.raises(AlertError) as info:
        fn(*args, **kwargs)
    return info.value.description


def test_load_chain_and_keys(pki):
    chain = load_certificates(pki.rsa_chain)
    assert len(chain) == 2
    assert chain[0].subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == \
        "server.test"
    assert isinstance(load_private_key(pki.rsa_key), rsa.RSAPrivateKey)
    assert isinstance(load_private_key(pki.ecdsa_key), ec.EllipticCurvePrivateKey)


def test_load_der_and_errors(pki, tmp_path):
    cert = load_certificates(pki.rsa_cert)[0]
    der = tmp_path / "c.der"
    der.write_bytes(cert.public_bytes(serialization.Encoding.DER))
    assert load_certificates(str(der)) == [cert]
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"not a certificate")
    with pytest.raises(ValueError, match="junk.pem"):
        load_certificates(str(junk))
    with pytest.raises(ValueError, match="junk.pem"):
        load_private_key(str(junk))
    with pytest.raises(OSError):
        load_certificates(str(tmp_path / "missing.pem"))


def test_parse_certificate(pki):
    cert = load_certificates(pki.rsa_cert)[0]
    assert parse_certificate(cert.public_bytes(serialization.Encoding.DER)) == cert
    assert _alert(parse_certificate, b"\x30\x03\x02\x01") == "bad_certificate"


@pytest.mark.parametrize("host", ["server.test", "localhost", "127.0.0.1", None])
def test_good_chains(pki, host):
    for path in (pki.rsa_cert, pki.rsa_chain, pki.ecdsa_cert):
        verified = verify_chain(load_certificates(path), pki.ca_cert, hostname=host)
        assert verified[-1] == load_certificates(pki.ca_cert)[0]


def test_wrong_ca(pki):
    chain = load_certificates(pki.rsa_chain)
    assert _alert(verify_chain, chain, pki.other_ca_cert, "server.test") == "unknown_ca"


def test_missing_intermediate(pki):
    leaf = load_certificates(pki.rsa_chain)[:1]
    assert _alert(verify_chain, leaf, pki.ca_cert, "server.test") == "unknown_ca"


def test_wrong_host(pki):
    chain = load_certificates(pki.rsa_cert)
    assert _alert(verify_chain, chain, pki.ca_cert, "other.test") == "bad_certificate"
    assert _alert(verify_chain, chain, pki.ca_cert, "10.0.0.1") == "bad_certificate"


def test_client_certificates(pki):
    good = load_certificates(pki.client_rsa_cert)
    assert verify_chain(good, pki.ca_cert)
    assert verify_chain(load_certificates(pki.client_ecdsa_cert), pki.ca_cert,
                        purpose="client")
    wrong = load_certificates(pki.wrong_client_cert)
    assert _alert(verify_chain, wrong, pki.ca_cert) == "unknown_ca"
    # a server certificate is not a client certificate (extended key usage)
    server = load_certificates(pki.rsa_cert)
    assert _alert(verify_chain, server, pki.ca_cert, purpose="client") == "bad_certificate"


def _self_signed_pair(not_before, not_after):
    key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Old CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(key.public_key()).serial_number(1)
          .not_valid_before(datetime.datetime(2000, 1, 1))
          .not_valid_after(datetime.datetime(2100, 1, 1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False,
                                       False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
          .sign(key, hashes.SHA256()))
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old.test")]))
            .issuer_name(ca_name).public_key(leaf_key.public_key()).serial_number(2)
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("old.test")]), False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                key.public_key()), False)
            .sign(key, hashes.SHA256()))
    return ca, leaf


def test_expired_and_not_yet_valid():
    ca, leaf = _self_signed_pair(datetime.datetime(2001, 1, 1), datetime.datetime(2002, 1, 1))
    assert _alert(verify_chain, [leaf], [ca], "old.test") == "certificate_expired"
    ca, leaf = _self_signed_pair(datetime.datetime(2090, 1, 1), datetime.datetime(2095, 1, 1))
    assert _alert(verify_chain, [leaf], [ca], "old.test") == "certificate_expired"
    # the same leaf is fine at a time inside its validity period
    at = datetime.datetime(2091, 1, 1, tzinfo=datetime.timezone.utc)
    assert verify_chain([leaf], [ca], "old.test", now=at)


def test_empty_chain(pki):
    assert _alert(verify_chain, [], pki.ca_cert) == "bad_certificate"


def test_cafile_forms(pki):
    import pathlib
    chain = load_certificates(pki.rsa_chain)
    ca = load_certificates(pki.ca_cert)
    for cafile in (pathlib.Path(pki.ca_cert), pathlib.Path(pki.ca_cert).read_bytes(), ca,
                   ca[0]):
        assert verify_chain(chain, cafile, "server.test")[-1] == ca[0]


def _openssl_style_self_signed(tmp_path, cn="localhost", san=None, key_usage=True):
    """What ``openssl req -x509 -subj /CN=localhost`` makes: self-signed, CA:TRUE."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(key.public_key()).serial_number(7)
               .not_valid_before(datetime.datetime(2020, 1, 1))
               .not_valid_after(datetime.datetime(2090, 1, 1))
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                              False))
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName(n) for n in san]), False)
    if key_usage:
        builder = builder.add_extension(x509.KeyUsage(True, False, False, False, False, True,
                                                      True, False, False), critical=False)
    cert = builder.sign(key, hashes.SHA256())
    path = tmp_path / ("%s.pem" % cn)
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, str(path), key


def test_self_signed_server_certificate_is_its_own_anchor(tmp_path):
    cert, path, _ = _openssl_style_self_signed(tmp_path)
    assert verify_chain([cert], path, "localhost") == [cert]       # CN, no SAN: as OpenSSL
    with pytest.raises(AlertError) as info:
        verify_chain([cert], path, "other.test")
    assert info.value.description == "bad_certificate"
    assert "name mismatch: the certificate is for localhost, not other.test" in str(info.value)
    other, other_path, _ = _openssl_style_self_signed(tmp_path, cn="other")
    with pytest.raises(AlertError) as info:
        verify_chain([cert], other_path, "localhost")
    assert info.value.description == "unknown_ca" and "unknown CA" in str(info.value)


def test_ca_without_key_usage(tmp_path):
    ca, ca_path, ca_key = _openssl_style_self_signed(tmp_path, cn="Plain CA", key_usage=False)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "a.test")]))
            .issuer_name(ca.subject).public_key(leaf_key.public_key()).serial_number(8)
            .not_valid_before(datetime.datetime(2020, 1, 1))
            .not_valid_after(datetime.datetime(2090, 1, 1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("a.test")]), False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), False)
            .sign(ca_key, hashes.SHA256()))
    assert verify_chain([leaf], ca_path, "a.test")[-1] == ca


def test_failures_read_as_openssl_users_know_them(pki):
    chain = load_certificates(pki.rsa_chain)
    with pytest.raises(AlertError) as info:
        verify_chain(chain, pki.other_ca_cert, "server.test")
    assert str(info.value).count("unknown CA") == 1
    with pytest.raises(AlertError) as info:
        verify_chain(load_certificates(pki.rsa_cert), pki.ca_cert, "other.test")
    assert "name mismatch" in str(info.value) and "other.test" in str(info.value)
    ca, leaf = _self_signed_pair(datetime.datetime(2001, 1, 1), datetime.datetime(2002, 1, 1))
    with pytest.raises(AlertError) as info:
        verify_chain([leaf], [ca], "old.test")
    assert "expired: CN=old.test is valid from 2001" in str(info.value)
