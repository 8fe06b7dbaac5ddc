#!/usr/bin/env python3
"""Records per second of ``dissect --jobs N`` on one large capture, N = 1, 2, 4 (issue 14).

The capture is ``make_capture.py``'s benchmarks/out/bench.pcap replicated ``--copies``
times (each copy on its own pair of addresses, 10.x.y.1 <-> 10.x.y.2, and shifted in time
after the previous one), written to benchmarks/out/bench_parallel.pcap; the key log is
bench.keylog as is (same client randoms). Each run is the whole process, wall time:
``scapy-tls-hs dissect CAP --keylog KEYLOG --json --jobs N > /dev/null``; records/s is
the capture's TLS record count (from the API, once) over that time. Every run's output
is compared with ``--jobs 1``'s.

Next to each speed-up, the machine's ceiling measured at the time (``ceiling``: what a
pure-Python loop gains with as many processes), as the CPUs are shared with other jobs.

``--modes`` also times, in process, the two ways of sharing one capture among workers:
``read`` (each worker reads the whole file and keeps its 4-tuples: what the command does)
and ``pipe`` (the parent reads, and sends each worker its packets through a
``multiprocessing`` queue in batches).

    python benchmarks/bench_parallel.py [--copies 10] [--jobs 1 2 4] [--repeat 3] [--modes]
Results go to stdout and benchmarks/out/bench_parallel.json.
"""
import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import installed_command  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "out")

def run_cli(capture, keylog, jobs):
    exe = installed_command()
    argv = ([exe] if exe else [sys.executable, "-m", "scapy_tls_hs"]) + [
        "dissect", capture, "--keylog", keylog, "--json", "--jobs", str(jobs)]
    import resource

    def cpu():
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime
    cpu0 = cpu()
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - start
    if proc.returncode:
        sys.exit("jobs %d failed: %s" % (jobs, proc.stderr.strip()[-300:]))
    return wall, cpu() - cpu0, proc.stdout


# -- the two ways of sharing a capture, in process ----------------------------------------

def _pipe_worker(path, keylog, inbox, outbox):
    from scapy_tls_hs.capture.split import dissect_share

    def packets():
        while True:
            batch = inbox.get()
            if batch is None:
                return
            yield from batch
    part = dissect_share(path, keylog=keylog, keep="json", packets=packets())
    outbox.put(len(part["reports"]))


def by_pipe(path, keylog, jobs, batch=512):
    """The parent reads and dispatches by 4-tuple; what the workers return is counted."""
    import zlib
    from scapy_tls_hs.capture.pcapfile import read_packets
    from scapy_tls_hs.capture.split import _key
    from scapy_tls_hs.capture.streams import decode_packet
    ctx = multiprocessing.get_context("fork")
    inboxes = [ctx.Queue(64) for _ in range(jobs)]
    outbox = ctx.Queue()
    workers = [ctx.Process(target=_pipe_worker, args=(path, keylog, q, outbox))
               for q in inboxes]
    for w in workers:
        w.start()
    pending = [[] for _ in range(jobs)]
    for i, (ts, lt, data) in enumerate(read_packets(path)):
        tcp = decode_packet(lt, data)
        if tcp is None:
            targets = range(jobs)
        else:
            targets = (zlib.crc32(_key(tcp[0], tcp[2], tcp[1], tcp[3])) % jobs,)
        for t in targets:
            pending[t].append((i, (ts, lt, bytes(data))))
            if len(pending[t]) >= batch:
                inboxes[t].put(pending[t])
                pending[t] = []
    for t in range(jobs):
        inboxes[t].put(pending[t])
        inboxes[t].put(None)
    n = sum(outbox.get(timeout=3600) for _ in workers)
    for w in workers:
        w.join(60)
    return n


def by_reading(path, keylog, jobs):
    """What the command does: its own pool, the shares streaming their reports back."""
    from scapy_tls_hs.capture import many
    many.SPLIT_SIZE = 0
    (result,) = many.dissect_many([path], keylog=keylog, jobs=jobs, keep="json")
    return len(result)


def _burn(n=6_000_000):
    x = 0
    for i in range(n):
        x += i
    return x


def ceiling(jobs):
    """How many cores this machine gives now: a pure-Python loop run once in 1 process and
    once in each of ``jobs`` processes, (jobs x the 1-process time) / the wall time."""
    import concurrent.futures
    with concurrent.futures.ProcessPoolExecutor(jobs) as pool:
        list(pool.map(int, range(jobs)))              # workers started
        start = time.perf_counter()
        pool.submit(_burn).result()
        one = time.perf_counter() - start
        start = time.perf_counter()
        list(pool.map(_burn, [6_000_000] * jobs))
        return jobs * one / (time.perf_counter() - start)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--capture", default=os.path.join(OUT, "bench.pcap"))
    ap.add_argument("--keylog", default=os.path.join(OUT, "bench.keylog"))
    ap.add_argument("--copies", type=int, default=10)
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--repeat", type=int, default=3, help="rounds (best time kept)")
    ap.add_argument("--modes", action="store_true",
                    help="also time sharing by reading vs by pipe (in process)")
    args = ap.parse_args()
    if not os.path.exists(args.capture):
        sys.exit("no %s: run benchmarks/make_capture.py first" % args.capture)
    big = os.path.join(OUT, "bench_parallel.pcap")
    # The same copies bench_scale.py makes (other client addresses, shifted times).
    from bench_scale import read_base, write_capture
    base = read_base(args.capture)
    write_capture(big, base, args.copies)
    npackets = len(base[2]) * args.copies
    from scapy_tls_hs.capture.dissect import dissect_capture
    result = dissect_capture(big, keylog=args.keylog)
    records, conns = result.records, len(result)
    decrypted = sum(r.decrypted for r in result)
    del result
    out = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "cpus": os.cpu_count(), "python": sys.version.split()[0],
           "capture": {"path": big, "bytes": os.path.getsize(big), "packets": npackets,
                       "connections": conns, "decrypted": decrypted, "records": records},
           "runs": []}
    print("capture %s: %.1f MB, %d packets, %d connections (%d decrypted), %d records"
          % (big, os.path.getsize(big) / 1e6, npackets, conns, decrypted, records))
    sys.path.insert(0, HERE)
    from bench_dissect import compile_package
    compile_package()
    reference = None
    best, differs = {}, {}
    # Rounds of every --jobs value in turn, best wall time each: the machine is shared, so
    # a burst of load from elsewhere hits one run, not one setting.
    for _round in range(args.repeat):
        for jobs in args.jobs:
            load = os.getloadavg()[0]
            wall, used, stdout = run_cli(big, args.keylog, jobs)
            if reference is None:
                reference = stdout
            differs.setdefault(jobs, False)
            differs[jobs] |= stdout != reference
            if jobs not in best or wall < best[jobs][0]:
                best[jobs] = (wall, used, load)
    for jobs in args.jobs:
        (wall, used, load), same = best[jobs], not differs[jobs]
        out["runs"].append({"jobs": jobs, "seconds": wall, "cpu_seconds": used,
                            "records_per_second": records / wall,
                            "same_output_as_first": same, "load_before": load})
        cores = ceiling(jobs) if jobs > 1 else 1.0
        out["runs"][-1]["machine_ceiling"] = cores
        print("--jobs %d: %6.2f s (CPU %5.2f s)  %8.0f records/s  x%.2f  output %s  (load %.2f,"
              " machine ceiling x%.2f)"
              % (jobs, wall, used, records / wall, out["runs"][0]["seconds"] / wall,
                 "identical" if same else "DIFFERENT", load, cores))
    if args.modes:
        out["modes"] = []
        for jobs in [j for j in args.jobs if j > 1]:
            for name, fn in (("read", by_reading), ("pipe", by_pipe)):
                start = time.perf_counter()
                n = fn(big, args.keylog, jobs)
                wall = time.perf_counter() - start
                out["modes"].append({"mode": name, "jobs": jobs, "seconds": wall,
                                     "connections": n})
                print("share by %-4s jobs %d: %6.2f s (%d connections)"
                      % (name, jobs, wall, n))
    out["load_after"] = os.getloadavg()
    with open(os.path.join(OUT, "bench_parallel.json"), "w") as f:
        json.dump(out, f, indent=1)
    print("load average %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
