"""Hybrid ECDHE + ML-KEM key shares for TLS 1.3 (draft-ietf-tls-ecdhe-mlkem): X25519MLKEM768
(what current browsers and OpenSSL 3.5 offer first), SecP256r1MLKEM768, SecP384r1MLKEM1024.

A client share is an ML-KEM encapsulation key and an ECDHE public value side by side; the
server answers with an ML-KEM ciphertext and its own ECDHE value; the shared secret is the two
secrets concatenated, in the group's order. ML-KEM comes from cryptography (47 and later, on
an OpenSSL that has it); where it is missing, ``hybrid_supported`` says so and callers leave
the group out. ``crypto.keyexchange.generate_key_share`` / ``respond_key_share`` hand hybrid
groups here, so the TLS 1.3 roles run them like any other group.
"""
from ..errors import AlertError

__all__ = ["HYBRID_GROUPS", "HybridShare", "hybrid_supported", "hybrid_respond"]

# group: (ECDHE group, ML-KEM parameter set, ML-KEM half first?). X25519MLKEM768 puts ML-KEM
# first (the FIPS-approved secret leads the key derivation input, NIST SP 800-56C); the
# NIST-curve hybrids lead with ECDH. Shares and secrets keep the same order.
HYBRID_GROUPS = {0x11EC: (29, 768, True),      # X25519MLKEM768
                 0x11EB: (23, 768, False),     # SecP256r1MLKEM768
                 0x11ED: (24, 1024, False)}    # SecP384r1MLKEM1024
# FIPS 203: ciphertext lengths; ECDHE public values: raw x25519, uncompressed P-256 / P-384.
_CIPHERTEXT_LEN = {768: 1088, 1024: 1568}
_ECDH_LEN = {29: 32, 23: 65, 24: 97}


def _mlkem_class(size):
    try:
        from cryptography.hazmat.primitives.asymmetric import mlkem
    except ImportError:
        return None
    return getattr(mlkem, "MLKEM%dPrivateKey" % size, None)


def _probe(size, _seen={}):
    """Can this cryptography make an ML-KEM key of ``size``? (Its OpenSSL may lack it.)"""
    if size not in _seen:
        cls = _mlkem_class(size)
        try:
            ok = cls is not None and cls.generate() is not None
        except Exception:       # UnsupportedAlgorithm: a backend without ML-KEM
            ok = False
        _seen[size] = ok
    return _seen[size]


def hybrid_supported(group):
    spec = HYBRID_GROUPS.get(group)
    return spec is not None and _probe(spec[1])


class HybridShare:
    """A hybrid ECDHE + ML-KEM key share with the ``public_bytes`` / ``exchange`` shape of
    the (EC)DHE ones, so the TLS 1.3 client runs it like any other."""

    def __init__(self, group):
        from .keyexchange import generate_key_share
        self.group = group
        ecdh_group, size, self._kem_first = HYBRID_GROUPS[group]
        self._ecdh = generate_key_share(ecdh_group)
        self._ecdh_len = _ECDH_LEN[ecdh_group]
        self._kem = _mlkem_class(size).generate()
        self._ct_len = _CIPHERTEXT_LEN[size]

    def public_bytes(self):
        kem = self._kem.public_key().public_bytes_raw()
        ecdh = self._ecdh.public_bytes()
        return kem + ecdh if self._kem_first else ecdh + kem

    def exchange(self, peer):
        """The shared secret for the server's share (ML-KEM ciphertext and ECDHE public
        value, in the group's order): the two secrets concatenated in the same order;
        ``AlertError("illegal_parameter")`` for a share of the wrong size or a bad point."""
        peer = bytes(peer)
        if len(peer) != self._ct_len + self._ecdh_len:
            raise AlertError("illegal_parameter", "hybrid key share of %d bytes" % len(peer))
        if self._kem_first:
            ct, ecdh_pub = peer[:self._ct_len], peer[self._ct_len:]
        else:
            ecdh_pub, ct = peer[:self._ecdh_len], peer[self._ecdh_len:]
        ecdh = self._ecdh.exchange(ecdh_pub)
        try:
            kem = self._kem.decapsulate(ct)
        except ValueError as e:
            raise AlertError("illegal_parameter", "bad ML-KEM ciphertext: %s" % e) from None
        return kem + ecdh if self._kem_first else ecdh + kem


def hybrid_respond(group, peer):
    """The server side: ``(server share, shared secret)`` for a client's hybrid ``peer``
    share (encapsulation to its ML-KEM key, ECDHE with its public value);
    ``AlertError("illegal_parameter")`` for a share of the wrong size or a bad key."""
    from .keyexchange import generate_key_share
    ecdh_group, size, kem_first = HYBRID_GROUPS[group]
    peer = bytes(peer)
    ek_len = _mlkem_public_len(size)
    ecdh_len = _ECDH_LEN[ecdh_group]
    if len(peer) != ek_len + ecdh_len:
        raise AlertError("illegal_parameter", "hybrid key share of %d bytes" % len(peer))
    ek, ecdh_pub = (peer[:ek_len], peer[ek_len:]) if kem_first else \
        (peer[ecdh_len:], peer[:ecdh_len])
    try:
        kem_secret, ciphertext = _mlkem_public_class(size).from_public_bytes(ek).encapsulate()
    except ValueError as e:
        raise AlertError("illegal_parameter", "bad ML-KEM encapsulation key: %s" % e) from None
    ecdh = generate_key_share(ecdh_group)
    ecdh_secret = ecdh.exchange(ecdh_pub)
    if kem_first:
        return ciphertext + ecdh.public_bytes(), kem_secret + ecdh_secret
    return ecdh.public_bytes() + ciphertext, ecdh_secret + kem_secret


def _mlkem_public_len(size):
    return {768: 1184, 1024: 1568}[size]          # FIPS 203 encapsulation key sizes


def _mlkem_public_class(size):
    from cryptography.hazmat.primitives.asymmetric import mlkem
    return getattr(mlkem, "MLKEM%dPublicKey" % size)
