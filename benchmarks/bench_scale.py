#!/usr/bin/env python3
"""Dissect captures of growing size: records/s, connections and peak memory (issue 14).

Makes large captures from a real one (default: ``benchmarks/out/bench.pcap``, 300 TLS 1.2
connections recorded by ``make_capture.py``): the capture is written again and again, each
copy with its client moved to another IPv4 address (10.x.y.1) and its timestamps shifted
past the previous copy's, as one pcap written packet by packet (the generator's memory does
not grow either). Then runs ``scapy-tls-hs dissect CAPTURE --json`` as a child process on
each (``--jobs 1`` unless told: one process) and reports its wall time, TLS records per
second (the base capture's record count times the copies), connections reported (JSON
lines) and peak RSS (``ru_maxrss`` of the child, from ``os.wait4``: the largest of the
child and the processes it waited for, so with ``--jobs N`` the largest of the parent and
its workers). With ``--jobs`` other than 1 each process is also sampled (``/proc/PID/status``
every 0.1 s: ``VmHWM``, its own peak): the parent's peak, the largest worker's, and the
largest sum of all their RSS at one time (Linux only).

Sizes are in units of ``--unit`` connections (default 6,000): ``--sizes 1,3,30`` gives
6,000, 18,000 (the issue's "95 MB / 18,000 connections") and 180,000 (ten times that)
connections. ``--tree DIR`` runs another checkout's package (before/after comparisons);
``--keylog`` decrypts too (every copy keeps the base's randoms, so one key log serves all).

    python benchmarks/bench_scale.py [--sizes 1,3,30] [--unit 6000] [--tree /tmp/before]
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")
TIMEOUT = 3600

_REC = struct.Struct("<IIII")


def read_base(path):
    """(pcap header, [(seconds, record header fields, frame)], duration) of a little-endian
    microsecond pcap with Ethernet or raw IPv4 frames."""
    with open(path, "rb") as f:
        header = f.read(24)
        magic, = struct.unpack("<I", header[:4])
        if magic != 0xA1B2C3D4:
            raise SystemExit("%s: only little-endian microsecond pcap is supported" % path)
        linktype = struct.unpack("<I", header[20:24])[0] & 0xFFFF
        ip = {1: 14, 101: 0, 228: 0}.get(linktype)
        if ip is None:
            raise SystemExit("%s: link type %d not supported" % (path, linktype))
        packets = []
        while True:
            head = f.read(16)
            if len(head) < 16:
                break
            sec, usec, incl, orig = _REC.unpack(head)
            packets.append((sec * 1000000 + usec, orig, f.read(incl)))
    start = packets[0][0]
    return header, ip, [(t - start, orig, frame) for t, orig, frame in packets], \
        packets[-1][0] - start


def server_port(base_packets, ip):
    """The port every connection shares (the server's)."""
    counts = {}
    for _t, _o, frame in base_packets[:200]:
        ihl = (frame[ip] & 15) * 4
        for port in struct.unpack("!HH", frame[ip + ihl:ip + ihl + 4]):
            counts[port] = counts.get(port, 0) + 1
    return max(counts, key=counts.get)


def write_capture(path, base, copies):
    """``copies`` shifted copies of the base capture, in one pcap."""
    header, ip, packets, duration = base
    sport = server_port(packets, ip)
    step = duration + 1000000       # one second between copies
    t0 = 1700000000 * 1000000
    with open(path, "wb", buffering=1 << 20) as f:
        f.write(header)
        for k in range(copies):
            client = bytes((10, (k >> 8) & 255, k & 255, 1))
            shift = t0 + k * step
            for t, orig, frame in packets:
                b = bytearray(frame)
                ihl = (b[ip] & 15) * 4
                from_server = struct.unpack("!H", b[ip + ihl:ip + ihl + 2])[0] == sport
                at = ip + (16 if from_server else 12)
                b[at:at + 4] = client
                t += shift
                f.write(_REC.pack(t // 1000000, t % 1000000, len(b), orig))
                f.write(b)
    return os.path.getsize(path)


def dissect(capture, tree=None, keylog=None, stream=False, jobs=None):
    """Run ``dissect --json`` as a child: (wall s, JSON lines, peak RSS MB, error)."""
    argv = [sys.executable, "-m", "scapy_tls_hs", "dissect", capture, "--json"]
    if jobs is not None:
        argv += ["--jobs", str(jobs)]
    if keylog:
        argv += ["--keylog", keylog]
    if stream:
        argv.append("--stream")
    env = dict(os.environ)
    env["PYTHONPATH"] = tree or ROOT
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            cwd=tree or ROOT)
    lines = 0
    sampler = _Sampler(proc.pid) if jobs != 1 else None
    for _line in proc.stdout:
        lines += 1
    err = proc.stderr.read().decode(errors="replace")
    if sampler is not None:
        sampler.stop()
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    problem = None
    if proc.returncode:
        problem = "exit %d: %s" % (proc.returncode, (err.strip().splitlines() or [""])[-1])
    return wall, lines, usage.ru_maxrss / 1024.0, problem, (
        sampler.summary() if sampler is not None else None)


def _status(pid):
    """(parent pid, VmRSS kB, VmHWM kB) of a process, or None when it is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        return (int(fields["PPid"]), int(fields.get("VmRSS", "0 kB").split()[0]),
                int(fields.get("VmHWM", "0 kB").split()[0]))
    except (OSError, KeyError, ValueError):
        return None


class _Sampler:
    """Peak RSS of a process and of each of its descendants, sampled from /proc (Linux)."""

    def __init__(self, pid, every=0.1):
        import threading
        self.pid, self.every = pid, every
        self.peaks = {}         # pid -> VmHWM kB (last seen)
        self.most_total = 0     # kB: the largest sum of VmRSS at one sample
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            family = {self.pid}
            seen = {}
            try:
                pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
            except OSError:
                pids = []
            for pid in pids:
                st = _status(pid)
                if st is not None:
                    seen[pid] = st
            grew = True
            while grew:         # descendants of descendants (the pool's manager, workers)
                grew = False
                for pid, st in seen.items():
                    if pid not in family and st[0] in family:
                        family.add(pid)
                        grew = True
            total = 0
            for pid in family:
                if pid in seen:
                    total += seen[pid][1]
                    self.peaks[pid] = max(self.peaks.get(pid, 0), seen[pid][2])
            self.most_total = max(self.most_total, total)
            self._stop.wait(self.every)

    def stop(self):
        self._stop.set()
        self._thread.join()

    def summary(self):
        """MB: the parent's peak, the largest other's, the largest sum at one time."""
        others = [v for pid, v in self.peaks.items() if pid != self.pid]
        return dict(parent_mb=self.peaks.get(self.pid, 0) / 1024.0,
                    worker_mb=max(others, default=0) / 1024.0,
                    processes=len(self.peaks), total_mb=self.most_total / 1024.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", default=os.path.join(OUT, "bench.pcap"))
    ap.add_argument("--sizes", default="1,3,30", help="multiples of --unit connections")
    ap.add_argument("--unit", type=int, default=6000, help="connections per size unit")
    ap.add_argument("--tree", help="another checkout's root (its scapy_tls_hs is run)")
    ap.add_argument("--keylog", help="key log to decrypt with (e.g. out/bench.keylog)")
    ap.add_argument("--stream", action="store_true", help="pass --stream to dissect")
    ap.add_argument("--jobs", type=int, default=1,
                    help="--jobs for dissect (default 1: one process; 0: not given)")
    ap.add_argument("--keep", action="store_true", help="keep the generated captures")
    ap.add_argument("--workdir", default=OUT)
    args = ap.parse_args()
    if args.keylog:
        args.keylog = os.path.abspath(args.keylog)

    sys.path.insert(0, HERE)
    from bench_dissect import compile_package, count_records
    compile_package(args.tree)
    base = read_base(args.base)
    conns, records, _app = count_records(args.base, args.tree)
    print("base %s: %d TLS connections, %d records, %.1f s; load average %s"
          % (args.base, conns, records, base[3] / 1e6,
             " ".join("%.2f" % x for x in os.getloadavg())))
    results = []
    for size in [float(s) for s in args.sizes.split(",")]:
        copies = max(int(round(size * args.unit / conns)), 1)
        path = os.path.join(args.workdir, "scale-%d.pcap" % copies)
        t = time.perf_counter()
        nbytes = write_capture(path, base, copies)
        made = time.perf_counter() - t
        try:
            wall, lines, rss, problem, sampled = dissect(path, args.tree, args.keylog,
                                                         args.stream, args.jobs or None)
        finally:
            if not args.keep:
                os.unlink(path)
        r = dict(size=size, copies=copies, connections=conns * copies, reported=lines,
                 capture_mb=nbytes / 1e6, records=records * copies, seconds=wall,
                 records_per_second=records * copies / wall, peak_rss_mb=rss,
                 error=problem, made_seconds=made, sampled=sampled,
                 loadavg=[round(x, 2) for x in os.getloadavg()])
        results.append(r)
        print("%5gx %7d connections %8.1f MB: %7.1f s %8.0f records/s, %d reported, "
              "peak RSS %6.1f MB%s (load %s)"
              % (size, r["connections"], r["capture_mb"], wall, r["records_per_second"],
                 lines, rss, "  ERROR " + problem if problem else "",
                 " ".join("%.2f" % x for x in r["loadavg"])))
        if sampled:
            print("       sampled: parent peak %.1f MB, largest other process %.1f MB "
                  "(%d processes), largest sum at one time %.1f MB"
                  % (sampled["parent_mb"], sampled["worker_mb"], sampled["processes"],
                     sampled["total_mb"]))
        sys.stdout.flush()
    out = os.path.join(OUT, "bench_scale_result.json")
    with open(out, "w") as f:
        json.dump(dict(base=args.base, tree=args.tree or ROOT, keylog=args.keylog, jobs=args.jobs,
                       stream=args.stream, results=results,
                       date=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())), f, indent=1)
    return 1 if any(r["error"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
