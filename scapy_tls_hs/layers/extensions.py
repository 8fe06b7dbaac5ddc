"""Hello extensions (RFC 5246 §7.4.1.4, RFC 6066, RFC 8446 §4.2 ...), one class each.

``dissect_extension`` picks the class from the type and keeps the generic ``TLSExtension``
(type + bytes) for unknown and GREASE types and for bodies that do not parse exactly, so
every extension survives a dissect/build round trip.  Extensions whose body differs between
ClientHello and ServerHello (supported_versions, key_share, pre_shared_key ...) take the form
from the message they are in, else from the bytes.
"""
import struct

from scapy.config import conf
from scapy.fields import (ConditionalField, FieldLenField, FieldListField,
                          IntField, PacketField, PacketListField, ShortField, StrLenField)
from scapy.packet import NoPayload, Raw

from .. import registry
from .fields import (EXTENSION_CLASSES, MAX_ITEMS, OptFieldListField, OptPacketListField,
                     TLSByteEnumField, TLSMalformed, TLSPacket,
                     TLSShortEnumField, u16)


def dissect_extension(data, _parent=None):
    """One extension from the head of ``data``; the rest is left as padding for the list."""
    if len(data) < 4:
        return TLSMalformed(data)
    end = 4 + u16(data, 2)
    body, rest = data[:end], data[end:]
    cls = EXTENSION_CLASSES.get(u16(data), TLSExtension)
    ext = None
    if cls is not TLSExtension and end <= len(data):
        try:
            ext = cls(body, _parent=_parent)
        except Exception:
            ext = None
        if ext is not None and not _clean(ext):
            ext = None
    if ext is None:
        ext = TLSExtension(body, _parent=_parent)
    if rest:
        ext.add_payload(conf.padding_layer(rest))
    return ext


def _clean(pkt):
    return (isinstance(pkt.payload, NoPayload) and not pkt.haslayer(TLSMalformed)
            and not pkt.haslayer(Raw))


def ExtensionsField(name, length_field):
    """The extensions vector of a hello (or EncryptedExtensions, Certificate entry ...)."""
    return OptPacketListField(name, None, dissect_extension,
                              length_from=lambda p: getattr(p, length_field),
                              max_count=MAX_ITEMS)


def _text(item, field):
    """A name or protocol of a vector item, for summaries (an item that did not dissect is
    kept as raw bytes and has no such field)."""
    value = getattr(item, field, None) if isinstance(item, TLSPacket) else None
    return value.decode("ascii", "replace") if isinstance(value, bytes) else "?"


class _Item(TLSPacket):
    """An element of a vector inside an extension: leaves what follows to the list."""

    def extract_padding(self, s):
        return b"", s


class TLSExtension(TLSPacket):
    """An extension kept as type + bytes; base class of every extension class."""

    name = "TLS Extension"
    ext_type = None
    fields_desc = [TLSShortEnumField("type", 0, registry.EXTENSION_TYPES),
                   FieldLenField("len", None, length_of="data"),
                   StrLenField("data", b"", length_from=lambda p: p.len)]

    def extract_padding(self, s):
        return b"", s

    def post_build(self, pkt, pay):
        if self.len is None and self.__class__ is not TLSExtension:
            pkt = pkt[:2] + struct.pack("!H", len(pkt) - 4) + pkt[4:]
        return pkt + pay

    def mysummary(self):
        return registry.name(registry.EXTENSION_TYPES, self.type)

    def _body_form(self, s):
        return "empty" if len(s) <= 4 else "full"

    def _has_body(self):
        return self.form() == "full"


def _hdr(code):
    return [TLSShortEnumField("type", code, registry.EXTENSION_TYPES), ShortField("len", None)]


def _ext(cls):
    """Register an extension class under its type code."""
    EXTENSION_CLASSES[cls.ext_type] = cls
    return cls


def _cond(fields, form):
    return [ConditionalField(f, lambda p, form=form: p.form() == form) for f in fields]


class _OptionalBody(TLSExtension):
    """Extensions sent empty by one side (the server's acknowledgement) and with a body by
    the other: the body fields are present only when there are bytes for them."""

    body_fields = ()

    def guess_form(self, s):
        return self._body_form(s)

    def form_from_fields(self):
        return "full" if any(self.getfieldval(f) is not None for f in self.body_fields) \
            else "empty"


# --- RFC 6066 -------------------------------------------------------------------------------

class TLSServerName(_Item):
    name = "TLS ServerName"
    fields_desc = [TLSByteEnumField("name_type", 0, {0: "host_name"}),
                   FieldLenField("name_len", None, length_of="servername"),
                   StrLenField("servername", b"", length_from=lambda p: p.name_len)]


@_ext
class TLSExtServerName(_OptionalBody):
    name = "TLS Extension - server_name"
    ext_type = 0
    body_fields = ("servernames",)
    fields_desc = _hdr(0) + _cond([
        FieldLenField("servernames_len", None, length_of="servernames"),
        OptPacketListField("servernames", None, TLSServerName,
                           length_from=lambda p: p.servernames_len, max_count=MAX_ITEMS)], "full")

    def _craft_defaults(self, kargs):
        names = kargs.get("servernames")
        if isinstance(names, (str, bytes)):
            names = [names]
        if names is not None:
            kargs["servernames"] = [TLSServerName(servername=n) if isinstance(n, (str, bytes))
                                    else n for n in names]

    def mysummary(self):
        return "server_name=%s" % ",".join(
            _text(n, "servername") for n in (self.servernames or []))


@_ext
class TLSExtMaxFragmentLength(TLSExtension):
    name = "TLS Extension - max_fragment_length"
    ext_type = 1
    fields_desc = _hdr(1) + [TLSByteEnumField("maxlen", 4, registry.MAX_FRAGMENT_LENGTHS)]


@_ext
class TLSExtStatusRequest(_OptionalBody):
    """status_request: OCSP request from the client, empty acknowledgement from the server."""

    name = "TLS Extension - status_request"
    ext_type = 5
    body_fields = ("status_type",)
    fields_desc = _hdr(5) + _cond([
        TLSByteEnumField("status_type", None, registry.CERTIFICATE_STATUS_TYPES),
        FieldLenField("responder_id_len", None, length_of="responder_ids"),
        StrLenField("responder_ids", b"", length_from=lambda p: p.responder_id_len),
        FieldLenField("req_ext_len", None, length_of="request_extensions"),
        StrLenField("request_extensions", b"", length_from=lambda p: p.req_ext_len)], "full")


# --- groups, point formats, signature algorithms ---------------------------------------------

@_ext
class TLSExtSupportedGroups(TLSExtension):
    name = "TLS Extension - supported_groups"
    ext_type = 10
    fields_desc = _hdr(10) + [
        FieldLenField("groups_len", None, length_of="groups"),
        FieldListField("groups", [29, 23, 24],
                       TLSShortEnumField("group", 0, registry.NAMED_GROUPS),
                       length_from=lambda p: p.groups_len, max_count=MAX_ITEMS)]


@_ext
class TLSExtECPointFormats(TLSExtension):
    name = "TLS Extension - ec_point_formats"
    ext_type = 11
    fields_desc = _hdr(11) + [
        FieldLenField("formats_len", None, length_of="formats", fmt="B"),
        FieldListField("formats", [0], TLSByteEnumField("format", 0, registry.EC_POINT_FORMATS),
                       length_from=lambda p: p.formats_len, max_count=MAX_ITEMS)]


DEFAULT_SIG_ALGS = [0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601,
                    0x0203, 0x0201]


@_ext
class TLSExtSignatureAlgorithms(TLSExtension):
    name = "TLS Extension - signature_algorithms"
    ext_type = 13
    fields_desc = _hdr(13) + [
        FieldLenField("sig_algs_len", None, length_of="sig_algs"),
        FieldListField("sig_algs", DEFAULT_SIG_ALGS,
                       TLSShortEnumField("sig_alg", 0, registry.SIGNATURE_SCHEMES),
                       length_from=lambda p: p.sig_algs_len, max_count=MAX_ITEMS)]


@_ext
class TLSExtSignatureAlgorithmsCert(TLSExtSignatureAlgorithms):
    name = "TLS Extension - signature_algorithms_cert"
    ext_type = 50
    fields_desc = _hdr(50) + TLSExtSignatureAlgorithms.fields_desc[2:]


# --- ALPN, SCT, padding, flags ------------------------------------------------------------------

class TLSALPNProtocol(_Item):
    name = "TLS ALPN protocol"
    fields_desc = [FieldLenField("proto_len", None, length_of="protocol", fmt="B"),
                   StrLenField("protocol", b"", length_from=lambda p: p.proto_len)]


@_ext
class TLSExtALPN(TLSExtension):
    name = "TLS Extension - application_layer_protocol_negotiation"
    ext_type = 16
    fields_desc = _hdr(16) + [
        FieldLenField("protocols_len", None, length_of="protocols"),
        PacketListField("protocols", [], TLSALPNProtocol,
                        length_from=lambda p: p.protocols_len, max_count=MAX_ITEMS)]

    def _craft_defaults(self, kargs):
        protos = kargs.get("protocols")
        if isinstance(protos, (str, bytes)):
            protos = [protos]
        if protos is not None:
            kargs["protocols"] = [TLSALPNProtocol(protocol=p) if isinstance(p, (str, bytes))
                                  else p for p in protos]

    def mysummary(self):
        return "alpn=%s" % ",".join(_text(p, "protocol")
                                    for p in self.protocols or [])


@_ext
class TLSExtSCT(_OptionalBody):
    """signed_certificate_timestamp (RFC 6962): empty from the client, a list from servers."""

    name = "TLS Extension - signed_certificate_timestamp"
    ext_type = 18
    body_fields = ("scts",)
    fields_desc = _hdr(18) + _cond([
        FieldLenField("scts_len", None, length_of="scts"),
        StrLenField("scts", None, length_from=lambda p: p.scts_len)], "full")


@_ext
class TLSExtPadding(TLSExtension):
    name = "TLS Extension - padding"
    ext_type = 21
    fields_desc = _hdr(21) + [StrLenField("padding", b"", length_from=lambda p: p.len)]


@_ext
class TLSExtEncryptThenMAC(TLSExtension):
    name = "TLS Extension - encrypt_then_mac"
    ext_type = 22
    fields_desc = _hdr(22)


@_ext
class TLSExtExtendedMasterSecret(TLSExtension):
    name = "TLS Extension - extended_master_secret"
    ext_type = 23
    fields_desc = _hdr(23)


@_ext
class TLSExtRecordSizeLimit(TLSExtension):
    name = "TLS Extension - record_size_limit"
    ext_type = 28
    fields_desc = _hdr(28) + [ShortField("record_size_limit", 16385)]


@_ext
class TLSExtSessionTicket(TLSExtension):
    name = "TLS Extension - session_ticket"
    ext_type = 35
    fields_desc = _hdr(35) + [StrLenField("ticket", b"", length_from=lambda p: p.len)]


@_ext
class TLSExtRenegotiationInfo(TLSExtension):
    name = "TLS Extension - renegotiation_info"
    ext_type = 0xFF01
    fields_desc = _hdr(0xFF01) + [
        FieldLenField("reneg_len", None, length_of="renegotiated_connection", fmt="B"),
        StrLenField("renegotiated_connection", b"", length_from=lambda p: p.reneg_len)]


# --- TLS 1.3 extensions -------------------------------------------------------------------

def _in_client_hello(pkt):
    parent = pkt.parent
    return None if parent is None else parent.__class__.__name__ == "TLSClientHello"


def _in_hrr(pkt):
    parent = pkt.parent
    return parent is not None and parent.__class__.__name__ == "TLSHelloRetryRequest"


@_ext
class TLSExtSupportedVersions(TLSExtension):
    """supported_versions: a list in ClientHello, the selected version in ServerHello."""

    name = "TLS Extension - supported_versions"
    ext_type = 43
    fields_desc = _hdr(43) + _cond([
        FieldLenField("versions_len", None, length_of="versions", fmt="B"),
        OptFieldListField("versions", None, TLSShortEnumField("v", 0, registry.VERSIONS),
                          length_from=lambda p: p.versions_len, max_count=MAX_ITEMS)], "client") \
        + _cond([TLSShortEnumField("version", None, registry.VERSIONS)], "server")

    def _craft_defaults(self, kargs):
        if "versions" not in kargs and "version" not in kargs:
            kargs["versions"] = [0x0304, 0x0303]

    def guess_form(self, s):
        in_ch = _in_client_hello(self)
        if in_ch is not None:
            return "client" if in_ch else "server"
        return "server" if len(s) == 6 else "client"     # a list has an odd length

    def form_from_fields(self):
        return "server" if self.getfieldval("version") is not None else "client"


class TLSKeyShareEntry(_Item):
    name = "TLS KeyShareEntry"
    fields_desc = [TLSShortEnumField("group", 29, registry.NAMED_GROUPS),
                   FieldLenField("kx_len", None, length_of="key_exchange"),
                   StrLenField("key_exchange", b"", length_from=lambda p: p.kx_len)]


@_ext
class TLSExtKeyShare(TLSExtension):
    """key_share (RFC 8446 §4.2.8): client shares, the server's share, or the HRR group."""

    name = "TLS Extension - key_share"
    ext_type = 51
    fields_desc = _hdr(51) + _cond([
        FieldLenField("shares_len", None, length_of="client_shares"),
        OptPacketListField("client_shares", None, TLSKeyShareEntry,
                           length_from=lambda p: p.shares_len, max_count=MAX_ITEMS)], "client") \
        + _cond([PacketField("server_share", None, TLSKeyShareEntry)], "server") \
        + _cond([TLSShortEnumField("selected_group", None, registry.NAMED_GROUPS)], "hrr")

    def _craft_defaults(self, kargs):
        if not {"client_shares", "server_share", "selected_group"} & set(kargs):
            kargs["client_shares"] = []

    def guess_form(self, s):
        if _in_hrr(self):
            return "hrr"
        in_ch = _in_client_hello(self)
        if in_ch is not None:
            return "client" if in_ch else "server"
        body = s[4:]
        if len(body) == 2:
            return "hrr"
        if len(body) >= 2 and u16(body) == len(body) - 2:
            return "client"
        return "server"

    def form_from_fields(self):
        if self.getfieldval("selected_group") is not None:
            return "hrr"
        return "server" if self.getfieldval("server_share") is not None else "client"


class TLSPSKIdentity(_Item):
    name = "TLS PskIdentity"
    fields_desc = [FieldLenField("identity_len", None, length_of="identity"),
                   StrLenField("identity", b"", length_from=lambda p: p.identity_len),
                   IntField("obfuscated_ticket_age", 0)]


class TLSPSKBinder(_Item):
    name = "TLS PskBinderEntry"
    fields_desc = [FieldLenField("binder_len", None, length_of="binder", fmt="B"),
                   StrLenField("binder", b"", length_from=lambda p: p.binder_len)]


@_ext
class TLSExtPreSharedKey(TLSExtension):
    """pre_shared_key (RFC 8446 §4.2.11): identities and binders, or the selected index."""

    name = "TLS Extension - pre_shared_key"
    ext_type = 41
    fields_desc = _hdr(41) + _cond([
        FieldLenField("identities_len", None, length_of="identities"),
        OptPacketListField("identities", None, TLSPSKIdentity,
                           length_from=lambda p: p.identities_len, max_count=MAX_ITEMS),
        FieldLenField("binders_len", None, length_of="binders"),
        OptPacketListField("binders", None, TLSPSKBinder,
                           length_from=lambda p: p.binders_len, max_count=MAX_ITEMS)], "client") \
        + _cond([ShortField("selected_identity", None)], "server")

    def _craft_defaults(self, kargs):
        if "selected_identity" not in kargs:
            kargs.setdefault("identities", [])
            kargs.setdefault("binders", [])

    def guess_form(self, s):
        in_ch = _in_client_hello(self)
        if in_ch is not None:
            return "client" if in_ch else "server"
        return "server" if len(s) == 6 else "client"

    def form_from_fields(self):
        return "server" if self.getfieldval("selected_identity") is not None else "client"


@_ext
class TLSExtPSKKeyExchangeModes(TLSExtension):
    name = "TLS Extension - psk_key_exchange_modes"
    ext_type = 45
    fields_desc = _hdr(45) + [
        FieldLenField("modes_len", None, length_of="modes", fmt="B"),
        FieldListField("modes", [1], TLSByteEnumField("mode", 0,
                                                      registry.PSK_KEY_EXCHANGE_MODES),
                       length_from=lambda p: p.modes_len, max_count=MAX_ITEMS)]


@_ext
class TLSExtCookie(TLSExtension):
    name = "TLS Extension - cookie"
    ext_type = 44
    fields_desc = _hdr(44) + [FieldLenField("cookie_len", None, length_of="cookie"),
                              StrLenField("cookie", b"", length_from=lambda p: p.cookie_len)]


@_ext
class TLSExtEarlyData(_OptionalBody):
    """early_data: empty in hellos, max_early_data_size in NewSessionTicket."""

    name = "TLS Extension - early_data"
    ext_type = 42
    body_fields = ("max_early_data_size",)
    fields_desc = _hdr(42) + _cond([IntField("max_early_data_size", None)], "full")


@_ext
class TLSExtPostHandshakeAuth(TLSExtension):
    name = "TLS Extension - post_handshake_auth"
    ext_type = 49
    fields_desc = _hdr(49)


@_ext
class TLSExtCompressCertificate(TLSExtension):
    name = "TLS Extension - compress_certificate"
    ext_type = 27
    fields_desc = _hdr(27) + [
        FieldLenField("algs_len", None, length_of="algorithms", fmt="B"),
        FieldListField("algorithms", [], ShortField("alg", 0),
                       length_from=lambda p: p.algs_len, max_count=MAX_ITEMS)]


def default_client_extensions():
    """The extensions of ``TLSClientHello()``: a modern TLS 1.2 offer (fresh instances)."""
    return [TLSExtSupportedGroups(groups=[29, 23, 24]),
            TLSExtECPointFormats(formats=[0]),
            TLSExtSignatureAlgorithms(sig_algs=list(DEFAULT_SIG_ALGS)),
            TLSExtEncryptThenMAC(),
            TLSExtExtendedMasterSecret(),
            TLSExtRenegotiationInfo(),
            TLSExtSessionTicket()]
