"""Link, IP and TCP decoding with ``struct``, and TCP reassembly into per-connection streams.

``TCPReassembler().add(timestamp, linktype, data)`` for each captured packet, then
``.finish()`` returns the ``TCPConnection`` objects in the order the connections started
(the first packet seen of each: its SYN when the SYN was captured). ``reassemble(packets)``
does both. Nothing here raises on bad packets: what cannot be decoded is counted and skipped.
Streaming (``stream.py``, live capture too) takes each connection out as it ends
(``TCPConnection.ended``, ``TCPReassembler.release``) and sends its chunks on as they are
delivered (``TCPConnection.sink``) instead of keeping them.

Link types: Ethernet (1, with 802.1Q / 802.1ad tags), Linux cooked SLL (113) and SLL2 (276),
raw IP (101, 12, 14, and 228/229), BSD loopback NULL (0) and LOOP (108). IPv4 with options
(simple fragments are reassembled), IPv6 (extension headers skipped; fragments dropped).

Reassembly rules (RFC 9293 sequence space, modulo 2**32):

- A connection is keyed by its 4-tuple. A SYN (without ACK) on a 4-tuple whose connection
  was closed (FIN or RST) or that carries another initial sequence number starts a new
  connection; a retransmitted SYN does not.
- The client is the SYN sender (or the receiver of a SYN-ACK). Without either, it is the
  side whose first payload looks like a ClientHello; failing that, the peer of a side whose
  first payload looks like a ServerHello; failing that, the peer of the well-known
  (< 1024) or else the lower port.
- Each direction's bytes are numbered from its first byte (stream offset 0: the byte after
  the SYN, or, without a SYN, the first byte the peer acknowledged or the first byte seen).
  Retransmitted and overlapping bytes keep their first copy. Out-of-order segments wait
  until the hole before them is filled.
- A hole is declared missing (and the data after it delivered, marked ``gap``) when the
  peer acknowledges bytes past it (the receiver got them: the capture missed them), when
  too much data waits behind it, and at the end of the capture. Each hole gives an error
  ``"client->server: 1200 bytes missing at stream offset 5000"``.
- ``chunks``: one ``Chunk`` per segment that made new bytes contiguous, in capture order;
  a ``Chunk`` is the tuple ``(direction, data)`` with attributes ``time``, ``offset``
  (stream offset of ``data[0]``) and ``gap`` (bytes missing right before it, usually 0).
"""
import struct

try:
    from ..codec.records import looks_like_tls
except ImportError:  # the codec is written in parallel; keep a local copy until it lands
    def looks_like_tls(data):
        """First 5 bytes are a plausible TLS record header (type 20..24, version 3.0-3.4)."""
        return (len(data) >= 5 and 20 <= data[0] <= 24 and data[1] == 3 and data[2] <= 4
                and (data[3] << 8 | data[4]) <= 16384 + 2048)

__all__ = ["TCPReassembler", "TCPConnection", "Chunk", "reassemble", "decode_packet",
           "looks_like_tls"]

_U16 = struct.Struct("!H")
_IPV4 = struct.Struct("!BxHHHBB")       # ver/ihl, total length, id, flags/frag, ttl, proto
_TCP = struct.Struct("!HHIIBB")         # sport, dport, seq, ack, data offset, flags
_IPV6_EXT = {0, 43, 60, 51}             # hop-by-hop, routing, destination options, AH

FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10
MOD = 1 << 32
HALF = 1 << 31
# Out-of-order bytes waiting behind one hole before the hole is given up on.
MAX_PENDING = 4 << 20
MAX_PENDING_SEGMENTS = 4096
# An ACK further ahead than the largest TCP window (RFC 7323 §2.3) is not about this stream.
MAX_WINDOW = 1 << 30


class Chunk(tuple):
    """``(direction, data)`` plus ``time``, ``offset`` and ``gap`` (bytes missing before)."""

    def __new__(cls, direction, data, time, offset, gap=0):
        self = tuple.__new__(cls, (direction, data))
        self.time = time
        self.offset = offset
        self.gap = gap
        return self

    @property
    def direction(self):
        return self[0]

    @property
    def data(self):
        return self[1]

    def __repr__(self):
        return "Chunk(%r, %d bytes, offset=%d, gap=%d)" % (self[0], len(self[1]), self.offset,
                                                         self.gap)


# -- link and network layers --------------------------------------------------------------

def _ip_offset(linktype, data):
    """Offset of the IP header in a link-layer frame, or -1 when it carries no IP."""
    if linktype == 1:
        if len(data) < 14:
            return -1
        etype = data[12] << 8 | data[13]
        off = 14
        while etype in (0x8100, 0x88A8, 0x9100):
            if len(data) < off + 4:
                return -1
            etype = data[off + 2] << 8 | data[off + 3]
            off += 4
        return off if etype in (0x0800, 0x86DD) else -1
    if linktype in (101, 12, 14, 228, 229):
        return 0
    if linktype in (0, 108):
        # The family is host-order (NULL) or big-endian (LOOP) and differs per OS for IPv6;
        # the IP version nibble after it says all we need.
        return 4
    if linktype == 113:
        if len(data) < 16:
            return -1
        return 16 if (data[14] << 8 | data[15]) in (0x0800, 0x86DD) else -1
    if linktype == 276:
        if len(data) < 20:
            return -1
        return 20 if (data[0] << 8 | data[1]) in (0x0800, 0x86DD) else -1
    return -2


class _Fragments:
    """Simple IPv4 fragment reassembly (RFC 791): complete datagrams only, first copy wins."""

    def __init__(self):
        self.pending = {}

    def add(self, key, frag_off, more, payload):
        pieces = self.pending.setdefault(key, {})
        if len(self.pending) > 1024:  # never completed: forget the oldest
            del self.pending[next(iter(self.pending))]
        pieces.setdefault(frag_off, payload)
        if not more:
            pieces[-1] = frag_off + len(payload)
        total = pieces.get(-1)
        if total is None:
            return None
        out = []
        pos = 0
        for off in sorted(k for k in pieces if k >= 0):
            if off > pos:
                return None
            piece = pieces[off]
            if off + len(piece) > pos:
                out.append(piece[pos - off:])
                pos = off + len(piece)
        if pos < total:
            return None
        del self.pending[key]
        return b"".join(out)[:total]


def decode_packet(linktype, data, fragments=None):
    """``(src, dst, sport, dport, seq, ack, flags, payload)`` of a TCP packet, else None.

    ``src``/``dst`` are the packed addresses (4 or 16 bytes). ``fragments`` (a
    ``_Fragments``) enables IPv4 fragment reassembly; without it fragments are skipped.
    """
    if linktype == 1 and data[12:14] == b"\x08\x00" and len(data) >= 34:
        off = 14        # Ethernet + IPv4, most captures: no VLAN tags to walk
    else:
        off = _ip_offset(linktype, data)
        if off < 0 or len(data) < off + 20:
            return None
    version = data[off] >> 4
    if version == 4:
        vihl, total, ident, frag, _ttl, proto = _IPV4.unpack_from(data, off)
        ihl = (vihl & 15) * 4
        if proto != 6 or ihl < 20:
            return None
        end = off + total if total >= ihl else len(data)  # 0 total length: TSO, trust the frame
        src = data[off + 12:off + 16]
        dst = data[off + 16:off + 20]
        if not frag & 0x3FFF:
            # Not a fragment, most packets: the TCP header read in place, and the payload
            # copied once (not the segment, then the payload out of it).
            tcp = off + ihl
            end = min(end, len(data))
            if end - tcp < 20:
                return None
            sport, dport, seq, ack, doff, flags = _TCP.unpack_from(data, tcp)
            hlen = (doff >> 4) * 4
            if hlen < 20 or hlen > end - tcp:
                return None
            return src, dst, sport, dport, seq, ack, flags, data[tcp + hlen:end]
        seg = data[off + ihl:end]
        if frag & 0x3FFF:
            if fragments is None:
                return None
            seg = fragments.add((src, dst, ident), (frag & 0x1FFF) * 8, frag & 0x2000, seg)
            if seg is None:
                return None
    elif version == 6:
        if len(data) < off + 40:
            return None
        plen = data[off + 4] << 8 | data[off + 5]
        nxt = data[off + 6]
        src = data[off + 8:off + 24]
        dst = data[off + 24:off + 40]
        pos = off + 40
        end = pos + plen if plen else len(data)
        while nxt != 6:
            if nxt in _IPV6_EXT:
                if len(data) < pos + 2:
                    return None
                hlen = (data[pos + 1] + 2) * 4 if nxt == 51 else (data[pos + 1] + 1) * 8
            elif nxt == 44:
                if len(data) < pos + 8 or (data[pos + 2] << 8 | data[pos + 3]) != 0:
                    return None  # only atomic fragments (offset 0, no more fragments)
                hlen = 8
            else:
                return None
            nxt = data[pos]
            pos += hlen
        seg = data[pos:end]
    else:
        return None
    if len(seg) < 20:
        return None
    sport, dport, seq, ack, doff, flags = _TCP.unpack_from(seg, 0)
    hlen = (doff >> 4) * 4
    if hlen < 20 or hlen > len(seg):
        return None
    return src, dst, sport, dport, seq, ack, flags, seg[hlen:]


def format_endpoint(addr, port):
    """``"1.2.3.4:443"`` or ``"[::1]:443"``."""
    from socket import AF_INET, AF_INET6, inet_ntop     # not at start-up: a few ms
    if len(addr) == 4:
        return "%s:%d" % (inet_ntop(AF_INET, addr), port)
    return "[%s]:%d" % (inet_ntop(AF_INET6, addr), port)


# -- reassembly ---------------------------------------------------------------------------

class _HalfStream:
    """One direction of a connection: its sequence space and the bytes waiting in it."""

    __slots__ = ("base", "next", "pending", "pending_bytes", "pending_end", "acked", "fin",
                 "gap", "label", "seen_data", "delivered")

    def __init__(self):
        self.base = None        # absolute sequence number of stream offset 0
        self.next = 0           # stream offset of the next byte to deliver
        self.pending = {}       # stream offset -> bytes, non-overlapping, not yet contiguous
        self.pending_bytes = 0
        self.pending_end = 0    # no waiting byte at or after this offset
        self.acked = 0          # highest stream offset the peer acknowledged
        self.fin = None         # stream offset of the FIN
        self.gap = 0            # missing bytes right before the next delivered chunk
        self.label = ""
        self.seen_data = False
        self.delivered = 0      # bytes delivered (as chunks) so far

    def offset(self, seq):
        """Stream offset of absolute ``seq``, unwrapped around ``next`` (handles wraparound)."""
        d = (seq - self.base - self.next) % MOD
        if d >= HALF:
            d -= MOD
        return self.next + d


class TCPConnection:
    """One TCP connection: endpoints, time-ordered delivered chunks, and problems found."""

    def __init__(self, a, b, start_time):
        self._ends = (a, b)           # (addr, port) of the first packet's sender and receiver
        self._half = (_HalfStream(), _HalfStream())
        self.client_side = None       # 0 or 1: index in _ends of the client
        self.start_time = start_time
        self.end_time = start_time
        self.chunks = []
        # Streaming (stream.py): once set, delivered chunks go to ``sink(direction, data,
        # time, gap)`` instead of ``chunks``, so that the bytes need not stay here.
        self.sink = None
        self.held = 0                 # bytes in ``chunks``
        self.checked = 0              # ``held`` when last looked at (stream.py)
        self.seq = 0                  # start order in its reassembler
        self.errors = []
        self.client_isn = None
        self.syn_seen = False
        self.closed = False           # FIN seen (either way) or RST
        self.reset = False
        self.packets = 0
        self._roles_guessed = False   # decided on too few bytes: checked again at the end

    @property
    def ends(self):
        """``((addr, port), (addr, port))``: the first packet's sender and receiver, as
        decoded (the connection's 4-tuple, whichever side turns out to be the client)."""
        return self._ends

    # Readable attributes, fixed once the roles are known.
    @property
    def client(self):
        return format_endpoint(*self._ends[self.client_side or 0])

    @property
    def server(self):
        return format_endpoint(*self._ends[1 - (self.client_side or 0)])

    @property
    def client_port(self):
        return self._ends[self.client_side or 0][1]

    @property
    def server_port(self):
        return self._ends[1 - (self.client_side or 0)][1]

    @property
    def ended(self):
        """Reset, or a FIN seen each way: nothing more will come (live capture reports it)."""
        return self.reset or (self._half[0].fin is not None and self._half[1].fin is not None)

    def delivered(self, direction):
        """How many bytes of a direction were delivered so far (kept or passed on)."""
        h = self._half[self.client_side or 0]
        if direction != "client":
            h = self._half[1 - (self.client_side or 0)]
        return h.delivered

    def stream(self, direction):
        """All delivered bytes of one direction, joined (missing bytes left out)."""
        return b"".join(c[1] for c in self.chunks if c[0] == direction)

    def first_bytes(self, direction, n=5):
        """The first ``n`` delivered bytes of a direction (fewer if it has fewer)."""
        out = b""
        for c in self.chunks:
            if c[0] == direction:
                out += c[1]
                if len(out) >= n:
                    break
        return out[:n]

    def looks_like_tls(self, ports=()):
        """Either direction starts with a TLS record header, or a port is a hinted one. A
        connection caught mid-way (no SYN) may start inside a record: then a record header
        at the start of one of its first segments will do."""
        if self.server_port in ports or self.client_port in ports:
            return bool(self.chunks)
        if (looks_like_tls(self.first_bytes("client"))
                or looks_like_tls(self.first_bytes("server"))):
            return True
        return not self.syn_seen and any(looks_like_tls(c[1][:5]) for c in self.chunks[:16])

    def __repr__(self):
        return "<TCPConnection %s -> %s, %d chunks, %d errors>" % (
            self.client, self.server, len(self.chunks), len(self.errors))

    # -- roles ------------------------------------------------------------------------

    def _decide_roles(self, idx, payload):
        """Pick the client without a SYN, on the first payload (sent by side ``idx``)."""
        if len(payload) >= 6 and payload[0] == 22 and payload[1] == 3:
            if payload[5] == 1:
                self._set_client(idx)
                return
            if payload[5] == 2:
                self._set_client(1 - idx)
                return
        # A first segment shorter than a record header and the handshake type: the ports
        # decide for now, the first bytes of both directions at the end (``_check_roles``).
        self._roles_guessed = len(payload) < 6
        p0, p1 = self._ends[0][1], self._ends[1][1]
        if (p0 < 1024) != (p1 < 1024):
            self._set_client(1 if p0 < 1024 else 0)
        else:
            self._set_client(1 if p0 < p1 else 0)

    def _check_roles(self):
        """Without a SYN, roles guessed from a short first segment: a ClientHello at the
        start of the "server" stream, or a ServerHello at the start of the "client" one,
        swaps them."""
        def hello(direction):
            head = self.first_bytes(direction, 6)
            return head[5] if len(head) == 6 and head[0] == 22 and head[1] == 3 else None
        if hello("server") != 1 and hello("client") != 2:
            return
        self._set_client(1 - self.client_side)
        other = {"client": "server", "server": "client"}
        self.chunks = [Chunk(other[c[0]], c[1], c.time, c.offset, c.gap) for c in self.chunks]
        arrows = {"client->server": "server->client", "server->client": "client->server"}
        self.errors = [arrows.get(e[:14], e[:14]) + e[14:] for e in self.errors]

    def _set_client(self, idx):
        self.client_side = idx
        h = self._half
        h[idx].label = "client"
        h[1 - idx].label = "server"

    # -- delivery ---------------------------------------------------------------------

    def _emit(self, h, ts, start, parts):
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        gap = h.gap
        h.gap = 0
        h.delivered += len(data)
        if self.sink is not None:
            self.sink(h.label, data, ts, gap)
        else:
            self.chunks.append(Chunk(h.label, data, ts, start, gap))
            self.held += len(data)

    def _collect(self, h, ts):
        """Deliver, as one chunk, the waiting bytes that became contiguous at ``next``."""
        pending = h.pending
        start = h.next
        parts = []
        while pending:
            nxt = h.next
            data = pending.pop(nxt, None)
            if data is None:
                first = min(pending)
                if first > nxt:
                    break
                data = pending.pop(first)  # defensive: pieces never start before ``next``
                h.pending_bytes -= len(data)
                data = data[nxt - first:]
                if not data:
                    continue
            else:
                h.pending_bytes -= len(data)
            parts.append(data)
            h.next = nxt + len(data)
        if parts:
            self._emit(h, ts, start, parts)

    def _skip_hole(self, h, ts, upto=None):
        """Declare the bytes before the first waiting segment (or before ``upto``) missing."""
        target = min(h.pending) if h.pending else upto
        if upto is not None and target > upto:
            target = upto
        if target is None or target <= h.next:
            return
        missing = target - h.next
        peer = "server" if h.label == "client" else "client"
        self.errors.append("%s->%s: %d bytes missing at stream offset %d"
                           % (h.label, peer, missing, h.next))
        h.gap += missing
        h.next = target
        self._collect(h, ts)

    def _segment(self, h, ts, seq, payload):
        nxt = h.next            # ``h.offset(seq)``, inline
        start = (seq - h.base - nxt) % MOD
        start = nxt + (start - MOD if start >= HALF else start)
        end = start + len(payload)
        if end <= nxt:
            return  # retransmission of delivered bytes
        if start < nxt:
            payload = payload[nxt - start:]  # delivered bytes keep their first copy
            start = nxt
        if not h.pending:
            if start == nxt:
                h.next = end
                self._emit(h, ts, start, (payload,))
                return
            h.pending[start] = payload
            h.pending_bytes += len(payload)
            h.pending_end = end
        elif start >= h.pending_end:  # the usual case behind a hole: after all waiting bytes
            h.pending[start] = payload
            h.pending_bytes += len(payload)
            h.pending_end = end
        else:
            # Waiting bytes were there first: only the bytes they lack are taken from here.
            self._wait(h, start, payload)
            if start == nxt:
                self._collect(h, ts)
                return
        if h.acked > nxt:
            self._skip_hole(h, ts, upto=h.acked)
        if h.pending_bytes > MAX_PENDING or len(h.pending) > MAX_PENDING_SEGMENTS:
            self._skip_hole(h, ts)

    def _wait(self, h, start, payload):
        """Keep an out-of-order segment, minus the bytes an earlier copy already holds."""
        end = start + len(payload)
        pending = h.pending
        pieces = [(start, end)]
        for s in sorted(pending):
            if s >= end:
                break
            e = s + len(pending[s])
            if e <= start:
                continue
            rest = []
            for a, b in pieces:
                if e <= a or s >= b:
                    rest.append((a, b))
                    continue
                if a < s:
                    rest.append((a, s))
                if e < b:
                    rest.append((e, b))
            pieces = rest
        for a, b in pieces:
            pending[a] = payload[a - start:b - start]
            h.pending_bytes += b - a
        if end > h.pending_end:
            h.pending_end = end

    def _finish(self, ts):
        """End of capture (or of this 4-tuple's use): give up on every remaining hole."""
        for h in self._half:
            if h.base is None or not h.label:
                continue
            while h.pending:
                self._skip_hole(h, ts)
            limit = h.acked
            if h.fin is not None:
                # The FIN takes one sequence number, no byte; every byte before it was sent,
                # whether or not the capture has the peer's acknowledgment.
                limit = h.fin if h.fin - h.next <= MAX_WINDOW else min(limit, h.fin)
            elif limit == h.next + 1:
                continue  # most likely the ACK of a FIN the capture missed
            if limit > h.next:
                self._skip_hole(h, ts, upto=limit)


class TCPReassembler:
    """Feed packets with ``add``; ``finish()`` gives the connections in start order."""

    def __init__(self):
        self._table = {}          # (src, sport, dst, dport) -> (connection, side index)
        self._open = {}           # connection -> None, in start order
        # 4-tuples of connections released after they ended -> release time: their late
        # packets (the last ACK, retransmissions) are not a new connection.
        self.gone = {}
        self.late_packets = 0
        self.started = 0          # connections seen so far
        self._fragments = _Fragments()
        self.packets = 0          # packets given
        self.tcp_packets = 0      # of which TCP
        self.unknown_linktypes = {}
        self._finished = False
        self._last_ts = 0.0
        self.last = None          # the connection of the last TCP packet given (live capture)
        self.replaced = None      # the closed connection the last packet's SYN replaced

    @property
    def connections(self):
        """The connections not released, in start order."""
        return list(self._open)

    @property
    def warnings(self):
        """Capture-level problems (not tied to one connection), as readable lines."""
        return ["%d packets of unsupported link type %d skipped" % (n, lt)
                for lt, n in sorted(self.unknown_linktypes.items())]

    def add(self, ts, linktype, data):
        """Process one captured packet (anything that is not TCP over IP is skipped)."""
        self.packets += 1
        try:
            tcp = decode_packet(linktype, data, self._fragments)
        except (IndexError, struct.error):  # a frame cut inside a header: not for us
            return
        if tcp is None:
            if _ip_offset(linktype, data) == -2:
                self.unknown_linktypes[linktype] = self.unknown_linktypes.get(linktype, 0) + 1
            return
        self.tcp_packets += 1
        self._last_ts = ts
        src, dst, sport, dport, seq, ack, flags, payload = tcp
        key = (src, sport, dst, dport)
        entry = self._table.get(key)
        if entry is None and self.gone and key in self.gone:
            if flags & (SYN | ACK) != SYN:
                self.late_packets += 1
                return
            self.gone.pop(key, None)
            self.gone.pop((dst, dport, src, sport), None)
        if entry is None or (flags & (SYN | ACK) == SYN and self._is_new(entry, seq)):
            if entry is not None:
                entry[0]._finish(ts)
                self.replaced = entry[0]
            conn = TCPConnection((src, sport), (dst, dport), ts)
            conn.seq = self.started
            self.started += 1
            self._open[conn] = None
            self._table[key] = entry = (conn, 0)
            self._table[(dst, dport, src, sport)] = (conn, 1)
        conn, idx = entry
        self.last = conn
        conn.packets += 1
        conn.end_time = ts
        h = conn._half[idx]

        if flags & SYN:
            if flags & ACK:
                if conn.client_side is None:
                    conn._set_client(1 - idx)
            else:
                if conn.client_side is None:
                    conn._set_client(idx)
                conn.client_isn = seq
            conn.syn_seen = True
            if h.base is None or not h.seen_data:
                h.base = (seq + 1) % MOD
            seq = (seq + 1) % MOD  # data on a SYN (TCP Fast Open) starts after it
        if flags & ACK:
            other = conn._half[1 - idx]
            if other.base is None:
                other.base = ack
            else:
                nxt = other.next        # ``other.offset(ack)``, inline: once per packet
                off = (ack - other.base - nxt) % MOD
                off = nxt + (off - MOD if off >= HALF else off)
                if other.acked < off <= nxt + MAX_WINDOW:
                    other.acked = off
                    if other.pending and off > other.next:
                        conn._skip_hole(other, ts, upto=off)
        if flags & RST:
            conn.reset = True
            conn.closed = True
        if payload:
            if conn.client_side is None:
                conn._decide_roles(idx, payload)
            if h.base is None:
                h.base = seq
            h.seen_data = True
            conn._segment(h, ts, seq, payload)
        if flags & FIN:
            if h.base is None:
                h.base = seq
            h.fin = h.offset(seq) + len(payload)
            conn.closed = True

    @staticmethod
    def _is_new(entry, seq):
        """A SYN on a known 4-tuple: a new connection unless it repeats the one we have."""
        conn = entry[0]
        if conn.closed:
            return True
        if conn.client_isn is None:
            return conn.packets > 0 and bool(conn._half[0].delivered or conn._half[1].delivered)
        return seq != conn.client_isn

    def finish(self):
        """Declare every remaining hole missing; the connections in the order they started."""
        if not self._finished:
            self._finished = True
            for conn in self._open:
                self._close(conn)
        return list(self._open)

    def release(self, conn, now=None):
        """Streaming: ``conn`` is over (``TCPConnection.ended``) or given up on: close it
        as ``finish`` would and forget it, so a new connection on its 4-tuple starts afresh
        and its memory goes with the report. With ``now`` (capture time), the 4-tuple is
        remembered (``gone``) so that the connection's late packets are dropped."""
        self._close(conn)
        self._open.pop(conn, None)
        (a, b) = conn._ends
        for key in ((a[0], a[1], b[0], b[1]), (b[0], b[1], a[0], a[1])):
            entry = self._table.get(key)
            if entry is not None and entry[0] is conn:
                del self._table[key]
                if now is not None:
                    self.gone[key] = now
        return conn

    def forget_gone(self, before):
        """Forget the released 4-tuples released before capture time ``before``."""
        gone = self.gone
        while gone:
            key = next(iter(gone))
            if gone[key] >= before:
                break
            del gone[key]

    def _close(self, conn):
        if conn.client_side is None:
            conn._decide_roles(0, b"")
        conn._finish(self._last_ts)
        if conn._roles_guessed and not conn.syn_seen:
            conn._check_roles()


def reassemble(packets):
    """``TCPReassembler`` over an iterable of ``(timestamp, linktype, data)``."""
    r = TCPReassembler()
    add = r.add
    for ts, linktype, data in packets:
        add(ts, linktype, data)
    return r.finish()
