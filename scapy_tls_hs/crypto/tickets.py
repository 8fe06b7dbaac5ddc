"""Session tickets for our server (RFC 5077).

The ticket format is the server's own business (RFC 5077 section 4 only recommends one); ours
is ``key_name (16) || nonce (12) || AES-256-GCM(state)`` with the key name as associated data,
so a ticket from another key, a truncated or a tampered one simply fails to open. ``open``
returns None in every such case: the server then falls back to a full handshake, never an
error.
"""
import os
import threading

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["TicketKeys"]

_NAME_LEN = 16
_NONCE_LEN = 12
_TAG_LEN = 16


class TicketKeys:
    """A current key for new tickets plus a few previous ones still accepted after
    ``rotate()``. ``lifetime`` is the hint sent in NewSessionTicket and the age after which
    the server refuses a ticket."""

    def __init__(self, key=None, lifetime=7200, keep=2):
        self.lifetime = lifetime
        self._keep = keep
        self._lock = threading.Lock()
        self._keys = []           # [(name, AESGCM)], newest first
        self._add(key)

    def _add(self, key):
        key = key if key is not None else os.urandom(32)
        if len(key) not in (16, 32):
            raise ValueError("ticket key must be 16 or 32 bytes")
        name = os.urandom(_NAME_LEN)
        with self._lock:
            self._keys.insert(0, (name, AESGCM(key)))
            del self._keys[self._keep + 1:]

    def rotate(self, key=None):
        """New tickets use a new key; tickets under the previous ``keep`` keys still open."""
        self._add(key)

    def seal(self, state: bytes) -> bytes:
        name, aead = self._keys[0]
        nonce = os.urandom(_NONCE_LEN)
        return name + nonce + aead.encrypt(nonce, state, name)

    def open(self, ticket: bytes):
        """The state sealed in ``ticket``, or None when this server cannot read it."""
        if len(ticket) < _NAME_LEN + _NONCE_LEN + _TAG_LEN:
            return None
        name = ticket[:_NAME_LEN]
        for key_name, aead in self._keys:
            if key_name == name:
                try:
                    return aead.decrypt(ticket[_NAME_LEN:_NAME_LEN + _NONCE_LEN],
                                        ticket[_NAME_LEN + _NONCE_LEN:], name)
                except InvalidTag:
                    return None
        return None

    # Names used in INTERNALS.md ("encrypts ... and decrypts").
    encrypt = seal
    decrypt = open
