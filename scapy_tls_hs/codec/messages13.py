"""TLS 1.3 handshake message bodies (RFC 8446 §4, RFC 8879), same conventions as
``messages``: strict ``parse(body)``, ``encode()`` gives the body back. Re-exported by
``messages``.
"""

from dataclasses import dataclass, field

from ..errors import DecodeError
from .buffer import Reader, vec8, vec16, vec24
from .extensions import _ext_list, _read_extensions, encode_extensions, find_ext

__all__ = ["Certificate13", "CertificateRequest13", "NewSessionTicket13",
           "EncryptedExtensions", "KeyUpdate", "CompressedCertificate"]


@dataclass(slots=True)
class Certificate13:
    """RFC 8446 §4.4.2: request context + entries ``(cert_data, extensions_block)``, where
    ``extensions_block`` is the raw content of the entry's extension vector (no length)."""

    context: bytes = b""
    entries: list = field(default_factory=list)

    @classmethod
    def parse(cls, body):
        r = Reader(body)
        context = r.vec8()
        lst = r.sub24()
        r.expect_end("certificate")
        entries = []
        while lst.pos < lst.end:
            cert = lst.vec24()
            exts = lst.vec16()
            _ext_list(exts, 0, len(exts), "certificate entry extensions")
            entries.append((cert, exts))
        return cls(context, entries)

    @property
    def certificates(self):
        return [e[0] for e in self.entries]

    def encode(self):
        body = b"".join([vec24(c) + vec16(e) for c, e in self.entries])
        return vec8(self.context) + vec24(body)


@dataclass(slots=True)
class CertificateRequest13:
    """RFC 8446 §4.3.2: request context + extensions (signature_algorithms required)."""

    context: bytes = b""
    extensions: list = field(default_factory=list)

    @classmethod
    def parse(cls, body, version=0x0304):
        r = Reader(body)
        context = r.vec8()
        exts = _read_extensions(r, "certificate_request extensions")
        r.expect_end("certificate_request")
        return cls(context, exts)

    def encode(self):
        return vec8(self.context) + encode_extensions(self.extensions)


@dataclass(slots=True)
class NewSessionTicket13:
    """RFC 8446 §4.6.1."""

    lifetime: int = 0
    age_add: int = 0
    nonce: bytes = b""
    ticket: bytes = b""
    extensions: list = field(default_factory=list)

    @classmethod
    def parse(cls, body):
        r = Reader(body)
        lifetime = r.u32()
        age_add = r.u32()
        nonce = r.vec8()
        ticket = r.vec16()
        if not ticket:
            raise DecodeError("empty ticket in new_session_ticket")
        exts = _read_extensions(r, "new_session_ticket extensions")
        r.expect_end("new_session_ticket")
        return cls(lifetime, age_add, nonce, ticket, exts)

    def encode(self):
        return (self.lifetime.to_bytes(4, "big") + self.age_add.to_bytes(4, "big")
                + vec8(self.nonce) + vec16(self.ticket) + encode_extensions(self.extensions))


@dataclass(slots=True)
class EncryptedExtensions:
    """RFC 8446 §4.3.1."""

    extensions: list = field(default_factory=list)

    @classmethod
    def parse(cls, body):
        r = Reader(body)
        exts = _read_extensions(r, "encrypted_extensions")
        r.expect_end("encrypted_extensions")
        return cls(exts)

    def encode(self):
        return encode_extensions(self.extensions)

    def ext(self, type):
        return find_ext(self.extensions, type)


@dataclass(slots=True)
class KeyUpdate:
    """RFC 8446 §4.6.3: request_update 0 (update_not_requested) or 1 (update_requested)."""

    request_update: int = 0

    @classmethod
    def parse(cls, body):
        if len(body) != 1:
            raise DecodeError("key_update body is not 1 byte")
        return cls(body[0])

    def encode(self):
        return bytes((self.request_update,))


@dataclass(slots=True)
class CompressedCertificate:
    """RFC 8879 §4: algorithm (1 zlib, 2 brotli, 3 zstd), uncompressed length, data.
    Decompressing is left to the caller (the result is a Certificate13 body)."""

    algorithm: int = 1
    uncompressed_length: int = 0
    compressed: bytes = b""

    @classmethod
    def parse(cls, body):
        r = Reader(body)
        algorithm = r.u16()
        length = r.u24()
        data = r.vec24()
        r.expect_end("compressed_certificate")
        if not data:
            raise DecodeError("empty compressed_certificate")
        return cls(algorithm, length, data)

    def encode(self):
        return (self.algorithm.to_bytes(2, "big") + self.uncompressed_length.to_bytes(3, "big")
                + vec24(self.compressed))
