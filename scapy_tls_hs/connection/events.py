"""What a connection reports: small frozen records, one per thing seen on the wire.

Shared by the client, server and observer roles. Every event has ``direction`` ("client" for
client-to-server bytes, "server" for the other way). Events that stand for wire bytes offer a
lazy ``.packet``: the Scapy layer is imported and built only when a user asks for it, so the
core never pays for Scapy on its hot path.
"""
from dataclasses import dataclass

from ..codec.messages import HELLO_RETRY_REQUEST_RANDOM as HRR_RANDOM
from ..registry import ALERT_LEVELS, HANDSHAKE_TYPES, name

__all__ = ["Event", "HandshakeMessage", "ChangeCipherSpec", "Alert", "ApplicationData",
           "HandshakeComplete", "Undecryptable"]




def _layers():
    from .. import layers
    return layers


class Event:
    """Base class, so callers can write ``isinstance(ev, Event)``."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class HandshakeMessage(Event):
    """One whole handshake message. ``raw`` is header + body, as hashed in the transcript;
    ``encrypted`` tells whether it travelled under record protection (e.g. Finished)."""

    direction: str
    msg_type: int
    body: bytes
    raw: bytes
    encrypted: bool = False

    @property
    def name(self):
        # RFC 8446 section 4.1.3: a ServerHello with this random is a HelloRetryRequest.
        if self.msg_type == 2 and self.body[2:34] == HRR_RANDOM:
            return "hello_retry_request"
        return name(HANDSHAKE_TYPES, self.msg_type, 2)

    @property
    def packet(self):
        return _layers().TLSHandshake(self.raw)


@dataclass(frozen=True, slots=True)
class ChangeCipherSpec(Event):
    direction: str

    name = "change_cipher_spec"

    @property
    def packet(self):
        return _layers().TLSChangeCipherSpec(b"\x01")


@dataclass(frozen=True, slots=True)
class Alert(Event):
    """An alert; ``description`` is the RFC name ("close_notify"), ``level`` 1 or 2."""

    direction: str
    level: int
    description: str

    @property
    def name(self):
        return "alert:" + self.description

    @property
    def fatal(self):
        return self.level == 2

    @property
    def level_name(self):
        return ALERT_LEVELS.get(self.level, str(self.level))

    @property
    def packet(self):
        from ..registry import ALERT_CODES
        code = ALERT_CODES.get(self.description, 0)
        return _layers().TLSAlert(bytes((self.level, code)))


@dataclass(frozen=True, slots=True)
class ApplicationData(Event):
    """Decrypted application data of one record."""

    direction: str
    data: bytes

    name = "application_data"

    @property
    def packet(self):
        return _layers().TLSApplicationData(self.data)


@dataclass(frozen=True, slots=True)
class HandshakeComplete(Event):
    """Both Finished messages exchanged and verified. ``session`` is the
    ``connection.session.Session`` (resumable state); ``resumed`` tells whether the handshake
    was abbreviated."""

    session: object
    resumed: bool = False
    direction: str = None

    name = "handshake_complete"


@dataclass(frozen=True, slots=True)
class Undecryptable(Event):
    """A protected record the observer had no keys for (observer role only)."""

    direction: str
    content_type: int
    length: int

    name = "undecryptable"
