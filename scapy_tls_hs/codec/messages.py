"""Handshake message bodies (RFC 5246 §7.4, RFC 4492 §5, RFC 8446 §4), parsed and encoded.

One slotted dataclass per message: ``Cls.parse(body)`` is strict (every length-prefixed block
consumed exactly, the whole body too, else ``DecodeError``) and ``obj.encode()`` gives the body
back (no 4-byte handshake header: see ``records.handshake``). Parsing any real message and
encoding it again gives the same bytes, so unknown and GREASE extensions are kept in order.
Messages whose layout depends on the negotiated suite or version take it as an argument.
"""

import os
from dataclasses import dataclass, field
from struct import Struct, pack, unpack, unpack_from

from ..errors import AlertError, DecodeError
from .buffer import Reader, vec8, vec16, vec24
from .extensions import (Extension, _ext_list, encode_extensions, find_ext,
                         parse_extension_list, parse_extensions)
from .messages13 import (Certificate13, CertificateRequest13, CompressedCertificate,
                         EncryptedExtensions, KeyUpdate, NewSessionTicket13)

__all__ = [
    "HELLO_RETRY_REQUEST_RANDOM", "Extension", "find_ext", "parse_extensions",
    "encode_extensions", "parse_extension_list", "ClientHello", "ServerHello", "Certificate",
    "Certificate13", "ServerKeyExchange", "CertificateRequest", "CertificateRequest13",
    "ServerHelloDone", "ClientKeyExchange", "CertificateVerify", "Finished",
    "NewSessionTicket", "NewSessionTicket13", "EncryptedExtensions", "CertificateStatus",
    "KeyUpdate", "HelloRequest", "EndOfEarlyData", "CompressedCertificate", "UnknownMessage",
    "parse_message", "MESSAGE_TYPES",
]

# RFC 8446 §4.1.3: a ServerHello with this random is a HelloRetryRequest (SHA-256 of
# "HelloRetryRequest").
HELLO_RETRY_REQUEST_RANDOM = bytes.fromhex(
    "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")

EXT_SUPPORTED_VERSIONS = 43
_U16 = Struct("!H")
_U16_UNPACK = _U16.unpack_from
_U16_PACK = _U16.pack


def _u16_list(raw, what):
    if len(raw) & 1:
        raise DecodeError("odd length in %s" % what)
    return list(unpack("!%dH" % (len(raw) >> 1), raw))


def _pack_u16_list(values):
    return pack("!%dH" % len(values), *values)


# --- hellos --------------------------------------------------------------------------------

def _hello_start(body, what):
    """``(data, version, random, session_id, pos)``: the fields both hellos start with."""
    data = body if type(body) is bytes else bytes(body)
    if len(data) < 35:
        raise DecodeError("truncated %s" % what)
    n = data[34]
    if n > 32:
        raise DecodeError("session_id longer than 32 bytes in %s" % what)
    pos = 35 + n
    if pos > len(data):
        raise DecodeError("truncated %s" % what)
    return data, data[0] << 8 | data[1], data[2:34], data[35:pos], pos


def _hello_extensions(data, pos, what):
    """The optional extension block ending a hello: None when absent (RFC 5246 §7.4.1.2)."""
    end = len(data)
    if pos == end:
        return None
    if pos + 2 > end:
        raise DecodeError("extra bytes at the end of %s" % what)
    stop = pos + 2 + (data[pos] << 8 | data[pos + 1])
    if stop > end:
        raise DecodeError("truncated extensions block in %s" % what)
    if stop != end:
        raise DecodeError("extra bytes at the end of %s" % what)
    return _ext_list(data, pos + 2, stop, what + " extensions")


@dataclass(slots=True)
class ClientHello:
    """RFC 5246 §7.4.1.2. ``extensions`` None means no extensions block at all (old clients),
    ``[]`` an empty block (two zero bytes)."""

    version: int = 0x0303
    random: bytes = field(default_factory=lambda: os.urandom(32))
    session_id: bytes = b""
    cipher_suites: list = field(default_factory=list)
    compression_methods: list = field(default_factory=lambda: [0])
    extensions: list = None

    @classmethod
    def parse(cls, body):
        # Hot path of every dissected connection: read with offsets instead of a Reader.
        data, version, random, session_id, pos = _hello_start(body, "client_hello")
        end = len(data)
        if pos + 2 > end:
            raise DecodeError("truncated client_hello")
        n = data[pos] << 8 | data[pos + 1]
        pos += 2
        if pos + n >= end:  # the compression methods' length byte must follow too
            raise DecodeError("truncated client_hello")
        if n & 1:
            raise DecodeError("odd length in cipher_suites")
        suites = list(unpack_from("!%dH" % (n >> 1), data, pos))
        pos += n
        n = data[pos]
        pos += 1
        if pos + n > end:
            raise DecodeError("truncated client_hello")
        compression = list(data[pos:pos + n])
        pos += n
        extensions = _hello_extensions(data, pos, "client_hello")
        return cls(version, random, session_id, suites, compression, extensions)

    def encode(self):
        out = [_U16_PACK(self.version), self.random, vec8(self.session_id),
               vec16(_pack_u16_list(self.cipher_suites)), vec8(bytes(self.compression_methods))]
        if self.extensions is not None:
            out.append(encode_extensions(self.extensions))
        return b"".join(out)

    def ext(self, type):
        return find_ext(self.extensions, type)


@dataclass(slots=True)
class ServerHello:
    """RFC 5246 §7.4.1.3 / RFC 8446 §4.1.3 (a HelloRetryRequest is a ServerHello with the
    special random: ``is_hello_retry_request``)."""

    version: int = 0x0303
    random: bytes = field(default_factory=lambda: os.urandom(32))
    session_id: bytes = b""
    cipher_suite: int = 0
    compression_method: int = 0
    extensions: list = None

    @classmethod
    def parse(cls, body):
        data, version, random, session_id, pos = _hello_start(body, "server_hello")
        if pos + 3 > len(data):
            raise DecodeError("truncated server_hello")
        suite = data[pos] << 8 | data[pos + 1]
        compression = data[pos + 2]
        extensions = _hello_extensions(data, pos + 3, "server_hello")
        return cls(version, random, session_id, suite, compression, extensions)

    def encode(self):
        out = [_U16_PACK(self.version), self.random, vec8(self.session_id),
               _U16_PACK(self.cipher_suite), bytes((self.compression_method,))]
        if self.extensions is not None:
            out.append(encode_extensions(self.extensions))
        return b"".join(out)

    def ext(self, type):
        return find_ext(self.extensions, type)

    def selected_version(self):
        """supported_versions (RFC 8446 §4.2.1) when present, else legacy ``version``."""
        ext = find_ext(self.extensions, EXT_SUPPORTED_VERSIONS)
        if ext is None:
            return self.version
        if len(ext[1]) != 2:
            raise DecodeError("supported_versions in server_hello is not 2 bytes")
        return _U16_UNPACK(ext[1])[0]

    @property
    def is_hello_retry_request(self):
        return self.random == HELLO_RETRY_REQUEST_RANDOM


# --- certificates ----------------------------------------------------------------------------

@dataclass(slots=True)
class Certificate:
    """RFC 5246 §7.4.2: a vec24 list of vec24 DER certificates, leaf first (each
    ASN.1Cert<1..2^24-1>: an empty entry is a decode_error)."""

    certificates: list = field(default_factory=list)

    @classmethod
    def parse(cls, body):
        r = Reader(body)
        lst = r.sub24()
        r.expect_end("certificate")
        certs = []
        while lst.pos < lst.end:
            cert = lst.vec24()
            if not cert:
                raise DecodeError("empty certificate in certificate_list")
            certs.append(cert)
        return cls(certs)

    def encode(self):
        body = b"".join([vec24(c) for c in self.certificates])
        return vec24(body)


# --- key exchange --------------------------------------------------------------------------

@dataclass(slots=True)
class ServerKeyExchange:
    """RFC 5246 §7.4.3 (DHE) and RFC 4492 §5.4 (ECDHE, named curves only).

    ``kind`` "DHE": ``params`` has ``p``, ``g``, ``ys`` (big-endian bytes); "ECDHE":
    ``curve_type`` (3), ``group``, ``point``. ``params_raw`` is exactly the signed part
    (computed from ``params`` when built empty). ``scheme`` is the TLS 1.2 signature
    scheme, None for TLS 1.0/1.1 (no algorithm field there).
    """

    kind: str = "ECDHE"
    params: dict = field(default_factory=dict)
    params_raw: bytes = b""
    scheme: int = None
    signature: bytes = b""

    def __post_init__(self):
        if self.kind == "ECDHE" and self.params and "curve_type" not in self.params:
            self.params = {"curve_type": 3, **self.params}
        if not self.params_raw and self.params:
            self.params_raw = self.encode_params(self.kind, self.params)

    @staticmethod
    def encode_params(kind, params):
        if kind == "DHE":
            return vec16(params["p"]) + vec16(params["g"]) + vec16(params["ys"])
        if kind == "ECDHE":
            return (bytes((params.get("curve_type", 3),)) + _U16_PACK(params["group"])
                    + vec8(params["point"]))
        raise ValueError("unknown key exchange kind %r" % (kind,))

    @classmethod
    def parse(cls, body, key_exchange, version):
        r = Reader(body)
        if key_exchange in ("DHE", "DHE_RSA", "DHE_DSS"):
            kind = "DHE"
            params = {"p": r.vec16(), "g": r.vec16(), "ys": r.vec16()}
        elif key_exchange in ("ECDHE", "ECDHE_RSA", "ECDHE_ECDSA"):
            kind = "ECDHE"
            curve_type = r.u8()
            if curve_type != 3:
                raise DecodeError("unsupported ECParameters curve_type %d (only named_curve)"
                                  % curve_type)
            params = {"curve_type": 3, "group": r.u16(), "point": r.vec8()}
        elif key_exchange in ("RSA", "TLS13"):
            # RFC 5246 §7.4.3: not sent with RSA key exchange (export suites aside).
            raise AlertError("unexpected_message",
                             "server_key_exchange with %s key exchange" % key_exchange)
        else:
            raise ValueError("no server_key_exchange layout for key exchange %r"
                             % (key_exchange,))
        params_raw = r.data[:r.pos]
        scheme = r.u16() if version >= 0x0303 else None
        signature = r.vec16()
        r.expect_end("server_key_exchange")
        return cls(kind, params, params_raw, scheme, signature)

    @classmethod
    def guess(cls, body, version):
        """For callers that do not know the suite: ECDHE when the body starts with
        named_curve (3) and parses that way, else DHE."""
        if body[:1] == b"\x03":
            try:
                return cls.parse(body, "ECDHE", version)
            except DecodeError:
                pass
        return cls.parse(body, "DHE", version)

    def encode(self):
        params_raw = self.params_raw or self.encode_params(self.kind, self.params)
        head = _U16_PACK(self.scheme) if self.scheme is not None else b""
        return params_raw + head + vec16(self.signature)


@dataclass(slots=True)
class ClientKeyExchange:
    """RFC 5246 §7.4.7 / RFC 4492 §5.7. ``kind`` "RSA": encrypted pre-master (vec16; an
    SSL 3.0-style body without the length, as some TLS 1.0 stacks send, is accepted when the
    length prefix does not fit, and ``prefixed`` is then False); "DHE": Yc (vec16);
    "ECDHE": the point (vec8)."""

    kind: str = "ECDHE"
    data: bytes = b""
    prefixed: bool = True

    @classmethod
    def parse(cls, body, key_exchange):
        if key_exchange == "RSA":
            body = bytes(body)
            if len(body) >= 2 and (body[0] << 8 | body[1]) == len(body) - 2:
                return cls("RSA", body[2:])
            if not body:
                raise DecodeError("empty client_key_exchange")
            return cls("RSA", body, False)
        r = Reader(body)
        if key_exchange in ("DHE", "DHE_RSA", "DHE_DSS"):
            kind, data = "DHE", r.vec16()
        elif key_exchange in ("ECDHE", "ECDHE_RSA", "ECDHE_ECDSA"):
            kind, data = "ECDHE", r.vec8()
        elif key_exchange == "TLS13":
            raise AlertError("unexpected_message", "client_key_exchange in TLS 1.3")
        else:
            raise ValueError("no client_key_exchange layout for key exchange %r"
                             % (key_exchange,))
        r.expect_end("client_key_exchange")
        return cls(kind, data)

    def encode(self):
        if self.kind == "ECDHE":
            return vec8(self.data)
        if self.kind == "RSA" and not self.prefixed:
            return self.data
        return vec16(self.data)


# --- requests, verification, end of handshake ----------------------------------------------

@dataclass(slots=True)
class CertificateRequest:
    """RFC 5246 §7.4.4 (TLS 1.0/1.1: no ``sig_schemes``, None). ``authorities``: DER
    distinguished names."""

    cert_types: list = field(default_factory=lambda: [1, 64])
    sig_schemes: list = None
    authorities: list = field(default_factory=list)

    @classmethod
    def parse(cls, body, version=0x0303):
        r = Reader(body)
        cert_types = list(r.vec8())
        schemes = _u16_list(r.vec16(), "signature_algorithms") if version >= 0x0303 else None
        names = r.sub16()
        r.expect_end("certificate_request")
        authorities = []
        while names.pos < names.end:
            authorities.append(names.vec16())
        return cls(cert_types, schemes, authorities)

    def encode(self):
        out = [vec8(bytes(self.cert_types))]
        if self.sig_schemes is not None:
            out.append(vec16(_pack_u16_list(self.sig_schemes)))
        out.append(vec16(b"".join([vec16(a) for a in self.authorities])))
        return b"".join(out)


@dataclass(slots=True)
class CertificateVerify:
    """RFC 5246 §7.4.8 / RFC 8446 §4.4.3; ``scheme`` None before TLS 1.2."""

    scheme: int = None
    signature: bytes = b""

    @classmethod
    def parse(cls, body, version=0x0303):
        r = Reader(body)
        scheme = r.u16() if version >= 0x0303 else None
        signature = r.vec16()
        r.expect_end("certificate_verify")
        return cls(scheme, signature)

    def encode(self):
        head = _U16_PACK(self.scheme) if self.scheme is not None else b""
        return head + vec16(self.signature)


@dataclass(slots=True)
class Finished:
    """RFC 5246 §7.4.9: verify_data (12 bytes up to TLS 1.2, the hash length in 1.3)."""

    verify_data: bytes = b""

    @classmethod
    def parse(cls, body):
        if not body:
            raise DecodeError("empty finished")
        return cls(bytes(body))

    def encode(self):
        return self.verify_data


@dataclass(slots=True)
class NewSessionTicket:
    """RFC 5077 §3.3."""

    lifetime_hint: int = 0
    ticket: bytes = b""

    @classmethod
    def parse(cls, body):
        r = Reader(body)
        hint = r.u32()
        ticket = r.vec16()
        r.expect_end("new_session_ticket")
        return cls(hint, ticket)

    def encode(self):
        return self.lifetime_hint.to_bytes(4, "big") + vec16(self.ticket)


@dataclass(slots=True)
class CertificateStatus:
    """RFC 6066 §8 (ocsp: one DER OCSPResponse) / RFC 6961 (ocsp_multi: its vec24 list,
    kept as bytes)."""

    status_type: int = 1
    response: bytes = b""

    @classmethod
    def parse(cls, body):
        r = Reader(body)
        status_type = r.u8()
        response = r.vec24()
        r.expect_end("certificate_status")
        return cls(status_type, response)

    def encode(self):
        return bytes((self.status_type,)) + vec24(self.response)


class _Empty:
    """Messages with an empty body."""

    __slots__ = ()
    name = "empty"

    @classmethod
    def parse(cls, body):
        if body:
            raise DecodeError("extra bytes at the end of %s" % cls.name)
        return cls()

    def encode(self):
        return b""

    def __eq__(self, other):
        return type(self) is type(other)

    def __hash__(self):
        return hash(type(self))

    def __repr__(self):
        return "%s()" % type(self).__name__


class HelloRequest(_Empty):
    """RFC 5246 §7.4.1.1."""
    __slots__ = ()
    name = "hello_request"


class ServerHelloDone(_Empty):
    """RFC 5246 §7.4.5."""
    __slots__ = ()
    name = "server_hello_done"


class EndOfEarlyData(_Empty):
    """RFC 8446 §4.5."""
    __slots__ = ()
    name = "end_of_early_data"


@dataclass(slots=True)
class UnknownMessage:
    """A handshake type this codec has no layout for; the body is kept."""

    msg_type: int
    body: bytes

    def encode(self):
        return self.body


# --- dispatch --------------------------------------------------------------------------------

MESSAGE_TYPES = {
    0: HelloRequest, 1: ClientHello, 2: ServerHello, 4: NewSessionTicket,
    5: EndOfEarlyData, 8: EncryptedExtensions, 11: Certificate, 12: ServerKeyExchange,
    13: CertificateRequest, 14: ServerHelloDone, 15: CertificateVerify,
    16: ClientKeyExchange, 20: Finished, 22: CertificateStatus, 24: KeyUpdate,
    25: CompressedCertificate,
}


def parse_message(msg_type, body, version=0x0303, key_exchange=None):
    """The message object for ``(msg_type, body)``.

    ``version`` picks the TLS 1.3 forms (Certificate13, CertificateRequest13,
    NewSessionTicket13) and the signature layouts. ``key_exchange`` ("RSA", "DHE", "ECDHE")
    is needed for client_key_exchange; server_key_exchange is guessed from the bytes when
    it is not given. Unknown types give ``UnknownMessage``; malformed bodies ``DecodeError``.
    """
    if msg_type == 11:
        return (Certificate13 if version >= 0x0304 else Certificate).parse(body)
    if msg_type == 4:
        return (NewSessionTicket13 if version >= 0x0304 else NewSessionTicket).parse(body)
    if msg_type == 13:
        if version >= 0x0304:
            return CertificateRequest13.parse(body)
        return CertificateRequest.parse(body, version)
    if msg_type == 15:
        return CertificateVerify.parse(body, version)
    if msg_type == 12:
        if key_exchange in (None, "RSA", "TLS13"):
            return ServerKeyExchange.guess(body, version)
        return ServerKeyExchange.parse(body, key_exchange, version)
    if msg_type == 16:
        if key_exchange is None:
            raise ValueError("client_key_exchange needs the key exchange")
        return ClientKeyExchange.parse(body, key_exchange)
    cls = MESSAGE_TYPES.get(msg_type)
    if cls is None:
        return UnknownMessage(msg_type, bytes(body))
    return cls.parse(body)
