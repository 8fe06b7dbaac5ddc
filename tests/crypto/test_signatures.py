"""ServerKeyExchange / CertificateVerify signatures for every scheme and version."""
import hashlib

import pytest
from hypothesis import given, settings, strategies as st
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils

from scapy_tls_hs.crypto.signatures import (SCHEMES, choose_scheme, key_kind,
                                            ske_signed_data, sign, verify)
from scapy_tls_hs.errors import AlertError

DATA = b"client random" + b"server random" + b"params"


@pytest.fixture(scope="module")
def keys():
    return {"rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
            "ecdsa": ec.generate_private_key(ec.SECP256R1()),
            "ecdsa384": ec.generate_private_key(ec.SECP384R1()),
            "ed25519": ed25519.Ed25519PrivateKey.generate()}


def _tls12_cases():
    for scheme, (kind, _, _) in SCHEMES.items():
        names = {"rsa": ["rsa"], "ecdsa": ["ecdsa", "ecdsa384"], "ed25519": ["ed25519"]}
        for name in names.get(kind, []):
            yield pytest.param(name, scheme, id="%s-0x%04x" % (name, scheme))


@pytest.mark.parametrize("name,scheme", list(_tls12_cases()))
def test_tls12_round_trip_and_tamper(keys, name, scheme):
    key = keys[name]
    used, sig = sign(key, DATA, 0x0303, scheme)
    assert used == scheme
    verify(key.public_key(), DATA, sig, 0x0303, scheme)
    for data, signature in ((DATA + b"x", sig),
                            (DATA, sig[:-1] + bytes((sig[-1] ^ 1,))),
                            (DATA, sig[:10])):
        with pytest.raises(AlertError) as info:
            verify(key.public_key(), data, signature, 0x0303, scheme)
        assert info.value.description == "decrypt_error"


@pytest.mark.parametrize("version", [0x0301, 0x0302])
@pytest.mark.parametrize("name", ["rsa", "ecdsa"])
def test_tls10_11_round_trip_and_tamper(keys, name, version):
    key = keys[name]
    scheme, sig = sign(key, DATA, version)
    assert scheme is None
    verify(key.public_key(), DATA, sig, version)
    with pytest.raises(AlertError, match="decrypt_error"):
        verify(key.public_key(), DATA, bytes(len(sig)), version)


def test_tls10_rsa_is_md5_sha1_without_digest_info(keys):
    """RFC 2246 section 7.4.3: the PKCS#1 block holds the bare 36-byte MD5||SHA-1 digest."""
    key = keys["rsa"]
    _, sig = sign(key, DATA, 0x0301)
    digest = hashlib.md5(DATA).digest() + hashlib.sha1(DATA).digest()
    key.public_key().verify(sig, digest, padding.PKCS1v15(), utils.NoDigestInfo())
    n = key.public_key().public_numbers()
    block = pow(int.from_bytes(sig, "big"), n.e, n.n).to_bytes(256, "big")
    assert block.startswith(b"\x00\x01\xff") and block.endswith(b"\x00" + digest)


def test_tls10_ecdsa_is_sha1(keys):
    key = keys["ecdsa"]
    _, sig = sign(key, DATA, 0x0302)
    key.public_key().verify(sig, DATA, ec.ECDSA(hashes.SHA1()))


def test_rsa_pss_is_rsae_with_hash_length_salt(keys):
    key = keys["rsa"]
    _, sig = sign(key, DATA, 0x0303, 0x0804)
    key.public_key().verify(sig, DATA, padding.PSS(padding.MGF1(hashes.SHA256()), 32),
                            hashes.SHA256())


def test_verify_accepts_a_certificate(pki):
    from scapy_tls_hs.crypto.certs import load_certificates, load_private_key
    key = load_private_key(pki.rsa_key)
    cert = load_certificates(pki.rsa_cert)[0]
    scheme, sig = sign(key, DATA, 0x0303, 0x0401)
    verify(cert, DATA, sig, 0x0303, scheme)


def test_scheme_must_fit_the_key(keys):
    _, sig = sign(keys["rsa"], DATA, 0x0303, 0x0401)
    with pytest.raises(AlertError, match="decrypt_error"):
        verify(keys["ecdsa"].public_key(), DATA, sig, 0x0303, 0x0401)
    with pytest.raises(AlertError, match="decrypt_error"):
        verify(keys["rsa"].public_key(), DATA, sig, 0x0303, 0x0403)
    with pytest.raises(AlertError, match="decrypt_error"):
        verify(keys["rsa"].public_key(), DATA, sig, 0x0303, 0x9999)
    with pytest.raises(AlertError):
        sign(keys["ecdsa"], DATA, 0x0303, 0x0804)


def test_pkcs1_and_pss_are_not_interchangeable(keys):
    _, sig = sign(keys["rsa"], DATA, 0x0303, 0x0401)
    with pytest.raises(AlertError, match="decrypt_error"):
        verify(keys["rsa"].public_key(), DATA, sig, 0x0303, 0x0804)


def test_choose_scheme_follows_the_peer_order(keys):
    assert choose_scheme(keys["rsa"], [0x0403, 0x0804, 0x0401]) == 0x0804
    assert choose_scheme(keys["rsa"], [0x0601, 0x0804]) == 0x0601
    assert choose_scheme(keys["ecdsa"], [0x0804, 0x0503, 0x0403]) == 0x0503
    assert choose_scheme(keys["ed25519"], [0x0403, 0x0807]) == 0x0807
    # RFC 5246 7.4.1.4.1: no signature_algorithms means SHA-1
    assert choose_scheme(keys["rsa"], None) == 0x0201
    assert choose_scheme(keys["ecdsa"], None) == 0x0203
    with pytest.raises(AlertError, match="handshake_failure"):
        choose_scheme(keys["ecdsa"], [0x0401, 0x0804])
    with pytest.raises(AlertError):
        choose_scheme(keys["rsa"], [])


def test_choose_scheme_skips_pss_too_big_for_the_key():
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    assert choose_scheme(small, [0x0806, 0x0804]) == 0x0804


def test_default_scheme_in_tls12(keys):
    scheme, sig = sign(keys["rsa"], DATA, 0x0303)
    assert scheme == 0x0201
    verify(keys["rsa"].public_key(), DATA, sig, 0x0303, None)


def test_ske_signed_data():
    assert ske_signed_data(b"C" * 32, b"S" * 32, b"P") == b"C" * 32 + b"S" * 32 + b"P"


def test_key_kind(keys):
    assert [key_kind(keys[n]) for n in ("rsa", "ecdsa", "ed25519")] == [
        "rsa", "ecdsa", "ed25519"]
    assert key_kind(object()) is None


@settings(max_examples=60, deadline=None)
@given(signature=st.binary(max_size=300), version=st.sampled_from([0x0301, 0x0303]),
       scheme=st.sampled_from(list(SCHEMES) + [None, 0x0000, 0xFFFF]),
       name=st.sampled_from(["rsa", "ecdsa", "ed25519"]))
def test_random_signatures_only_give_decrypt_error(keys, signature, version, scheme, name):
    with pytest.raises(AlertError) as info:
        verify(keys[name].public_key(), DATA, signature, version, scheme)
    assert info.value.description == "decrypt_error"
