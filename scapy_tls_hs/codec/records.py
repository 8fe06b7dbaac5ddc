"""TLS record framing and handshake message reassembly (RFC 5246 §6.2.1, §7.4; RFC 8446 §5.1).

``RecordReader`` cuts a byte stream into records; ``HandshakeReassembler`` cuts the
concatenated handshake fragments into messages. Both are linear in the bytes fed, however the
stream is split: bytes are only copied once a complete unit can be cut, and a partial unit
is accumulated in a bytearray (never re-joined per feed).
"""

from operator import itemgetter
from struct import Struct

from ..errors import AlertError, DecodeError

__all__ = ["Record", "RecordReader", "HandshakeReassembler", "encode_record", "encode_records",
           "handshake", "looks_like_tls", "MAX_RECORD_LENGTH", "CONTENT_TYPES", "RecordOverflow"]

# RFC 5246 §6.2.3: a TLSCiphertext fragment may not exceed 2^14 + 2048 bytes.
MAX_RECORD_LENGTH = 16384 + 2048
CONTENT_TYPES = frozenset((20, 21, 22, 23, 24))
# Handshake messages larger than this are refused (a peer could otherwise make us buffer
# up to 16 MiB per message); big certificate chains stay far below it.
MAX_HANDSHAKE_LENGTH = 1 << 20

_HEADER = Struct("!BHH")
_HEADER_PACK = _HEADER.pack
_HEADER_UNPACK = _HEADER.unpack_from
_U32 = Struct("!I")
_U32_UNPACK = _U32.unpack_from


class RecordOverflow(DecodeError):
    """A record header announcing more than 2^14 + 2048 bytes: RFC 5246 section 6.2.3 makes it
    record_overflow. A ``DecodeError`` still (a framing error, caught where those are)."""

    def __init__(self, message=None):
        AlertError.__init__(self, "record_overflow", message)


class Record(tuple):
    """``(content_type, version, fragment)``; ``offset`` is the stream offset of the header
    (set by ``RecordReader``, else None). Compares and unpacks as a 3-tuple."""

    # No __slots__: a tuple subclass cannot have non-empty ones; offset lives in __dict__.

    def __new__(cls, content_type, version, fragment, offset=None):
        self = tuple.__new__(cls, (content_type, version, fragment))
        self.offset = offset
        return self

    content_type = property(itemgetter(0))
    version = property(itemgetter(1))
    fragment = property(itemgetter(2))

    def encode(self):
        return encode_record(self[0], self[1], self[2])

    def __repr__(self):
        return "Record(content_type=%d, version=0x%04x, %d bytes, offset=%r)" % (
            self[0], self[1], len(self[2]), self.offset)


def _new_record(content_type, version, fragment, offset, _new=tuple.__new__, _cls=Record):
    # Record() without the Python-level __new__ call: this is the per-record hot path.
    self = _new(_cls, (content_type, version, fragment))
    self.offset = offset
    return self


def looks_like_tls(data):
    """First 5 bytes are a plausible record header: type 20..24, major version 3,
    minor 0..4, length at most 2^14 + 2048."""
    return (len(data) >= 5 and 20 <= data[0] <= 24 and data[1] == 3 and data[2] <= 4
            and (data[3] << 8 | data[4]) <= MAX_RECORD_LENGTH)


class RecordReader:
    """Incremental record parser for one direction of a stream.

    ``feed(data)`` returns the complete records now available (in order, with ``offset``).
    A header with an unknown content type raises ``DecodeError``, an oversized length
    ``RecordOverflow`` (a ``DecodeError`` too); the records cut before it in the same call are
    on the exception as ``.records`` and the reader stays stopped at the bad header
    (``.offset`` is its stream offset).
    """

    __slots__ = ("_buf", "_need", "offset")

    def __init__(self):
        self._buf = bytearray()
        self._need = 5
        self.offset = 0  # stream offset of the first byte not yet returned as a record

    @property
    def pending(self):
        return len(self._buf)

    def feed(self, data):
        buf = self._buf
        if buf:
            buf += data
            if len(buf) < self._need:
                return []
            data = bytes(buf)
            buf.clear()
        elif type(data) is not bytes:
            data = bytes(data)
        end = len(data)
        pos = 0
        base = self.offset
        out = []
        append = out.append
        unpack = _HEADER_UNPACK
        while end - pos >= 5:
            ctype, version, length = unpack(data, pos)
            if ctype not in CONTENT_TYPES or length > MAX_RECORD_LENGTH:
                self._stop(data, pos, base)
                if ctype not in CONTENT_TYPES:
                    err = DecodeError("not a TLS record: content type %d at stream offset %d"
                                      % (ctype, base + pos))
                else:
                    err = RecordOverflow("record length %d exceeds 2^14+2048 at stream offset "
                                         "%d" % (length, base + pos))
                err.records = out
                raise err
            stop = pos + 5 + length
            if stop > end:
                self._need = stop - pos
                break
            append(_new_record(ctype, version, data[pos + 5:stop], base + pos))
            pos = stop
        else:
            self._need = 5
        if pos < end:
            buf += data[pos:] if pos else data
        self.offset = base + pos
        return out

    def _stop(self, data, pos, base):
        # Keep the bad header buffered: feeding more raises the same error again.
        self._buf[:] = data[pos:]
        self._need = 5
        self.offset = base + pos


def encode_record(content_type, version, fragment):
    """One record: 5-byte header + fragment (no length check: the caller splits)."""
    return _HEADER_PACK(content_type, version, len(fragment)) + fragment


def encode_records(content_type, version, payload, max_fragment=16384):
    """``payload`` split into records of at most ``max_fragment`` bytes (one empty record
    for an empty payload)."""
    n = len(payload)
    if n <= max_fragment:
        return _HEADER_PACK(content_type, version, n) + payload
    parts = []
    for i in range(0, n, max_fragment):
        chunk = payload[i:i + max_fragment]
        parts.append(_HEADER_PACK(content_type, version, len(chunk)))
        parts.append(chunk)
    return b"".join(parts)


def handshake(msg_type, body):
    """A handshake message: type (1 byte), length (3 bytes), body."""
    return _U32.pack(msg_type << 24 | len(body)) + body


class HandshakeReassembler:
    """Turns handshake record fragments into ``(msg_type, body, raw)`` tuples.

    A message may span records and a record may hold several messages (RFC 5246 §6.2.1).
    ``raw`` is header + body, what the transcript hash covers. ``pending`` is True while
    part of a message is buffered (a content-type change then is a protocol error for the
    caller to report, RFC 8446 §5.1).
    """

    __slots__ = ("_buf", "_need", "max_length")

    def __init__(self, max_length=MAX_HANDSHAKE_LENGTH):
        self._buf = bytearray()
        self._need = 4
        self.max_length = max_length

    @property
    def pending(self):
        return bool(self._buf)

    @property
    def pending_bytes(self):
        return len(self._buf)

    def feed(self, fragment):
        buf = self._buf
        if buf:
            buf += fragment
            if len(buf) < self._need:
                return []
            data = bytes(buf)
            buf.clear()
        elif type(fragment) is not bytes:
            data = bytes(fragment)
        else:
            data = fragment
        end = len(data)
        pos = 0
        out = []
        limit = self.max_length
        while end - pos >= 4:
            head = _U32_UNPACK(data, pos)[0]
            length = head & 0xFFFFFF
            if length > limit:
                buf += data[pos:]
                raise DecodeError("handshake message of %d bytes exceeds the limit of %d"
                                  % (length, limit))
            stop = pos + 4 + length
            if stop > end:
                self._need = stop - pos
                break
            if pos == 0 and stop == end:
                out.append((head >> 24, data[4:], data))
            else:
                raw = data[pos:stop]
                out.append((head >> 24, raw[4:], raw))
            pos = stop
        else:
            self._need = 4
        if pos < end:
            buf += data[pos:] if pos else data
        return out

    def reset(self):
        self._buf.clear()
        self._need = 4
