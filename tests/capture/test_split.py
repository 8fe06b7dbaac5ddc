"""One capture split by connection (capture/split.py): the same reports as one process."""
import pathlib

import pytest

from scapy_tls_hs.capture.dissect import dissect_capture
from scapy_tls_hs.capture.split import dissect_share, merge, share_of

DATA = pathlib.Path(__file__).resolve().parent.parent / "data"
CAPTURES = DATA / "captures"
BUNDLED = sorted(p for p in DATA.rglob("*") if p.suffix in (".pcap", ".pcapng"))


def _keys(path):
    base = path.with_suffix("")
    keylog = base.with_suffix(".keylog")
    server_key = base.with_suffix(".server.key")
    return (keylog if keylog.exists() else None,
            server_key if server_key.exists() else None)


def _split(path, shares, keylog=None, server_key=None):
    parts = [dissect_share(path, s, shares, keylog, server_key) for s in range(shares)]
    return merge(parts, path, keylog, server_key), parts


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
@pytest.mark.parametrize("shares", [2, 3, 5])
def test_split_equals_one_process(path, shares):
    keylog, server_key = _keys(path)
    for log in {keylog, None}:
        one = dissect_capture(path, keylog=log, server_key=server_key)
        got, _parts = _split(path, shares, log, server_key)
        assert [r.to_dict() for r in got] == [r.to_dict() for r in one]
        assert got.warnings == one.warnings and got.records == one.records
        assert [r.ladder for r in got] == [r.ladder for r in one]


def test_shares_do_not_overlap_and_cover_everything():
    path = DATA / "dissect" / "proxies_curl.pcap"
    one = dissect_capture(path)
    _got, parts = _split(path, 3)
    seen = [(r.client, r.server) for p in parts for _s, _k, r in p["reports"]]
    assert sorted(seen) == sorted((r.client, r.server) for r in one)
    for n, part in enumerate(parts):
        assert all(share_of(key, 3) == n for _s, key, _r in part["reports"])


@pytest.mark.parametrize("name", ["resume_session_id_openssl", "resume_ticket_python"])
def test_resumed_connection_in_another_share_is_dissected_again(tmp_path, name):
    # Only the full handshake's key log line: the resumed connection needs the master
    # secret the first connection taught its share.
    lines = (CAPTURES / (name + ".keylog")).read_text().splitlines()
    keylog = tmp_path / "first.keylog"
    keylog.write_text(next(line for line in lines if line.startswith("CLIENT_RANDOM")) + "\n")
    path = CAPTURES / (name + ".pcap")
    one = dissect_capture(path, keylog=keylog)
    assert [(r.resumed, r.decrypted) for r in one] == [(False, True), (True, True)]
    apart = 0
    for shares in (2, 3, 5, 7):
        got, parts = _split(path, shares, keylog)
        owners = {r.resumed: n for n, p in enumerate(parts) for _s, _k, r in p["reports"]}
        if owners[True] != owners[False]:
            apart += 1
            first_try = [r for p in parts for _s, _k, r in p["reports"] if r.resumed]
            assert not first_try[0].decrypted          # its share lacked the secret
        assert [r.to_dict() for r in got] == [r.to_dict() for r in one]
    assert apart                                       # the case was exercised


# -- streamed shares, merged as they come (what ``dissect --jobs N`` does) ----------------

def _streamed(path, shares, logdir, keylog=None, server_key=None):
    """Each share run with ``send``, then their messages merged in the order the parent
    takes them (from the share that read least): the reports, and the merger."""
    import os
    from scapy_tls_hs.capture.split import Follower, Logs, Merger
    os.makedirs(logdir, exist_ok=True)
    inbox = []
    for share in range(shares):
        box = []
        dissect_share(path, share, shares, keylog, server_key, send=box.append,
                      logdir=str(logdir))
        inbox.append(box)
    logs = Logs(shares, logdir=str(logdir))
    merger = Merger(shares, lambda: Follower(path, keylog, server_key, (), "all", logs), logs)
    out = []
    while not merger.finished:
        share = merger.behind()
        out.extend(merger.put(share, inbox[share].pop(0)))
    merger.close()
    return out, merger


def _many_connections(path, copies, out):
    """``copies`` of a capture, one after the other in time, each with its client on an
    address of its own (10.0.x.y): many short connections, as in bench_scale.py."""
    import struct
    from collections import Counter
    from scapy_tls_hs.capture.pcapfile import read_packets
    packets = list(read_packets(path))
    ports = Counter()
    for _ts, _lt, data in packets:
        ihl = (data[14] & 15) * 4
        ports.update(struct.unpack("!HH", data[14 + ihl:18 + ihl]))
    server = ports.most_common(1)[0][0]
    t0, t1 = packets[0][0], packets[-1][0]
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for k in range(copies):
            for ts, _lt, data in packets:
                b = bytearray(data)
                ihl = (b[14] & 15) * 4
                sport = struct.unpack("!H", b[14 + ihl:16 + ihl])[0]
                at = 14 + (16 if sport == server else 12)
                b[at:at + 4] = bytes((10, 0, k >> 8, k & 255))
                t = 1700000000 + (ts - t0) + k * (t1 - t0 + 1.0)
                f.write(struct.pack("<IIII", int(t), int(round((t % 1) * 1e6)) % 1000000,
                                    len(b), len(b)))
                f.write(b)
    return out


@pytest.fixture
def many_connections(tmp_path):
    return _many_connections(CAPTURES / "resume_ticket_python.pcap", 120,
                             tmp_path / "many.pcap")


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_streamed_shares_equal_one_process(path, tmp_path, monkeypatch):
    from scapy_tls_hs.capture import split
    monkeypatch.setattr(split, "CHUNK", 4)
    keylog, server_key = _keys(path)
    one = dissect_capture(path, keylog=keylog, server_key=server_key)
    for shares in (2, 3):
        got, merger = _streamed(path, shares, tmp_path / str(shares), keylog, server_key)
        assert [r.to_dict() for r in got] == [r.to_dict() for r in one]
        assert merger.warnings == one.warnings and merger.records == one.records
        assert merger.held == 0


def test_streamed_merge_holds_few_reports(many_connections, tmp_path, monkeypatch):
    # 240 connections one after another: the merge writes each out soon after it ended,
    # holding a few reports at a time, never all.
    from scapy_tls_hs.capture import split
    monkeypatch.setattr(split, "CHUNK", 16)
    keylog = CAPTURES / "resume_ticket_python.keylog"
    one = dissect_capture(many_connections, keylog=keylog)
    assert len(one) == 240
    for shares in (2, 3):
        got, merger = _streamed(many_connections, shares, tmp_path / str(shares), keylog)
        assert [r.to_dict() for r in got] == [r.to_dict() for r in one]
        assert merger.most_held <= 8


def test_streamed_resumed_connections_dissected_again_in_one_pass(many_connections,
                                                                   tmp_path, monkeypatch):
    # Only the full handshake's key log line: a resumed connection whose share has not
    # seen the ticket yet is dissected again with the other shares' entries, by one
    # follower reading the capture once behind the merge, which still holds few reports;
    # the output is one process's.
    from scapy_tls_hs.capture import split
    monkeypatch.setattr(split, "CHUNK", 16)
    lines = (CAPTURES / "resume_ticket_python.keylog").read_text().splitlines()
    keylog = tmp_path / "first.keylog"
    keylog.write_text(next(line for line in lines if line.startswith("CLIENT_RANDOM")) + "\n")
    one = dissect_capture(many_connections, keylog=keylog)
    assert all(r.decrypted for r in one)
    followers = []
    real = split.Follower.want

    def want(self, key, start):
        if self not in followers:
            followers.append(self)
        return real(self, key, start)

    monkeypatch.setattr(split.Follower, "want", want)
    used = 0
    for shares in (2, 3, 5, 7):
        del followers[:]
        got, merger = _streamed(many_connections, shares, tmp_path / str(shares), keylog)
        assert [r.to_dict() for r in got] == [r.to_dict() for r in one]
        assert len(followers) <= 1 and merger.most_held <= 8
        for follower in followers:
            assert not follower.done and not follower.starts    # all given back
            used += 1
    assert used                                                  # the case was exercised


def test_dissect_many_streams_a_split_capture(many_connections, monkeypatch):
    # Through the worker processes and their queues: the same reports as one process,
    # the parent holding a few at a time.
    from scapy_tls_hs.capture import many, split
    from scapy_tls_hs.capture.many import ReportStream, dissect_many
    monkeypatch.setattr(many, "SPLIT_SIZE", 0)
    monkeypatch.setattr(split, "CHUNK", 16)     # forked workers inherit it
    keylog = CAPTURES / "resume_ticket_python.keylog"
    one = dissect_capture(many_connections, keylog=keylog)
    results = dissect_many([many_connections], keylog=keylog, jobs=2, stream=True)
    stream = next(results)
    assert isinstance(stream, ReportStream)
    got = list(stream)
    assert [r.to_dict() for r in got] == [r.to_dict() for r in one]
    assert stream.error is None and stream.records == one.records
    assert stream.warnings == one.warnings and 0 < stream.most_held <= 8
    assert list(results) == []
    (gathered,) = dissect_many([many_connections], keylog=keylog, jobs=2)
    assert [r.to_dict() for r in gathered] == [r.to_dict() for r in one]
    assert gathered.error is None and gathered.capture == many_connections


def test_dissect_many_split_capture_that_cannot_be_read(tmp_path, monkeypatch):
    from scapy_tls_hs.capture import many
    from scapy_tls_hs.capture.many import dissect_many
    monkeypatch.setattr(many, "SPLIT_SIZE", 0)
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"not a capture at all" * 10)
    (result,) = dissect_many([bad], jobs=2)
    assert list(result) == [] and result.error and "bad.pcap" in result.error


def test_a_split_capture_given_up_on_stops_its_workers(many_connections, monkeypatch):
    # The caller stops after the first report: the shares, waiting on full queues, are
    # stopped rather than waited for.
    import time
    from scapy_tls_hs.capture import many, split
    from scapy_tls_hs.capture.many import dissect_many
    monkeypatch.setattr(many, "SPLIT_SIZE", 0)
    monkeypatch.setattr(many, "QUEUE_SIZE", 1)
    monkeypatch.setattr(split, "CHUNK", 4)
    results = dissect_many([many_connections], jobs=2, stream=True)
    stream = next(results)
    first = next(iter(stream))
    assert first.client
    start = time.monotonic()
    results.close()
    assert time.monotonic() - start < 30


def test_dissect_many_split_capture_dissects_again_in_the_parent(many_connections, tmp_path,
                                                                  monkeypatch):
    from scapy_tls_hs.capture import many, split
    from scapy_tls_hs.capture.many import dissect_many
    monkeypatch.setattr(many, "SPLIT_SIZE", 0)
    monkeypatch.setattr(split, "CHUNK", 16)
    lines = (CAPTURES / "resume_ticket_python.keylog").read_text().splitlines()
    keylog = tmp_path / "first.keylog"
    keylog.write_text(next(line for line in lines if line.startswith("CLIENT_RANDOM")) + "\n")
    one = dissect_capture(many_connections, keylog=keylog)
    for jobs in (2, 3):
        (result,) = dissect_many([many_connections], keylog=keylog, jobs=jobs)
        assert result.error is None
        assert [r.to_dict() for r in result] == [r.to_dict() for r in one]
