"""Certificate, CertificateRequest, CertificateVerify, NewSessionTicket, CertificateStatus
(RFC 5246 §7.4.2-7.4.8, RFC 5077 §3.3, RFC 6066 §8) in their TLS 1.0-1.2 forms.

CertificateRequest and CertificateVerify differ between TLS 1.2 (signature algorithms) and
TLS 1.0/1.1: the form comes from ``TLSContext.version`` when known, else from the bytes.
The TLS 1.3 forms of Certificate, CertificateRequest and NewSessionTicket are separate
classes (tls13.py); the choosers below pick between them.
"""
from scapy.fields import (ConditionalField, FieldLenField, FieldListField, IntField,
                          PacketListField, StrLenField)

from .. import registry
from .fields import (HANDSHAKE_CHOOSERS, MAX_ITEMS, FieldLen24, OptFieldListField,
                     TLSByteEnumField, TLSPacket,
                     TLSShortEnumField, u16, u24, vec_ok)
from .hello import handshake_message


class CertificateBytesField(StrLenField):
    """DER certificate bytes shown with their subject and issuer."""

    def i2repr(self, pkt, x):
        if not x:
            return repr(x)
        try:
            from cryptography import x509
            cert = x509.load_der_x509_certificate(bytes(x))
            return "<X.509 subject=%s issuer=%s, %d bytes>" % (
                cert.subject.rfc4514_string(), cert.issuer.rfc4514_string(), len(x))
        except Exception:
            return "<%d bytes, not X.509 DER>" % len(x)


class TLSCertificateEntry(TLSPacket):
    name = "TLS ASN.1 Cert"
    fields_desc = [FieldLen24("cert_len", None, length_of="cert"),
                   CertificateBytesField("cert", b"", length_from=lambda p: p.cert_len)]

    def extract_padding(self, s):
        return b"", s

    def x509(self):
        """The certificate as a ``cryptography`` x509 object."""
        from cryptography import x509
        return x509.load_der_x509_certificate(bytes(self.cert))


@handshake_message(11)
class TLSCertificate(TLSPacket):
    """Certificate (TLS 1.0-1.2): a chain of DER certificates, sender's first.

    ``certs`` accepts DER bytes or ``TLSCertificateEntry`` packets.
    """

    name = "TLS Certificate"
    fields_desc = [FieldLen24("certs_len", None, length_of="certs"),
                   PacketListField("certs", [], TLSCertificateEntry,
                                   length_from=lambda p: p.certs_len, max_count=MAX_ITEMS)]

    entry_class = TLSCertificateEntry

    def _craft_defaults(self, kargs):
        certs = kargs.get("certs")
        if certs is not None:
            kargs["certs"] = [self.entry_class(cert=c) if isinstance(c, bytes) else c
                              for c in certs]

    def mysummary(self):
        return "Certificate (%d)" % len(self.certs or [])


def _choose_certificate(body, ctx):
    from .tls13 import TLS13Certificate
    version = getattr(ctx, "version", None)
    if version is not None:
        return TLS13Certificate if version >= 0x0304 else TLSCertificate
    if len(body) >= 3 and u24(body) == len(body) - 3:
        return TLSCertificate
    end = vec_ok(body, 0, 1)
    if end is not None and end + 3 <= len(body) and u24(body, end) == len(body) - end - 3:
        return TLS13Certificate
    return TLSCertificate


HANDSHAKE_CHOOSERS[11] = _choose_certificate


class TLSDistinguishedName(TLSPacket):
    name = "TLS DistinguishedName"
    fields_desc = [FieldLenField("dn_len", None, length_of="dn"),
                   StrLenField("dn", b"", length_from=lambda p: p.dn_len)]

    def extract_padding(self, s):
        return b"", s


def _cr_form(body, version):
    """"tls12" (with supported_signature_algorithms) or "tls10" for a CertificateRequest."""
    if version is not None:
        return "tls12" if version >= 0x0303 else "tls10"
    types_end = vec_ok(body, 0, 1)
    if types_end is None:
        return "tls12"
    algs_end = vec_ok(body, types_end, 2)
    if algs_end is not None and vec_ok(body, algs_end, 2) == len(body):
        return "tls12"
    if vec_ok(body, types_end, 2) == len(body):
        return "tls10"
    return "tls12"


@handshake_message(13)
class TLSCertificateRequest(TLSPacket):
    """CertificateRequest: certificate types, [signature algorithms (TLS 1.2)], CAs.

    Built by hand it has the TLS 1.2 form; ``sig_algs=None`` gives the TLS 1.0/1.1 one.
    """

    name = "TLS CertificateRequest"
    fields_desc = [
        FieldLenField("ctypes_len", None, length_of="ctypes", fmt="B"),
        FieldListField("ctypes", [1, 64],
                       TLSByteEnumField("ctype", 1, registry.CLIENT_CERTIFICATE_TYPES),
                       length_from=lambda p: p.ctypes_len, max_count=MAX_ITEMS),
        ConditionalField(FieldLenField("sig_algs_len", None, length_of="sig_algs"),
                         lambda p: p.form() == "tls12"),
        ConditionalField(OptFieldListField("sig_algs",
                                           [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501],
                                           TLSShortEnumField("sig_alg", 0,
                                                             registry.SIGNATURE_SCHEMES),
                                           length_from=lambda p: p.sig_algs_len,
                                           max_count=MAX_ITEMS),
                         lambda p: p.form() == "tls12"),
        FieldLenField("cas_len", None, length_of="cas"),
        PacketListField("cas", [], TLSDistinguishedName, length_from=lambda p: p.cas_len,
                        max_count=MAX_ITEMS)]
    absent = {"sig_algs": None}

    def guess_form(self, s):
        return _cr_form(s, getattr(self.tls_ctx, "version", None))

    def form_from_fields(self):
        return "tls12" if self.getfieldval("sig_algs") is not None else "tls10"


def _choose_certificate_request(body, ctx):
    """TLS 1.3 CertificateRequest (context, extensions) has the layout of the TLS 1.0/1.1
    one (types, authorities).  Without a version, TLS 1.3 is recognised by an empty first
    vector (certificate_types may not be empty before 1.3) or by the signature_algorithms
    extension it must carry (RFC 8446 §4.3.2)."""
    from .tls13 import TLS13CertificateRequest
    version = getattr(ctx, "version", None)
    if version is not None:
        return TLS13CertificateRequest if version >= 0x0304 else TLSCertificateRequest
    ctx_end = vec_ok(body, 0, 1)
    if ctx_end is None or vec_ok(body, ctx_end, 2) != len(body):
        return TLSCertificateRequest
    if body[0] == 0:
        return TLS13CertificateRequest
    i, end = ctx_end + 2, len(body)
    while i + 4 <= end:
        if u16(body, i) == 13:
            return TLS13CertificateRequest
        i += 4 + u16(body, i + 2)
    return TLSCertificateRequest


HANDSHAKE_CHOOSERS[13] = _choose_certificate_request


def signature_form(rest, version):
    """"tls12" (SignatureAndHashAlgorithm + signature), "tls10" (signature only) or "none"
    for the signature bytes ``rest`` of ServerKeyExchange / CertificateVerify."""
    if version is not None:
        return "tls12" if version >= 0x0303 else "tls10"
    if not rest:
        return "none"
    if len(rest) >= 4 and u16(rest, 2) == len(rest) - 4:
        return "tls12"
    if len(rest) >= 2 and u16(rest) == len(rest) - 2:
        return "tls10"
    return "tls12"


@handshake_message(15)
class TLSCertificateVerify(TLSPacket):
    """CertificateVerify: [sig_alg (TLS 1.2 and 1.3)], signature.

    Built by hand it has ``sig_alg`` rsa_pkcs1_sha256; ``sig_alg=None`` gives the TLS 1.0/1.1
    form (signature only).
    """

    name = "TLS CertificateVerify"
    fields_desc = [
        ConditionalField(TLSShortEnumField("sig_alg", 0x0401, registry.SIGNATURE_SCHEMES),
                         lambda p: p.form() == "tls12"),
        FieldLenField("sig_len", None, length_of="sig"),
        StrLenField("sig", b"", length_from=lambda p: p.sig_len)]
    absent = {"sig_alg": None}

    def guess_form(self, s):
        form = signature_form(s, getattr(self.tls_ctx, "version", None))
        return "tls12" if form == "none" else form

    def form_from_fields(self):
        return "tls12" if self.getfieldval("sig_alg") is not None else "tls10"

    def mysummary(self):
        if self.sig_alg is None:
            return "CertificateVerify"
        return "CertificateVerify %s" % registry.name(registry.SIGNATURE_SCHEMES, self.sig_alg)


@handshake_message(4)
class TLSNewSessionTicket(TLSPacket):
    """NewSessionTicket (RFC 5077 §3.3)."""

    name = "TLS NewSessionTicket"
    fields_desc = [IntField("lifetime_hint", 7200),
                   FieldLenField("ticket_len", None, length_of="ticket"),
                   StrLenField("ticket", b"", length_from=lambda p: p.ticket_len)]


def _choose_new_session_ticket(body, ctx):
    from .tls13 import TLS13NewSessionTicket
    version = getattr(ctx, "version", None)
    if version is not None:
        return TLS13NewSessionTicket if version >= 0x0304 else TLSNewSessionTicket
    if vec_ok(body, 4, 2) == len(body):
        return TLSNewSessionTicket
    end = vec_ok(body, 8, 1)
    end = None if end is None else vec_ok(body, end, 2)
    if end is not None and vec_ok(body, end, 2) == len(body):
        return TLS13NewSessionTicket
    return TLSNewSessionTicket


HANDSHAKE_CHOOSERS[4] = _choose_new_session_ticket


@handshake_message(22)
class TLSCertificateStatus(TLSPacket):
    """CertificateStatus (RFC 6066 §8): an OCSP response."""

    name = "TLS CertificateStatus"
    fields_desc = [TLSByteEnumField("status_type", 1, registry.CERTIFICATE_STATUS_TYPES),
                   FieldLen24("response_len", None, length_of="response"),
                   StrLenField("response", b"", length_from=lambda p: p.response_len)]
