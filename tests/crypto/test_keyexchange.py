"""RSA pre-master transport (with the Bleichenbacher countermeasure), DHE and ECDHE."""
import pathlib

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dh, ec, padding, rsa, x25519
from hypothesis import given, settings, strategies as st

from scapy_tls_hs.crypto.certs import load_private_key
from scapy_tls_hs.crypto.keyexchange import (FFDHE2048, DHEKey, EphemeralKey,
                                             rsa_decrypt_pre_master, rsa_encrypt_pre_master)
from scapy_tls_hs.crypto.keylog import Keylog
from scapy_tls_hs.crypto.prf import Transcript, extended_master_secret, master_secret
from scapy_tls_hs.crypto.suites import CipherSuite
from scapy_tls_hs.errors import AlertError

from . import capture_keys as C

CAPTURES = pathlib.Path(__file__).parent.parent / "data" / "captures"


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_rsa_round_trip(rsa_key):
    pre_master, encrypted = rsa_encrypt_pre_master(rsa_key.public_key(), 0x0303)
    assert len(pre_master) == 48 and pre_master[:2] == b"\x03\x03"
    assert len(encrypted) == 256
    assert rsa_decrypt_pre_master(rsa_key, encrypted, 0x0303) == pre_master


def _bad_inputs(key):
    pub = key.public_key()
    good_version_short = pub.encrypt(b"\x03\x03" + bytes(40), padding.PKCS1v15())
    wrong_version = pub.encrypt(b"\x03\x01" + bytes(46), padding.PKCS1v15())
    too_long = pub.encrypt(b"\x03\x03" + bytes(60), padding.PKCS1v15())
    oaep = pub.encrypt(b"\x03\x03" + bytes(46),
                       padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None))
    return {"short": good_version_short, "wrong_version": wrong_version, "long": too_long,
            "oaep": oaep, "garbage": bytes(256), "truncated": good_version_short[:100],
            "empty": b"", "oversized": bytes(300)}


@pytest.mark.parametrize("case", ["short", "wrong_version", "long", "oaep", "garbage",
                                  "truncated", "empty", "oversized"])
def test_rsa_malformed_pre_master_gives_a_random_one(rsa_key, case):
    encrypted = _bad_inputs(rsa_key)[case]
    first = rsa_decrypt_pre_master(rsa_key, encrypted, 0x0303)
    second = rsa_decrypt_pre_master(rsa_key, encrypted, 0x0303)
    assert len(first) == len(second) == 48
    assert first != second
    # The fallback carries the offered version, like a real one (nothing to tell apart).
    assert first[:2] == b"\x03\x03"


@settings(max_examples=20, deadline=None)
@given(blob=st.binary(max_size=300))
def test_rsa_decrypt_never_raises(rsa_key, blob):
    assert len(rsa_decrypt_pre_master(rsa_key, blob, 0x0301)) == 48


def test_rsa_encrypt_accepts_a_certificate_key_or_private_key(rsa_key):
    pre_master, encrypted = rsa_encrypt_pre_master(rsa_key, 0x0301)
    assert rsa_decrypt_pre_master(rsa_key, encrypted, 0x0301) == pre_master


@pytest.mark.parametrize("group", [29, 30, 23, 24, 25])
def test_ecdhe_agreement(group):
    a, b = EphemeralKey.generate(group), EphemeralKey.generate(group)
    shared = a.exchange(b.public_bytes())
    assert shared == b.exchange(a.public_bytes())
    size = {29: 32, 30: 56, 23: 65, 24: 97, 25: 133}[group]
    assert len(a.public_bytes()) == size
    if group in (23, 24, 25):
        assert a.public_bytes()[0] == 4


def test_x25519_matches_cryptography_directly():
    ours = EphemeralKey.generate(29)
    peer = x25519.X25519PrivateKey.generate()
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    peer_pub = peer.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    theirs = peer.exchange(x25519.X25519PublicKey.from_public_bytes(ours.public_bytes()))
    assert ours.exchange(peer_pub) == theirs


@pytest.mark.parametrize("group,bad", [
    (29, bytes(32)),                          # low-order point: all-zero shared secret
    (29, b"\x01" * 31),                       # wrong length
    (30, b"\x01" * 10),
    (23, b"\x04" + bytes(64)),                # not on the curve
    (23, b""),
    (24, b"\x02" + bytes(48)),                # compressed points are not used in TLS
    (25, b"\x04" + b"\xff" * 132),
])
def test_ecdhe_bad_point_is_illegal_parameter(group, bad):
    with pytest.raises(AlertError) as info:
        EphemeralKey.generate(group).exchange(bad)
    assert info.value.description == "illegal_parameter"


def test_ecdhe_unknown_group():
    with pytest.raises(AlertError):
        EphemeralKey.generate(26)


def test_dhe_agreement_strips_leading_zeros():
    p, g = FFDHE2048
    a, b = DHEKey.generate(p, g), DHEKey.generate(p, g)
    assert len(a.public_bytes()) == 256
    shared = a.exchange(b.public_bytes())
    assert shared == b.exchange(a.public_bytes())
    assert shared[0] != 0
    # and the value matches cryptography's own computation on the same keys
    peer = dh.DHPublicNumbers(int.from_bytes(b.public_bytes(), "big"),
                              dh.DHParameterNumbers(p, g)).public_key()
    assert a._private.exchange(peer).lstrip(b"\x00") == shared


def test_ffdhe2048_is_the_rfc7919_prime():
    """RFC 7919 appendix A.1: p = 2^2048 - 2^1984 + (floor(2^1918 * e) + 560316) * 2^64 - 1."""
    p, g = FFDHE2048
    # e to ~2000 bits with integers: sum of 2^k / n!
    scale = 1 << (1918 + 64)
    term, total, n = scale, 0, 0
    while term:
        total += term
        n += 1
        term //= n
    assert p == 2 ** 2048 - 2 ** 1984 + ((total >> 64) + 560316) * 2 ** 64 - 1
    assert g == 2


@pytest.mark.parametrize("value", [b"", b"\x00", b"\x01", None])
def test_dhe_bad_public_value(value):
    p, g = FFDHE2048
    key = DHEKey.generate(p, g)
    if value is None:
        value = (p - 1).to_bytes(256, "big")
    with pytest.raises(AlertError, match="illegal_parameter"):
        key.exchange(value)


def test_dhe_other_group_from_server_key_exchange():
    params = dh.generate_parameters(generator=2, key_size=512).parameter_numbers()
    a, b = DHEKey.generate(params.p, params.g), DHEKey.generate(params.p, params.g)
    assert a.exchange(b.public_bytes()) == b.exchange(a.public_bytes())


def test_dhe_tiny_group_rejected():
    with pytest.raises(AlertError, match="insufficient_security"):
        DHEKey.generate(23, 5)


@pytest.mark.parametrize("p,g", [
    (2 ** 2048, 2),                           # even
    (FFDHE2048[0] + 2, 2),                    # odd, not a safe prime
    (FFDHE2048[0], FFDHE2048[0]),             # generator out of range
    (FFDHE2048[0], 1),
    (2 ** 9000 + 1, 2),                       # too large to check
])
def test_dhe_bad_group_is_illegal_parameter(p, g):
    with pytest.raises(AlertError, match="illegal_parameter"):
        DHEKey.generate(p, g)


# -- RSA captures: the server key alone gives the key log's master secret ------------------

def _rsa_captures():
    seen = {}
    for folder in (CAPTURES, CAPTURES.parent.parent.parent / "pcaps"):
        for path in sorted(folder.glob("*.pcap*")):
            if path.with_suffix(".server.key").exists():
                seen.setdefault(path.name, path)
    return [p for _, p in sorted(seen.items())]


RSA_CAPTURES = _rsa_captures()


def test_rsa_captures_exist():
    # TLS 1.2 (SHA-256 PRF) and TLS 1.0 (MD5 xor SHA-1 PRF, MD5||SHA-1 session hash)
    assert {p.stem for p in RSA_CAPTURES} >= {"tls12_rsa_aes128sha_openssl",
                                              "tls12_rsa_aes128gcm_python",
                                              "tls10_rsa_aes128sha_openssl"}


@pytest.mark.parametrize("path", RSA_CAPTURES, ids=lambda p: p.stem)
def test_rsa_capture_master_secret_from_server_key(path):
    key = load_private_key(str(path.with_suffix(".server.key")))
    keylog = Keylog.load(path.with_suffix(".keylog"))
    checked = 0
    ems = set()
    for hs in C.handshakes(path):
        cke = C.client_key_exchange(hs)
        if cke is None:
            continue
        suite = CipherSuite.by_id(hs.suite_id)
        encrypted = cke[2:]
        assert int.from_bytes(cke[:2], "big") == len(encrypted)
        pre_master = rsa_decrypt_pre_master(key, encrypted, hs.client_hello[0])
        if hs.both_have(C.EXT_EMS):
            t = Transcript()
            for raw in C.transcripts12(hs)[-1]:
                t.update(raw)
            master = extended_master_secret(pre_master, t.digest(hs.version, suite.prf_hash),
                                            hs.version, suite.prf_hash)
        else:
            master = master_secret(pre_master, hs.client_random, hs.server_random,
                                   hs.version, suite.prf_hash)
        assert master == keylog.master_secret(hs.client_random)
        checked += 1
        ems.add(hs.both_have(C.EXT_EMS))
    assert checked >= 1
    # Every RSA capture negotiated EMS, so this checks the RFC 7627 session hash as well.
    assert ems == {True}


def test_ec_keys_are_not_rsa():
    with pytest.raises(Exception):
        rsa_encrypt_pre_master(ec.generate_private_key(ec.SECP256R1()).public_key(), 0x0303)


def test_dhe_from_a_captured_server_key_exchange():
    """The p, g and Ys OpenSSL sent in a real ServerKeyExchange: we make a key in that group
    and agree with the server's public value; the client's Yc from the capture has the
    length of p, as ours does."""
    from scapy_tls_hs.codec.messages import ClientKeyExchange, ServerKeyExchange
    path = CAPTURES / "tls12_dhe_rsa_aes256gcm_openssl.pcap"
    (hs,) = C.handshakes(path)
    ske = next(ServerKeyExchange.parse(body, "DHE", hs.version)
               for t, body, _ in hs.server.plain if t == 12)
    p, g = (int.from_bytes(ske.params[k], "big") for k in ("p", "g"))
    assert p.bit_length() >= 2048
    ours = DHEKey.generate(p, g)
    shared = ours.exchange(ske.params["ys"])
    assert shared and shared[0] != 0 and len(shared) <= len(ske.params["p"])
    assert len(ours.public_bytes()) == len(ske.params["p"])
    yc = ClientKeyExchange.parse(C.client_key_exchange(hs), "DHE").data
    assert len(yc) == len(ske.params["p"])
    assert 1 < int.from_bytes(yc, "big") < p - 1
