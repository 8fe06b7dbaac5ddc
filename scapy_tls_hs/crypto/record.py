"""TLS 1.0-1.2 record protection: one object per direction, owning its sequence number.

Modes (RFC 5246 section 6.2.3):
- CBC, MAC-then-encrypt (6.2.3.2): HMAC over seq||type||version||length||plaintext, then
  TLS padding, then CBC. TLS 1.0 (RFC 2246) chains the IV: each record starts from the last
  ciphertext block of the previous one, per direction. TLS 1.1+ sends a random explicit IV
  in front of each record.
- CBC, encrypt-then-MAC (RFC 7366): CBC first, then HMAC over the header fields and the
  whole ciphertext (explicit IV included).
- AES-GCM (RFC 5288) and AES-CCM (RFC 6655, RFC 7251; CCM_8 with an 8-byte tag): nonce =
  4-byte salt from the key block || 8-byte explicit nonce sent in the record; we use the
  sequence number as the explicit nonce when sealing.
- ChaCha20-Poly1305 (RFC 7905): nonce = 12-byte IV xor the sequence number left-padded to
  12 bytes; no explicit nonce.

A bad MAC, tag or padding, and a length that cannot be a valid record, all raise the same
``AlertError("bad_record_mac")``. Comparisons use ``hmac.compare_digest``; on bad CBC padding
the MAC is still computed (as if there were no padding, RFC 5246 section 6.2.3.2) so the work
done does not depend much on where the record was wrong (Lucky 13 cannot be fully closed in
Python, but the large, obvious timing difference is).

Sequence numbers: every ``seal`` and every ``open`` consumes one, even an ``open`` that fails
(after a failure the connection is dead, RFC 5246 section 7.2.2, so the value no longer
matters; consuming it keeps an observer that logs the failure and goes on in step).
"""
import hmac as _hmac
import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305

from ..errors import AlertError
from .prf import hash_algorithm, normalize_version

try:  # cryptography >= 43 keeps 3DES here
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:  # pragma: no cover - older cryptography
    TripleDES = algorithms.TripleDES

MAX_PLAINTEXT = 1 << 14
MAX_CIPHERTEXT = MAX_PLAINTEXT + 2048      # RFC 5246 section 6.2.3
_SEQ_LIMIT = 1 << 64
_EXPLICIT_NONCE = 8
_HEADER = struct.Struct("!QBHH")           # seq, type, version, length: the MAC/AAD prefix


def _bad():
    return AlertError("bad_record_mac")


class NullProtection:
    """The initial state (TLS_NULL_WITH_NULL_NULL): fragments pass through unchanged."""

    seq = 0

    def seal(self, content_type, version, plaintext):
        if len(plaintext) > MAX_PLAINTEXT:
            raise ValueError("plaintext longer than 2^14 bytes must be fragmented")
        return bytes(plaintext)

    def open(self, content_type, version, fragment):
        if len(fragment) > MAX_PLAINTEXT:
            raise AlertError("record_overflow", "record of %d bytes" % len(fragment))
        return bytes(fragment)


class RecordProtection:
    """Protection of one direction after ChangeCipherSpec.

    ``version`` is the negotiated version (it decides the CBC IV handling); the ``version``
    given to ``seal``/``open`` is the one in the record header, which the MAC/AAD covers.
    ``key``, ``mac_key`` and ``iv`` come from the key block (``iv`` is the GCM salt, the
    ChaCha20 IV, or for TLS 1.0 CBC the first chained IV; TLS 1.1+ CBC ignores it).
    """

    def __init__(self, suite, version, key, mac_key, iv, encrypt_then_mac=False):
        version = normalize_version(version)
        self.suite = suite
        self.version = version
        self.seq = 0
        self.encrypt_then_mac = bool(encrypt_then_mac) and not suite.aead
        self._key = bytes(key)
        self._iv = bytes(iv)
        self._tag = suite.tag_len
        if suite.cipher.endswith("GCM"):
            self._mode = "explicit"
            self._aead = AESGCM(self._key)
        elif "_CCM" in suite.cipher:
            self._mode = "explicit"
            self._aead = AESCCM(self._key, tag_length=self._tag)
        elif suite.cipher == "CHACHA20_POLY1305":
            self._mode = "chacha"
            self._aead = ChaCha20Poly1305(self._key)
            self._iv_int = int.from_bytes(self._iv, "big")
        else:
            self._mode = "cbc"
            self._algorithm = (TripleDES if suite.cipher == "3DES_EDE_CBC"
                               else algorithms.AES)(self._key)
            self._bs = suite.block_size
            self._mac_len = suite.mac_len
            self._hmac = hmac.HMAC(bytes(mac_key), hash_algorithm(suite.mac))
            self._explicit_iv = version >= 0x0302
            if not self._explicit_iv and len(self._iv) != self._bs:
                raise ValueError("TLS 1.0 CBC needs a %d-byte IV" % self._bs)

    @classmethod
    def for_direction(cls, suite, version, key_block, sender, encrypt_then_mac=False):
        """The protection of records sent by ``sender`` (``"client"`` or ``"server"``)."""
        if sender == "client":
            parts = key_block.client_key, key_block.client_mac_key, key_block.client_iv
        elif sender == "server":
            parts = key_block.server_key, key_block.server_mac_key, key_block.server_iv
        else:
            raise ValueError("sender must be 'client' or 'server'")
        return cls(suite, version, *parts, encrypt_then_mac=encrypt_then_mac)

    def __repr__(self):
        return "<RecordProtection %s %s seq=%d%s>" % (
            self.suite.name, self._mode, self.seq, " EtM" if self.encrypt_then_mac else "")

    # -- public ----------------------------------------------------------------------------

    def seal(self, content_type, version, plaintext):
        """Protect one record's plaintext; returns the fragment to put after the header."""
        plaintext = bytes(plaintext)
        if len(plaintext) > MAX_PLAINTEXT:
            raise ValueError("plaintext longer than 2^14 bytes must be fragmented")
        seq = self._next_seq()
        if self._mode == "explicit":
            explicit = seq.to_bytes(_EXPLICIT_NONCE, "big")
            aad = _HEADER.pack(seq, content_type, version, len(plaintext))
            return explicit + self._aead.encrypt(self._iv[:4] + explicit, plaintext, aad)
        if self._mode == "chacha":
            aad = _HEADER.pack(seq, content_type, version, len(plaintext))
            return self._aead.encrypt(self._chacha_nonce(seq), plaintext, aad)
        if self.encrypt_then_mac:
            ciphertext = self._cbc_encrypt(plaintext + self._padding(len(plaintext)))
            return ciphertext + self._mac(seq, content_type, version, ciphertext)
        mac = self._mac(seq, content_type, version, plaintext)
        data = plaintext + mac
        return self._cbc_encrypt(data + self._padding(len(data)))

    def open(self, content_type, version, fragment):
        """Check and remove the protection of one received fragment; returns the plaintext.

        Raises ``AlertError("bad_record_mac")`` for any failed check, and
        ``AlertError("record_overflow")`` for a fragment longer than RFC 5246 allows.
        """
        fragment = bytes(fragment)
        seq = self._next_seq()
        if len(fragment) > MAX_CIPHERTEXT:
            raise AlertError("record_overflow", "record of %d bytes" % len(fragment))
        if self._mode == "explicit":
            head = _EXPLICIT_NONCE + self._tag
            if len(fragment) < head:
                raise _bad()
            explicit = fragment[:_EXPLICIT_NONCE]
            aad = _HEADER.pack(seq, content_type, version, len(fragment) - head)
            plaintext = self._aead_open(self._iv[:4] + explicit, fragment[_EXPLICIT_NONCE:], aad)
        elif self._mode == "chacha":
            if len(fragment) < self._tag:
                raise _bad()
            aad = _HEADER.pack(seq, content_type, version, len(fragment) - self._tag)
            plaintext = self._aead_open(self._chacha_nonce(seq), fragment, aad)
        elif self.encrypt_then_mac:
            plaintext = self._open_etm(seq, content_type, version, fragment)
        else:
            plaintext = self._open_mte(seq, content_type, version, fragment)
        if len(plaintext) > MAX_PLAINTEXT:
            raise AlertError("record_overflow", "plaintext of %d bytes" % len(plaintext))
        return plaintext

    # -- helpers ---------------------------------------------------------------------------

    def _next_seq(self):
        seq = self.seq
        if seq >= _SEQ_LIMIT - 1:
            # RFC 5246 section 6.1: renegotiate (we do not) rather than wrap.
            raise AlertError("internal_error", "record sequence number exhausted")
        self.seq = seq + 1
        return seq

    def _chacha_nonce(self, seq):
        return (self._iv_int ^ seq).to_bytes(12, "big")

    def _aead_open(self, nonce, data, aad):
        try:
            return self._aead.decrypt(nonce, data, aad)
        except InvalidTag:
            raise _bad() from None

    def _mac(self, seq, content_type, version, data):
        h = self._hmac.copy()
        h.update(_HEADER.pack(seq, content_type, version, len(data)))
        h.update(data)
        return h.finalize()

    def _padding(self, length):
        """TLS padding (RFC 5246 section 6.2.3.2): the minimal one, n+1 bytes of value n."""
        n = (self._bs - (length + 1) % self._bs) % self._bs
        return bytes((n,)) * (n + 1)

    def _cbc_encrypt(self, data):
        if self._explicit_iv:
            iv = os.urandom(self._bs)
            enc = Cipher(self._algorithm, modes.CBC(iv)).encryptor()
            return iv + enc.update(data) + enc.finalize()
        enc = Cipher(self._algorithm, modes.CBC(self._iv)).encryptor()
        out = enc.update(data) + enc.finalize()
        self._iv = out[-self._bs:]
        return out

    def _cbc_decrypt(self, fragment):
        """Split off the IV (explicit or chained) and decrypt; ``None`` when the length
        cannot be a whole number of blocks."""
        bs = self._bs
        if self._explicit_iv:
            iv, body = fragment[:bs], fragment[bs:]
        else:
            iv, body = self._iv, fragment
        if not body or len(body) % bs:
            return None
        if not self._explicit_iv:
            self._iv = body[-bs:]
        dec = Cipher(self._algorithm, modes.CBC(iv)).decryptor()
        return dec.update(body) + dec.finalize()

    @staticmethod
    def _check_padding(data, reserved):
        """(padding length incl. its length byte, ok) for decrypted ``data`` whose last
        ``reserved`` bytes before the padding must stay (the MAC in MtE). On bad padding the
        length returned is 1 so the caller still computes a MAC over the rest."""
        n = data[-1]
        total = n + 1
        fits = total + reserved <= len(data)
        if not fits:
            return 1, False
        ok = _hmac.compare_digest(data[-total:], bytes((n,)) * total)
        return (total if ok else 1), ok

    def _open_mte(self, seq, content_type, version, fragment):
        data = self._cbc_decrypt(fragment)
        mac_len = self._mac_len
        if data is None or len(data) < mac_len + 1:
            raise _bad()
        pad_total, pad_ok = self._check_padding(data, mac_len)
        end = len(data) - pad_total - mac_len
        plaintext, mac = data[:end], data[end:end + mac_len]
        expected = self._mac(seq, content_type, version, plaintext)
        mac_ok = _hmac.compare_digest(expected, mac)
        if not (mac_ok and pad_ok):
            raise _bad()
        return plaintext

    def _open_etm(self, seq, content_type, version, fragment):
        mac_len, bs = self._mac_len, self._bs
        minimum = mac_len + bs + (bs if self._explicit_iv else 0)
        if len(fragment) < minimum:
            raise _bad()
        ciphertext, mac = fragment[:-mac_len], fragment[-mac_len:]
        if (len(ciphertext)) % bs:
            raise _bad()
        expected = self._mac(seq, content_type, version, ciphertext)
        if not _hmac.compare_digest(expected, mac):
            if not self._explicit_iv:
                self._iv = ciphertext[-bs:]
            raise _bad()
        data = self._cbc_decrypt(ciphertext)
        if data is None:
            raise _bad()
        pad_total, pad_ok = self._check_padding(data, 0)
        if not pad_ok:
            raise _bad()
        return data[:len(data) - pad_total]
