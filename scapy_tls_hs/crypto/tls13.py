"""TLS 1.3 key schedule pieces and record protection (RFC 8446 sections 5.2-5.3, 7.1, 4.4.4).

Enough for an observer that gets its traffic secrets from a key log, and for the key
schedule itself (``hkdf_extract`` / ``derive_secret``). HKDF-Expand is ``cryptography``'s
``HKDFExpand``; HKDF-Extract is one HMAC (RFC 5869 section 2.2).
"""
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from ..errors import AlertError
from .prf import hash_algorithm, hmac_digest

MAX_PLAINTEXT = 1 << 14
MAX_CIPHERTEXT = MAX_PLAINTEXT + 256          # RFC 8446 section 5.2
_TAG_LEN = 16
_APPLICATION_DATA = 23
_SEQ_LIMIT = 1 << 64
_LABEL_HEAD = struct.Struct("!HB")


def hkdf_expand_label(secret, label, context, length, hash="sha256"):
    """RFC 8446 section 7.1: HKDF-Expand(secret, HkdfLabel, length); ``label`` without the
    ``"tls13 "`` prefix (str or bytes; a label that already has it is taken as is)."""
    if isinstance(label, str):
        label = label.encode("ascii")
    if not label.startswith(b"tls13 "):
        label = b"tls13 " + label
    context = bytes(context)
    info = b"".join((_LABEL_HEAD.pack(length, len(label)), label, bytes((len(context),)),
                     context))
    algorithm = hash_algorithm(hash)
    if length <= algorithm.digest_size:
        # HKDF-Expand's whole output is then its first block, T(1) = HMAC(PRK, info | 1)
        # (RFC 5869 section 2.3): one HMAC, without HKDFExpand's set-up per call (the key
        # schedule expands twenty labels per handshake).
        return hmac_digest(algorithm, secret, info + b"\x01")[:length]
    return HKDFExpand(algorithm, length, info).derive(bytes(secret))


def hkdf_extract(salt, ikm, hash="sha256"):
    """RFC 5869 section 2.2: HMAC-Hash(salt, IKM); an empty salt is Hash.length zeros."""
    algorithm = hash_algorithm(hash)
    return hmac_digest(algorithm, bytes(salt) or bytes(algorithm.digest_size),
                       bytes(ikm) or bytes(algorithm.digest_size))


def derive_secret(secret, label, transcript_hash, hash="sha256"):
    """RFC 8446 section 7.1 Derive-Secret, given the transcript hash (not the messages)."""
    size = hash_algorithm(hash).digest_size
    return hkdf_expand_label(secret, label, transcript_hash, size, hash)


def traffic_keys(suite, traffic_secret):
    """RFC 8446 section 7.3: (write key, 12-byte write IV) of a traffic secret."""
    key = hkdf_expand_label(traffic_secret, b"key", b"", suite.key_len, suite.prf_hash)
    iv = hkdf_expand_label(traffic_secret, b"iv", b"", 12, suite.prf_hash)
    return key, iv


def next_traffic_secret(suite, traffic_secret):
    """RFC 8446 section 7.2: the secret after a KeyUpdate."""
    size = hash_algorithm(suite.prf_hash).digest_size
    return hkdf_expand_label(traffic_secret, b"traffic upd", b"", size, suite.prf_hash)


def finished_key(base_key, hash="sha256"):
    """RFC 8446 section 4.4.4: ``base_key`` is the sender's handshake traffic secret."""
    size = hash_algorithm(hash).digest_size
    return hkdf_expand_label(base_key, b"finished", b"", size, hash)


def verify_data13(base_key, transcript_hash, hash="sha256"):
    """The Finished verify_data: HMAC(finished_key, transcript hash up to the Finished)."""
    return hmac_digest(hash, finished_key(base_key, hash), bytes(transcript_hash))


class TLS13Protection:
    """One direction's protection under one traffic secret (RFC 8446 section 5.2).

    The nonce is the write IV xor the sequence number left-padded to 12 bytes; the AAD is the
    record header (opaque_type 23, legacy version 0x0303, length). The sequence number
    advances on every ``seal`` and ``open``, also a failed one (the connection dies then).
    """

    def __init__(self, suite, traffic_secret):
        self.suite = suite
        self.seq = 0
        key, iv = traffic_keys(suite, traffic_secret)
        self._iv = int.from_bytes(iv, "big")
        self._tag = _TAG_LEN
        if suite.cipher == "CHACHA20_POLY1305":
            self._aead = ChaCha20Poly1305(key)
        elif suite.cipher == "AES_128_CCM":
            self._aead = AESCCM(key)
        elif suite.cipher == "AES_128_CCM_8":
            self._aead = AESCCM(key, tag_length=8)
            self._tag = 8
        else:
            self._aead = AESGCM(key)

    def _nonce(self):
        seq = self.seq
        if seq >= _SEQ_LIMIT - 1:
            raise AlertError("internal_error", "record sequence number exhausted")
        self.seq = seq + 1
        return (self._iv ^ seq).to_bytes(12, "big")

    def seal(self, inner_type, plaintext, padding=0):
        """TLSInnerPlaintext = content || type || zeros, encrypted; returns the fragment of
        an application_data record."""
        plaintext = bytes(plaintext)
        if len(plaintext) > MAX_PLAINTEXT:
            raise ValueError("plaintext longer than 2^14 bytes must be fragmented")
        inner = plaintext + bytes((inner_type,)) + bytes(padding)
        if len(inner) > MAX_PLAINTEXT + 1:
            raise ValueError("TLSInnerPlaintext longer than 2^14 + 1 bytes")
        aad = struct.pack("!BHH", _APPLICATION_DATA, 0x0303, len(inner) + self._tag)
        return self._aead.encrypt(self._nonce(), inner, aad)

    # TLS 1.3 drafts before 25 (seen in old captures) authenticated no additional data.
    empty_aad = False

    def open(self, fragment, version=0x0303):
        """``(inner content type, plaintext)``; ``AlertError("bad_record_mac")`` for a bad
        tag, ``record_overflow`` for a too long record, ``unexpected_message`` when the
        inner plaintext has no content type. ``version``: the record header's, as received
        (RFC 8446 section 5.2: the additional data is the header as it came)."""
        fragment = bytes(fragment)
        nonce = self._nonce()
        if len(fragment) > MAX_CIPHERTEXT:
            raise AlertError("record_overflow", "record of %d bytes" % len(fragment))
        if len(fragment) < self._tag:
            raise AlertError("bad_record_mac")
        aad = b"" if self.empty_aad else \
            struct.pack("!BHH", _APPLICATION_DATA, version, len(fragment))
        try:
            inner = self._aead.decrypt(nonce, fragment, aad)
        except InvalidTag:
            raise AlertError("bad_record_mac") from None
        if len(inner) > MAX_PLAINTEXT + 1:     # RFC 8446 5.4: padding counts too
            raise AlertError("record_overflow", "TLSInnerPlaintext of %d bytes" % len(inner))
        content = inner.rstrip(b"\x00")
        if not content:
            raise AlertError("unexpected_message", "TLSInnerPlaintext without content type")
        if len(content) - 1 > MAX_PLAINTEXT:
            raise AlertError("record_overflow", "plaintext of %d bytes" % (len(content) - 1))
        return content[-1], content[:-1]
