"""Read pcap and pcapng files with ``struct`` only (no Scapy: it is far too slow for this).

``read_packets(path)`` checks the file header at once and returns a ``PacketReader``: an
iterator of ``(timestamp: float, linktype: int, data: bytes)``, one per captured packet.

A regular file is mapped and read in place. A pipe or device (``/dev/stdin``) is read as it
comes: its format from its first bytes (an endless stream of something else is refused at
once), then one packet record or block at a time. A gzip-compressed capture (RFC 1952,
found by its magic bytes, whatever its name) is decompressed as it is read, the same way;
``position`` is how far into the compressed file the reader is.

Errors, by design:

- A file that cannot be opened, is empty, or does not start with a pcap or pcapng magic
  raises ``CaptureError("NAME: not a pcap or pcapng file")`` (or ``"NAME: <OS error>"``)
  from ``read_packets`` itself, before any packet is read.
- Damage *inside* a readable capture never raises out of the iteration, because the
  packets read so far are still worth dissecting. The iteration just ends, and the reader
  records what happened: after the loop, ``reader.truncated`` is True when the file ends
  in the middle of a record/block (or a length field is absurd, which means the rest is
  garbage), and ``reader.errors`` holds one readable line per problem, e.g.
  ``"NAME: capture truncated after 120 packets (incomplete packet record at byte 98304)"``
  or ``"NAME: packet for unknown pcapng interface 3 skipped"``. A dissector copies these
  lines into its report's ``errors``.

Formats (draft-ietf-opsawg-pcap and draft-ietf-opsawg-pcapng):

- pcap: either byte order; magic 0xA1B2C3D4 (microsecond), 0xA1B23C4D (nanosecond),
  0xA1B2CD34 (Kuznetzov's modified pcap: 8 more bytes per record header). The link type is
  the low 16 bits of the header's LinkType field (the high bits carry FCS information).
- pcapng: Section Header Blocks of either byte order (a file may hold several sections,
  each with its own interfaces); Interface Description Blocks give each interface its link
  type, ``if_tsresol`` (option 9) and ``if_tsoffset`` (option 14); Enhanced (6), Simple (3)
  and obsolete Packet Blocks (2) give packets; every other block is skipped by its length.
  A Simple Packet Block has no timestamp: it gets the previous packet's. Decryption
  Secrets Blocks (10) are collected, as they are met, in ``reader.secrets`` as
  ``(secrets_type, data)``; type ``TLS_KEYLOG`` (0x544C534B) is an NSS key log.
"""
import mmap
import os
import stat
import struct

from ..errors import CaptureError

__all__ = ["read_packets", "PacketReader"]

PCAP_MAGICS = {
    # magic as read little-endian -> (byte order, fraction units per second, record header)
    0xA1B2C3D4: ("<", 10**6, 16),
    0xD4C3B2A1: (">", 10**6, 16),
    0xA1B23C4D: ("<", 10**9, 16),
    0x4D3CB2A1: (">", 10**9, 16),
    0xA1B2CD34: ("<", 10**6, 24),
    0x34CDB2A1: (">", 10**6, 24),
}
PCAPNG_SHB = 0x0A0D0D0A
GZIP_MAGIC = b"\x1f\x8b"  # RFC 1952
TLS_KEYLOG = 0x544C534B  # "TLSK": Decryption Secrets Block holding an NSS key log
BYTE_ORDER_MAGIC = 0x1A2B3C4D

# A captured packet longer than this is not a packet: the length field is garbage.
MAX_PACKET = 1 << 26
# The pages of a mapped file count in the process's memory once read: every this many
# bytes, the ones already read are given back (the kernel keeps them in its page cache).
DROP_EVERY = 8 << 20

_U32LE = struct.Struct("<I")


class PacketReader:
    """Iterator over one capture file's packets; see the module docstring for errors."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self.name = str(path)
        self.errors = []
        self.truncated = False
        self.packets = 0
        self.format = None
        self.secrets = []       # pcapng Decryption Secrets Blocks: (secrets type, bytes)
        self._buf = None
        self._file = None
        self._dropped = 0       # bytes at the start of a mapped file given back already
        self._stream = False    # a pipe or device: read as it comes, never all at once
        self.compressed = False  # gzip: decompressed as it is read, like a pipe
        self._raw = None        # gzip: the compressed file under the decompressor
        self._order = "<"       # pcapng: the current section's byte order and interfaces
        self._interfaces = []
        self._last_ts = 0.0
        self._open()
        if self._stream:
            self._iter = self._pcap_stream() if self.format == "pcap" else self._pcapng_stream()
        else:
            self._iter = self._pcap() if self.format == "pcap" else self._pcapng()

    # -- opening -----------------------------------------------------------------------

    def _open(self):
        try:
            f = open(self.path, "rb")
        except OSError as e:
            raise CaptureError("%s: %s" % (self.name, e.strerror or e)) from None
        try:
            st = os.fstat(f.fileno())
            regular = stat.S_ISREG(st.st_mode)
            head = os.pread(f.fileno(), 2, 0) if regular else _read_full(f, 2)
            if head == GZIP_MAGIC:
                self._open_gzip(f, regular, head)
                buf = self._read(12)
            elif not regular:
                # A pipe or device (``/dev/stdin``): the format from its first bytes, the
                # packets as they come; an endless stream of something else ends here.
                self._stream = True
                buf = head + _read_full(f, 10)
            elif st.st_size > 0:
                try:
                    buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
                except (OSError, ValueError):
                    buf = f.read()
            else:
                buf = f.read()
        except OSError as e:
            f.close()
            raise CaptureError("%s: %s" % (self.name, e.strerror or e)) from None
        if self._file is None:
            self._file = f
        self._buf = buf
        if len(buf) >= 4:
            magic = _U32LE.unpack_from(buf, 0)[0]
            if magic in PCAP_MAGICS:
                self.format = "pcap"
                return
            if magic == PCAPNG_SHB:
                if len(buf) >= 12:
                    bom = buf[8:12]
                    if bom in (b"\x4d\x3c\x2b\x1a", b"\x1a\x2b\x3c\x4d"):
                        self.format = "pcapng"
                        return
                elif len(buf) > 4:
                    self.format = "pcapng"  # a cut-off section header: reported as truncated
                    return
        self._release()
        if self.compressed:
            raise CaptureError(self.errors[0] if self.errors else
                               "%s: gzip file that holds no pcap or pcapng" % self.name)
        raise CaptureError("%s: not a pcap or pcapng file" % self.name)

    def _open_gzip(self, f, regular, head):
        """A gzip-compressed capture (``.pcap.gz``, ``.pcapng.gz``): decompressed as it is
        read, like a pipe, whatever its name says."""
        import gzip
        self.compressed = True
        self._stream = True
        self._raw = f
        self._file = gzip.GzipFile(fileobj=f if regular else _Prefixed(head, f), mode="rb")

    def _read(self, n):
        """``n`` bytes of a pipe or gzip stream (fewer at its end). Damaged or cut gzip data
        ends the stream like a cut file: the reason is the first line of ``errors``."""
        if not self.compressed:
            return _read_full(self._file, n)
        import zlib
        try:
            return _read_full(self._file, n)
        except (EOFError, zlib.error, OSError) as exc:
            self.errors.append("%s: gzip data %s" % (
                self.name, "ends early" if isinstance(exc, EOFError) else
                "damaged (%s)" % (getattr(exc, "strerror", None) or exc)))
            return b""

    @property
    def position(self):
        """Bytes of the file read so far, for a progress bar (0 when unknown)."""
        try:
            return self._raw.tell() if self._raw is not None else 0
        except (OSError, ValueError):
            return 0

    def close(self):
        """Stop the iteration and release the file (done by itself when the iteration ends)."""
        self._iter.close()
        self._release()

    def _release(self):
        if isinstance(self._buf, mmap.mmap):
            self._buf.close()
        self._buf = None
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._raw is not None:
            self._raw.close()
            self._raw = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __iter__(self):
        # The generator itself: a ``for`` over the reader then costs no call per packet.
        return self._iter

    def __next__(self):
        return next(self._iter)

    def _drop(self, buf, upto):
        """Give back the mapped pages before ``upto`` (read, never needed again)."""
        if not isinstance(buf, mmap.mmap):
            self._dropped = upto
            return
        end = upto - upto % mmap.PAGESIZE
        if end > self._dropped:
            try:
                buf.madvise(mmap.MADV_DONTNEED, self._dropped, end - self._dropped)
            except (AttributeError, OSError, ValueError):
                pass            # not everywhere: the pages then just stay
            self._dropped = end

    def _truncated(self, what, offset):
        self.truncated = True
        self.errors.append("%s: capture truncated after %d packets (%s at byte %d)"
                           % (self.name, self.packets, what, offset))

    # -- pcap ----------------------------------------------------------------------------

    def _pcap(self):
        try:
            buf = self._buf
            size = len(buf)
            order, per_sec, rec_size = PCAP_MAGICS[_U32LE.unpack_from(buf, 0)[0]]
            if size < 24:
                self._truncated("incomplete file header", 0)
                return
            linktype = struct.unpack_from(order + "I", buf, 20)[0] & 0xFFFF
            rec = struct.Struct(order + "IIII")
            unpack_rec = rec.unpack_from
            pos = 24
            while pos < size:
                if pos + rec_size > size:
                    self._truncated("incomplete packet header", pos)
                    return
                sec, frac, incl, _orig = unpack_rec(buf, pos)
                if incl > MAX_PACKET:
                    self._truncated("impossible packet length %d" % incl, pos)
                    return
                start = pos + rec_size
                end = start + incl
                if end > size:
                    self._truncated("incomplete packet record", pos)
                    return
                self.packets += 1
                # One correctly rounded division: the same float as pcapng's for the same time.
                yield (sec * per_sec + frac) / per_sec, linktype, buf[start:end]
                pos = end
                if pos - self._dropped > DROP_EVERY:
                    self._drop(buf, pos)
        finally:
            self._release()

    # -- pcapng --------------------------------------------------------------------------

    def _pcapng(self):
        try:
            yield from self._pcapng_blocks()
        finally:
            self._release()

    def _pcapng_blocks(self):
        buf = self._buf
        size = len(buf)
        pos = 0
        while pos < size:
            if pos + 12 > size:
                self._truncated("incomplete block header", pos)
                return
            blen = self._block_length(buf, pos)
            if blen is None:
                return
            end = pos + blen
            if end > size:
                self._truncated("incomplete block", pos)
                return
            yield from self._block(buf, pos, end)
            pos = end
            if pos - self._dropped > DROP_EVERY:
                self._drop(buf, pos)

    def _block_length(self, buf, pos):
        """The length of the block at ``pos`` (a Section Header Block sets the byte order
        first), or None when it cannot be a block: the rest of the file is not read."""
        if _U32LE.unpack_from(buf, pos)[0] == PCAPNG_SHB:
            bom = buf[pos + 8:pos + 12]
            if bom == b"\x4d\x3c\x2b\x1a":
                self._order = "<"
            elif bom == b"\x1a\x2b\x3c\x4d":
                self._order = ">"
            else:
                self._truncated("bad section header", pos)
                return None
            self._interfaces = []
        blen = struct.unpack_from(self._order + "I", buf, pos + 4)[0]
        if blen < 12 or blen % 4 or blen > MAX_PACKET:
            self._truncated("impossible block length %d" % blen, pos)
            return None
        return blen

    def _block(self, buf, pos, end):
        """The packets of the whole block ``buf[pos:end]`` (none for most block types)."""
        order = self._order
        interfaces = self._interfaces
        btype = struct.unpack_from(order + "I", buf, pos)[0]
        body = pos + 8
        body_end = end - 4
        if btype == 6 or btype == 2:  # Enhanced Packet Block / obsolete Packet Block
            what = "enhanced packet block" if btype == 6 else "packet block"
            start = body + 20
            if start > body_end:
                self._bad_block(what, pos)
                return
            if btype == 6:
                ifid, hi, lo, caplen, _orig = struct.unpack_from(order + "IIIII", buf, body)
            else:
                ifid, _drops, hi, lo, caplen, _orig = struct.unpack_from(
                    order + "HHIIII", buf, body)
            if start + caplen > body_end:
                self._bad_block(what, pos)
                return
            if ifid >= len(interfaces):
                self.errors.append("%s: packet for unknown pcapng interface %d skipped"
                                   % (self.name, ifid))
                return
            linktype, per_sec, offset = interfaces[ifid]
            self._last_ts = ((hi << 32) | lo) / per_sec + offset
            self.packets += 1
            yield self._last_ts, linktype, buf[start:start + caplen]
        elif btype == 3:  # Simple Packet Block: interface 0, no timestamp
            if not interfaces or body + 4 > body_end:
                self._bad_block("simple packet block", pos)
                return
            orig = struct.unpack_from(order + "I", buf, body)[0]
            caplen = min(orig, body_end - body - 4)
            self.packets += 1
            yield self._last_ts, interfaces[0][0], buf[body + 4:body + 4 + caplen]
        elif btype == 10:  # Decryption Secrets Block: e.g. an embedded TLS key log
            if body + 8 <= body_end:
                stype, slen = struct.unpack_from(order + "II", buf, body)
                if body + 8 + slen <= body_end:
                    self.secrets.append((stype, buf[body + 8:body + 8 + slen]))
        elif btype == 1:  # Interface Description Block
            if body + 8 > body_end:
                self._bad_block("interface description block", pos)
                interfaces.append((0xFFFF, 10**6, 0))
            else:
                interfaces.append(self._idb(buf, body, body_end, order))

    # -- pipes and devices: the same formats, read as they come ---------------------------

    def _pcap_stream(self):
        try:
            head = self._buf + self._read(12)
            order, per_sec, rec_size = PCAP_MAGICS[_U32LE.unpack_from(head, 0)[0]]
            if len(head) < 24:
                self._truncated("incomplete file header", 0)
                return
            linktype = struct.unpack_from(order + "I", head, 20)[0] & 0xFFFF
            unpack_rec = struct.Struct(order + "IIII").unpack_from
            pos = 24
            while True:
                header = self._read(rec_size)
                if not header:
                    return
                if len(header) < rec_size:
                    self._truncated("incomplete packet header", pos)
                    return
                sec, frac, incl, _orig = unpack_rec(header, 0)
                if incl > MAX_PACKET:
                    self._truncated("impossible packet length %d" % incl, pos)
                    return
                data = self._read(incl)
                if len(data) < incl:
                    self._truncated("incomplete packet record", pos)
                    return
                self.packets += 1
                yield (sec * per_sec + frac) / per_sec, linktype, data
                pos += rec_size + incl
        finally:
            self._release()

    def _pcapng_stream(self):
        try:
            head = self._buf
            pos = 0
            while True:
                head += self._read(12 - len(head))
                if not head:
                    return
                if len(head) < 12:
                    self._truncated("incomplete block header", pos)
                    return
                blen = self._block_length(head, 0)
                if blen is None:
                    return
                block = head + self._read(blen - 12)
                if len(block) < blen:
                    self._truncated("incomplete block", pos)
                    return
                yield from self._block(block, 0, blen)
                pos += blen
                head = b""
        finally:
            self._release()

    def _bad_block(self, what, pos):
        self.errors.append("%s: malformed pcapng %s at byte %d skipped" % (self.name, what, pos))

    @staticmethod
    def _idb(buf, body, body_end, order):
        """(linktype, timestamp units per second, seconds offset) from an IDB body."""
        linktype = struct.unpack_from(order + "H", buf, body)[0]
        per_sec = 10**6
        offset = 0
        pos = body + 8
        opt = struct.Struct(order + "HH")
        while pos + 4 <= body_end:
            code, length = opt.unpack_from(buf, pos)
            if code == 0:
                break
            value = pos + 4
            if value + length > body_end:
                break
            if code == 9 and length >= 1:
                res = buf[value]
                per_sec = 2 ** (res & 0x7F) if res & 0x80 else 10 ** res
            elif code == 14 and length >= 8:
                offset = struct.unpack_from(order + "q", buf, value)[0]
            pos = value + ((length + 3) & ~3)
        return linktype, per_sec, offset


class _Prefixed:
    """A pipe whose first bytes were already read (to see the gzip magic), whole again."""

    def __init__(self, head, f):
        self._head = head
        self._f = f

    def read(self, n=-1):
        head, self._head = self._head, b""
        if n is not None and 0 <= n <= len(head):
            self._head = head[n:]
            return head[:n]
        return head + self._f.read(-1 if n is None or n < 0 else n - len(head))


def _read_full(f, n):
    """``n`` bytes from a pipe (fewer only at its end)."""
    out = b""
    while len(out) < n:
        more = f.read(n - len(out))
        if not more:
            break
        out += more
    return out


def read_packets(path):
    """Open a pcap or pcapng file: a ``PacketReader`` yielding (timestamp, linktype, data).

    Raises ``CaptureError`` at once when the file is missing or not a capture; damage later
    in the file ends the iteration and is described in ``reader.errors``.
    """
    return PacketReader(path)
