"""One record layer for every role: framing, protection per direction, TLS 1.3 epochs.

Rules of this module:
- It turns bytes into ``(content_type, plaintext)`` and back; it never decides whether a
  message is welcome (the role's state table does).
- Each direction holds one protection at a time: ``NullProtection``, a TLS 1.0-1.2
  ``RecordProtection`` (CBC, EtM, AEAD) or a TLS 1.3 ``TLS13Protection`` (AEAD, inner content
  type, padding). A key change (ChangeCipherSpec, TLS 1.3 epoch, KeyUpdate) replaces it and
  restarts its sequence number.
- TLS 1.3 (RFC 8446 section 5): once a direction is protected, every record but a
  ChangeCipherSpec is ``application_data`` outside; a plaintext handshake or alert record
  there is ``unexpected_message``. A ChangeCipherSpec is passed through unprotected (whether
  it is allowed is the role's business).
- Early data a server refuses is skipped, not fatal: ``skip_early_data(limit)`` lets up to
  ``limit`` bytes of records that do not decrypt be dropped (RFC 8446 section 4.2.10).
- record_size_limit (RFC 8449): ``limit_sending`` / ``limit_receiving`` take the negotiated
  values; they bind protected records (section 4), from the next key change on (or at once,
  ``now``, for a TLS 1.3 client that learns them under handshake keys); in TLS 1.2 what we
  send after the peer's ChangeCipherSpec keeps to it too. In TLS 1.3 the limit counts the
  inner content type and padding, so content gets one byte less.
"""
from ..codec.records import RecordReader, encode_record
from ..crypto.record import NullProtection
from ..crypto.tls13 import TLS13Protection
from ..errors import AlertError

MAX_PLAINTEXT = 16384


_CCS, _ALERT, _HANDSHAKE, _APPDATA = 20, 21, 22, 23


def _tighter(a, b):
    """The smaller of two record size limits, None being no limit."""
    return b if a is None else a if b is None else min(a, b)


class RecordLayer:
    def __init__(self):
        self.reader = RecordReader()
        self.version = 0x0301           # legacy record version written
        self._read = self._write = NullProtection()
        self.read13 = self.write13 = False
        self.read_encrypted = self.write_encrypted = False
        self._skip_budget = 0
        self.pad13 = 0                  # bytes of TLS 1.3 padding added to each record
        self.max_fragment = MAX_PLAINTEXT
        # record_size_limit values (None: none) in force, and for the next key change
        self._send_limit = self._recv_limit = None
        self._next_send_limit = self._next_recv_limit = None

    # ------------------------------------------------------------ keys

    def set_read(self, protection):
        self._read = protection
        self.read13 = False
        self.read_encrypted = not isinstance(protection, NullProtection)
        self._recv_limit = self._next_recv_limit
        # A peer past its ChangeCipherSpec may hold us to its new limit already (tlslite-ng
        # does, for the NewSessionTicket that comes before ours): keep to both until ours.
        self._send_limit = _tighter(self._send_limit, self._next_send_limit)

    def set_write(self, protection):
        self._write = protection
        self.write13 = False
        self.write_encrypted = not isinstance(protection, NullProtection)
        self._send_limit = self._next_send_limit

    def set_read13(self, suite, secret, empty_aad=False):
        """``empty_aad``: a TLS 1.3 draft before 25 (the dissector reads old captures)."""
        self._read = TLS13Protection(suite, secret)
        self._read.empty_aad = empty_aad
        self.read13 = self.read_encrypted = True
        self._recv_limit = self._next_recv_limit

    def set_write13(self, suite, secret):
        self._write = TLS13Protection(suite, secret)
        self.write13 = self.write_encrypted = True
        self._send_limit = self._next_send_limit

    def limit_sending(self, limit, now=False):
        """The peer's record_size_limit (None: none) for our protected records."""
        self._next_send_limit = limit
        if now:
            self._send_limit = limit

    def limit_receiving(self, limit, now=False):
        """Our own record_size_limit, as the peer acknowledged it (None: none): a longer
        protected record is record_overflow (RFC 8449 section 4)."""
        self._next_recv_limit = limit
        if now:
            self._recv_limit = limit

    def skip_early_data(self, limit):
        """Drop up to ``limit`` bytes of records that fail to decrypt (refused 0-RTT)."""
        self._skip_budget = limit

    def stop_skipping(self):
        self._skip_budget = 0

    @property
    def skipping(self):
        return self._skip_budget > 0

    # ------------------------------------------------------------ input

    def feed(self, data):
        """Complete records in ``data`` (partial ones are kept). ``DecodeError`` on a bad
        header carries the records before it in ``.records``; a header announcing more than
        2^14 + 2048 bytes is the codec's ``RecordOverflow`` (RFC 5246 section 6.2.3)."""
        return self.reader.feed(data)

    @property
    def pending(self):
        return self.reader.pending

    def open(self, record):
        """``(content_type, plaintext)``, or None for a refused early-data record skipped."""
        ct, version, fragment = record
        if not self.read13:
            if ct == _APPDATA and self._skip_budget and not self.read_encrypted:
                return self._skip(record)
            # Both protections refuse a plaintext over 2^14 bytes (record_overflow).
            plaintext = self._read.open(ct, version, fragment)
            if self._recv_limit is not None and len(plaintext) > self._recv_limit and \
                    self.read_encrypted:
                raise AlertError("record_overflow", "record of %d bytes over our limit of %d"
                                 % (len(plaintext), self._recv_limit))
            return ct, plaintext
        if ct == _CCS:
            return ct, record.fragment
        if ct != _APPDATA:
            raise AlertError("unexpected_message",
                             "unprotected record of content type %d after the keys changed" % ct)
        if self._skip_budget:
            seq = self._read.seq
            try:
                return self._read.open(record.fragment, version)
            except AlertError as exc:
                if exc.description != "bad_record_mac":
                    raise
                self._read.seq = seq        # a skipped record does not count
                return self._skip(record)
        if self._recv_limit is not None and \
                len(fragment) - self._read.suite.tag_len > self._recv_limit:
            raise AlertError("record_overflow", "TLSInnerPlaintext over our limit of %d"
                             % self._recv_limit)
        return self._read.open(record.fragment, version)

    def _skip(self, record):
        size = len(record.fragment)
        if size > self._skip_budget:
            raise AlertError("unexpected_message", "more early data than allowed")
        self._skip_budget -= size
        return None

    # ------------------------------------------------------------ output

    def seal_plain(self, content_type, payload):
        """A record outside any protection (a TLS 1.3 compatibility CCS)."""
        return encode_record(content_type, 0x0303, payload)    # RFC 8446 section 5.1

    def seal(self, content_type, payload):
        """Records carrying ``payload`` (split at the fragment limit) as bytes."""
        limit = self.max_fragment
        if self.write13:
            limit = max(1, min(limit, self._inner_limit() - 1 - self._pad13()))
        elif self._send_limit is not None:
            limit = min(limit, self._send_limit)
        if len(payload) <= limit:
            # Nearly every call: one record, no view, slices or joining (benchmarks/README.md).
            return self._seal_one(content_type, bytes(payload))
        out = bytearray()
        view = memoryview(payload)
        for i in range(0, len(view), limit):
            out += self._seal_one(content_type, bytes(view[i:i + limit]))
        return bytes(out)

    def _seal_one(self, content_type, chunk):
        if self.write13 and content_type != _CCS:
            return encode_record(_APPDATA, 0x0303,
                                 self._write.seal(content_type, chunk, self._pad13()))
        version = self.version
        return encode_record(content_type, version,
                             self._write.seal(content_type, version, chunk))

    def _inner_limit(self):
        """The largest TLSInnerPlaintext we may send (RFC 8446 5.4, RFC 8449 section 4)."""
        if self._send_limit is None:
            return MAX_PLAINTEXT + 1
        return min(self._send_limit, MAX_PLAINTEXT + 1)

    def _pad13(self):
        """The padding asked for, cut so that one content byte still fits the limit."""
        return max(0, min(self.pad13, self._inner_limit() - 2))
