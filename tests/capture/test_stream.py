"""Streaming dissection (capture/stream.py): reports as connections end, the same reports
as the whole-capture way, idle timeouts, and state that does not grow with the capture."""
import json
import subprocess
import sys

import pytest

from scapy_tls_hs import iter_connections as top_level_iter
from scapy_tls_hs.capture.dissect import (dissect_capture, is_tls, iter_connections,
                                          load_keylog, load_server_key, report_connection)
from scapy_tls_hs.capture.pcapfile import read_packets
from scapy_tls_hs.capture.stream import InOrder, StreamDissector
from scapy_tls_hs.capture.streams import reassemble
from scapy_tls_hs.connection.observer import SessionTable

from tests.capture.rewrite import CAPTURES, PCAPS, FIN, RST, optional, tcp_segments, write

ALL = sorted(p for folder in (PCAPS, CAPTURES) for p in folder.iterdir()
             if p.suffix in (".pcap", ".pcapng"))
RESUME = PCAPS / "resume_session_id_openssl.pcap"


def _keys(path):
    name = path.name.rsplit(".", 1)[0]
    return (optional(name, ".keylog", path.parent), optional(name, ".server.key", path.parent))


def _whole_capture(path, keylog, server_key):
    """The reports the way ``dissect_capture`` made them before streaming: the whole
    capture reassembled first, then each TLS connection dissected in start order."""
    keylog, server_key = load_keylog(keylog), load_server_key(server_key)
    sessions = SessionTable()
    return [report_connection(c, keylog, server_key, sessions)
            for c in reassemble(read_packets(path)) if is_tls(c)]


def _json(reports):
    return [json.dumps(r.to_dict(), sort_keys=True) for r in reports]


def test_every_bundled_capture_is_here():
    assert len(ALL) >= 30


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.parent.name + "/" + p.name)
def test_streaming_gives_the_whole_capture_reports(path):
    keylog, server_key = _keys(path)
    before = _whole_capture(path, keylog, server_key)
    listed = dissect_capture(path, keylog=keylog, server_key=server_key)
    assert _json(listed) == _json(before)           # same reports, same (start) order
    assert [r.ladder for r in listed] == [r.ladder for r in before]
    assert [r.raw_records for r in listed] == [r.raw_records for r in before]
    assert listed.records == sum(r.records for r in before)

    stream = iter_connections(path, keylog=keylog, server_key=server_key)
    streamed = list(stream)
    assert sorted(_json(streamed)) == sorted(_json(before))
    assert stream.warnings == listed.warnings
    assert stream.records == listed.records


def test_top_level_api_exports_iter_connections():
    assert top_level_iter is iter_connections


# -- a capture made here: connections that overlap, end out of order, or go quiet --------

def _copies(path, copies, spacing, client_base=10):
    """The segments of ``path`` (one connection) again ``copies`` times, each with its own
    client address, ``spacing`` seconds apart."""
    segments = tcp_segments(path)
    start = segments[0].time
    out = []
    for k in range(copies):
        client = bytes((client_base, k >> 8 & 255, k & 255, 1))
        port = segments[0].sport            # the client's (the first packet is its SYN)
        for s in segments:
            out.append(s.copy(time=1000.0 + k * spacing + s.time - start,
                              src=client if s.sport == port else s.src,
                              dst=client if s.dport == port else s.dst))
    return out


ONE = PCAPS / "tls12_ecdhe_rsa_aes128gcm_openssl.pcap"


def test_one_connection_capture_ends_with_fin_each_way():
    assert len(dissect_capture(ONE)) == 1
    assert sum(1 for s in tcp_segments(ONE) if s.flags & FIN) == 2


def test_completion_order_and_start_order(tmp_path):
    """A starts, B starts, B ends, A ends: streamed B then A; listed A then B."""
    a_segs = _copies(ONE, 1, 0)
    b_segs = [s.copy(time=s.time + 0.0001) for s in _copies(ONE, 2, 0)[len(a_segs):]]
    last_a = max(s.time for s in b_segs) + 1
    # A's FINs (and what follows them) after all of B
    cut = next(i for i, s in enumerate(a_segs) if s.flags & FIN)
    segs = sorted(a_segs[:cut] + b_segs, key=lambda s: s.time) + [
        s.copy(time=last_a + i * 0.001) for i, s in enumerate(a_segs[cut:])]
    cap = write(tmp_path / "ab.pcap", segs)
    listed = dissect_capture(cap)
    streamed = list(iter_connections(cap))
    assert [r.client.split(":")[0] for r in listed] == ["10.0.0.1", "10.0.1.1"]
    assert [r.client for r in streamed] == [listed[1].client, listed[0].client]
    assert list(iter_connections(cap, ordered=True))[0].client == listed[0].client

    # the command line: start order by default, completion order with --stream
    def cli(*extra):
        out = subprocess.run([sys.executable, "-m", "scapy_tls_hs", "dissect", str(cap),
                              "--json", *extra], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return [json.loads(line)["client"] for line in out.stdout.splitlines()]
    assert cli() == [r.client for r in listed]
    assert cli("--stream") == [r.client for r in streamed]
    assert cli("--stream", "--jobs", "1") == [r.client for r in streamed]


def _no_close(segments):
    """The connection never ends: no FIN, no RST."""
    return [s for s in segments if not s.flags & (FIN | RST)]


def test_idle_connection_is_reported_after_the_timeout_in_capture_time(tmp_path):
    quiet = _no_close(_copies(ONE, 1, 0))
    later = _copies(ONE, 1, 0, client_base=11)
    last = max(s.time for s in quiet)
    # the second connection starts 200 s (capture time) after the first went quiet
    segs = quiet + [s.copy(time=s.time + 200 + last - 1000) for s in later]
    cap = write(tmp_path / "idle.pcap", segs)
    core = StreamDissector(idle_timeout=120)
    out = []
    for i, (ts, linktype, data) in enumerate(read_packets(cap)):
        for seq, report in core.add(ts, linktype, data):
            out.append((i, report))
    assert len(out) == 2
    (i1, first), (i2, second) = out
    assert first.client.startswith("10.0.0.1:") and i1 == len(quiet)   # at the next packet
    last_fin = max(i for i, s in enumerate(segs) if s.flags & FIN)
    assert second.client.startswith("11.0.0.1:") and i2 == last_fin     # its second FIN
    assert core.finish() == [] and core.open_connections == 0
    assert first.version == "TLS 1.2" and "the capture stopped" not in " ".join(first.errors)

    # without a timeout it stays open until the end of the capture
    core = StreamDissector(idle_timeout=None)
    early = [r for ts, lt, d in read_packets(cap) for _s, r in core.add(ts, lt, d)]
    assert [r.client[:9] for r in early] == ["11.0.0.1:"]
    rest = [r for _s, r in core.finish()]
    assert [r.client[:9] for r in rest] == ["10.0.0.1:"]
    # a shorter timeout given to iter_connections: quiet for 5 s is over
    streamed = list(iter_connections(cap, idle_timeout=5))
    assert [r.client[:9] for r in streamed] == ["10.0.0.1:", "11.0.0.1:"]


def test_state_does_not_grow_with_finished_connections(tmp_path):
    """200 connections one after the other (some overlapping): what the dissector holds at
    any time stays that of a few connections, however many have finished."""
    copies = 200
    segs = sorted(_copies(ONE, copies, 0.05), key=lambda s: s.time)
    cap = write(tmp_path / "many.pcap", segs)
    core = StreamDissector()
    order = InOrder()
    reassembler = core.reassembler
    most = dict(open=0, feeders=0, held=0, table=0, gone=0, waiting=0, sessions=0)
    reported = []
    for ts, linktype, data in read_packets(cap):
        released = core.add(ts, linktype, data)
        reported.extend(order.put(released))
        now = dict(open=core.open_connections, feeders=len(core._feeders),
                   held=core.held_bytes, table=len(reassembler._table),
                   gone=len(reassembler.gone), waiting=len(order),
                   sessions=len(getattr(core.sessions, "__dict__", {})))
        for key, value in now.items():
            most[key] = max(most[key], value)
    reported.extend(order.put(core.finish()))
    assert len(reported) == copies
    assert all(r.version == "TLS 1.2" and not r.errors for r in reported)
    # the ten connections' worth of overlap at most: not 200
    assert most["open"] <= 10 and most["feeders"] <= 10 and most["table"] <= 20
    assert most["waiting"] <= 10
    assert most["held"] < 64 * 1024       # bytes held before the TLS test: a few hellos
    # a TLS connection's chunks go to its observer, not into the connection
    assert core.open_connections == 0 and reassembler.connections == []


def test_session_table_resumes_across_streamed_connections():
    name = "resume_session_id_openssl"
    keylog = PCAPS / (name + ".keylog")
    streamed = list(iter_connections(RESUME, keylog=keylog))
    assert [r.resumed for r in streamed] == [False, True]
    assert all(r.decrypted for r in streamed)


def test_a_file_that_is_not_a_capture_fails_at_once(tmp_path):
    from scapy_tls_hs.errors import CaptureError
    bad = tmp_path / "x.pcap"
    bad.write_bytes(b"not a capture")
    with pytest.raises(CaptureError):
        iter_connections(bad)


def test_kept_records_are_bounded(monkeypatch):
    from scapy_tls_hs.capture import stream
    monkeypatch.setattr(stream, "MAX_KEPT", 1000)
    (report,) = list(iter_connections(ONE, keylog=_keys(ONE)[0]))
    (whole,) = _whole_capture(ONE, _keys(ONE)[0], None)
    assert sum(len(r[4]) for r in report.raw_records) <= 1000
    assert len(report.raw_records) < len(whole.raw_records)
    assert report.errors and "not kept" in report.errors[-1]
    # the summary still covers every record
    assert report.messages == whole.messages and report.app_data == whole.app_data


def test_a_long_connection_that_is_not_tls_holds_no_report_back(tmp_path):
    """In start order, a report waits for the connections that started before it, but
    not for one already known not to be TLS (here: plaintext both ways, open until the
    end of the capture)."""
    from tests.capture.rewrite import Segment
    SYN_, ACK_ = 0x02, 0x10
    c, s = bytes((192, 0, 2, 1)), bytes((192, 0, 2, 2))
    text = b"GET / HTTP/1.1\r\nHost: plain\r\n\r\n" + b"x" * 1000
    plain = [Segment(1.0, c, s, 40000, 80, 1000, 0, SYN_, b""),
             Segment(1.001, s, c, 80, 40000, 9000, 1001, SYN_ | ACK_, b""),
             Segment(1.002, c, s, 40000, 80, 1001, 9001, ACK_, b"")]
    seq_c, seq_s, t = 1001, 9001, 1.01
    for _ in range(20):        # more than preamble.SEARCH bytes each way
        plain.append(Segment(t, c, s, 40000, 80, seq_c, seq_s, ACK_, text))
        plain.append(Segment(t + 0.001, s, c, 80, 40000, seq_s, seq_c + len(text), ACK_,
                             text))
        seq_c, seq_s, t = seq_c + len(text), seq_s + len(text), t + 0.01
    tls = [x.copy(time=x.time - 1000 + t + 1) for x in _copies(ONE, 1, 0)]
    end = tls[-1].time + 1
    fins = [Segment(end, c, s, 40000, 80, seq_c, seq_s, FIN | ACK_, b""),
            Segment(end + 0.001, s, c, 80, 40000, seq_s, seq_c + 1, FIN | ACK_, b"")]
    cap = write(tmp_path / "plain-first.pcap", plain + tls + fins)
    core, order = StreamDissector(), InOrder()
    out = []
    for i, (ts, linktype, data) in enumerate(read_packets(cap)):
        out.extend((i, r) for r in order.put(core.add(ts, linktype, data)))
    out.extend((None, r) for r in order.put(core.finish()))
    assert len(out) == 1
    i, report = out[0]
    assert report.client.startswith("10.0.0.1:")
    assert i is not None and i < len(plain) + len(tls)      # before the plain one ended
    assert [r.client for r in dissect_capture(cap)] == [report.client]
