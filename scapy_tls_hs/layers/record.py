"""The record layer (RFC 5246 §6.2) and the handshake message header (§7.4).

Several records in one byte string dissect as a chain ``TLSRecord/<content>/TLSRecord/...``;
several handshake messages in one record as ``TLSHandshake/<body>/TLSHandshake/<body>``.
Lengths and types left unset are computed on build, counting only the layers up to the
next record (or handshake header).
"""
import struct

from scapy.config import conf
from scapy.fields import ByteField, ShortField, StrField, ThreeBytesField
from scapy.layers.inet import TCP
from scapy.packet import bind_layers

from .. import registry
from .fields import (HANDSHAKE_CHOOSERS, HANDSHAKE_CLASSES, MAX_CHAIN, TLSByteEnumField,
                     TLSContext, TLSMalformed, TLSPacket, TLSUndissected, VersionField, u16,
                     u24)

TLS_PORTS = (443, 465, 636, 853, 993, 995, 8443, 4433)

#: Largest TLSCiphertext.length (RFC 5246 §6.2.3): 2^14 + 2048.
MAX_RECORD_LEN = 16384 + 2048


class TLSEncryptedContent(TLSPacket):
    """Record content that is protected (or otherwise not parseable as plaintext)."""

    name = "TLS encrypted content"
    fields_desc = [StrField("load", b"")]

    def mysummary(self):
        return "encrypted (%d bytes)" % len(self.load or b"")


class TLSHandshakeFragment(TLSPacket):
    """Part of a handshake message spread over several records: reassemble the record
    contents and dissect them with ``TLSHandshake(data)`` (see ``handshake_messages``)."""

    name = "TLS handshake fragment"
    content_type = 22
    fields_desc = [StrField("load", b"")]

    def mysummary(self):
        return "handshake fragment (%d bytes)" % len(self.load or b"")


class TLSChangeCipherSpec(TLSPacket):
    name = "TLS ChangeCipherSpec"
    content_type = 20
    fields_desc = [ByteField("msg", 1)]

    def mysummary(self):
        return "ChangeCipherSpec"


class TLSAlert(TLSPacket):
    name = "TLS Alert"
    content_type = 21
    fields_desc = [TLSByteEnumField("level", 2, registry.ALERT_LEVELS),
                   TLSByteEnumField("description", 40, registry.ALERT_DESCRIPTIONS)]

    def mysummary(self):
        return "Alert %s %s" % (registry.name(registry.ALERT_LEVELS, self.level, 2),
                                registry.name(registry.ALERT_DESCRIPTIONS, self.description, 2))


class TLSApplicationData(TLSPacket):
    name = "TLS Application Data"
    content_type = 23
    fields_desc = [StrField("data", b"")]

    def mysummary(self):
        return "ApplicationData (%d bytes)" % len(self.data or b"")


def plaintext_handshake(content, partial=True):
    """Whether record ``content`` reads as plaintext handshake messages.

    True when consecutive message headers of registered types fill the content exactly, or
    (with ``partial``) when the last one is the start of a longer message (a fragment: its
    length must be plausible, below 2^14, or 2^17 for a large record).  Encrypted bytes
    rarely pass: a random type byte is seldom registered and a random 24-bit length seldom
    that small; they practically never fill the record exactly.
    """
    i, n = 0, len(content)
    if n < 4:
        return False
    while i + 4 <= n:
        if content[i] not in registry.HANDSHAKE_TYPES:
            return False
        length = u24(content, i + 1)
        if i + 4 + length > n:
            return partial and (length < (1 << 14) or (n >= 256 and length < (1 << 17)))
        i += 4 + length
    return i == n


class TLSRecord(TLSPacket):
    """TLSPlaintext / TLSCiphertext (RFC 5246 §6.2.1).

    ``TLSRecord(data)`` dissects every record in ``data``; the content class follows the
    type: ChangeCipherSpec, Alert, Handshake, ApplicationData; protected content becomes
    ``TLSEncryptedContent``; other types stay raw bytes.  Within one call the context is
    followed: handshake records after a ChangeCipherSpec are encrypted, a message continued
    in the next record becomes a ``TLSHandshakeFragment``.  One packet holds at most
    ``MAX_CHAIN`` records (the rest stays as ``TLSUndissected``); ``dissect_stream`` gives
    one packet per record for streams of any length.
    """

    name = "TLS Record"
    fields_desc = [TLSByteEnumField("type", None, registry.CONTENT_TYPES),
                   VersionField("version", 0x0303),
                   ShortField("len", None)]

    def __init__(self, _pkt=b"", *args, _no_chain=False, **kargs):
        object.__setattr__(self, "_no_chain", _no_chain)
        object.__setattr__(self, "_rest", b"")
        TLSPacket.__init__(self, _pkt, *args, **kargs)

    @classmethod
    def dispatch_hook(cls, _pkt=None, *args, **kargs):
        if _pkt is not None and 0 < len(_pkt) < 5:
            return TLSMalformed
        if _pkt and isinstance(kargs.get("_underlayer"), TCP) and not looks_like_record(_pkt):
            # A segment on a TLS port that does not start a record (the middle of one,
            # or another protocol) stays raw bytes.
            return conf.raw_layer
        return cls

    def dissect(self, s):
        if self.tls_ctx is None:
            object.__setattr__(self, "tls_ctx", TLSContext())
        rest = self._dissect_one(s)
        if self._no_chain:
            object.__setattr__(self, "_rest", rest)
            return
        _chain(self, rest, 5, lambda data: TLSRecord(data, _internal=1, ctx=self.tls_ctx,
                                                     _no_chain=True))

    def _dissect_one(self, s):
        object.__setattr__(self, "_dissecting", True)
        try:
            s = self.do_dissect(s)
            content, rest = s[:self.len], s[self.len:]
            ctx = self.tls_ctx
            if len(content) < self.len:
                self.add_payload(TLSMalformed(content, _internal=1, _underlayer=self))
                return rest
            if self.type == 22 and ctx.pending and not ctx.encrypted:
                k = min(ctx.pending, len(content))
                ctx.pending -= k
                self.add_payload(TLSHandshakeFragment(content[:k], _internal=1,
                                                      _underlayer=self))
                content = content[k:]
            self.do_dissect_payload(content)
            if ctx.encrypted is None and isinstance(self.payload, TLSHandshake):
                # Read from the start of the handshake: plaintext until ChangeCipherSpec.
                ctx.encrypted = False
            if self.type == 20 and isinstance(self.payload, TLSChangeCipherSpec):
                ctx.encrypted = True
            return rest
        finally:
            object.__setattr__(self, "_dissecting", False)

    def guess_payload_class(self, content):
        ctx, t = self.tls_ctx, self.type
        # Content that does not read as its type is protected after ChangeCipherSpec, and
        # when nothing says otherwise (a record alone); known plaintext it is malformed.
        unreadable = TLSMalformed if ctx.encrypted is False else TLSEncryptedContent
        if t == 20:
            return TLSChangeCipherSpec if len(content) == 1 else unreadable
        if t == 21:
            # Protection adds at least a MAC or tag: two bytes are always a plain alert.
            return TLSAlert if len(content) == 2 else unreadable
        if t == 22:
            # After ChangeCipherSpec only whole messages count as plaintext: TLS 1.3
            # middlebox-compatibility CCS is followed by a plaintext second ClientHello.
            if plaintext_handshake(content, partial=not ctx.encrypted):
                return TLSHandshake
            return unreadable
        if t == 23:
            return TLSApplicationData
        return conf.raw_layer

    def post_build(self, pkt, pay):
        if self.type is None:
            ctype = getattr(self.payload, "content_type", None) or 23
            pkt = struct.pack("!B", ctype) + pkt[1:]
        if self.len is None:
            n = self._content_len(pay, TLSRecord)
            pkt = pkt[:3] + struct.pack("!H", n) + pkt[5:]
        return pkt + pay

    def mysummary(self):
        version = registry.name(registry.VERSIONS, self.version)
        if isinstance(self.payload, (TLSChangeCipherSpec, TLSAlert, TLSHandshake,
                                     TLSApplicationData, TLSHandshakeFragment)):
            return version          # the content layer says what it is
        ctype = self.type
        if ctype is None:
            ctype = getattr(self.payload, "content_type", None) or 23
        return "%s %s" % (version, registry.name(registry.CONTENT_TYPES, ctype, 2))

    @classmethod
    def tcp_reassemble(cls, data, metadata, session):
        """For ``sniff(session=TCPSession)``: return the complete records at the head of
        ``data``; an incomplete last record waits for more segments."""
        i, n = 0, len(data)
        while i + 5 <= n:
            if not looks_like_record(data, i):
                break
            end = i + 5 + u16(data, i + 3)
            if end > n:
                break
            i = end
        if i == 0:
            if n >= 5 and not looks_like_record(data, 0):
                return conf.raw_layer(data)
            return cls(data) if metadata.get("tcp_end") else None
        ctx = None
        ident = metadata.get("ident")
        if isinstance(session, dict) and ident is not None:
            # One context per direction, so a ChangeCipherSpec or a message continued in
            # a later record is still known when the next records arrive.
            ctx = session.setdefault(("scapy_tls_hs", ident), TLSContext())
        pkt = cls(data[:i], ctx=ctx)
        if i < n:
            pkt.add_payload(conf.padding_layer(data[i:]))
        return pkt


def _chain(first, rest, header_len, make):
    """Dissect the units that follow ``first`` in ``rest`` (records, or handshake messages
    in one record) as its payload chain: in a loop, not by recursion, so a long stream does
    not exhaust the stack; at most ``MAX_CHAIN`` units, a short tail is ``TLSMalformed``.
    ``make(data)`` dissects one unit and leaves what follows it in ``._rest``."""
    last, count = first, 1
    while rest:
        if len(rest) < header_len:
            nxt, rest = TLSMalformed(rest, _internal=1), b""
        elif count >= MAX_CHAIN:
            nxt, rest = TLSUndissected(rest, _internal=1), b""
        else:
            nxt = make(rest)
            rest = nxt._rest
        last.add_payload(nxt)
        last, count = nxt, count + 1


def looks_like_record(data, i=0):
    """A plausible record header at ``data[i:]``: known type, major version 3, sane length."""
    return (20 <= data[i] <= 24 and data[i + 1] == 3 and data[i + 2] <= 4
            and u16(data, i + 3) <= MAX_RECORD_LEN)


class TLSHandshake(TLSPacket):
    """A handshake message header: msg_type and 24-bit length, the body as payload.

    ``TLSHandshake(data)`` also dissects a message reassembled from several records.
    """

    name = "TLS Handshake"
    content_type = 22
    fields_desc = [TLSByteEnumField("msg_type", None, registry.HANDSHAKE_TYPES),
                   ThreeBytesField("len", None)]

    @classmethod
    def dispatch_hook(cls, _pkt=None, *args, **kargs):
        if _pkt is not None and 0 < len(_pkt) < 4:
            return TLSMalformed
        return cls

    def dissect(self, s):
        _chain(self, self._dissect_one(s), 4,
               lambda data: TLSHandshake(data, _internal=1, ctx=self.tls_ctx, _one=True))

    def __init__(self, _pkt=b"", *args, _one=False, **kargs):
        object.__setattr__(self, "_one", _one)
        object.__setattr__(self, "_rest", b"")
        TLSPacket.__init__(self, _pkt, *args, **kargs)

    def _dissect_one(self, s):
        object.__setattr__(self, "_dissecting", True)
        try:
            s = self.do_dissect(s)
            body, rest = s[:self.len], s[self.len:]
            cls = self.guess_payload_class(body)
            if not body and cls is not TLSMalformed and not cls.fields_desc:
                # Empty messages (ServerHelloDone ...) still get their layer.
                self.add_payload(cls(_internal=1, _underlayer=self))
            else:
                self.do_dissect_payload(body)
        finally:
            object.__setattr__(self, "_dissecting", False)
        if self._one:
            object.__setattr__(self, "_rest", rest)
            return b""
        return rest

    def guess_payload_class(self, body):
        ctx = self.tls_ctx
        if len(body) < self.len:
            if ctx is not None:
                ctx.pending = self.len - len(body)
            return TLSHandshakeFragment
        chooser = HANDSHAKE_CHOOSERS.get(self.msg_type)
        if chooser is not None:
            try:
                return chooser(body, ctx)
            except Exception:
                return TLSMalformed
        return HANDSHAKE_CLASSES.get(self.msg_type, conf.raw_layer)

    def post_build(self, pkt, pay):
        if self.msg_type is None:
            mtype = getattr(self.payload, "hs_type", None)
            pkt = struct.pack("!B", 0 if mtype is None else mtype) + pkt[1:]
        if self.len is None:
            n = self._content_len(pay, (TLSHandshake, TLSRecord))
            pkt = pkt[:1] + struct.pack("!I", n)[1:] + pkt[4:]
        return pkt + pay

    show_summary = False

    def mysummary(self):
        # The message layer names itself; the header only speaks for a missing body.
        if isinstance(self.payload, TLSPacket) and \
                not isinstance(self.payload, (TLSHandshakeFragment, TLSMalformed)):
            return ""
        return registry.name(registry.HANDSHAKE_TYPES, self.msg_type or 0, 2)


def split_records(data):
    """The complete records at the head of ``data`` as byte strings, and the rest."""
    out, i, n = [], 0, len(data)
    while i + 5 <= n:
        end = i + 5 + u16(data, i + 3)
        if end > n:
            break
        out.append(data[i:end])
        i = end
    return out, data[i:]


def dissect_stream(data, ctx=None):
    """One direction of a TLS connection -> list of ``TLSRecord`` (one packet per record).

    The records share ``ctx`` so the context carries over (ChangeCipherSpec, fragments,
    negotiated version).  Trailing bytes that do not make a complete record end the list as
    a ``TLSMalformed``.
    """
    ctx = ctx or TLSContext()
    records, rest = split_records(data)
    out = [TLSRecord(r, ctx=ctx) for r in records]
    if rest:
        out.append(TLSMalformed(rest))
    return out


def dissect_connection(records, version=None, key_exchange=None):
    """Both directions of a connection -> list of ``TLSRecord``, one per record, in order.

    ``records``: iterable of ``(direction, record_bytes, decrypted)`` in wire order, with
    direction "client" or "server" and ``decrypted`` true when the record's content was
    replaced by its plaintext (TLS 1.3: under the inner content type).  Each direction has
    its own context (ChangeCipherSpec, fragments); the version and key exchange learnt from
    the ServerHello (or given) apply to both, so e.g. a TLS 1.3 Certificate or a TLS 1.0
    CertificateVerify takes the right form.
    """
    ctxs = {d: TLSContext(version, key_exchange) for d in ("client", "server")}
    out = []
    for direction, data, decrypted in records:
        ctx = ctxs[direction]
        protected = ctx.encrypted
        if decrypted:
            ctx.encrypted = False
        out.append(TLSRecord(data, ctx=ctx) if len(data) >= 5 else TLSMalformed(data))
        if decrypted:
            ctx.encrypted = protected or ctx.encrypted
        for other in ctxs.values():
            other.version = other.version or ctx.version
            other.key_exchange = other.key_exchange or ctx.key_exchange
    return out


def handshake_messages(records):
    """Reassemble the plaintext handshake messages of ``records`` (one direction).

    Returns a list of ``TLSHandshake`` packets, each dissected from a complete message even
    when it spanned several records.  Encrypted handshake records are skipped.
    """
    buf, out = b"", []
    ctx = TLSContext()
    for rec in records:
        if not isinstance(rec, TLSRecord):
            continue
        content = _record_content(rec)
        if rec.type == 22 and content is not None:
            buf += content
            while len(buf) >= 4 and len(buf) >= 4 + u24(buf, 1):
                n = 4 + u24(buf, 1)
                out.append(TLSHandshake(buf[:n], ctx=ctx))
                buf = buf[n:]
    return out


def _record_content(rec):
    """The plaintext content bytes of one record, or None when it is encrypted."""
    layer = rec.payload
    if isinstance(layer, TLSEncryptedContent):
        return None
    return bytes(rec)[5:5 + rec.len]


for _port in TLS_PORTS:
    bind_layers(TCP, TLSRecord, sport=_port)
    bind_layers(TCP, TLSRecord, dport=_port)
del _port
