"""Session tickets for our server (RFC 5077; TLS 1.3 tickets, RFC 8446 section 4.6.1).

The ticket format is the server's own business (RFC 5077 section 4 only recommends one); ours
is ``key_name (16) || nonce (12) || AES-256-GCM(state)`` with the key name as associated data,
so a ticket from another key, a truncated or a tampered one simply fails to open. ``open``
returns None in every such case: the server then falls back to a full handshake, never an
error.
"""
import os
import struct
import threading
import time
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..codec.state import StateReader, certificates, vector
from ..errors import DecodeError

__all__ = ["TicketKeys", "TicketState13"]

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


# -- TLS 1.3 ticket contents (RFC 8446 section 4.6.1) ---------------------------------------

_STATE13 = 13           # first byte of a TLS 1.3 state: never the TLS 1.2 Session's (1)
_HEAD13 = struct.Struct("!B16sHdII")


@dataclass
class TicketState13:
    """What a TLS 1.3 ticket carries, sealed by ``TicketKeys``: the PSK itself (derived from
    the resumption secret and the ticket nonce), the suite whose hash it belongs to, when it
    was issued and its ``ticket_age_add`` (to read the obfuscated age), the early data limit,
    and the ALPN / SNI / client certificates of the original connection. ``ticket_id`` is
    random: the key of the single-use set for 0-RTT."""

    suite_id: int
    psk: bytes
    age_add: int
    created: float = field(default_factory=time.time)
    max_early_data: int = 0
    alpn: str = None
    sni: str = None
    peer_certificates: list = field(default_factory=list)
    ticket_id: bytes = field(default_factory=lambda: os.urandom(16))

    def to_bytes(self):
        return b"".join((_HEAD13.pack(_STATE13, self.ticket_id, self.suite_id, self.created,
                                      self.age_add, self.max_early_data),
                         vector(self.psk, 1), vector((self.alpn or "").encode(), 1),
                         vector((self.sni or "").encode(), 2),
                         certificates(self.peer_certificates)))

    @classmethod
    def from_bytes(cls, data):
        """``DecodeError`` for anything that is not a TLS 1.3 state of ours."""
        if len(data) < _HEAD13.size or data[0] != _STATE13:
            raise DecodeError("not a TLS 1.3 ticket state")
        sv, tid, suite_id, created, age_add, max_early = _HEAD13.unpack_from(data)
        read = StateReader(data, _HEAD13.size, "TLS 1.3 ticket state")
        psk = read.vector(1)
        alpn, sni = read.text(1), read.text(2)
        certs = read.certificates()
        read.end()
        if len(psk) not in (32, 48):
            read.fail("PSK of %d bytes" % len(psk))
        return cls(suite_id, psk, age_add, created, max_early, alpn, sni, certs, bytes(tid))
