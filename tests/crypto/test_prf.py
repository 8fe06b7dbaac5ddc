"""The TLS PRF against published vectors and tlslite-ng; master secrets, key block,
transcript, Finished."""
import os

import pytest
from hypothesis import given, settings, strategies as st
from tlslite import mathtls

from scapy_tls_hs import prf as public_prf
from scapy_tls_hs.crypto.prf import (Transcript, extended_master_secret, key_block,
                                     master_secret, normalize_version, prf, verify_data)
from scapy_tls_hs.crypto.suites import CipherSuite

# The P_SHA256 / P_SHA384 vectors posted to the IETF TLS list
# (https://www.ietf.org/mail-archive/web/tls/current/msg03416.html), also checked with
# `openssl kdf -kdfopt digest:SHA384 ... TLS1-PRF`.
SHA256_VECTOR = (
    "9bbe436ba940f017b17652849a71db35", "a0ba9f936cda311827a6f796ffd5198c", 100,
    "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e"
    "14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5"
    "a72e5a5110fff70187347b66")
SHA384_VECTOR = (
    "b80b733d6ceefcdc71566ea48e5567df", "cd665cf6a8447dd6ff8b27555edb7465", 148,
    "7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cde9ca0faa60be9fe34f82b123"
    "3c9146a0e534cb400fed2700884f9dc236f80edd8bfa961144c9e8d792eca722a7b32fc3d416d473ebc2c5fd"
    "4abfdad05d9184259b5bf8cd4d90fa0d31e2dec479e4f1a26066f2eea9a69236a3e52655c9e9aee691c8f3a2"
    "6854308d5eaa3be85e0990703d73e56f")
# TLS 1.0/1.1 PRF (MD5 xor SHA-1) on the SHA-256 vector's inputs, from
# `openssl kdf -keylen 64 -kdfopt digest:MD5-SHA1 ... TLS1-PRF`.
MD5_SHA1_VECTOR = (
    "9bbe436ba940f017b17652849a71db35", "a0ba9f936cda311827a6f796ffd5198c", 64,
    "661740e6f98bc901efd2738502a71c03f76dd2f86298549b1148eff06714cf0f6b7c532cd8c69f1530e0bb68"
    "0eec34c495fa75a8bfcc9c335484c0d3d194ab6e")


@pytest.mark.parametrize("vector,version,hash_", [
    (SHA256_VECTOR, "TLS 1.2", "sha256"),
    (SHA384_VECTOR, "TLS 1.2", "sha384"),
    (MD5_SHA1_VECTOR, "TLS 1.0", "sha256"),
    (MD5_SHA1_VECTOR, 0x0302, "sha384"),        # below 1.2 the hash argument is ignored
])
def test_published_vectors(vector, version, hash_):
    secret, seed, length, want = vector
    out = prf(bytes.fromhex(secret), "test label", bytes.fromhex(seed), length, version, hash_)
    assert out.hex() == want
    # label as bytes, version as int/name: same result
    assert prf(bytes.fromhex(secret), b"test label", bytes.fromhex(seed), length,
               normalize_version(version), hash_) == out


def test_public_api_name():
    secret, seed, length, want = SHA256_VECTOR
    assert public_prf(bytes.fromhex(secret), "test label", bytes.fromhex(seed),
                      length).hex() == want


def test_output_is_a_prefix_stream():
    secret, seed = os.urandom(48), os.urandom(64)
    for version in ("TLS 1.0", "TLS 1.2"):
        long = prf(secret, "x", seed, 200, version)
        assert all(prf(secret, "x", seed, n, version) == long[:n] for n in (0, 1, 12, 48, 199))


@settings(max_examples=150, deadline=None)
@given(secret=st.binary(max_size=80), label=st.binary(max_size=20),
       seed=st.binary(max_size=80), length=st.integers(1, 200))
def test_equals_tlslite(secret, label, seed, length):
    ours10 = prf(secret, label, seed, length, "TLS 1.0")
    assert ours10 == bytes(mathtls.PRF(bytearray(secret), label, bytearray(seed), length))
    assert prf(secret, label, seed, length, "TLS 1.1") == ours10
    assert prf(secret, label, seed, length, "TLS 1.2") == bytes(
        mathtls.PRF_1_2(bytearray(secret), label, bytearray(seed), length))
    assert prf(secret, label, seed, length, 0x0303, "sha384") == bytes(
        mathtls.PRF_1_2_SHA384(bytearray(secret), label, bytearray(seed), length))


@pytest.mark.parametrize("text,code", [("TLS 1.0", 0x0301), ("TLS 1.1", 0x0302),
                                       ("TLS 1.2", 0x0303), ("1.2", 0x0303),
                                       ("TLSv1.1", 0x0302), (0x0301, 0x0301)])
def test_normalize_version(text, code):
    assert normalize_version(text) == code


def test_unknown_version_or_hash():
    with pytest.raises(ValueError):
        prf(b"s", "l", b"", 10, "TLS 9")
    with pytest.raises(ValueError):
        prf(b"s", "l", b"", 10, "TLS 1.2", "whirlpool")


@settings(max_examples=30, deadline=None)
@given(pre=st.binary(min_size=48, max_size=48), cr=st.binary(min_size=32, max_size=32),
       sr=st.binary(min_size=32, max_size=32),
       version=st.sampled_from([0x0301, 0x0302, 0x0303]))
def test_master_secret_equals_tlslite(pre, cr, sr, version):
    suite = CipherSuite.by_id(0x002F)
    ours = master_secret(pre, cr, sr, version, "sha256")
    theirs = mathtls.calc_key((3, version & 0xFF), bytearray(pre), suite.id, b"master secret",
                              client_random=bytearray(cr), server_random=bytearray(sr),
                              output_length=48)
    assert ours == bytes(theirs)


@settings(max_examples=30, deadline=None)
@given(pre=st.binary(min_size=48, max_size=48), handshake=st.binary(max_size=300),
       suite=st.sampled_from([0xC02F, 0xC030, 0x002F]),
       version=st.sampled_from([0x0301, 0x0302, 0x0303]))
def test_extended_master_secret_equals_tlslite(pre, handshake, suite, version):
    suite = CipherSuite.by_id(suite)
    if not suite.usable_in(version):
        return
    t = Transcript()
    t.update(handshake)
    ours = extended_master_secret(pre, t.digest(version, suite.prf_hash), version,
                                  suite.prf_hash)
    from tlslite.handshakehashes import HandshakeHashes
    hh = HandshakeHashes()
    hh.update(bytearray(handshake))
    theirs = mathtls.calc_key((3, version & 0xFF), bytearray(pre), suite.id,
                              b"extended master secret", handshake_hashes=hh,
                              output_length=48)
    assert ours == bytes(theirs)


@pytest.mark.parametrize("sender", ["client", "server"])
@pytest.mark.parametrize("suite_id,version", [(0xC02F, 0x0303), (0xC030, 0x0303),
                                              (0xC013, 0x0301), (0x002F, 0x0302)])
def test_verify_data_equals_tlslite(sender, suite_id, version):
    suite = CipherSuite.by_id(suite_id)
    master = os.urandom(48)
    handshake = os.urandom(500)
    t = Transcript()
    t.update(handshake[:100])
    t.update(handshake[100:])
    from tlslite.handshakehashes import HandshakeHashes
    hh = HandshakeHashes()
    hh.update(bytearray(handshake))
    label = b"client finished" if sender == "client" else b"server finished"
    theirs = mathtls.calc_key((3, version & 0xFF), bytearray(master), suite.id, label,
                              handshake_hashes=hh, output_length=12)
    ours = verify_data(master, sender, t.digest(version, suite.prf_hash), version,
                       suite.prf_hash)
    assert ours == bytes(theirs) and len(ours) == 12


def test_transcript_digests_and_copy():
    t = Transcript()
    t.update(b"\x01\x00\x00\x01a")
    snapshot = t.copy()
    t.update(b"\x02\x00\x00\x00")
    assert len(t.digest(0x0301)) == 36 and len(t.digest("TLS 1.2", "sha384")) == 48
    assert snapshot.digest(0x0303) != t.digest(0x0303)
    assert snapshot.data == b"\x01\x00\x00\x01a"
    assert t.data == b"\x01\x00\x00\x01a\x02\x00\x00\x00"
    import hashlib
    assert t.hash("sha512") == hashlib.sha512(t.data).digest()
    assert t.digest(0x0301) == hashlib.md5(t.data).digest() + hashlib.sha1(t.data).digest()


@pytest.mark.parametrize("suite,version", [
    pytest.param(s, v, id="%s-%x" % (s.openssl_name, v))
    for s in CipherSuite.all() for v in (0x0301, 0x0303) if s.usable_in(v)])
def test_key_block_split_equals_tlslite(suite, version):
    master, cr, sr = os.urandom(48), os.urandom(32), os.urandom(32)
    kb = key_block(master, cr, sr, suite, version)
    sizes = [suite.mac_len, suite.mac_len, suite.key_len, suite.key_len,
             suite.fixed_iv_len, suite.fixed_iv_len]
    parts = [kb.client_mac_key, kb.server_mac_key, kb.client_key, kb.server_key,
             kb.client_iv, kb.server_iv]
    assert [len(p) for p in parts] == sizes
    whole = bytes(mathtls.calc_key((3, version & 0xFF), bytearray(master), suite.id,
                                   b"key expansion", client_random=bytearray(cr),
                                   server_random=bytearray(sr), output_length=sum(sizes)))
    assert b"".join(parts) == whole


def test_every_hash_and_hmac_comes_from_cryptography():
    # The project's rule: cryptographic primitives come from ``cryptography`` only. The
    # standard library's hashlib / hmac digests (and ``random``) stay out of the package;
    # ``hmac.compare_digest`` (a constant-time comparison) is allowed.
    import pathlib
    import re
    package = pathlib.Path(__file__).resolve().parents[2] / "scapy_tls_hs"
    banned = re.compile(r"^\s*(import hashlib|from hashlib|import random|from random"
                        r"|from hmac import (?!compare_digest))|\b_?hmac\.(new|digest)\("
                        r"|\bhashlib\.", re.M)
    offenders = {}
    for path in package.rglob("*.py"):
        found = [m.group(0) for m in banned.finditer(path.read_text())]
        if found:
            offenders[str(path.relative_to(package))] = found
    assert offenders == {}


def test_hash_and_hmac_helpers_match_the_standard_values():
    import hashlib
    import hmac as std
    from scapy_tls_hs.crypto.prf import digest, hmac_digest, hmac_of
    for name in ("md5", "sha1", "sha256", "sha384"):
        assert digest(name, b"abc") == hashlib.new(name, b"abc").digest()
        assert hmac_digest(name, b"k", b"data") == std.new(b"k", b"data", name).digest()
        mac = hmac_of(name, b"key")
        assert [mac(b"a"), mac(b"b")] == [std.new(b"key", m, name).digest() for m in (b"a", b"b")]
