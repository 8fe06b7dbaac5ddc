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
"""
from ..codec.records import RecordReader, encode_record
from ..crypto.record import NullProtection
from ..crypto.tls13 import TLS13Protection
from ..errors import AlertError

MAX_PLAINTEXT = 16384
_CCS, _ALERT, _HANDSHAKE, _APPDATA = 20, 21, 22, 23


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

    # ------------------------------------------------------------ keys

    def set_read(self, protection):
        self._read = protection
        self.read13 = False
        self.read_encrypted = not isinstance(protection, NullProtection)

    def set_write(self, protection):
        self._write = protection
        self.write13 = False
        self.write_encrypted = not isinstance(protection, NullProtection)

    def set_read13(self, suite, secret):
        self._read = TLS13Protection(suite, secret)
        self.read13 = self.read_encrypted = True

    def set_write13(self, suite, secret):
        self._write = TLS13Protection(suite, secret)
        self.write13 = self.write_encrypted = True

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
        header carries the records before it in ``.records``."""
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
            return ct, self._read.open(ct, version, fragment)
        if ct == _CCS:
            return ct, record.fragment
        if ct != _APPDATA:
            raise AlertError("unexpected_message",
                             "unprotected record of content type %d after the keys changed" % ct)
        if self._skip_budget:
            seq = self._read.seq
            try:
                return self._read.open(record.fragment)
            except AlertError as exc:
                if exc.description != "bad_record_mac":
                    raise
                self._read.seq = seq        # a skipped record does not count
                return self._skip(record)
        return self._read.open(record.fragment)

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
        if self.write13 and self.pad13:
            limit = max(1, min(limit, MAX_PLAINTEXT - self.pad13))
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
                                 self._write.seal(content_type, chunk, self.pad13))
        version = self.version
        return encode_record(content_type, version,
                             self._write.seal(content_type, version, chunk))
