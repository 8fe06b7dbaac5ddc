"""Extensions: the ordered extension list, and the bodies the connection core reads and writes.

``Extension(type, data)`` keeps any extension (unknown and GREASE ones too) as bytes, so a
message re-encodes to the bytes it was parsed from. Each ``name(...)`` below returns an
extension body (``Extension.data``, without type and length); each ``parse_name(data)`` is
strict: the body must be consumed exactly, else ``DecodeError``. RFC sections are in the
docstrings.
"""

from struct import Struct, pack, unpack

from ..errors import AlertError, DecodeError
from .buffer import Reader, vec8, vec16

_U16_PACK = Struct("!H").pack
_HH_UNPACK = Struct("!HH").unpack_from

EXT_SERVER_NAME = 0
EXT_MAX_FRAGMENT_LENGTH = 1
EXT_STATUS_REQUEST = 5
EXT_SUPPORTED_GROUPS = 10
EXT_EC_POINT_FORMATS = 11
EXT_SIGNATURE_ALGORITHMS = 13
EXT_ALPN = 16
EXT_SIGNED_CERTIFICATE_TIMESTAMP = 18
EXT_PADDING = 21
EXT_ENCRYPT_THEN_MAC = 22
EXT_EXTENDED_MASTER_SECRET = 23
EXT_RECORD_SIZE_LIMIT = 28
EXT_SESSION_TICKET = 35
EXT_PRE_SHARED_KEY = 41
EXT_EARLY_DATA = 42
EXT_SUPPORTED_VERSIONS = 43
EXT_COOKIE = 44
EXT_PSK_KEY_EXCHANGE_MODES = 45
EXT_CERTIFICATE_AUTHORITIES = 47
EXT_POST_HANDSHAKE_AUTH = 49
EXT_SIGNATURE_ALGORITHMS_CERT = 50
EXT_KEY_SHARE = 51
EXT_RENEGOTIATION_INFO = 0xFF01


# --- the extension list (RFC 5246 §7.4.1.4, RFC 8446 §4.2) -------------------------------------

class Extension(tuple):
    """``Extension(type, data)``: one extension, body kept as bytes."""

    __slots__ = ()

    def __new__(cls, type, data=b""):
        return tuple.__new__(cls, (type, data))

    def __getnewargs__(self):
        # tuple's default would pass (type, data) as ``type``: pickling (reports cross
        # process boundaries) needs the two arguments.
        return tuple(self)

    @property
    def type(self):
        return self[0]

    @property
    def data(self):
        return self[1]

    def encode(self):
        return _U16_PACK(self[0]) + vec16(self[1])

    def __repr__(self):
        return "Extension(type=%d, data=%r)" % self


def find_ext(exts, type):
    """The first extension of ``type`` in ``exts`` (a list or None), else None."""
    if exts:
        for ext in exts:
            if ext[0] == type:
                return ext
    return None


def _ext_list(data, pos, end, what):
    """Extensions in ``data[pos:end]`` (no length prefix), framing checked exactly."""
    out = []
    append = out.append
    new = tuple.__new__
    while pos < end:
        if end - pos < 4:
            raise DecodeError("extra bytes at the end of %s" % what)
        etype, length = _HH_UNPACK(data, pos)
        pos += 4
        stop = pos + length
        if stop > end:
            raise DecodeError("extension %d overruns the %s block" % (etype, what))
        append(new(Extension, (etype, data[pos:stop])))
        pos = stop
    return out


def _read_extensions(r, what="extensions"):
    """A vec16 extension list from reader ``r``."""
    sub = r.sub16()
    return _ext_list(sub.data, sub.pos, sub.end, what)


def parse_extension_list(raw, what="extensions"):
    """Extensions from a block's content (without its 2-byte length)."""
    return _ext_list(raw, 0, len(raw), what)


def parse_extensions(data, what="extensions"):
    """A full extension block (2-byte length + extensions) as a list of ``Extension``."""
    r = Reader(data)
    exts = _read_extensions(r, what)
    r.expect_end(what)
    return exts


def encode_extensions(exts):
    """The extension block with its 2-byte length."""
    body = b"".join([_U16_PACK(t) + _U16_PACK(len(d)) + d for t, d in exts])
    return _U16_PACK(len(body)) + body


def _u16s(values):
    return pack("!%dH" % len(values), *values)


def _read_u16s(raw, what):
    if len(raw) & 1:
        raise DecodeError("odd length in %s" % what)
    return list(unpack("!%dH" % (len(raw) >> 1), raw))


def _whole_vec16(data, what):
    r = Reader(data)
    body = r.vec16()
    r.expect_end(what)
    return body


def _whole_vec8(data, what):
    r = Reader(data)
    body = r.vec8()
    r.expect_end(what)
    return body


# --- server_name (RFC 6066 §3) ---------------------------------------------------------------

def server_name(host):
    """ServerNameList with one host_name entry."""
    if isinstance(host, str):
        try:
            host = host.encode("ascii")
        except UnicodeEncodeError:
            host = host.encode("idna")
    return vec16(b"\x00" + vec16(host))


def parse_server_name(data):
    """The host_name, or None for the empty body a server sends to acknowledge SNI."""
    if not data:
        return None
    lst = Reader(_whole_vec16(data, "server_name"))
    host = None
    while not lst.done():
        name_type = lst.u8()
        name = lst.vec16()
        if name_type == 0 and host is None:
            host = name.decode("ascii", "backslashreplace")
    return host


# RFC 6066 section 3: a HostName is an ASCII DNS name (RFC 1123 letters, digits, hyphens and
# dots; the underscore too, as real names carry it).
_HOST_NAME_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._")


def parse_client_server_name(data):
    """The ClientHello form, as a server must read it (RFC 6066 section 3): a non-empty
    ServerNameList of non-empty names (else ``DecodeError``), at most one host_name and only
    DNS characters in it (else illegal_parameter). Returns the host_name or None; other name
    types are skipped."""
    lst = Reader(_whole_vec16(data, "server_name"))
    if lst.done():
        raise DecodeError("empty server_name list")
    host = None
    while not lst.done():
        name_type = lst.u8()
        name = lst.vec16()
        if not name:
            raise DecodeError("empty name in server_name")
        if name_type != 0:
            continue
        if host is not None:
            raise AlertError("illegal_parameter", "two host_names in server_name")
        if not _HOST_NAME_BYTES.issuperset(name):
            raise AlertError("illegal_parameter", "server_name host_name is not a DNS name")
        host = name.decode("ascii")
    return host


# --- ALPN (RFC 7301 §3.1) ----------------------------------------------------------------------

def alpn(protocols):
    """ProtocolNameList; protocols are bytes (str accepted)."""
    items = [p.encode("ascii") if isinstance(p, str) else p for p in protocols]
    return vec16(b"".join(vec8(p) for p in items))


def parse_alpn(data):
    """RFC 7301 section 3.1: a non-empty list of non-empty names."""
    lst = Reader(_whole_vec16(data, "application_layer_protocol_negotiation"))
    if lst.done():
        raise DecodeError("empty application_layer_protocol_negotiation list")
    out = []
    while not lst.done():
        name = lst.vec8()
        if not name:
            raise DecodeError("empty protocol name in application_layer_protocol_negotiation")
        out.append(name)
    return out


# --- groups, point formats, signature algorithms ---------------------------------------------

def supported_groups(groups):
    """NamedGroupList (RFC 8422 §5.1.1, RFC 7919)."""
    return vec16(_u16s(groups))


def parse_supported_groups(data):
    return _read_u16s(_whole_vec16(data, "supported_groups"), "supported_groups")


def ec_point_formats(formats=(0,)):
    """ECPointFormatList (RFC 8422 §5.1.2); uncompressed only by default."""
    return vec8(bytes(formats))


def parse_ec_point_formats(data):
    """RFC 8422 section 5.1.2: ec_point_format_list<1..2^8-1>."""
    formats = _whole_vec8(data, "ec_point_formats")
    if not formats:
        raise DecodeError("empty ec_point_formats list")
    return list(formats)


def signature_algorithms(schemes):
    """SignatureSchemeList (RFC 5246 §7.4.1.4.1, RFC 8446 §4.2.3)."""
    return vec16(_u16s(schemes))


def parse_signature_algorithms(data):
    """RFC 5246 section 7.4.1.4.1, RFC 8446 section 4.2.3: a non-empty list."""
    schemes = _read_u16s(_whole_vec16(data, "signature_algorithms"), "signature_algorithms")
    if not schemes:
        raise DecodeError("empty signature_algorithms list")
    return schemes


signature_algorithms_cert = signature_algorithms
parse_signature_algorithms_cert = parse_signature_algorithms


# --- supported_versions (RFC 8446 §4.2.1) -------------------------------------------------------

def supported_versions_client(versions):
    """ClientHello form: a vec8 list of versions."""
    return vec8(_u16s(versions))


def parse_supported_versions_client(data):
    return _read_u16s(_whole_vec8(data, "supported_versions"), "supported_versions")


def supported_versions_server(version):
    """ServerHello form: the selected version."""
    return pack("!H", version)


def parse_supported_versions_server(data):
    if len(data) != 2:
        raise DecodeError("supported_versions in server_hello is not 2 bytes")
    return data[0] << 8 | data[1]


# --- key_share (RFC 8446 §4.2.8) ---------------------------------------------------------------

def key_share_client(shares):
    """ClientHello form: list of ``(group, key_exchange)``."""
    return vec16(b"".join(pack("!H", g) + vec16(k) for g, k in shares))


def parse_key_share_client(data, allow_empty=False):
    """``[(group, key_exchange)]``. ``allow_empty``: an empty key_exchange is returned, not a
    ``DecodeError`` (a server answers it with illegal_parameter, a crafted hello gets a key)."""
    lst = Reader(_whole_vec16(data, "key_share"))
    out = []
    while not lst.done():
        group = lst.u16()
        key = lst.vec16()
        if not key and not allow_empty:
            raise DecodeError("empty key_exchange in key_share")
        out.append((group, key))
    return out


def key_share_server(group, key=None):
    """ServerHello form: one ``KeyShareEntry`` (``group, key`` or one ``(group, key)``)."""
    if key is None:
        group, key = group
    return pack("!H", group) + vec16(key)


def parse_key_share_server(data):
    """``(group, key_exchange)`` from a ServerHello."""
    r = Reader(data)
    group = r.u16()
    key = r.vec16()
    r.expect_end("key_share")
    if not key:
        raise DecodeError("empty key_exchange in key_share")
    return group, key


def key_share_hello_retry(group):
    """HelloRetryRequest form: the selected group only."""
    return pack("!H", group)


def parse_key_share_hello_retry(data):
    if len(data) != 2:
        raise DecodeError("key_share in hello_retry_request is not 2 bytes")
    return data[0] << 8 | data[1]


# --- pre_shared_key, early_data, cookie (RFC 8446 §4.2.11, 4.2.10, 4.2.2) ---------------------

def pre_shared_key_client(identities, binders):
    """ClientHello form: ``identities`` as ``(identity, obfuscated_ticket_age)``, then the
    binders (each a ``bytes``)."""
    ids = b"".join(vec16(i) + pack("!I", age) for i, age in identities)
    return vec16(ids) + binders_block(binders)


def binders_block(binders):
    """The PskBinderEntry list, length included: what a binder's transcript leaves out."""
    return vec16(b"".join(vec8(b) for b in binders))


def parse_pre_shared_key_client(data):
    """``(identities [(identity, age)], binders [bytes])``."""
    r = Reader(data)
    ids = Reader(r.vec16())
    identities = []
    while not ids.done():
        identity = ids.vec16()
        if not identity:
            raise DecodeError("empty PSK identity")
        identities.append((identity, ids.u32()))
    bl = Reader(r.vec16())
    binders = []
    while not bl.done():
        binder = bl.vec8()
        if len(binder) < 32:
            raise DecodeError("PSK binder shorter than 32 bytes")
        binders.append(binder)
    r.expect_end("pre_shared_key")
    if not identities or not binders:
        raise DecodeError("empty pre_shared_key lists")
    return identities, binders


def pre_shared_key_server(selected):
    return pack("!H", selected)


def parse_pre_shared_key_server(data):
    if len(data) != 2:
        raise DecodeError("pre_shared_key in server_hello is not 2 bytes")
    return data[0] << 8 | data[1]


def early_data_ticket(max_early_data):
    """NewSessionTicket form: max_early_data_size (ClientHello / EncryptedExtensions: empty)."""
    return pack("!I", max_early_data)


def parse_early_data_ticket(data):
    if len(data) != 4:
        raise DecodeError("early_data in new_session_ticket is not 4 bytes")
    return int.from_bytes(data, "big")


def cookie(value):
    return vec16(value)


def parse_cookie(data):
    value = _whole_vec16(data, "cookie")
    if not value:
        raise DecodeError("empty cookie")
    return value


def psk_key_exchange_modes(modes=(1,)):
    """RFC 8446 §4.2.9 (psk_dhe_ke by default)."""
    return vec8(bytes(modes))


def parse_psk_key_exchange_modes(data):
    return list(_whole_vec8(data, "psk_key_exchange_modes"))


# --- renegotiation_info, session_ticket, flags ---------------------------------------------

def renegotiation_info(verify_data=b""):
    """RFC 5746 §3.2: empty on the initial handshake."""
    return vec8(verify_data)


def parse_renegotiation_info(data):
    return _whole_vec8(data, "renegotiation_info")


def session_ticket(ticket=b""):
    """RFC 5077 §3.2: the ticket itself (empty to ask for one), no length prefix."""
    return bytes(ticket)


def parse_session_ticket(data):
    return bytes(data)


def empty():
    """Body of a flag extension (extended_master_secret, encrypt_then_mac, an empty
    session_ticket, post_handshake_auth)."""
    return b""


def parse_empty(data, what="extension"):
    if data:
        raise DecodeError("extra bytes at the end of %s" % what)
    return True


def max_fragment_length(code):
    """RFC 6066 §4: 1..4 for 2^9..2^12."""
    return bytes((code,))


def parse_max_fragment_length(data):
    if len(data) != 1:
        raise DecodeError("max_fragment_length is not 1 byte")
    return data[0]


def status_request_ocsp():
    """RFC 6066 §8: ocsp, no responder ids, no request extensions."""
    return b"\x01\x00\x00\x00\x00"


def padding(length):
    """RFC 7685: ``length`` zero bytes."""
    return b"\x00" * length


def record_size_limit(limit):
    """RFC 8449."""
    return pack("!H", limit)


def parse_record_size_limit(data):
    """RFC 8449 section 4: a uint16 of at least 64 (smaller is illegal_parameter)."""
    if len(data) != 2:
        raise DecodeError("record_size_limit is not 2 bytes")
    limit = data[0] << 8 | data[1]
    if limit < 64:
        raise AlertError("illegal_parameter", "record_size_limit %d below 64" % limit)
    return limit


# --- certificate_authorities (RFC 8446 §4.2.4) -------------------------------------------------

def certificate_authorities(names):
    """``DistinguishedName authorities<3..2^16-1>``: DER names, each with its vec16 length."""
    return vec16(b"".join(vec16(n) for n in names))


def parse_certificate_authorities(data):
    lst = Reader(_whole_vec16(data, "certificate_authorities"))
    out = []
    while not lst.done():
        out.append(lst.vec16())
    return out
