"""Building blocks shared by every TLS layer: the base class, fields, dissection context.

Rules every layer follows (wire format only, DESIGN.md):
- Dissection never raises: a body that does not parse becomes ``TLSMalformed`` (marked raw
  bytes) and rebuilding gives the same bytes back.
- A length, count or type left unset (``None``) is computed when building; a value read from
  the wire is kept as is, so ``raw(TLSRecord(data)) == data``.
- Layers hold no session state.  Where the wire format depends on the negotiated version or key
  exchange, a ``TLSContext`` can be given explicitly (``TLSRecord(data, ctx=TLSContext(...))``);
  without one the form is chosen from the bytes when they are unambiguous.
"""
import struct
import threading

from scapy.config import conf
from scapy.fields import (ByteEnumField, FieldLenField, FieldListField, PacketListField,
                          ShortEnumField, StrField)
from scapy.packet import NoPayload, Packet

from .. import registry

#: msg_type -> handshake body class (filled by the modules defining the messages).
HANDSHAKE_CLASSES = {}
#: msg_type -> function(body: bytes, ctx) -> class, for messages with several wire forms.
HANDSHAKE_CHOOSERS = {}
#: extension type -> extension class (filled by extensions.py).
EXTENSION_CLASSES = {}

# Many vectors hold more than Scapy's default of 100 items (cipher suites, certificates).
MAX_ITEMS = 1 << 16
# Records (or handshake messages) chained in one packet; see TLSUndissected.
MAX_CHAIN = 64


class TLSContext:
    """What a dissector may know about the connection: explicit, optional, never global.

    ``version`` (int, e.g. 0x0303) and ``key_exchange`` ("RSA", "DHE", "ECDHE") select the
    wire form of version- or suite-dependent messages.  ``encrypted`` says records of this
    direction are protected (True: after ChangeCipherSpec), plaintext (False: the handshake
    was read from its start) or not known (None: a record alone, or a capture that starts
    mid-connection), which decides whether content that does not parse is shown as
    encrypted or as malformed plaintext.  When a byte stream of one direction is dissected
    in one call, the context is also updated from what is seen (ServerHello, the first
    plaintext handshake record, ChangeCipherSpec, a message continued in the next record).
    """

    __slots__ = ("version", "key_exchange", "encrypted", "pending")

    def __init__(self, version=None, key_exchange=None, encrypted=None):
        if isinstance(version, str):
            version = registry.VERSION_CODES[version]
        self.version = version
        self.key_exchange = key_exchange
        self.encrypted = encrypted
        self.pending = 0    # bytes of a handshake message still to come in the next records

    def copy(self):
        c = TLSContext(self.version, self.key_exchange, self.encrypted)
        c.pending = self.pending
        return c

    def __repr__(self):
        return "TLSContext(version=%s, key_exchange=%r, encrypted=%r)" % (
            None if self.version is None else "0x%04x" % self.version, self.key_exchange,
            self.encrypted)


def key_exchange_of(suite):
    """"RSA" / "DHE" / "ECDHE" / "TLS13" / None from an IANA cipher suite code."""
    name = registry.CIPHER_SUITES.get(suite, "")
    if 0x1300 <= suite <= 0x13FF:
        return "TLS13"
    for prefix, kx in (("TLS_ECDHE_", "ECDHE"), ("TLS_DHE_", "DHE"), ("TLS_RSA_", "RSA")):
        if name.startswith(prefix) and "_PSK_" not in name[:len(prefix) + 4]:
            return kx
    return None


def _ctx_of(kargs):
    src = kargs.get("_underlayer")
    if src is None:
        src = kargs.get("_parent")
    return getattr(src, "tls_ctx", None) if isinstance(src, TLSPacket) else None


# Set while Scapy copies or clones packets: the copy gets its fields from the original, so
# crafting defaults (a fresh random, default extensions) would be wasted work.
_cloning = threading.local()


class TLSPacket(Packet):
    """Base of every layer of this package.

    Adds a ``ctx`` keyword (a ``TLSContext``, inherited by the layers dissected below), a
    ``_form`` chosen before dissection for messages with several wire forms, crafting
    defaults (``_craft_defaults``) applied only to packets built by hand, and marked raw
    bytes (``TLSMalformed``) instead of Scapy's ``Raw`` when a body fails to dissect.
    """

    match_subclass = True
    _dissecting = False
    _form = None
    #: Fields whose class default is what a packet made by hand gets (``ls()`` shows it),
    #: mapped to their value when the bytes do not carry them (a hello without
    #: extensions, a TLS 1.1 CertificateVerify without sig_alg): set on dissection.
    absent = {}

    def __init__(self, _pkt=b"", *args, ctx=None, **kargs):
        if ctx is None:
            ctx = _ctx_of(kargs)
        object.__setattr__(self, "tls_ctx", ctx)
        # Called by a user (``TLSClientHello(body)``), not while dissecting a layer above:
        # then bytes that do not fit are marked here instead of raising (see _mark_malformed).
        object.__setattr__(self, "_top_level", not (kargs.get("_internal") or
                                                    kargs.get("_parent") is not None or
                                                    kargs.get("_underlayer") is not None))
        if not _pkt and not kargs.get("_internal") and not getattr(_cloning, "on", False):
            self._craft_defaults(kargs)
        Packet.__init__(self, _pkt, *args, **kargs)

    def copy(self):
        clone = _without_defaults(Packet.copy, self)
        if self.tls_malformed:
            _mark_malformed(clone, None)
        return clone

    def clone_with(self, *args, **kargs):
        return _without_defaults(Packet.clone_with, self, *args, **kargs)

    def _craft_defaults(self, kargs):
        """Fill ``kargs`` with values a hand-built packet should get (fresh random ...)."""

    tls_malformed = False

    def dissect(self, s):
        object.__setattr__(self, "_dissecting", True)
        try:
            object.__setattr__(self, "_form", self.guess_form(s))
            Packet.dissect(self, s)
        except Exception:
            # Inside a dissection the layer above turns this into TLSMalformed; a packet
            # made directly from bytes has no layer above to do it.
            if conf.debug_dissector or not self._top_level:
                raise
            _mark_malformed(self, s)
        finally:
            object.__setattr__(self, "_dissecting", False)

    def do_dissect(self, s):
        s = Packet.do_dissect(self, s)
        for name, value in self.absent.items():
            if name not in self.fields:
                self.fields[name] = value
        return s

    def guess_form(self, s):
        """The wire form of this message for bytes ``s`` (classes with several forms)."""
        return None

    def form(self):
        """The wire form: decided from the bytes while dissecting, from the fields after."""
        if self._dissecting:
            return self._form
        return self.form_from_fields()

    def form_from_fields(self):
        return None

    def default_payload_class(self, payload):
        return TLSMalformed

    def mysummary(self):
        return self.name.replace("TLS ", "", 1)

    def _do_summary(self):
        # Scapy summarises only the deepest layer that has a summary; a stream of records
        # reads better when every TLS layer names itself.
        found, text, needed = Packet._do_summary(self)
        return found, text, needed + [c for c in _tls_classes() if c not in needed]

    def do_dissect_payload(self, s):
        if not s:
            return
        cls = self.guess_payload_class(s)
        try:
            p = cls(s, _internal=1, _underlayer=self)
        except Exception:
            if conf.debug_dissector:
                raise
            p = TLSMalformed(s, _internal=1, _underlayer=self)
        self.add_payload(p)

    def _content_len(self, pay, stop):
        """Bytes of ``pay`` that belong to this container: up to the next ``stop`` layer."""
        layer = self.payload
        while not isinstance(layer, NoPayload):
            if isinstance(layer, stop):
                # Only hand-built containers get here (a dissected length is kept), and
                # hand-built chains are short: building the tail again is cheap.
                return len(pay) - len(layer.do_build())
            layer = layer.payload
        return len(pay)


def _mark_malformed(pkt, data):
    """Turn ``pkt`` (dissected from ``data``, which did not fit its fields) into an empty
    layer of the same class followed by ``TLSMalformed(data)``: ``raw(pkt) == data``,
    ``show()`` lists no made-up field values, and ``haslayer(TLSMalformed)`` says it.
    ``data=None`` re-marks a copy, whose payload already holds the bytes."""
    for attr, value in (("fields", {}), ("raw_packet_cache", b""),
                        ("raw_packet_cache_fields", {}), ("fields_desc", []),
                        ("default_fields", dict(pkt.default_fields, **pkt.absent)),
                        ("tls_malformed", True)):
        object.__setattr__(pkt, attr, value)
    object.__setattr__(pkt, "mysummary",
                       lambda: "%s (malformed)" % pkt.name.replace("TLS ", "", 1))
    if data is not None:
        pkt.remove_payload()
        pkt.add_payload(TLSMalformed(data, _internal=1, _underlayer=pkt))


_TLS_CLASSES = []


def _tls_classes():
    if not _TLS_CLASSES:
        todo = [TLSPacket]
        while todo:
            cls = todo.pop()
            _TLS_CLASSES.append(cls)
            todo.extend(cls.__subclasses__())
    return _TLS_CLASSES


def _without_defaults(method, *args, **kargs):
    if getattr(_cloning, "on", False):
        return method(*args, **kargs)
    _cloning.on = True
    try:
        return method(*args, **kargs)
    finally:
        _cloning.on = False


class TLSMalformed(TLSPacket):
    """Bytes that could not be dissected as what they should be (truncated or garbage)."""

    name = "TLS malformed bytes"
    fields_desc = [StrField("load", b"")]

    def mysummary(self):
        return "TLS malformed (%d bytes)" % len(self.load or b"")


class TLSUndissected(TLSPacket):
    """Bytes left as they are because one packet already holds ``MAX_CHAIN`` records or
    messages: Scapy recurses once per layer, so a longer chain would exhaust the stack in
    ``raw()`` or ``show()``.  ``dissect_stream`` returns one packet per record instead."""

    name = "TLS bytes not dissected (use dissect_stream)"
    fields_desc = [StrField("load", b"")]

    def mysummary(self):
        return "not dissected (%d bytes)" % len(self.load or b"")


class NamedEnumMixin:
    """Enum fields print registry names, including GREASE and unknown_0x.. values."""

    table = None
    width = 4

    def i2repr_one(self, pkt, x):
        if isinstance(x, int) and self not in conf.noenum:
            return registry.name(self.table, x, self.width)
        return super().i2repr_one(pkt, x)


class TLSByteEnumField(NamedEnumMixin, ByteEnumField):
    width = 2

    def __init__(self, name, default, table):
        self.table = table
        ByteEnumField.__init__(self, name, default, table)


class TLSShortEnumField(NamedEnumMixin, ShortEnumField):
    def __init__(self, name, default, table):
        self.table = table
        ShortEnumField.__init__(self, name, default, table)


def VersionField(name, default=0x0303):
    return TLSShortEnumField(name, default, registry.VERSIONS)


class FieldLen24(FieldLenField):
    """A 24-bit length (handshake length, certificate vectors) computed when unset."""

    def __init__(self, name, default, **kargs):
        FieldLenField.__init__(self, name, default, fmt="!I", **kargs)
        self.sz = 3

    def addfield(self, pkt, s, val):
        return s + struct.pack("!I", self.i2m(pkt, val))[1:]

    def getfield(self, pkt, s):
        if len(s) < 3:
            raise struct.error("truncated 24-bit length")
        return s[3:], self.m2i(pkt, struct.unpack("!I", b"\x00" + s[:3])[0])


class FreshList(list):
    """A list default whose items are packets: Scapy gives each new packet
    ``default.copy()``, which here copies the items too, so changing an extension of one
    ClientHello does not change the next one's."""

    def copy(self):
        return [x.copy() for x in self]


class OptPacketListField(PacketListField):
    """A packet list that may be absent (``None``: not on the wire), not just empty."""

    def __init__(self, name, default, *args, **kargs):
        PacketListField.__init__(self, name, default, *args, **kargs)
        self.default = default

    def any2i(self, pkt, x):
        return None if x is None else PacketListField.any2i(self, pkt, x)


class OptFieldListField(FieldListField):
    """A list of values that may be absent (``None``), not just empty."""

    def __init__(self, name, default, *args, **kargs):
        FieldListField.__init__(self, name, default, *args, **kargs)
        self.default = default

    def any2i(self, pkt, x):
        return None if x is None else FieldListField.any2i(self, pkt, x)


def u16(data, offset=0):
    return (data[offset] << 8) | data[offset + 1]


def u24(data, offset=0):
    return (data[offset] << 16) | (data[offset + 1] << 8) | data[offset + 2]


def vec_ok(data, offset, size):
    """End offset of a ``size``-byte-length-prefixed vector at ``offset``, or None."""
    if offset + size > len(data):
        return None
    n = int.from_bytes(data[offset:offset + size], "big")
    end = offset + size + n
    return end if end <= len(data) else None
