"""One capture dissected in several processes: its connections shared out by 4-tuple.

Each share is a separate task (``dissect_share``) that reads the whole file itself and keeps
the packets whose unordered 4-tuple hashes to it (CRC-32, the same in every process, unlike
``hash()``), streamed as one process does it (``stream.StreamDissector``). Reading is cheap
next to the TLS work, and was mostly faster than one parent reading and sending each
worker its packets (benchmarks/bench_parallel.py): that costs a pickle per packet, and the
parent competes with the workers for a core. Packets that do not decode as TCP (IPv4
fragments, other protocols) go to every share, so fragments are reassembled everywhere; a
connection is kept only by the share its 4-tuple hashes to, capture-level warnings are
taken from share 0 only, and every packet's time drives every share's sweep for idle
connections, so that they end where they would in one process.

The parent (``merge``) puts the reports in the order the connections started (the index
of the packet that opened each, which every share numbers alike), so the output is that
of one process. One thing a share cannot know is a master secret learnt by another share:
a TLS 1.2 resumed connection (session id or ticket) whose key log has no line of its own,
e.g. with ``--server-key`` only. Each share therefore logs what it adds to its
``SessionTable``, with the index of the packet that taught it; a resumed connection left
undecrypted while another share learnt secrets before it started is dissected again in
the parent, the other shares' secrets added as their packets go by, so it too matches one
process. (Two connections of different shares with the same session id: the secret learnt
last before the lookup wins, as in one process.)

Streamed (``send``, what ``dissect --jobs N`` does): a share sends what it has every
``CHUNK`` packets: the reports released since, how far it read (``position``) and the start
index of its oldest connection still open (``low``); its session entries go to a file
of its own (``logdir``), read only if a connection is dissected again. The parent
(``Merger``) writes out a report as soon as every share's ``low`` is past its start, so it
holds only the reports of connections that started after the oldest one still open
anywhere, as one process (``InOrder``) does; the parent takes the next message from the
share that read least, and each share's queue is bounded, so no share runs far ahead.
A connection to dissect again is held, with the reports after it, while a ``Follower`` in
the parent, one more pass over the capture that keeps just behind the merge, dissects it
again with the entries of every share (read back from their files as it goes).
"""
import heapq
import os
import struct
import zlib

from .dissect import (DissectResult, _with_embedded, keylog_warning, load_keylog,
                      load_server_key)
from .pcapfile import TLS_KEYLOG, read_packets
from .streams import decode_packet

__all__ = ["dissect_share", "merge", "share_of", "light", "Merger", "Logs", "Follower"]

PROGRESS_STEP = 1 << 20  # bytes between two progress messages of a worker


def _key(src, sport, dst, dport):
    """The unordered 4-tuple as bytes: both directions give the same key."""
    a = bytes(src) + struct.pack("!H", sport)
    b = bytes(dst) + struct.pack("!H", dport)
    return a + b if a <= b else b + a


def _packet_key(linktype, data):
    """The unordered 4-tuple key of a TCP packet, or None (not TCP, a fragment, cut).
    Ethernet + IPv4, most captures, is read in place; the rest through ``decode_packet``."""
    if linktype == 1 and data[12:14] == b"\x08\x00" and len(data) >= 38:
        ihl = (data[14] & 15) * 4
        if data[23] == 6 and not (data[20] << 8 | data[21]) & 0x3FFF and ihl >= 20 and (
                len(data) >= 18 + ihl):
            a = data[26:30] + data[14 + ihl:16 + ihl]
            b = data[30:34] + data[16 + ihl:18 + ihl]
            return a + b if a <= b else b + a
        return None
    try:
        tcp = decode_packet(linktype, data)
    except (IndexError, struct.error):
        return None
    return None if tcp is None else _key(tcp[0], tcp[2], tcp[1], tcp[3])


def share_of(key, shares):
    return zlib.crc32(key) % shares


KEEP = ("all", "ladder", "json")


def light(report, keep="all"):
    """Drop what the output does not need, before a worker sends the report back:
    ``keep="ladder"`` drops the raw records and the parsed hellos (``summary``), half the
    size; ``"json"`` also the ladder and certificates: ``to_dict()`` is all that is left
    whole, a fifth of the size."""
    if keep == "all":
        return report
    report._records = ()
    report.summary = None
    if keep == "json":
        report.ladder = []
        report.certificates = []
    return report


def _conn_key(conn):
    (a, b) = conn.ends
    return _key(a[0], a[1], b[0], b[1])


class _LoggedTable:
    """A ``SessionTable`` that notes each entry with the index of the packet being
    dissected when it was added (``now``), so that the parent can replay them in order."""

    def __init__(self, table):
        self.table = table
        self.log = []
        self.now = 0
        self.first = None           # the index of the first entry

    def add(self, entry, session_id=b"", ticket=b""):
        if self.first is None:
            self.first = self.now
        self.log.append((self.now, entry, bytes(session_id or b""), bytes(ticket or b"")))
        self.table.add(entry, session_id, ticket)

    def find(self, session_id=b"", ticket=b""):
        return self.table.find(session_id, ticket)

    def __len__(self):
        return len(self.table)


class _Given:
    """In place of the reader when the packets are given: no reader problems."""

    errors = secrets = ()
    truncated = False

    def __init__(self, packets):
        self.packets = packets


CHUNK = 2048        # packets read between two messages of a streamed share
END = float("inf")  # ``low`` of a share that has finished


def log_path(logdir, share):
    return os.path.join(logdir, "share-%d.log" % share)


class _Share:
    """A share's dissection, a packet at a time (``dissect_share``, ``Follower``): the
    packets whose key is ``mine(key, index)`` are dissected, the others only drive the
    sweep for idle connections. ``out``: the reports released, as ``(start, key, report,
    end)``; ``learn(index)``: the session entries learnt elsewhere before that packet."""

    def __init__(self, reader, keylog, server_key, ports, keep, mine, pick=True, learn=None):
        from .stream import StreamDissector
        self.reader, self.keylog, self.keep = reader, keylog, keep
        self.mine, self.pick, self.learn = mine, pick, learn
        self.core = core = StreamDissector(keylog, server_key, ports)
        self.sessions = core.sessions = _LoggedTable(core.sessions)
        self.owned = {}     # the share's open connections: start order -> (index, key)
        self.starts = []    # (index, seq) of those (a heap; released ones left in it)
        self.out = []
        self.now = 0
        self._secrets = 0

    def _take(self, released):
        for seq, report in released:
            mine = self.owned.pop(seq, None)
            if mine is not None and report is not None:
                self.out.append((mine[0], mine[1], light(report, self.keep), self.now))

    def packet(self, i, ts, linktype, data):
        reader, core = self.reader, self.core
        if len(reader.secrets) != self._secrets:
            self._secrets = len(reader.secrets)
            blocks = [b for stype, b in reader.secrets if stype == TLS_KEYLOG]
            if blocks:
                core.keylog = _with_embedded(self.keylog, blocks)
        key = _packet_key(linktype, data) if self.pick else None
        if key is not None and not self.mine(key, i):
            # Another share's packet; its time still drives the sweep for idle
            # connections, so that they end here when they would in one process.
            released = core.tick(ts)
            if released:
                self.now = i
                self._take(released)
            return
        if self.learn is not None:
            for entry in self.learn(i):
                self.sessions.table.add(*entry[1:])
        self.sessions.now = self.now = i
        reasm = core.reassembler
        n = reasm.started
        released = core.add(ts, linktype, data)
        if reasm.started != n:
            conn = reasm.last
            ckey = _conn_key(conn)
            if self.mine(ckey, i):
                self.owned[conn.seq] = (i, ckey)
                heapq.heappush(self.starts, (i, conn.seq))
        if released:
            self._take(released)

    def finish(self, count):
        """The capture is over after ``count`` packets: release what is still open."""
        reader, core = self.reader, self.core
        cut = reader.errors if reader.truncated else None
        self.now = count
        for conn in core.connections():
            self._take(core.release(conn, None if conn.closed else cut))

    def low(self, position):
        """The start index of the share's oldest open connection (``position``: none)."""
        starts, owned = self.starts, self.owned
        while starts and starts[0][1] not in owned:
            heapq.heappop(starts)
        return starts[0][0] if starts else position


def dissect_share(path, share=0, shares=1, keylog=None, server_key=None, ports=(),
                  keep="all", progress=None, packets=None, send=None, logdir=None):
    """Dissect the connections of ``path`` that hash to ``share`` of ``shares``, streamed
    as one process does it (``stream.StreamDissector``: memory grows with the open
    connections and the reports, not with the capture).

    Returns a dict: ``reports`` as ``(start index, key, report)``, ``ends`` (the packet
    index at which each was released, in the same order), ``warnings``, ``sessions``
    (this share's session table entries, each with the index of the packet that taught
    it). ``keep``: see ``light``. ``progress(nbytes)`` is called now and then with the
    bytes read since the last call. ``packets``: this share's ``(index, (time, linktype,
    data))`` sent by someone else who read the file (the alternative
    benchmarks/bench_parallel.py measures) instead.

    ``send``: streamed instead (module docstring): ``send((position, low, rows, first,
    batches, done))`` every ``CHUNK`` packets and at the end, ``rows`` the reports
    released since as ``(start, key, report, end)``, ``first`` the index of the first
    session entry (or None), ``batches`` how many batches of session entries are in
    ``log_path(logdir, share)``; ``done`` None, or at the end the dict returned (then
    without reports or sessions).
    """
    import pickle
    keylog_name = keylog
    keylog = load_keylog(keylog)
    server_key = load_server_key(server_key)
    reader = read_packets(path) if packets is None else _Given(packets)
    source = enumerate(reader) if packets is None else packets
    crc32 = zlib.crc32

    def mine(key, _index):
        return crc32(key) % shares == share

    work = _Share(reader, keylog, server_key, ports, keep, mine,
                  pick=packets is None and shares > 1)
    sessions = work.sessions
    logfile = open(log_path(logdir, share), "wb") if send is not None else None
    batches = 0

    def message(position, done=None):
        nonlocal batches
        if sessions.log:
            pickle.dump(sessions.log, logfile, protocol=pickle.HIGHEST_PROTOCOL)
            logfile.flush()         # before the message that counts it
            sessions.log = []
            batches += 1
        rows, work.out = work.out, []
        send((position, END if done is not None else work.low(position), rows,
              sessions.first, batches, done))

    sent = done = 0
    packet = work.packet
    next_message = CHUNK
    i = -1
    try:
        for i, (ts, linktype, data) in source:
            if progress is not None:
                done += len(data) + 16
                if done - sent >= PROGRESS_STEP:
                    progress(done - sent)
                    sent = done
            if send is not None and i >= next_message:
                next_message = i + CHUNK
                message(i)
            packet(i, ts, linktype, data)
        if progress is not None:
            try:
                total = os.path.getsize(path)
            except (OSError, TypeError):
                total = done
            progress(max(total - sent, 0))
        work.finish(i + 1)
        warnings = list(reader.errors) + list(work.core.reassembler.warnings)
        warning = keylog_warning(keylog, keylog_name)
        if warning:
            warnings.append(warning)
        if send is not None:
            message(i + 1, {"warnings": warnings, "records": work.core.records})
            return {"warnings": warnings, "records": work.core.records}
    finally:
        if logfile is not None:
            logfile.close()
    out = sorted(work.out, key=lambda row: row[0])
    return {"reports": [row[:3] for row in out], "ends": [row[3] for row in out],
            "warnings": warnings, "sessions": sessions.log}


class Logs:
    """The shares' session entries in index order, as far as they are known: from the
    files of streamed shares (``logdir``; ``batches`` says how many batches each has
    written), or from the shares' results (``parts``, ``merge``)."""

    def __init__(self, shares, logdir=None, parts=None):
        self.logdir = logdir
        self.batches = [0] * shares
        self._read = [0] * shares
        self._files = [None] * shares
        self._heap = []         # (index, share, order, entry) read, not yet given
        self._order = 0
        for n, part in enumerate(parts or ()):
            self._push(n, part["sessions"])

    def _push(self, share, entries):
        for entry in entries:
            self._order += 1
            heapq.heappush(self._heap, (entry[0], share, self._order, entry))

    def before(self, index):
        """The entries learnt before packet ``index`` not given yet (every share must
        be past it)."""
        import pickle
        if self.logdir is not None:
            for n, want in enumerate(self.batches):
                while self._read[n] < want:
                    if self._files[n] is None:
                        self._files[n] = open(log_path(self.logdir, n), "rb")
                    self._push(n, pickle.load(self._files[n]))
                    self._read[n] += 1
        heap = self._heap
        out = []
        while heap and heap[0][0] < index:
            out.append(heapq.heappop(heap)[3])
        return out

    def close(self):
        for f in self._files:
            if f is not None:
                f.close()


class Follower:
    """The connections to dissect again (``Merger``), in one pass over the capture that
    follows the merge: told of each connection before it reads its first packet
    (``want``), it reads up to where the merge has decided (``advance``), with the
    session entries every share learnt before each packet (``Logs``). ``done``: start
    index -> the report dissected again."""

    def __init__(self, path, keylog, server_key, ports, keep, logs):
        self.reader = read_packets(path)
        self._packets = enumerate(self.reader)
        self._next = None
        self.wanted = {}        # key -> start index from which its packets are followed
        self.starts = set()     # the start index of each connection wanted
        self.work = _Share(self.reader, load_keylog(keylog), load_server_key(server_key),
                           ports, keep, self._mine, learn=logs.before)
        self.count = 0
        self.done = {}

    def _mine(self, key, index):
        start = self.wanted.get(key)
        return start is not None and index >= start

    def want(self, key, start):
        self.starts.add(start)
        if self.wanted.get(key, END) > start:
            self.wanted[key] = start

    def advance(self, upto=END):
        """Read the packets before index ``upto`` (all of them: the end of the capture)."""
        packet = self.work.packet
        while True:
            if self._next is None:
                self._next = next(self._packets, None)
                if self._next is None:
                    if upto == END:
                        self.work.finish(self.count)
                    break
            i, (ts, linktype, data) = self._next
            if i >= upto:
                break
            self._next = None
            self.count = i + 1
            packet(i, ts, linktype, data)
        for start, _key, report, _end in self.work.out:
            if start in self.starts:    # not another connection on the same 4-tuple
                self.starts.discard(start)
                self.done[start] = report
        self.work.out = []

    def close(self):
        try:
            self.reader.close()
        except Exception:
            pass


class Merger:
    """The shares' reports in start order, each as soon as every share is past its start
    (module docstring). ``put(share, message)`` (a streamed share's message, see
    ``dissect_share``) returns the reports that can be written out now; once every share
    is done, ``warnings`` and ``records`` are set. ``follower()`` makes the ``Follower``
    that dissects connections again, when one is needed. ``held``/``most_held``: reports
    held now/at most."""

    def __init__(self, shares, follower, logs):
        self.shares = shares
        self.follower = follower
        self.logs = logs
        self.position = [0] * shares
        self.low = [0] * shares
        self.first = [None] * shares
        self.done = [None] * shares
        self._rows = []         # (start, key, report, end), a heap
        self._held = []         # rows behind a connection to dissect again, in order
        self._redo = set()      # the start index of each held row to dissect again
        self._follower = None
        self.most_held = 0
        self.warnings = None
        self.records = 0

    @property
    def held(self):
        return len(self._rows) + len(self._held)

    @property
    def finished(self):
        return all(d is not None for d in self.done)

    def behind(self):
        """The share to hear from next: the unfinished one that read least."""
        return min((n for n in range(self.shares) if self.done[n] is None),
                   key=lambda n: self.position[n], default=None)

    def put(self, share, message):
        position, low, rows, first, batches, done = message
        self.position[share] = END if done is not None else position
        self.low[share] = low
        self.first[share] = first
        self.logs.batches[share] = batches
        for row in rows:
            heapq.heappush(self._rows, row)
        self.most_held = max(self.most_held, self.held)
        if done is not None:
            self.done[share] = done
            if self.finished:
                self.warnings = self.done[0]["warnings"]
        return self._ready()

    def _ready(self):
        limit = min(self.low)
        rows, held, first = self._rows, self._held, self.first
        out = []
        while rows and rows[0][0] < limit:
            row = heapq.heappop(rows)
            start, key, report, _end = row
            if report.resumed and not report.decrypted and any(
                    n != share_of(key, self.shares) and learnt is not None and learnt < start
                    for n, learnt in enumerate(first)):
                if self._follower is None:
                    self._follower = self.follower()
                self._follower.want(key, start)
                self._redo.add(start)
                held.append(row)
            elif held:
                held.append(row)
            else:
                self.records += report.records
                out.append(report)
        if self._follower is not None:
            self._follower.advance(limit)
            out.extend(self._settled())
        return out

    def _settled(self):
        """The held reports from the first on, up to one still being dissected again."""
        done, out = self._follower.done, []
        n = 0
        for start, _key, report, _end in self._held:
            if start in self._redo:
                if start not in done and not self.finished:
                    break
                report = done.pop(start, report)
                self._redo.discard(start)
            self.records += report.records
            out.append(report)
            n += 1
        del self._held[:n]
        return out

    def close(self):
        if self._follower is not None:
            self._follower.close()
        self.logs.close()


def merge(parts, path, keylog=None, server_key=None, ports=(), keep="all"):
    """The ``DissectResult`` of the shares' results (``dissect_share`` run whole),
    resumed connections that lacked another share's secret dissected again."""
    logs = Logs(len(parts), parts=parts)
    merger = Merger(len(parts), lambda: Follower(path, keylog, server_key, ports, keep,
                                                  logs), logs)
    result = DissectResult()
    try:
        for n, part in enumerate(parts):
            rows = [row + (end,) for row, end in zip(part["reports"], part["ends"])]
            first = min((e[0] for e in part["sessions"]), default=None)
            result.extend(merger.put(n, (END, END, rows, first, 0,
                                         {"warnings": part["warnings"]})))
    finally:
        merger.close()
    result.warnings = list(merger.warnings or ())
    result.records = merger.records
    return result
