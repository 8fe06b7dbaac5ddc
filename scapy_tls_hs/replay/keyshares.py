"""Fresh TLS 1.3 key shares for a replayed ClientHello, private halves kept.

(EC)DHE groups come from ``crypto.keyexchange``. Browsers also send a hybrid share
(draft-ietf-tls-ecdhe-mlkem): an ECDHE key and an ML-KEM encapsulation key side by side, so a
server that picks the hybrid needs both halves to finish. They are made here with
cryptography's ML-KEM (cryptography 47 and later, on an OpenSSL that has it); where it is
missing, ``hybrid_supported`` says so and the caller decides what to offer instead.
"""
from ..errors import AlertError

__all__ = ["HYBRID_GROUPS", "HybridShare", "hybrid_supported", "fresh_key_share",
           "can_make_share"]

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
        from ..crypto.keyexchange import generate_key_share
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


def can_make_share(group):
    from ..crypto.keyexchange import key_share_supported
    return key_share_supported(group) or hybrid_supported(group)


def fresh_key_share(group):
    """A new private key for a key share of ``group`` ((EC)DHE or hybrid)."""
    from ..crypto.keyexchange import generate_key_share
    if group in HYBRID_GROUPS:
        return HybridShare(group)
    return generate_key_share(group)
