"""The SSL 2.0-format ClientHello a TLS 1.0-1.2 client may open with (RFC 5246 appendix E.2).

Old clients that still speak SSL 2.0 send their first ClientHello in the SSL 2.0 record format:
a 2-byte header (high bit set, then a 15-bit length) and a body starting with msg_type 1. The
body maps onto a TLS ClientHello: 3-byte cipher specs whose first byte is zero are TLS cipher
suites (the others are SSL 2.0 ciphers and are dropped), the challenge is the random,
right-aligned in 32 bytes and zero-padded (only its last 32 bytes count when longer), and there
are no compression methods but null and no extensions. The handshake hash covers the body as
sent, without the 2-byte header.

``parse_sslv2_client_hello`` reads such a record from the start of a byte stream;
``SSLv2ClientHello`` keeps the SSL 2.0 fields for whoever wants to show them.
"""

from dataclasses import dataclass, field
from struct import Struct

from ..errors import DecodeError
from .messages import ClientHello

__all__ = ["SSLv2ClientHello", "SSLV2_MT_CLIENT_HELLO", "is_sslv2_header",
           "looks_like_sslv2_client_hello", "sslv2_record_length", "parse_sslv2_client_hello"]

SSLV2_MT_CLIENT_HELLO = 1
_HEADER = 2
# msg_type, version, cipher_spec_length, session_id_length, challenge_length
_FIXED = Struct("!BHHHH")


def is_sslv2_header(data):
    """The first byte has the high bit set: a 2-byte SSL 2.0 record header (a TLS record
    starts with a content type below 128)."""
    return bool(data) and data[0] & 0x80 != 0


def sslv2_record_length(data):
    """Bytes of the SSL 2.0 record that starts ``data``, header included; None while fewer
    than 2 bytes are known."""
    if len(data) < _HEADER:
        return None
    if not data[0] & 0x80:
        raise DecodeError("not a 2-byte SSL 2.0 record header")
    return _HEADER + ((data[0] & 0x7F) << 8 | data[1])


def looks_like_sslv2_client_hello(data):
    """``data`` plausibly starts with an SSL 2.0-format ClientHello: 2-byte header, a body
    long enough for the fixed fields, msg_type 1 and version SSL 2.0 (0x0002) or 3.x (the
    test a dissector uses to pick the format from the first bytes)."""
    if len(data) < 5 or not data[0] & 0x80:
        return False
    length = (data[0] & 0x7F) << 8 | data[1]
    return (length >= _FIXED.size and data[2] == SSLV2_MT_CLIENT_HELLO
            and (data[3] == 3 or (data[3], data[4]) == (0, 2)))


@dataclass(slots=True)
class SSLv2ClientHello:
    """RFC 5246 appendix E.2 (V2ClientHello). ``cipher_specs``: 24-bit values."""

    version: int = 0x0301
    cipher_specs: list = field(default_factory=list)
    session_id: bytes = b""
    challenge: bytes = b""

    @classmethod
    def parse(cls, body):
        """The record body (from msg_type on, no header), strictly: every length consumed
        exactly, a non-empty cipher_specs of 3-byte entries, a session id of at most 32
        bytes (else ``DecodeError``)."""
        data = bytes(body)
        if len(data) < _FIXED.size:
            raise DecodeError("truncated SSL 2.0 client_hello")
        msg_type, version, n_specs, n_sid, n_challenge = _FIXED.unpack_from(data)
        if msg_type != SSLV2_MT_CLIENT_HELLO:
            raise DecodeError("SSL 2.0 message type %d is not client_hello" % msg_type)
        if _FIXED.size + n_specs + n_sid + n_challenge != len(data):
            raise DecodeError("SSL 2.0 client_hello lengths do not match its %d bytes"
                              % len(data))
        if n_specs == 0 or n_specs % 3:
            raise DecodeError("SSL 2.0 cipher_spec_length %d is not a non-zero multiple of 3"
                              % n_specs)
        if n_sid > 32:
            raise DecodeError("SSL 2.0 session_id of %d bytes" % n_sid)
        pos = _FIXED.size
        specs = [int.from_bytes(data[i:i + 3], "big") for i in range(pos, pos + n_specs, 3)]
        pos += n_specs
        session_id = data[pos:pos + n_sid]
        pos += n_sid
        return cls(version, specs, session_id, data[pos:])

    def encode(self):
        """The record body (what the handshake hash covers)."""
        specs = b"".join([s.to_bytes(3, "big") for s in self.cipher_specs])
        return (_FIXED.pack(SSLV2_MT_CLIENT_HELLO, self.version, len(specs),
                            len(self.session_id), len(self.challenge))
                + specs + self.session_id + self.challenge)

    def record(self):
        """Header and body, as sent."""
        body = self.encode()
        if len(body) > 0x7FFF:
            raise ValueError("SSL 2.0 record of %d bytes" % len(body))
        return bytes((0x80 | len(body) >> 8, len(body) & 0xFF)) + body

    @property
    def cipher_suites(self):
        """The TLS cipher suites among the specs (first byte zero), in order."""
        return [s for s in self.cipher_specs if s < 0x10000]

    @property
    def random(self):
        """RFC 5246 appendix E.2: the challenge right-justified in 32 bytes."""
        return self.challenge[-32:].rjust(32, b"\x00")

    def client_hello(self):
        """The same hello in the TLS form: null compression only, no extensions block."""
        return ClientHello(self.version, self.random, self.session_id, self.cipher_suites,
                           [0], None)


def parse_sslv2_client_hello(data):
    """Read the SSL 2.0-format ClientHello record that starts ``data``.

    Returns None while the record may still become a ClientHello, else ``(hello, raw,
    consumed)``: ``hello`` the ``ClientHello`` the record stands for
    (``SSLv2ClientHello.client_hello()``), ``raw`` the record body that the handshake hash
    covers, ``consumed`` the record's size with its header. ``DecodeError`` when the header
    or body is malformed (as soon as the bytes known show it).
    """
    size = sslv2_record_length(data)
    if size is None:
        return None
    # What cannot become a ClientHello is refused at once, not after waiting for the
    # announced length (up to 32 KiB) to arrive.
    if size - _HEADER < _FIXED.size:
        raise DecodeError("SSL 2.0 record of %d bytes is no client_hello" % (size - _HEADER))
    if len(data) > _HEADER and data[_HEADER] != SSLV2_MT_CLIENT_HELLO:
        raise DecodeError("SSL 2.0 message type %d is not client_hello" % data[_HEADER])
    if len(data) < size:
        return None
    raw = bytes(data[_HEADER:size])
    return SSLv2ClientHello.parse(raw).client_hello(), raw, size
