"""ServerKeyExchange and CertificateVerify signatures.

TLS 1.0/1.1 (RFC 4346 section 7.4.3, RFC 4492 section 5.4): RSA signs the 36-byte MD5||SHA-1
digest with PKCS#1 v1.5 type 1 padding *without* a DigestInfo; ECDSA signs SHA-1. We use
``cryptography``'s ``NoDigestInfo`` marker for the RSA case, so the raw digest goes straight
into the PKCS#1 v1.5 block (no hand-made RSA arithmetic).

TLS 1.2 (RFC 5246 section 7.4.1.4.1, RFC 8446 section 4.2.3 code points): the scheme is sent
on the wire: rsa_pkcs1_{sha1,sha256,sha384,sha512}, rsa_pss_rsae_{sha256,sha384,sha512}
(PSS, MGF1 with the same hash, salt length = hash length), ecdsa_{sha1, secp256r1_sha256,
secp384r1_sha384, secp521r1_sha512} (in TLS 1.2 the curve is not bound to the scheme),
ed25519 and ed448 (RFC 8422); and, as OpenSSL and GnuTLS still accept them from peers, the
SHA-224 schemes and DSA (dsa_sha1 .. dsa_sha512; TLS 1.0/1.1: DSA over SHA-1).
"""
import functools

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa, utils

from ..errors import AlertError
from .prf import digest

# scheme -> (key kind, signature padding "pkcs1" / "pss" / "ecdsa" / "eddsa", hash class)
SCHEMES = {
    0x0201: ("rsa", "pkcs1", hashes.SHA1),
    0x0401: ("rsa", "pkcs1", hashes.SHA256),
    0x0501: ("rsa", "pkcs1", hashes.SHA384),
    0x0601: ("rsa", "pkcs1", hashes.SHA512),
    0x0804: ("rsa", "pss", hashes.SHA256),
    0x0805: ("rsa", "pss", hashes.SHA384),
    0x0806: ("rsa", "pss", hashes.SHA512),
    0x0203: ("ecdsa", "ecdsa", hashes.SHA1),
    0x0403: ("ecdsa", "ecdsa", hashes.SHA256),
    0x0503: ("ecdsa", "ecdsa", hashes.SHA384),
    0x0603: ("ecdsa", "ecdsa", hashes.SHA512),
    0x0807: ("ed25519", "eddsa", None),
    0x0808: ("ed448", "eddsa", None),
    0x0301: ("rsa", "pkcs1", hashes.SHA224),
    0x0303: ("ecdsa", "ecdsa", hashes.SHA224),
    0x0202: ("dsa", "dsa", hashes.SHA1),
    0x0302: ("dsa", "dsa", hashes.SHA224),
    0x0402: ("dsa", "dsa", hashes.SHA256),
    0x0502: ("dsa", "dsa", hashes.SHA384),
    0x0602: ("dsa", "dsa", hashes.SHA512),
}

# Offered when DHE_DSS suites are (a DSA server signs its ServerKeyExchange with one).
DSA_SCHEMES = [0x0402, 0x0502, 0x0602, 0x0302, 0x0202]

# What we offer in signature_algorithms, in our preference order.
DEFAULT_SCHEMES = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0603, 0x0806, 0x0601,
                   0x0807, 0x0808, 0x0203, 0x0201]


def key_kind(key, _by_type={}):
    """``"rsa"``, ``"ecdsa"``, ``"ed25519"``, ``"ed448"``, ``"dsa"`` or None, for a public or
    private key (or a certificate). The kind follows from the key's class, found once per
    class (isinstance against cryptography's ABCs is slow, and a handshake asks often)."""
    kind = _by_type.get(type(key))
    if kind is not None:
        return kind
    if hasattr(key, "public_key") and hasattr(key, "subject"):      # x509.Certificate
        return key_kind(key.public_key())
    kind = _kind_of(key)
    if kind is not None:
        _by_type[type(key)] = kind
    return kind


def _kind_of(key):
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return "rsa"
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return "ecdsa"
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return "ed25519"
    if isinstance(key, (ed448.Ed448PrivateKey, ed448.Ed448PublicKey)):
        return "ed448"
    if isinstance(key, (dsa.DSAPrivateKey, dsa.DSAPublicKey)):
        return "dsa"
    return None


def _fits(key, scheme):
    """RSA-PSS needs emLen >= hLen + sLen + 2 (RFC 8017 section 9.1.1)."""
    kind, pad, hash_cls = SCHEMES[scheme]
    if pad != "pss":
        return True
    return (key.key_size - 1 + 7) // 8 >= 2 * hash_cls.digest_size + 2


def choose_scheme(private_key, offered):
    """The signature scheme to use with ``private_key`` in TLS 1.2: the first of the peer's
    ``offered`` list (its preference order) we can make with this key; without a list, the
    RFC 5246 section 7.4.1.4.1 default (SHA-1 with the key's algorithm).
    ``AlertError("handshake_failure")`` when nothing fits."""
    kind = key_kind(private_key)
    if offered is None:
        default = _DEFAULT_SCHEME.get(kind)
        if default is None:
            raise AlertError("handshake_failure", "no default signature scheme for this key")
        return default
    for scheme in offered:
        entry = SCHEMES.get(scheme)
        if entry is not None and entry[0] == kind and _fits(private_key, scheme):
            return scheme
    raise AlertError("handshake_failure", "no common signature scheme")


# RFC 5246 section 7.4.1.4.1: no signature_algorithms means SHA-1 with the key's algorithm.
_DEFAULT_SCHEME = {"rsa": 0x0201, "ecdsa": 0x0203, "dsa": 0x0202}


def ske_signed_data(client_random, server_random, params_raw):
    """RFC 5246 section 7.4.3: what a ServerKeyExchange signature covers."""
    return bytes(client_random) + bytes(server_random) + bytes(params_raw)


def _md5_sha1(data):
    return digest("md5", data) + digest("sha1", data)


def _pss(hash_cls):
    return padding.PSS(mgf=padding.MGF1(hash_cls()), salt_length=hash_cls.digest_size)


def sign(private_key, data, version, scheme=None):
    """``(scheme or None, signature)`` over ``data``.

    TLS 1.0/1.1: the scheme is None (not on the wire). TLS 1.2: ``scheme`` (chosen by the
    caller, usually with ``choose_scheme``; None means the RFC 5246 default for the key).
    """
    data = bytes(data)
    kind = key_kind(private_key)
    if version < 0x0303:
        if kind == "rsa":
            return None, private_key.sign(_md5_sha1(data), padding.PKCS1v15(),
                                          utils.NoDigestInfo())
        if kind == "ecdsa":
            return None, private_key.sign(data, ec.ECDSA(hashes.SHA1()))
        if kind == "dsa":
            return None, private_key.sign(data, hashes.SHA1())
        raise AlertError("handshake_failure", "key type cannot sign in TLS 1.0/1.1")
    if scheme is None:
        scheme = choose_scheme(private_key, None)
    entry = SCHEMES.get(scheme)
    if entry is None or entry[0] != kind:
        raise AlertError("handshake_failure",
                         "signature scheme 0x%04x does not fit the key" % scheme)
    _, pad, hash_cls = entry
    if pad == "pkcs1":
        sig = private_key.sign(data, padding.PKCS1v15(), hash_cls())
    elif pad == "pss":
        sig = private_key.sign(data, _pss(hash_cls), hash_cls())
    elif pad == "ecdsa":
        sig = private_key.sign(data, ec.ECDSA(hash_cls()))
    elif pad == "dsa":
        sig = private_key.sign(data, hash_cls())
    else:
        sig = private_key.sign(data)
    return scheme, sig


def verify(public_key, data, signature, version, scheme=None):
    """Check ``signature`` over ``data``; ``AlertError("decrypt_error")`` on any mismatch
    (wrong signature, scheme that does not fit the key, unsupported key or scheme).
    ``public_key`` may also be a certificate."""
    if hasattr(public_key, "public_key") and hasattr(public_key, "subject"):
        public_key = public_key.public_key()
    data, signature = bytes(data), bytes(signature)
    kind = key_kind(public_key)
    try:
        if version < 0x0303:
            if kind == "rsa":
                public_key.verify(signature, _md5_sha1(data), padding.PKCS1v15(),
                                  utils.NoDigestInfo())
            elif kind == "ecdsa":
                public_key.verify(signature, data, ec.ECDSA(hashes.SHA1()))
            elif kind == "dsa":
                public_key.verify(signature, data, hashes.SHA1())
            else:
                raise AlertError("decrypt_error", "key type cannot sign in TLS 1.0/1.1")
            return
        if scheme is None:
            scheme = _DEFAULT_SCHEME.get(kind, -1)
        entry = SCHEMES.get(scheme)
        if entry is None or entry[0] != kind:
            raise AlertError("decrypt_error", "signature scheme 0x%04x does not fit the key"
                             % (scheme & 0xFFFF))
        _, pad, hash_cls = entry
        if pad == "pkcs1":
            public_key.verify(signature, data, padding.PKCS1v15(), hash_cls())
        elif pad == "pss":
            public_key.verify(signature, data, _pss(hash_cls), hash_cls())
        elif pad == "ecdsa":
            public_key.verify(signature, data, ec.ECDSA(hash_cls()))
        elif pad == "dsa":
            public_key.verify(signature, data, hash_cls())
        else:
            public_key.verify(signature, data)
    except (InvalidSignature, ValueError, UnsupportedAlgorithm, TypeError):
        raise AlertError("decrypt_error", "bad signature") from None


# ---------------------------------------------------------------- TLS 1.3 (RFC 8446 4.2.3, 4.4.3)

# rsa_pss_rsae_*, rsa_pss_pss_* (same PSS parameters with an RSASSA-PSS key), ecdsa with the
# curve bound to the hash, ed25519, ed448. PKCS#1 v1.5 and SHA-1 are not allowed in
# CertificateVerify.
SCHEMES13 = {scheme: SCHEMES[scheme] for scheme in
             (0x0804, 0x0805, 0x0806, 0x0403, 0x0503, 0x0603, 0x0807, 0x0808)}
# rsa_pss_pss_*: the rsa_pss_rsae_* parameters, for RSASSA-PSS keys.
SCHEMES13.update({0x0809: SCHEMES[0x0804], 0x080A: SCHEMES[0x0805], 0x080B: SCHEMES[0x0806]})
DEFAULT_SCHEMES13 = [0x0403, 0x0804, 0x0807, 0x0503, 0x0805, 0x0603, 0x0806, 0x0808,
                     0x0809, 0x080A, 0x080B]
_CURVE_OF = {0x0403: "secp256r1", 0x0503: "secp384r1", 0x0603: "secp521r1"}
_CV_PREFIX = {"server": b"\x20" * 64 + b"TLS 1.3, server CertificateVerify\x00",
              "client": b"\x20" * 64 + b"TLS 1.3, client CertificateVerify\x00"}


def cv13_content(transcript_hash, sender):
    """RFC 8446 section 4.4.3: what a TLS 1.3 CertificateVerify signs."""
    return _CV_PREFIX[sender] + bytes(transcript_hash)


_RSASSA_PSS_OID = "1.2.840.113549.1.1.10"


def is_rsassa_pss(certificate):
    """Does the certificate hold an RSASSA-PSS key (id-RSASSA-PSS, not rsaEncryption)?
    Such a key signs only with rsa_pss_pss_* (RFC 8446 section 4.2.3)."""
    if certificate is None:
        return False
    try:
        return certificate.public_key_algorithm_oid.dotted_string == _RSASSA_PSS_OID
    except Exception:          # an old cryptography, or an unusual key
        return False


def _fits13(key, scheme, pss_key=False):
    kind, pad, _ = SCHEMES13[scheme]
    if kind != key_kind(key):
        return False
    if pad == "ecdsa":
        return key.curve.name == _CURVE_OF[scheme]
    if pad == "pss":
        if (scheme >= 0x0809) != pss_key:   # rsa_pss_pss_* for RSASSA-PSS keys only
            return False
        # emLen >= hLen + sLen + 2 (RFC 8017 section 9.1.1)
        return (key.key_size - 1 + 7) // 8 >= 2 * SCHEMES13[scheme][2].digest_size + 2
    return True


def choose_scheme13(private_key, offered, certificate=None):
    """The first of the peer's ``offered`` schemes this key (of ``certificate``) can make
    in TLS 1.3; ``AlertError("handshake_failure")`` when none fits."""
    return _choose13(private_key, tuple(offered or ()), is_rsassa_pss(certificate))


@functools.lru_cache(maxsize=256)
def _choose13(private_key, offered, pss_key):
    # A server answers the same few client lists with the same few keys: the scan of the
    # list (about ten schemes before an RSA key fits, as browsers list ECDSA first) is
    # made once per (key, list).
    for scheme in offered:
        if scheme in SCHEMES13 and _fits13(private_key, scheme, pss_key):
            return scheme
    raise AlertError("handshake_failure", "no common TLS 1.3 signature scheme")


def can_sign13(private_key, offered, certificate=None):
    try:
        choose_scheme13(private_key, offered, certificate)
        return True
    except AlertError:
        return False


def sign13(private_key, content, scheme, certificate=None):
    if scheme not in SCHEMES13 or not _fits13(private_key, scheme,
                                              is_rsassa_pss(certificate)):
        raise AlertError("internal_error", "scheme 0x%04x does not fit the key" % scheme)
    _, pad, hash_cls = SCHEMES13[scheme]
    if pad == "pss":
        return private_key.sign(bytes(content), _pss(hash_cls), hash_cls())
    if pad == "ecdsa":
        return private_key.sign(bytes(content), ec.ECDSA(hash_cls()))
    return private_key.sign(bytes(content))


def verify13(public_key, content, signature, scheme, offered=None):
    """RFC 8446 section 4.4.3: a scheme not allowed in TLS 1.3, not offered, or not made for
    the key (given as its certificate, an RSASSA-PSS key needs rsa_pss_pss_*) is
    illegal_parameter; a bad signature decrypt_error."""
    pss_key = False
    if hasattr(public_key, "public_key") and hasattr(public_key, "subject"):
        pss_key = is_rsassa_pss(public_key)
        public_key = public_key.public_key()
    if scheme not in SCHEMES13 or (offered is not None and scheme not in offered):
        raise AlertError("illegal_parameter",
                         "signature scheme 0x%04x not allowed here" % (scheme & 0xFFFF))
    kind, pad, hash_cls = SCHEMES13[scheme]
    if kind != key_kind(public_key) or (pad == "ecdsa" and
                                        public_key.curve.name != _CURVE_OF[scheme]) or \
            (pad == "pss" and (scheme >= 0x0809) != pss_key):
        raise AlertError("illegal_parameter",
                         "signature scheme 0x%04x does not fit the certificate key" % scheme)
    try:
        if pad == "pss":
            public_key.verify(bytes(signature), bytes(content), _pss(hash_cls), hash_cls())
        elif pad == "ecdsa":
            public_key.verify(bytes(signature), bytes(content), ec.ECDSA(hash_cls()))
        else:
            public_key.verify(bytes(signature), bytes(content))
    except (InvalidSignature, ValueError, UnsupportedAlgorithm, TypeError):
        raise AlertError("decrypt_error", "bad CertificateVerify signature") from None
