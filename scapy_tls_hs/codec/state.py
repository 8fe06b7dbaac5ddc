"""Byte layout of the states our server seals into tickets: the TLS 1.2 ``Session``
(connection/session.py) and the TLS 1.3 ``TicketState13`` (crypto/tickets.py). Both are a
fixed head followed by length-prefixed fields and the peer's certificates; this module
writes and reads those fields so that the two formats share one careful reader."""
import struct

from ..errors import DecodeError

__all__ = ["vector", "certificates", "StateReader"]

_WIDTHS = {1: "!B", 2: "!H", 4: "!I"}


def vector(data: bytes, width: int) -> bytes:
    """``data`` behind its length in ``width`` bytes."""
    return len(data).to_bytes(width, "big") + data


def certificates(ders) -> bytes:
    """A count byte, then each DER certificate behind a 4-byte length."""
    return bytes((len(ders),)) + b"".join(vector(der, 4) for der in ders)


class StateReader:
    """Reads ``data`` from ``pos`` on; every short or overlong state is a ``DecodeError``
    naming ``what``."""

    def __init__(self, data: bytes, pos: int, what: str):
        self._data, self._pos, self._what = data, pos, what

    def fail(self, why):
        raise DecodeError("bad %s: %s" % (self._what, why))

    def take(self, n: int) -> bytes:
        end = self._pos + n
        if end > len(self._data):
            self.fail("truncated")
        out = bytes(self._data[self._pos:end])
        self._pos = end
        return out

    def number(self, width: int) -> int:
        (n,) = struct.unpack(_WIDTHS[width], self.take(width))
        return n

    def vector(self, width: int) -> bytes:
        return self.take(self.number(width))

    def text(self, width: int):
        """A length-prefixed UTF-8 string; None when empty."""
        try:
            return self.vector(width).decode() or None
        except UnicodeDecodeError as exc:
            self.fail(exc)

    def certificates(self) -> list:
        return [self.vector(4) for _ in range(self.number(1))]

    def end(self):
        if self._pos != len(self._data):
            self.fail("%d bytes left over" % (len(self._data) - self._pos))
