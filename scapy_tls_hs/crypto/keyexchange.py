"""Key exchange: RSA pre-master transport, finite-field DHE, ECDHE.

- RSA (RFC 5246 section 7.4.7.1): the client encrypts ``client_version || 46 random bytes``
  with PKCS#1 v1.5. The server never reveals why a pre-master is bad: any failure (padding,
  length, version bytes) silently yields a random pre-master, so the handshake fails later
  at Finished exactly as it would with a wrong key (Bleichenbacher countermeasure).
- DHE (RFC 5246 section 8.1.2): the shared secret has its leading zero bytes stripped.
  Servers use the RFC 7919 group the client asks for, else ffdhe2048 (RFC 7919 section 4).
- ECDHE (RFC 8422 section 5.10, RFC 7748): x25519/x448 raw keys, NIST curves as uncompressed
  points; the shared secret is the x coordinate.
"""
import contextlib
import hmac
import os
import warnings

from cryptography.hazmat.primitives.asymmetric import dh, ec, padding, x448, x25519

from ..errors import AlertError

# RFC 7919 appendix A.1: ffdhe2048, generator 2.
FFDHE2048_P = int(
    "FFFFFFFFFFFFFFFFADF85458A2BB4A9AAFDC5620273D3CF1D8B9C583CE2D3695A9E13641146433FBCC939D"
    "CE249B3EF97D2FE363630C75D8F681B202AEC4617AD3DF1ED5D5FD65612433F51F5F066ED0856365553DED"
    "1AF3B557135E7F57C935984F0C70E0E68B77E2A689DAF3EFE8721DF158A136ADE73530ACCA4F483A797ABC"
    "0AB182B324FB61D108A94BB2C8E3FBB96ADAB760D7F4681D4F42A3DE394DF4AE56EDE76372BB190B07A7C8"
    "EE0A6D709E02FCE1CDF7E2ECC03404CD28342F619172FE9CE98583FF8E4F1232EEF28183C3FE3B1B4C6FAD"
    "733BB5FCBC2EC22005C58EF1837D1683B2C6F34A26C1B2EFFA886B423861285C97FFFFFFFFFFFFFFFF", 16)
FFDHE2048 = (FFDHE2048_P, 2)
MAX_DH_BITS = 8192

# Named groups we can run (RFC 8422 / RFC 7748 code points).
_CURVES = {23: ec.SECP256R1, 24: ec.SECP384R1, 25: ec.SECP521R1}
_RAW = {29: (x25519.X25519PrivateKey, x25519.X25519PublicKey, 32),
        30: (x448.X448PrivateKey, x448.X448PublicKey, 56)}
SUPPORTED_GROUPS = (29, 23, 24, 30, 25)     # our default preference order

PRE_MASTER_LEN = 48


def _version_bytes(client_version):
    if isinstance(client_version, (bytes, bytearray)):
        return bytes(client_version[:2])
    return int(client_version).to_bytes(2, "big")


def _public_key(key):
    """Accept an RSA public key, a private key or a certificate."""
    if hasattr(key, "public_key") and not hasattr(key, "encrypt"):
        return key.public_key()
    return key


# -- RSA ------------------------------------------------------------------------------------

def rsa_encrypt_pre_master(public_key, client_version):
    """``(pre_master, encrypted)`` for a ClientKeyExchange; ``client_version`` is the version
    the ClientHello offered (RFC 5246 section 7.4.7.1), not the negotiated one."""
    pre_master = _version_bytes(client_version) + os.urandom(PRE_MASTER_LEN - 2)
    encrypted = _public_key(public_key).encrypt(pre_master, padding.PKCS1v15())
    return pre_master, encrypted


def rsa_decrypt_pre_master(private_key, encrypted, client_version):
    """The pre-master secret, or 48 random bytes when anything is wrong.

    Never raises for bad input: the random fallback is drawn before decrypting and the choice
    between the two is made without branching on which check failed. (OpenSSL 3.2+ also does
    implicit rejection inside PKCS#1 v1.5 decryption; we do not rely on it.)
    """
    version = _version_bytes(client_version)
    fallback = version + os.urandom(PRE_MASTER_LEN - 2)
    try:
        decrypted = private_key.decrypt(bytes(encrypted), padding.PKCS1v15())
    except Exception:       # bad padding, wrong length, key mismatch: all the same to us
        decrypted = b""
    good_len = len(decrypted) == PRE_MASTER_LEN
    candidate = decrypted if good_len else fallback
    good = good_len & hmac.compare_digest(candidate[:2], version)
    return candidate if good else fallback


# -- ECDHE ----------------------------------------------------------------------------------

class EphemeralKey:
    """An ephemeral ECDHE key on one named group (29 x25519, 30 x448, 23/24/25 NIST)."""

    def __init__(self, group, private_key):
        self.group = group
        self._private = private_key

    @classmethod
    def generate(cls, group):
        if group in _RAW:
            return cls(group, _RAW[group][0].generate())
        if group in _CURVES:
            return cls(group, ec.generate_private_key(_CURVES[group]()))
        raise AlertError("illegal_parameter", "unsupported named group %d" % group)

    @staticmethod
    def supported(group):
        return group in _RAW or group in _CURVES

    def public_bytes(self):
        """x25519/x448: the raw 32/56 bytes; NIST curves: the uncompressed point."""
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
        pub = self._private.public_key()
        if self.group in _RAW:
            return pub.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return pub.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)

    def exchange(self, peer_public):
        """The shared secret with the peer's public value; ``AlertError("illegal_parameter")``
        for a malformed or invalid point (or an all-zero x25519/x448 result)."""
        peer_public = bytes(peer_public)
        try:
            if self.group in _RAW:
                _, public_cls, size = _RAW[self.group]
                if len(peer_public) != size:
                    raise ValueError("wrong length")
                shared = self._private.exchange(public_cls.from_public_bytes(peer_public))
                if not any(shared):
                    raise ValueError("all-zero shared secret")
                return shared
            # RFC 8422 section 5.1.2: only uncompressed points are used.
            if not peer_public or peer_public[0] != 4:
                raise ValueError("not an uncompressed point")
            peer = ec.EllipticCurvePublicKey.from_encoded_point(self._private.curve,
                                                                peer_public)
            return self._private.exchange(ec.ECDH(), peer)
        except ValueError as e:
            raise AlertError("illegal_parameter", "bad ECDH public value: %s" % e) from None


# -- finite-field DHE -----------------------------------------------------------------------

@contextlib.contextmanager
def _ffdh():
    """cryptography 50 marks finite-field DH deprecated. TLS 1.2 DHE suites are still what
    real peers negotiate (and what captures hold), so the package keeps running them while
    cryptography has them, without a warning on every handshake of a CLI user."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Diffie-Hellman over finite fields")
        yield


class DHEKey:
    """An ephemeral finite-field DH key for the group ``(p, g)``."""

    def __init__(self, p, g, private_key):
        self.p, self.g = p, g
        self._private = private_key
        self._numbers = private_key.parameters().parameter_numbers()

    @classmethod
    def generate(cls, p, g):
        """A key in the group; ``AlertError("insufficient_security")`` for a prime below
        cryptography's 512-bit minimum, ``illegal_parameter`` for a group that is not one
        (cryptography checks that p is a safe prime), or larger than 8192 bits (checking
        such a prime would let a server make us spin)."""
        if p < 3 or not 1 < g < p - 1 or p.bit_length() > MAX_DH_BITS:
            raise AlertError("illegal_parameter", "bad DH group")
        try:
            with _ffdh():
                params = dh.DHParameterNumbers(p, g).parameters()
                return cls(p, g, params.generate_private_key())
        except ValueError as e:
            alert = "insufficient_security" if "at least" in str(e) else "illegal_parameter"
            raise AlertError(alert, "DH group rejected: %s" % e) from None

    def public_bytes(self):
        """Y, big-endian, left-padded to the length of p (RFC 7919 section 5.1)."""
        y = self._private.public_key().public_numbers().y
        return y.to_bytes((self.p.bit_length() + 7) // 8, "big")

    def exchange(self, peer):
        """The shared secret with leading zero bytes stripped (RFC 5246 section 8.1.2)."""
        y = int.from_bytes(bytes(peer), "big")
        # RFC 7919 section 5.1: 1 < Y < p-1.
        if not 1 < y < self.p - 1:
            raise AlertError("illegal_parameter", "DH public value out of range")
        try:
            with _ffdh():
                pub = dh.DHPublicNumbers(y, self._numbers).public_key()
                shared = self._private.exchange(pub)
        except ValueError as e:
            raise AlertError("illegal_parameter", "bad DH public value: %s" % e) from None
        return shared.lstrip(b"\x00")


# -- TLS 1.3 key shares (RFC 8446 section 4.2.8) --------------------------------------------

def _e_times_power_of_two(shift):
    """floor(e * 2^shift), by the series sum(1/n!) in integers (with guard bits)."""
    guard = 64
    term = 1 << (shift + guard)
    total, n = 0, 0
    while term:
        total += term
        n += 1
        term //= n
    return total >> guard


# RFC 7919 appendix A: p = 2^b - 2^{b-64} + {[2^{b-130} e] + X} * 2^64 - 1, generator 2.
_FFDHE_X = {256: (2048, 560316), 257: (3072, 2625351), 258: (4096, 5736041),
            259: (6144, 15705020), 260: (8192, 10965728)}
FFDHE_GROUPS = frozenset(_FFDHE_X)


def ffdhe_prime(group, _cache={}):
    """The RFC 7919 prime of named group 256..260 (ffdhe2048..ffdhe8192)."""
    p = _cache.get(group)
    if p is None:
        bits, x = _FFDHE_X[group]
        p = _cache[group] = (2 ** bits - 2 ** (bits - 64)
                             + (_e_times_power_of_two(bits - 130) + x) * 2 ** 64 - 1)
    return p


def ffdhe_group_of(p):
    """The named group whose prime is ``p`` (an int), or None."""
    for group in _FFDHE_X:
        if ffdhe_prime(group) == p:
            return group
    return None


class FFDHEShare(DHEKey):
    """A TLS 1.3 finite-field key share: public value and shared secret are both left-padded
    to the length of p (RFC 8446 sections 4.2.8.1 and 7.4.1)."""

    _params = {}

    def __init__(self, group):
        p = ffdhe_prime(group)
        params = self._params.get(group)
        with _ffdh():
            if params is None:       # validating a safe prime is slow: once per group
                params = self._params[group] = dh.DHParameterNumbers(p, 2).parameters()
            super().__init__(p, 2, params.generate_private_key())
        self.group = group
        self._size = (p.bit_length() + 7) // 8

    def exchange(self, peer):
        peer = bytes(peer)
        if len(peer) != self._size:
            raise AlertError("illegal_parameter", "FFDHE key share of %d bytes" % len(peer))
        return super().exchange(peer).rjust(self._size, b"\x00")


def key_share_supported(group):
    from .hybrid import HYBRID_GROUPS, hybrid_supported
    if group in HYBRID_GROUPS:
        return hybrid_supported(group)
    return EphemeralKey.supported(group) or group in FFDHE_GROUPS


def generate_key_share(group):
    """A fresh private key for a TLS 1.3 key share of ``group`` (ECDHE, FFDHE, or hybrid
    ECDHE + ML-KEM: ``crypto.hybrid``)."""
    if group in FFDHE_GROUPS:
        return FFDHEShare(group)
    if group >= 0x11EB:
        from .hybrid import HYBRID_GROUPS, HybridShare
        if group in HYBRID_GROUPS:
            return HybridShare(group)
    return EphemeralKey.generate(group)


def respond_key_share(group, peer):
    """The server side of a TLS 1.3 key share: ``(our share, shared secret)`` for the
    client's ``peer`` value. A KEM answers the client's key (hybrid groups); (EC)DHE makes
    a key of its own."""
    from .hybrid import HYBRID_GROUPS, hybrid_respond
    if group in HYBRID_GROUPS:
        return hybrid_respond(group, peer)
    key = generate_key_share(group)
    shared = key.exchange(peer)
    return key.public_bytes(), shared
