"""Hello messages (RFC 5246 §7.4.1, RFC 8446 §4.1) and the other fixed-form messages."""
import os

from scapy.fields import (ConditionalField, FieldLenField, FieldListField, MayEnd, StrField,
                          StrFixedLenField, StrLenField)
from scapy.volatile import RandBin

from .. import registry
from .extensions import (ExtensionsField, TLSExtALPN, TLSExtServerName,
                         TLSExtSupportedVersions, _text, default_client_extensions)
from .fields import (HANDSHAKE_CHOOSERS, HANDSHAKE_CLASSES, MAX_ITEMS, FreshList,
                     TLSByteEnumField, TLSPacket, TLSShortEnumField, VersionField,
                     key_exchange_of)

#: ServerHello.random of a HelloRetryRequest (RFC 8446 §4.1.3): SHA-256("HelloRetryRequest").
HRR_RANDOM = bytes.fromhex(
    "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")

#: The cipher suites of ``TLSClientHello()``: ECDHE (ECDSA, RSA) AEAD first, then CBC, then
#: RSA key exchange.
DEFAULT_CIPHERS = [0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC009, 0xC013, 0xC00A,
                   0xC014, 0x009C, 0x009D, 0x002F, 0x0035]


def handshake_message(msg_type):
    """Class decorator: register a message class as the body of ``msg_type``."""
    def register(cls):
        cls.hs_type = msg_type
        HANDSHAKE_CLASSES[msg_type] = cls
        return cls
    return register


def _has_ext(pkt):
    # While dissecting the block is read when bytes remain (MayEnd stops before it
    # otherwise); when building it is written only if ``ext`` is set, for pre-extension
    # hellos.
    return pkt._dissecting or pkt.getfieldval("ext") is not None


def _ext_fields(default=None):
    ext = ExtensionsField("ext", "ext_len")
    ext.default = default
    return [ConditionalField(FieldLenField("ext_len", None, length_of="ext"), _has_ext),
            ConditionalField(ext, _has_ext)]


def find_extension(pkt, ext_type):
    """The first extension of ``ext_type`` (int, name or class) in ``pkt.ext``, or None."""
    if isinstance(ext_type, str):
        ext_type = registry.EXTENSION_CODES[ext_type]
    elif isinstance(ext_type, type):
        ext_type = ext_type.ext_type
    for ext in pkt.ext or []:
        if getattr(ext, "type", None) == ext_type:
            return ext
    return None


class _Hello(TLSPacket):
    def mysummary(self):
        return self.name.replace("TLS ", "")

    def get_extension(self, ext_type):
        return find_extension(self, ext_type)


@handshake_message(0)
class TLSHelloRequest(TLSPacket):
    name = "TLS HelloRequest"
    fields_desc = []


@handshake_message(1)
class TLSClientHello(_Hello):
    """ClientHello.  ``TLSClientHello()`` gets a fresh random and a modern TLS 1.2 offer
    (ECDHE/RSA AEAD and CBC suites, x25519/secp256r1/secp384r1, encrypt_then_mac, EMS,
    renegotiation_info, session_ticket; no SNI).  ``sni="host"`` and ``alpn=["h2", ...]``
    add those extensions."""

    # The defaults are what ``TLSClientHello()`` gets, so ``ls(TLSClientHello)`` shows them
    # (the random is drawn once per packet); dissected bytes without extensions give None.
    name = "TLS ClientHello"
    fields_desc = [
        VersionField("version", 0x0303),
        StrFixedLenField("random", RandBin(32), 32),
        FieldLenField("sid_len", None, length_of="sid", fmt="B"),
        StrLenField("sid", b"", length_from=lambda p: p.sid_len),
        FieldLenField("ciphers_len", None, length_of="ciphers"),
        FieldListField("ciphers", list(DEFAULT_CIPHERS),
                       TLSShortEnumField("cipher", 0, registry.CIPHER_SUITES),
                       length_from=lambda p: p.ciphers_len, max_count=MAX_ITEMS),
        FieldLenField("comp_len", None, length_of="comp", fmt="B"),
        MayEnd(FieldListField("comp", [0],
                              TLSByteEnumField("method", 0, registry.COMPRESSION_METHODS),
                              length_from=lambda p: p.comp_len, max_count=MAX_ITEMS)),
    ] + _ext_fields(FreshList(default_client_extensions()))
    absent = {"ext": None, "random": b"\x00" * 32, "ciphers": []}

    def _craft_defaults(self, kargs):
        # ``sni`` and ``alpn`` are shortcuts for the extensions, not fields.
        sni, alpn = kargs.pop("sni", None), kargs.pop("alpn", None)
        if "random" not in kargs:
            kargs["random"] = os.urandom(32)
        if "ext" not in kargs and (sni is not None or alpn is not None):
            kargs["ext"] = default_client_extensions()
        if sni is not None:
            kargs["ext"] = [TLSExtServerName(servernames=[sni])] + list(kargs["ext"] or [])
        if alpn is not None:
            protos = [alpn] if isinstance(alpn, (str, bytes)) else list(alpn)
            kargs["ext"] = list(kargs["ext"] or []) + [TLSExtALPN(protocols=protos)]

    def mysummary(self):
        sni = self.get_extension(0)
        names = ",".join(_text(n, "servername")
                         for n in (getattr(sni, "servernames", None) or []))
        return "ClientHello %s, %d suites%s" % (
            registry.name(registry.VERSIONS, self.version), len(self.ciphers or []),
            ", sni=" + names if names else "")


@handshake_message(2)
class TLSServerHello(_Hello):
    name = "TLS ServerHello"
    fields_desc = [
        VersionField("version", 0x0303),
        StrFixedLenField("random", RandBin(32), 32),
        FieldLenField("sid_len", None, length_of="sid", fmt="B"),
        StrLenField("sid", b"", length_from=lambda p: p.sid_len),
        TLSShortEnumField("cipher", 0xC02F, registry.CIPHER_SUITES),
        MayEnd(TLSByteEnumField("comp", 0, registry.COMPRESSION_METHODS)),
    ] + _ext_fields()

    absent = {"random": b"\x00" * 32}

    def _craft_defaults(self, kargs):
        if "random" not in kargs and self.__class__ is TLSServerHello:
            kargs["random"] = os.urandom(32)

    def selected_version(self):
        """The negotiated version: supported_versions when present (TLS 1.3), else version."""
        ext = self.get_extension(43)
        if isinstance(ext, TLSExtSupportedVersions) and ext.version is not None:
            return ext.version
        return self.version

    def post_dissect(self, s):
        ctx = self.tls_ctx
        if ctx is not None:
            try:
                ctx.version = self.selected_version()
                ctx.key_exchange = key_exchange_of(self.cipher)
            except Exception:
                pass
        return s

    def mysummary(self):
        return "%s %s %s" % (self.name.replace("TLS ", ""),
                             registry.name(registry.VERSIONS, self.selected_version()),
                             registry.name(registry.CIPHER_SUITES, self.cipher))


class TLSHelloRetryRequest(TLSServerHello):
    """A ServerHello whose random is the HelloRetryRequest constant (RFC 8446 §4.1.3)."""

    name = "TLS HelloRetryRequest"
    hs_type = 2
    fields_desc = [f if getattr(f, "name", "") != "random"
                   else StrFixedLenField("random", HRR_RANDOM, 32)
                   for f in TLSServerHello.fields_desc]
    absent = {}

    def post_dissect(self, s):
        return s


def _choose_server_hello(body, ctx):
    return TLSHelloRetryRequest if body[2:34] == HRR_RANDOM else TLSServerHello


HANDSHAKE_CHOOSERS[2] = _choose_server_hello


@handshake_message(14)
class TLSServerHelloDone(TLSPacket):
    name = "TLS ServerHelloDone"
    fields_desc = []


@handshake_message(20)
class TLSFinished(TLSPacket):
    name = "TLS Finished"
    fields_desc = [StrField("verify_data", b"\x00" * 12)]

    def mysummary(self):
        return "Finished"
