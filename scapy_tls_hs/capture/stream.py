"""Streaming dissection: packets in, a ``ConnectionReport`` out as each connection ends.

``StreamDissector`` is the core that a capture file (``iter_connections``) and a live
capture (``live.py``) share. Memory depends on the connections open, not on the capture:

- A connection is held as chunks (``TCPConnection.chunks``) only until it is known to be
  TLS or not (``settled``: its first bytes decide, as ``is_tls`` would at its end, or at
  most ``MAX_UNDECIDED`` bytes). Then a TLS connection's chunks go straight to its
  observer as they are delivered (``Feeder``), and any other connection's are dropped.
- A connection is reported, and forgotten, when it ends (a FIN each way, or a reset),
  when it was quiet for ``idle_timeout`` seconds of capture time, or at the end of the
  capture (``finish``), in start order. Late packets of a connection that ended (the last
  ACK, retransmissions) are dropped, not taken for a new connection.
- What one connection may keep is bounded: its reassembly queue (``streams.MAX_PENDING``),
  and the records kept for ``ConnectionReport.packets`` (``MAX_KEPT`` payload bytes; the
  report says so in ``errors`` when it was cut: its summary, ``messages`` and
  ``app_data`` hashes still cover everything).
- Resumption across connections works as before: the ``SessionTable`` holds secrets only.

Every release is ``(seq, report)``: ``seq`` the connection's start order among all TCP
connections, ``report`` None for one that is not TLS, so that a caller can put the reports
back in start order (``InOrder``).
"""
import os

from ..connection.observer import ObserverConnection
from .dissect import Feeder, is_tls
from .preamble import SEARCH
from .streams import TCPReassembler, looks_like_tls

__all__ = ["StreamDissector", "InOrder", "CaptureStream", "IDLE_TIMEOUT", "MAX_UNDECIDED",
           "MAX_KEPT"]

IDLE_TIMEOUT = 120.0        # capture seconds without a packet before a connection is over
MAX_UNDECIDED = 1 << 20     # bytes held before the TLS test is made on what is there
MAX_KEPT = 8 << 20          # record payload bytes kept per connection for ``packets``
SWEEP = 1.0                 # capture seconds between two looks for idle connections
GONE_FOR = 60.0             # capture seconds late packets of an ended connection are dropped

KEPT_CUT = ("records after the first %d MB not kept for packets / --data (the summary and "
            "app_data cover them all)" % (MAX_KEPT >> 20))


class _Kept(list):
    """The observer's ``records`` (what ``packets`` are built from), bounded: past
    ``MAX_KEPT`` payload bytes, records are counted by the observer but not kept."""

    __slots__ = ("size", "cut")

    def __init__(self):
        super().__init__()
        self.size = 0
        self.cut = False

    def append(self, record):
        size = len(record[4] or b"")
        if self.size + size > MAX_KEPT:
            self.cut = True
            return
        self.size += size
        super().append(record)


def _drop(direction, data, time, gap):
    """Sink of a connection that is not TLS."""


def settled(conn):
    """Can the TLS test (``is_tls``) be made now, giving what it would give at the end?
    True when the first bytes it looks at are all there."""
    c, s = conn.delivered("client"), conn.delivered("server")
    if conn._roles_guessed and not conn.syn_seen and (c < 6 or s < 6):
        return False        # the roles may still swap (``TCPConnection._check_roles``)
    if c >= 5 and looks_like_tls(conn.first_bytes("client")):
        return True
    if s >= 5 and looks_like_tls(conn.first_bytes("server")):
        return True
    if c < 8 or s < 5:
        return False
    if not conn.syn_seen and len(conn.chunks) < 16:
        # caught mid-way: a record header at the start of one of its first 16 segments
        return any(looks_like_tls(ch[1][:5]) for ch in conn.chunks)
    # Not TLS from the first byte: a plaintext preamble (STARTTLS) is looked for in the
    # first ``SEARCH`` bytes of each direction.
    return c >= SEARCH and s >= SEARCH


class StreamDissector:
    """``add(ts, linktype, data)`` per packet, ``expire(now)`` for idle connections,
    ``finish()`` at the end: each returns the ``(seq, report)`` of the connections it
    ended (module docstring)."""

    def __init__(self, keylog=None, server_key=None, ports=(), idle_timeout=IDLE_TIMEOUT,
                 early=True):
        from ..connection.observer import SessionTable
        # ``early``: feed a connection's observer as soon as it is known to be TLS; else
        # only at its end or past ``MAX_UNDECIDED`` bytes (live capture: a browser's key
        # log line may be written after the handshake's packets were seen).
        self.early = early
        self.keylog = keylog
        self.server_key = server_key
        self.ports = frozenset(ports or ())
        self.idle_timeout = idle_timeout
        self.reassembler = TCPReassembler()
        self.sessions = SessionTable()
        self._feeders = {}          # TLS connection -> Feeder
        # Connections found not to be TLS before they end: released at once, so that in
        # start order (``InOrder``) a long non-TLS connection holds no report back.
        self._not_tls = []
        self._next_sweep = None
        self.reported = 0           # TLS connections reported
        self.records = 0            # TLS records in them

    @property
    def open_connections(self):
        return len(self.reassembler._open)

    def connections(self):
        """The connections not released yet, in start order (a list: releasing while
        going through it is fine)."""
        return self.reassembler.connections

    @property
    def held_bytes(self):
        """Bytes held as chunks by connections not yet known to be TLS or not."""
        return sum(c.held for c in self.reassembler._open)

    def add(self, ts, linktype, data):
        """One captured packet: the releases it caused (usually none)."""
        reasm = self.reassembler
        reasm.last = reasm.replaced = None
        reasm.add(ts, linktype, data)
        out = []
        if reasm.replaced is not None:      # a new connection on a closed one's 4-tuple
            out.extend(self._release(reasm.replaced, None))
        conn = reasm.last
        if conn is not None:
            if conn.sink is None and conn.held != conn.checked:
                conn.checked = conn.held
                if conn.held >= MAX_UNDECIDED or (self.early and settled(conn)):
                    self._settle(conn)
            if self._not_tls:
                out.extend(self._not_tls)
                self._not_tls = []
            if conn.ended:
                out.extend(self._release(conn, ts))
        if reasm.tcp_packets and (self._next_sweep is None or ts >= self._next_sweep):
            out.extend(self.tick(ts))
        return out

    def tick(self, ts):
        """Capture time ``ts`` went by (a packet given to ``add``, or one seen but meant
        for someone else, e.g. another share of a split capture): once a ``SWEEP``, the
        idle connections are released (``expire``)."""
        if self.idle_timeout is None:
            return ()
        if self._next_sweep is None:
            self._next_sweep = ts + SWEEP
        elif ts >= self._next_sweep:
            self._next_sweep = ts + SWEEP
            return self.expire(ts)
        return ()

    def expire(self, now, idle=None):
        """Release the connections without a packet for ``idle`` (default
        ``idle_timeout``) seconds before capture time ``now``."""
        limit = now - (self.idle_timeout if idle is None else idle)
        out = []
        for conn in [c for c in self.reassembler._open if c.end_time < limit]:
            out.extend(self._release(conn, None))
        self.reassembler.forget_gone(now - min(GONE_FOR, now - limit))
        return out

    def finish(self, note=None):
        """The capture is over: release every connection still open, in start order;
        ``note`` (a line or a list of lines) is added to their reports' errors."""
        out = []
        for conn in self.connections():
            out.extend(self.release(conn, note))
        return out

    def release(self, conn, note=None):
        """Release one connection now (``note``: lines for its errors)."""
        out = self._release(conn, None)
        if note and out and out[0][1] is not None:
            out[0][1].errors.extend([note] if isinstance(note, str) else note)
        return out

    def _settle(self, conn, final=False):
        """Make the TLS test on what the connection holds; from now on its chunks go to
        its observer, or nowhere."""
        if conn._roles_guessed and not conn.syn_seen:
            conn._check_roles()
            conn._roles_guessed = False
        if is_tls(conn, self.ports):
            observer = ObserverConnection(self.keylog, self.server_key, self.sessions)
            observer.records = _Kept()
            feed = Feeder(observer, conn)
            for chunk in conn.chunks:
                feed.chunk(chunk)
            self._feeders[conn] = feed
            conn.sink = feed.data
        else:
            conn.sink = _drop
            if not final:
                self._not_tls.append((conn.seq, None))
        conn.chunks = []
        conn.held = 0

    def _release(self, conn, now):
        released = conn.sink is _drop       # not TLS: released when that was known
        self.reassembler.release(conn, now if conn.ended else None)
        if conn.sink is None:
            self._settle(conn, final=True)
        feed = self._feeders.pop(conn, None)
        conn.sink = _drop
        if feed is None:
            return [] if released else [(conn.seq, None)]
        kept = feed.observer.records
        report = feed.report()
        if getattr(kept, "cut", False):
            report.errors.append(KEPT_CUT)
        self.reported += 1
        self.records += report.records
        return [(conn.seq, report)]


class InOrder:
    """Releases ``(seq, report)`` in any order in, reports out in start order: a report
    waits until every connection that started before it was released."""

    def __init__(self):
        self._waiting = {}
        self._next = 0

    def __len__(self):
        return len(self._waiting)

    def put(self, released):
        waiting = self._waiting
        for seq, report in released:
            waiting[seq] = report
        out = []
        while self._next in waiting:
            report = waiting.pop(self._next)
            self._next += 1
            if report is not None:
                out.append(report)
        return out


class CaptureStream:
    """The reports of one capture file as its connections end (``iter_connections``): an
    iterator, with ``warnings`` (capture-level problems: complete once it is exhausted),
    ``records`` and ``reported`` counts. ``ordered``: in start order instead (each report
    waits for the connections that started before it; only reports wait, never packets).
    The file is opened, and the key files read, at once: ``CaptureError`` then."""

    def __init__(self, path, keylog=None, server_key=None, ports=(), progress=None,
                 idle_timeout=IDLE_TIMEOUT, ordered=False):
        from .dissect import keylog_warning, load_keylog, load_server_key
        from .pcapfile import read_packets
        from .progress import NoProgress
        self.progress = progress or NoProgress()
        self.keylog = load_keylog(keylog)
        self.server_key = load_server_key(server_key)
        warning = keylog_warning(self.keylog, keylog)
        self._keylog_warnings = [warning] if warning else []
        self.reader = read_packets(path)
        try:
            self.size = os.path.getsize(path)
        except (OSError, TypeError):
            self.size = 0
        self.core = StreamDissector(self.keylog, self.server_key, ports, idle_timeout)
        self.ordered = ordered
        self.warnings = []
        self._gen = self._run()

    @property
    def records(self):
        return self.core.records

    @property
    def reported(self):
        return self.core.reported

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._gen)

    def close(self):
        self._gen.close()

    def _embedded(self, secrets):
        """Key logs carried by the pcapng (Decryption Secrets Blocks) so far: used for the
        connections that start from now on (the blocks come first in practice)."""
        from .dissect import _with_embedded
        from .pcapfile import TLS_KEYLOG
        blocks = [data for stype, data in secrets if stype == TLS_KEYLOG]
        if blocks:
            self.core.keylog = _with_embedded(self.keylog, blocks)

    def _run(self):
        reader, core, progress = self.reader, self.core, self.progress
        order = InOrder() if self.ordered else None

        def out(released):
            if order is not None:
                return order.put(released)
            return [report for _seq, report in released if report is not None]

        secrets = 0
        try:
            show = progress.enabled and self.size
            if show:
                progress.phase("reading", self.size)
            done = 24
            add = core.add
            for i, (ts, linktype, data) in enumerate(reader):
                if len(reader.secrets) != secrets:
                    secrets = len(reader.secrets)
                    self._embedded(reader.secrets)
                released = add(ts, linktype, data)
                if released:
                    yield from out(released)
                if show:
                    done += len(data) + 16
                    if not i & 255:
                        progress.update(reader.position if reader.compressed else done)
            if len(reader.secrets) != secrets:
                self._embedded(reader.secrets)
            cut = reader.errors if reader.truncated else None
            for conn in core.connections():
                yield from out(core.release(conn, None if conn.closed else cut))
            self.warnings = (list(reader.errors) + list(core.reassembler.warnings)
                             + self._keylog_warnings)
        finally:
            progress.close()
            try:
                reader.close()
            except Exception:   # closing must not hide the reports
                pass
