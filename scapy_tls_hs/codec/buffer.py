"""Byte reader and writer for TLS wire structures (RFC 8446 §3 presentation language).

The reader never copies the underlying buffer: a nested block (``sub``) is a window on the same
bytes with its own end, so parsing a deep structure costs one slice per returned field. Every
short read raises ``DecodeError``; ``expect_end`` enforces that a length-prefixed block was
consumed exactly (strict parsing, like aioquic's "extra bytes at the end of a block").
"""

from struct import Struct

from ..errors import DecodeError

__all__ = ["Reader", "Writer", "u8", "u16", "u24", "u32", "vec8", "vec16", "vec24",
           "DecodeError"]

_U16 = Struct("!H")
_U32 = Struct("!I")
_U16_UNPACK = _U16.unpack_from
_U32_UNPACK = _U32.unpack_from
_from_bytes = int.from_bytes


class Reader:
    """Sequential reader over ``data[start:end]``.

    ``data`` may be bytes, bytearray or memoryview; it is turned into ``bytes`` once so every
    field returned is an immutable ``bytes``.
    """

    __slots__ = ("data", "pos", "end")

    def __init__(self, data, start=0, end=None):
        if type(data) is not bytes:
            data = bytes(data)
        self.data = data
        self.pos = start
        self.end = len(data) if end is None else end

    def _short(self, n):
        return DecodeError("truncated data: need %d bytes, %d left" % (n, self.end - self.pos))

    def u8(self):
        pos = self.pos
        if pos >= self.end:
            raise self._short(1)
        self.pos = pos + 1
        return self.data[pos]

    def u16(self):
        pos = self.pos
        if pos + 2 > self.end:
            raise self._short(2)
        self.pos = pos + 2
        return _U16_UNPACK(self.data, pos)[0]

    def u24(self):
        pos = self.pos
        if pos + 3 > self.end:
            raise self._short(3)
        self.pos = pos + 3
        return _from_bytes(self.data[pos:pos + 3], "big")

    def u32(self):
        pos = self.pos
        if pos + 4 > self.end:
            raise self._short(4)
        self.pos = pos + 4
        return _U32_UNPACK(self.data, pos)[0]

    def bytes(self, n):
        pos = self.pos
        if n < 0 or pos + n > self.end:
            raise self._short(n)
        self.pos = pos + n
        return self.data[pos:pos + n]

    def vec8(self):
        return self.bytes(self.u8())

    def vec16(self):
        return self.bytes(self.u16())

    def vec24(self):
        return self.bytes(self.u24())

    def u16_list(self, what="list"):
        """A vec16 of u16 values (cipher suites, groups, schemes)."""
        n = self.u16()
        if n & 1:
            raise DecodeError("odd length in %s" % what)
        return self.u16_array(n)

    def u16_array(self, n):
        """``n`` bytes read as u16 values (n even)."""
        raw = self.bytes(n)
        return [_U16_UNPACK(raw, i)[0] for i in range(0, n, 2)]

    def remaining(self):
        return self.end - self.pos

    def rest(self):
        pos = self.pos
        self.pos = self.end
        return self.data[pos:self.end]

    def done(self):
        return self.pos >= self.end

    def expect_end(self, what="block"):
        if self.pos != self.end:
            raise DecodeError("extra bytes at the end of %s" % what)

    def sub(self, n):
        """A reader over the next ``n`` bytes; this reader skips past them."""
        pos = self.pos
        if n < 0 or pos + n > self.end:
            raise self._short(n)
        self.pos = pos + n
        return Reader(self.data, pos, pos + n)

    def sub8(self):
        return self.sub(self.u8())

    def sub16(self):
        return self.sub(self.u16())

    def sub24(self):
        return self.sub(self.u24())


def u8(v):
    return bytes((v,))


def u16(v):
    return _U16.pack(v)


def u24(v):
    return v.to_bytes(3, "big")


def u32(v):
    return _U32.pack(v)


def vec8(b):
    if len(b) > 0xFF:
        raise ValueError("vector too long for a 1-byte length: %d" % len(b))
    return bytes((len(b),)) + b


def vec16(b):
    if len(b) > 0xFFFF:
        raise ValueError("vector too long for a 2-byte length: %d" % len(b))
    return _U16.pack(len(b)) + b


def vec24(b):
    if len(b) > 0xFFFFFF:
        raise ValueError("vector too long for a 3-byte length: %d" % len(b))
    return len(b).to_bytes(3, "big") + b


class Writer:
    """Accumulates encoded fields; ``getvalue()`` joins them."""

    __slots__ = ("parts",)

    def __init__(self):
        self.parts = []

    def u8(self, v):
        self.parts.append(bytes((v,)))
        return self

    def u16(self, v):
        self.parts.append(_U16.pack(v))
        return self

    def u24(self, v):
        self.parts.append(v.to_bytes(3, "big"))
        return self

    def u32(self, v):
        self.parts.append(_U32.pack(v))
        return self

    def bytes(self, b):
        self.parts.append(bytes(b))
        return self

    def vec8(self, b):
        self.parts.append(vec8(bytes(b)))
        return self

    def vec16(self, b):
        self.parts.append(vec16(bytes(b)))
        return self

    def vec24(self, b):
        self.parts.append(vec24(bytes(b)))
        return self

    def getvalue(self):
        return b"".join(self.parts)
