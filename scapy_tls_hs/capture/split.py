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
"""
import os
import struct
import zlib

from .dissect import (DissectResult, _with_embedded, keylog_warning, load_keylog,
                      load_server_key)
from .pcapfile import TLS_KEYLOG, read_packets
from .streams import decode_packet

__all__ = ["dissect_share", "merge", "share_of", "light"]

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
    (a, b) = conn._ends
    return _key(a[0], a[1], b[0], b[1])


class _LoggedTable:
    """A ``SessionTable`` that notes each entry with the index of the packet being
    dissected when it was added (``now``), so that the parent can replay them in order."""

    def __init__(self, table):
        self.table = table
        self.log = []
        self.now = 0

    def add(self, entry, session_id=b"", ticket=b""):
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


def dissect_share(path, share=0, shares=1, keylog=None, server_key=None, ports=(),
                  keep="all", only=None, replay=(), progress=None, packets=None):
    """Dissect the connections of ``path`` that hash to ``share`` of ``shares`` (or, with
    ``only``, those whose key is in it), streamed as one process does it
    (``stream.StreamDissector``: memory grows with the open connections and the reports,
    not with the capture). ``replay``: ``(index, entry, id, ticket)`` session entries
    learnt elsewhere, each added before the packet after ``index``.

    Returns a dict: ``reports`` as ``(start index, key, report)``, ``warnings``,
    ``sessions`` (this share's session table entries, each with the index of the packet
    that taught it). ``keep``: see ``light``. ``progress(nbytes)`` is called
    now and then with the bytes read since the last call. ``packets``: this share's
    ``(index, (time, linktype, data))`` sent by someone else who read the file (the
    alternative benchmarks/bench_parallel.py measures) instead.
    """
    from .stream import SWEEP, StreamDissector
    keylog_name = keylog
    keylog = load_keylog(keylog)
    server_key = load_server_key(server_key)
    reader = read_packets(path) if packets is None else _Given(packets)
    source = enumerate(reader) if packets is None else packets
    pick = packets is None and (shares > 1 or only is not None)
    core = StreamDissector(keylog, server_key, ports)
    sessions = core.sessions = _LoggedTable(core.sessions)
    reasm = core.reassembler
    replay = sorted(replay, key=lambda e: e[0])
    r = 0
    owned = {}      # the share's connections: start order in ``reasm`` -> (index, key)
    out = []

    def take(released):
        for seq, report in released:
            mine = owned.pop(seq, None)
            if mine is not None and report is not None:
                out.append((mine[0], mine[1], light(report, keep)))

    secrets = sent = done = 0
    crc32, add = zlib.crc32, core.add
    for i, (ts, linktype, data) in source:
        if progress is not None:
            done += len(data) + 16
            if done - sent >= PROGRESS_STEP:
                progress(done - sent)
                sent = done
        if len(reader.secrets) != secrets:
            secrets = len(reader.secrets)
            blocks = [b for stype, b in reader.secrets if stype == TLS_KEYLOG]
            if blocks:
                core.keylog = _with_embedded(keylog, blocks)
        key = _packet_key(linktype, data) if pick else None
        if key is not None and ((key not in only) if only is not None
                                else crc32(key) % shares != share):
            # Another share's packet; its time still drives the sweep for idle
            # connections, so that they end here when they would in one process.
            if core.idle_timeout is not None:
                if core._next_sweep is None:
                    core._next_sweep = ts + SWEEP
                elif ts >= core._next_sweep:
                    core._next_sweep = ts + SWEEP
                    take(core.expire(ts))
            continue
        while r < len(replay) and replay[r][0] < i:
            sessions.table.add(*replay[r][1:])
            r += 1
        sessions.now = i
        n = reasm.started
        released = add(ts, linktype, data)
        if reasm.started != n:
            conn = reasm.last
            ckey = _conn_key(conn)
            if (ckey in only) if only is not None else share_of(ckey, shares) == share:
                owned[conn.seq] = (i, ckey)
        if released:
            take(released)
    if progress is not None:
        try:
            total = os.path.getsize(path)
        except (OSError, TypeError):
            total = done
        progress(max(total - sent, 0))
    cut = reader.errors if reader.truncated else None
    for conn in list(reasm._open):
        take(core.release(conn, None if conn.closed else cut))
    warnings = list(reader.errors) + list(reasm.warnings)
    warning = keylog_warning(keylog, keylog_name)
    if warning:
        warnings.append(warning)
    out.sort(key=lambda row: row[0])
    return {"reports": out, "warnings": warnings, "sessions": sessions.log}


def merge(parts, path, keylog=None, server_key=None, ports=(), keep="all"):
    """The ``DissectResult`` of the shares' results (``dissect_share``), resumed
    connections that lacked another share's secret dissected again."""
    rows = sorted((row for part in parts for row in part["reports"]), key=lambda r: r[0])
    # The packet index of each share's first learnt secret (None: it learnt none).
    first = [min((e[0] for e in part["sessions"]), default=None) for part in parts]
    redo = {}
    for start, key, report in rows:
        if report.resumed and not report.decrypted and any(
                n != share_of(key, len(parts)) and learnt is not None and learnt < start
                for n, learnt in enumerate(first)):
            redo[key] = start
    if redo:
        replay = [e for part in parts for e in part["sessions"]]
        again = dissect_share(path, keylog=keylog, server_key=server_key, ports=ports,
                              keep=keep, only=frozenset(redo), replay=replay)
        fixed = {start: report for start, _key, report in again["reports"]}
        rows = [(start, key, fixed.get(start, report)) for start, key, report in rows]
    result = DissectResult(warnings=parts[0]["warnings"] if parts else ())
    for _start, _key, report in rows:
        result.append(report)
        result.records += report.records
    return result
