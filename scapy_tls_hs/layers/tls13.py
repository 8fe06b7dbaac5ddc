"""TLS 1.3 handshake message forms (RFC 8446 §4.3-4.6) needed to show decrypted flights.

EncryptedExtensions, KeyUpdate and EndOfEarlyData exist only in TLS 1.3; Certificate,
CertificateRequest and NewSessionTicket have TLS 1.3 forms chosen by the context version or
the bytes (see handshake.py).  HelloRetryRequest is in hello.py.
"""
from scapy.fields import FieldLenField, IntField, PacketListField, StrLenField

from .extensions import ExtensionsField
from .fields import MAX_ITEMS, FieldLen24, TLSByteEnumField, TLSPacket
from .handshake import TLSCertificate, TLSCertificateEntry
from .hello import handshake_message


@handshake_message(8)
class TLSEncryptedExtensions(TLSPacket):
    name = "TLS EncryptedExtensions"
    fields_desc = [FieldLenField("ext_len", None, length_of="ext"),
                   ExtensionsField("ext", "ext_len")]

    def _craft_defaults(self, kargs):
        kargs.setdefault("ext", [])


@handshake_message(5)
class TLSEndOfEarlyData(TLSPacket):
    name = "TLS EndOfEarlyData"
    fields_desc = []


@handshake_message(24)
class TLSKeyUpdate(TLSPacket):
    name = "TLS KeyUpdate"
    fields_desc = [TLSByteEnumField("request_update", 0,
                                    {0: "update_not_requested", 1: "update_requested"})]


class TLS13CertificateEntry(TLSCertificateEntry):
    name = "TLS 1.3 CertificateEntry"
    fields_desc = TLSCertificateEntry.fields_desc + [
        FieldLenField("ext_len", None, length_of="ext"), ExtensionsField("ext", "ext_len")]

    def _craft_defaults(self, kargs):
        kargs.setdefault("ext", [])


class TLS13Certificate(TLSPacket):
    """Certificate (TLS 1.3): request context, then entries with their extensions."""

    name = "TLS 1.3 Certificate"
    hs_type = 11
    fields_desc = [FieldLenField("ctx_len", None, length_of="cert_request_context", fmt="B"),
                   StrLenField("cert_request_context", b"",
                               length_from=lambda p: p.ctx_len),
                   FieldLen24("certs_len", None, length_of="certs"),
                   PacketListField("certs", [], TLS13CertificateEntry,
                                   length_from=lambda p: p.certs_len, max_count=MAX_ITEMS)]

    entry_class = TLS13CertificateEntry
    _craft_defaults = TLSCertificate._craft_defaults

    def mysummary(self):
        return "Certificate (TLS 1.3, %d)" % len(self.certs or [])


class TLS13CertificateRequest(TLSPacket):
    name = "TLS 1.3 CertificateRequest"
    hs_type = 13
    fields_desc = [FieldLenField("ctx_len", None, length_of="cert_request_context", fmt="B"),
                   StrLenField("cert_request_context", b"",
                               length_from=lambda p: p.ctx_len),
                   FieldLenField("ext_len", None, length_of="ext"),
                   ExtensionsField("ext", "ext_len")]

    def _craft_defaults(self, kargs):
        kargs.setdefault("ext", [])


class TLS13NewSessionTicket(TLSPacket):
    name = "TLS 1.3 NewSessionTicket"
    hs_type = 4
    fields_desc = [IntField("ticket_lifetime", 7200),
                   IntField("ticket_age_add", 0),
                   FieldLenField("nonce_len", None, length_of="ticket_nonce", fmt="B"),
                   StrLenField("ticket_nonce", b"", length_from=lambda p: p.nonce_len),
                   FieldLenField("ticket_len", None, length_of="ticket"),
                   StrLenField("ticket", b"", length_from=lambda p: p.ticket_len),
                   FieldLenField("ext_len", None, length_of="ext"),
                   ExtensionsField("ext", "ext_len")]

    def _craft_defaults(self, kargs):
        kargs.setdefault("ext", [])
