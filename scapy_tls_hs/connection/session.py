"""Resumable TLS 1.0-1.2 session state, and the server's session cache.

A ``Session`` is what both ends keep after a full handshake (RFC 5246 section 7.4.1.2 "session
state"): version, suite, master secret, plus what RFC 5077 (ticket) and RFC 7627 (extended
master secret) add. The client passes it back in ``ClientConfig(session=...)``; the server
keeps it in a ``SessionCache`` (by id) or sends it to the client inside a ticket
(``Session.to_bytes()`` sealed by ``crypto.tickets.TicketKeys``).
"""
import struct
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from ..codec.state import StateReader, certificates, vector
from ..errors import DecodeError

__all__ = ["Session", "SessionCache"]

_STATE_VERSION = 1
_HEAD = struct.Struct("!BHHBd")


@dataclass
class Session:
    version: int
    suite: object                       # crypto.suites.CipherSuite
    session_id: bytes
    master_secret: bytes
    ticket: bytes = None                # client side: the ticket to offer next time
    ticket_lifetime: int = 0
    extended_master_secret: bool = False
    encrypt_then_mac: bool = False
    alpn: str = None
    sni: str = None
    peer_certificates: list = field(default_factory=list)   # DER, leaf first
    created: float = field(default_factory=time.time)
    # TLS 1.3 (RFC 8446 section 4.6.1): a ticket stands for ``psk``; the client hides the
    # ticket's age with ``age_add``; 0-RTT is allowed up to ``max_early_data`` bytes.
    psk: bytes = None
    age_add: int = 0
    max_early_data: int = 0

    @property
    def cipher_suite(self):
        return self.suite.name

    def expired(self, lifetime, now=None):
        return (now if now is not None else time.time()) - self.created > lifetime

    # Serialized state for tickets: small, fixed layout, versioned. Peer certificates go in
    # too so a server resuming from a ticket still knows who the client was.
    def to_bytes(self):
        flags = (1 if self.extended_master_secret else 0) | (2 if self.encrypt_then_mac else 0)
        return b"".join((_HEAD.pack(_STATE_VERSION, self.version, self.suite.id, flags,
                                    self.created),
                         vector(self.master_secret, 1), vector((self.sni or "").encode(), 2),
                         vector((self.alpn or "").encode(), 1),
                         certificates(self.peer_certificates)))

    @classmethod
    def from_bytes(cls, data, session_id=b""):
        from ..crypto.suites import CipherSuite
        if len(data) < _HEAD.size or data[0] != _STATE_VERSION:
            raise DecodeError("unknown session state version")
        sv, version, suite_id, flags, created = _HEAD.unpack_from(data)
        read = StateReader(data, _HEAD.size, "session state")
        master = read.vector(1)
        sni, alpn = read.text(2), read.text(1)
        certs = read.certificates()
        read.end()
        if len(master) != 48:
            read.fail("master secret of %d bytes" % len(master))
        try:
            suite = CipherSuite.by_id(suite_id)
        except KeyError:
            read.fail("unknown cipher suite 0x%04x" % suite_id)
        return cls(version=version, suite=suite, session_id=session_id, master_secret=master,
                   extended_master_secret=bool(flags & 1), encrypt_then_mac=bool(flags & 2),
                   alpn=alpn, sni=sni, peer_certificates=certs, created=created)


class SessionCache:
    """Server-side sessions by id: bounded (oldest evicted first), entries expire after
    ``lifetime`` seconds. Safe to share between threads (one per connection)."""

    def __init__(self, max_entries=1024, lifetime=7200):
        self.max_entries = max_entries
        self.lifetime = lifetime
        self._entries = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self):
        return len(self._entries)

    def __contains__(self, session_id):
        return self.get(session_id) is not None

    def put(self, session):
        if not session.session_id:
            return
        with self._lock:
            self._entries[session.session_id] = session
            self._entries.move_to_end(session.session_id)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def get(self, session_id, now=None):
        if not session_id:
            return None
        with self._lock:
            session = self._entries.get(session_id)
            if session is None:
                return None
            if session.expired(self.lifetime, now):
                del self._entries[session_id]
                return None
            return session

    def remove(self, session_id):
        with self._lock:
            self._entries.pop(session_id, None)

    def clear(self):
        with self._lock:
            self._entries.clear()
