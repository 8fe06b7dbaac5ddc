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


# -- real signatures from the captures: ServerKeyExchange and CertificateVerify ------------

def _capture_handshakes():
    import pathlib
    from tests.crypto import capture_keys as C
    here = pathlib.Path(__file__).parent
    seen = {}
    for folder in (here.parent / "data" / "captures", here.parent.parent / "pcaps"):
        for path in sorted(folder.glob("*.pcap*")):
            seen.setdefault(path.name, path)
    out = []
    for name, path in sorted(seen.items()):
        for i, hs in enumerate(C.handshakes(path)):
            if hs.version < 0x0304:
                out.append(pytest.param(hs, id="%s-%d" % (path.stem, i)))
    return out


CAPTURE_HANDSHAKES = _capture_handshakes()


def _signed_messages():
    """(kind, version, scheme, key kind) of every signature the captures hold."""
    from scapy_tls_hs.codec import messages as M
    from scapy_tls_hs.crypto.suites import CipherSuite
    seen = set()
    for param in CAPTURE_HANDSHAKES:
        hs = param.values[0]
        suite = CipherSuite.by_id(hs.suite_id)
        for t, body, _ in hs.server.plain:
            if t == 12:
                ske = M.ServerKeyExchange.parse(body, suite.key_exchange, hs.version)
                seen.add(("ske", ske.kind, hs.version, ske.scheme, suite.authentication))
        for t, body, _ in hs.client.plain:
            if t == 15:
                seen.add(("cv", hs.version, M.CertificateVerify.parse(body, hs.version).scheme))
    return seen


def test_capture_signatures_cover_the_schemes():
    seen = _signed_messages()
    kinds = {(s[0], s[1]) for s in seen}
    assert {("ske", "DHE"), ("ske", "ECDHE")} <= kinds and any(s[0] == "cv" for s in seen)
    versions = {s[2] for s in seen if s[0] == "ske"}
    assert {0x0302, 0x0303} <= versions          # TLS 1.1: MD5||SHA-1, no scheme
    schemes = {s[3] for s in seen if s[0] == "ske"}
    # TLS 1.1 RSA (no scheme), rsa_pkcs1_sha256, rsa_pss_rsae_sha256, ecdsa_secp256r1_sha256
    assert {None, 0x0401, 0x0804, 0x0403} <= schemes


@pytest.mark.parametrize("hs", CAPTURE_HANDSHAKES)
def test_capture_signatures_verify(hs):
    """Every ServerKeyExchange signature of the captures verifies against the server
    certificate over client_random || server_random || params; every client
    CertificateVerify over the handshake messages before it. A flipped bit fails."""
    from scapy_tls_hs.codec import messages as M
    from scapy_tls_hs.crypto.certs import parse_certificate
    from scapy_tls_hs.crypto.suites import CipherSuite
    suite = CipherSuite.by_id(hs.suite_id)
    checked = 0
    server_cert = client_cert = None
    transcript = []
    for sender, (t, body, raw) in _in_wire_order(hs):
        if t == 11:
            certs = M.Certificate.parse(body).certificates
            cert = parse_certificate(certs[0]) if certs else None
            if sender == "server":
                server_cert = cert
            else:
                client_cert = cert
        elif t == 12:
            ske = M.ServerKeyExchange.parse(body, suite.key_exchange, hs.version)
            data = ske_signed_data(hs.client_random, hs.server_random, ske.params_raw)
            _verify_and_tamper(server_cert, data, ske.signature, hs.version, ske.scheme)
            checked += 1
        elif t == 15:
            cv = M.CertificateVerify.parse(body, hs.version)
            _verify_and_tamper(client_cert, b"".join(transcript), cv.signature, hs.version,
                               cv.scheme)
            checked += 1
        transcript.append(raw)
    if suite.key_exchange == "RSA" or len(hs.server.plain) == 1:
        assert checked == 0              # nothing signed: RSA key exchange, or resumed
    else:
        assert checked >= 1


def _in_wire_order(hs):
    """The plaintext handshake of a full TLS <= 1.2 handshake in transcript order: the
    ClientHello, the server's first flight, then the client's messages."""
    client = hs.client.plain
    yield "client", client[0]
    for msg in hs.server.plain:
        if msg[0] == 4:                  # NewSessionTicket comes after the client flight
            break
        yield "server", msg
    for msg in client[1:]:
        yield "client", msg


def _verify_and_tamper(cert, data, signature, version, scheme):
    assert cert is not None
    verify(cert, data, signature, version, scheme)
    with pytest.raises(AlertError, match="decrypt_error"):
        verify(cert, data[:-1] + bytes([data[-1] ^ 1]), signature, version, scheme)
