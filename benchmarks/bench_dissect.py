#!/usr/bin/env python3
"""Records per second dissected and decrypted: scapy-tls-hs vs Scapy's TLS layer vs tshark.

On the capture made by ``make_capture.py`` (benchmarks/out/bench.pcap + bench.keylog), in
one run, each tool as a whole process (wall time, imports and start-up included):

(a) ``scapy-tls-hs dissect CAP --keylog KEYLOG --json --jobs 1`` (one process; ``--jobs N``
    to measure N), its bytecode compiled first as an installed package's is
    (``compile_package``);
(b) Scapy 2.8's own TLS layer: ``load_layer("tls")``, ``conf.tls_session_enable = True``,
    ``conf.tls_nss_filename = KEYLOG``, ``sniff(offline=CAP, session=TCPSession)``, the TLS
    port bound with ``bind_layers`` (Scapy binds only 443), counting records;
(c) ``tshark -r CAP -o tls.keylog_file:KEYLOG -d tcp.port==PORT,tls -Y tls -T fields``,
    counting records (``tls.record.content_type`` values).

The rate of every tool is the capture's record count (TLS records in the reassembled
streams, counted once here by walking record headers) divided by that tool's wall time;
each tool's own count and decryption check are shown next to it so a tool that skipped
work is visible. Results go to stdout and to benchmarks/out/bench_result.json.

``--tree DIR`` runs the ``scapy_tls_hs`` of another checkout (e.g. a ``git worktree`` of the
last commit) as ``python -m scapy_tls_hs`` from that directory, to compare before and after
a change on the same capture; ``--repeat N`` runs our dissect N times (best wall time
reported, every run's wall and CPU time kept in the JSON).

    python benchmarks/bench_dissect.py [--capture CAP --keylog KEYLOG --port N] [--skip scapy]
    python benchmarks/bench_dissect.py --tree /tmp/baseline --skip scapy --skip tshark
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import installed_command  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")
TIMEOUT = 1800


def compile_package(tree=None):
    """Write the package's bytecode first, as an installed package has it: where
    PYTHONDONTWRITEBYTECODE is set (or the tree is read-only) every run would otherwise
    compile each module again, some 40 ms of start-up."""
    env = dict(os.environ, PYTHONPATH=tree) if tree else None
    where = subprocess.run([sys.executable, "-c", "import os, scapy_tls_hs; "
                            "print(os.path.dirname(scapy_tls_hs.__file__))"], env=env,
                           cwd=tree, capture_output=True, text=True).stdout.strip()
    if where:
        subprocess.run([sys.executable, "-m", "compileall", "-q", where], env=env,
                       capture_output=True)


def count_records(capture, tree=None):
    """(TLS connections, TLS records, application data records) in the capture's streams."""
    sys.path.insert(0, tree or ROOT)
    from scapy_tls_hs.capture.pcapfile import read_packets
    from scapy_tls_hs.capture.streams import reassemble
    conns = records = app = 0
    for conn in reassemble(read_packets(capture)):
        if not conn.looks_like_tls():
            continue
        conns += 1
        for direction in ("client", "server"):
            data = conn.stream(direction)
            pos = 0
            while pos + 5 <= len(data):
                records += 1
                app += data[pos] == 23
                pos += 5 + (data[pos + 3] << 8 | data[pos + 4])
    return conns, records, app


def bench_streams(capture, repeat=3):
    """In-process speed of read_packets + TCPReassembler alone (best of ``repeat``)."""
    from scapy_tls_hs.capture.pcapfile import read_packets
    from scapy_tls_hs.capture.streams import TCPReassembler
    best = None
    for _ in range(repeat):
        start = time.perf_counter()
        r = TCPReassembler()
        add = r.add
        for ts, linktype, data in read_packets(capture):
            add(ts, linktype, data)
        r.finish()
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return {"stage": "read_packets + TCPReassembler", "packets": r.packets,
            "seconds": best, "packets_per_second": r.packets / best}


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(argv, timeout=TIMEOUT, env=None, cwd=None, cpu=None):
    """(wall seconds, CompletedProcess or None, error text or None); ``cpu``, a dict, gets
    the child's CPU time (user + system) under "cpu_seconds"."""
    cpu0 = _children_cpu()
    start = time.perf_counter()
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env,
                              cwd=cwd)
        if cpu is not None:
            cpu["cpu_seconds"] = _children_cpu() - cpu0
    except FileNotFoundError as e:
        return time.perf_counter() - start, None, "not found: %s" % e.filename
    except subprocess.TimeoutExpired:
        return time.perf_counter() - start, None, "timed out after %ds" % timeout
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        return wall, proc, "exit %d: %s" % (proc.returncode, lines[-1] if lines else "")
    return wall, proc, None


def bench_ours(capture, keylog, tree=None, repeat=1, jobs=1):
    """With ``tree``: ``python -m scapy_tls_hs`` run from that directory (so it imports
    from there; a check of the import comes first), else the installed command."""
    env = cwd = None
    exe = None if tree else installed_command()
    if tree:
        env = dict(os.environ, PYTHONPATH=tree)
        cwd = tree
        where = subprocess.run([sys.executable, "-c", "import scapy_tls_hs; "
                                "print(scapy_tls_hs.__file__)"], env=env, cwd=cwd,
                               capture_output=True, text=True).stdout.strip()
        if not where.startswith(os.path.join(tree, "")):
            sys.exit("scapy_tls_hs imports from %r, not from --tree %s" % (where, tree))
        print("scapy_tls_hs from %s" % os.path.dirname(where))
    argv = ([exe] if exe else [sys.executable, "-m", "scapy_tls_hs"]) + [
        "dissect", capture, "--keylog", keylog, "--json", "--jobs", str(jobs)]
    compile_package(tree)
    runs = []
    for _ in range(repeat):
        cpu = {}
        wall, proc, err = run(argv, env=env, cwd=cwd, cpu=cpu)
        runs.append({"seconds": wall, "cpu_seconds": cpu.get("cpu_seconds")})
        if err:
            break
    best = min(runs, key=lambda r: r["seconds"])
    result = {"tool": "scapy-tls-hs dissect", "argv": " ".join(argv), "tree": tree,
              "seconds": best["seconds"], "cpu_seconds": best["cpu_seconds"], "runs": runs}
    if err:
        result["error"] = err
        return result
    conns = decrypted = entries = app = 0
    errors = []
    try:
        for line in proc.stdout.splitlines():
            if not line.strip():
                continue
            obj = json.loads(line)
            conns += 1
            decrypted += bool(obj.get("decrypted"))
            msgs = obj.get("messages") or []
            entries += len(msgs)
            app += sum(m.endswith(":application_data") for m in msgs)
            errors.extend(obj.get("errors") or [])
    except ValueError as e:
        result["error"] = "output is not JSON Lines: %s" % e
        return result
    result.update(connections=conns, decrypted_connections=decrypted, message_entries=entries,
                  app_data_records=app, errors=len(errors), first_errors=errors[:3])
    return result


def scapy_worker(capture, keylog, port):
    """Run inside a child process: Scapy's TLS layer over the whole capture."""
    t0 = time.perf_counter()
    from scapy.all import conf, load_layer, sniff, bind_layers, TCP
    from scapy.sessions import TCPSession
    load_layer("tls")
    from scapy.layers.tls.record import TLS, TLSApplicationData
    from scapy.layers.tls.handshake import TLSFinished
    bind_layers(TCP, TLS, sport=port)
    bind_layers(TCP, TLS, dport=port)
    conf.tls_session_enable = True
    conf.tls_nss_filename = keylog
    t1 = time.perf_counter()
    counts = {"records": 0, "app_data_records": 0, "decrypted_app_data": 0, "finished": 0,
              "packets": 0}

    def on_packet(pkt):
        counts["packets"] += 1
        layer = pkt.getlayer(TLS)
        while layer is not None:
            counts["records"] += 1
            for msg in layer.msg:
                if isinstance(msg, TLSApplicationData):
                    counts["app_data_records"] += 1
                    # Scapy keeps the ciphertext in msg.data when it could not decrypt;
                    # decrypted data is the plaintext: the server's is b"A"*n etc.
                    if msg.data[:1].isalpha() and len(set(msg.data)) == 1:
                        counts["decrypted_app_data"] += 1
                elif isinstance(msg, TLSFinished):
                    counts["finished"] += 1
            nxt = layer.payload
            layer = nxt if isinstance(nxt, TLS) else nxt.getlayer(TLS) if nxt else None

    sniff(offline=capture, session=TCPSession, prn=on_packet, store=False)
    t2 = time.perf_counter()
    counts["import_seconds"] = t1 - t0
    counts["sniff_seconds"] = t2 - t1
    print(json.dumps(counts))


def bench_scapy(capture, keylog, port):
    argv = [sys.executable, os.path.abspath(__file__), "--scapy-worker", capture, keylog,
            str(port)]
    wall, proc, err = run(argv)
    result = {"tool": "scapy.layers.tls sniff(TCPSession)", "seconds": wall}
    if err:
        result["error"] = err
        return result
    result.update(json.loads(proc.stdout.strip().splitlines()[-1]))
    return result


def bench_tshark(capture, keylog, port):
    argv = ["tshark", "-n", "-r", capture, "-o", "tls.keylog_file:%s" % keylog,
            "-d", "tcp.port==%d,tls" % port, "-Y", "tls", "-T", "fields",
            "-e", "tls.record.content_type", "-e", "tls.handshake.type"]
    wall, proc, err = run(argv)
    result = {"tool": "tshark", "argv": " ".join(argv), "seconds": wall}
    if err:
        result["error"] = err
        return result
    records = app = finished = 0
    for line in proc.stdout.splitlines():
        types, _, hs = line.partition("\t")
        for t in types.split(","):
            if t:
                records += 1
                app += t == "23"
        finished += hs.split(",").count("20")
    result.update(records=records, app_data_records=app, finished_decrypted=finished)
    return result


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--scapy-worker":
        scapy_worker(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--capture", default=os.path.join(OUT, "bench.pcap"))
    ap.add_argument("--keylog", default=os.path.join(OUT, "bench.keylog"))
    ap.add_argument("--port", type=int, help="TLS port (default: from out/bench.json)")
    ap.add_argument("--skip", action="append", default=[], choices=["ours", "scapy", "tshark"])
    ap.add_argument("--result", default=os.path.join(OUT, "bench_result.json"))
    ap.add_argument("--tree", help="checkout whose scapy_tls_hs dissect is measured "
                                   "(default: the installed command)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of ours (best one counts)")
    ap.add_argument("--jobs", type=int, default=1, help="--jobs of ours (default 1)")
    args = ap.parse_args()
    if args.tree:
        args.tree = os.path.abspath(args.tree)
    if not os.path.exists(args.capture):
        sys.exit("%s: no capture; run benchmarks/make_capture.py first" % args.capture)
    port = args.port
    if port is None:
        with open(os.path.join(os.path.dirname(args.capture), "bench.json")) as f:
            port = json.load(f)["port"]

    conns, records, app = count_records(args.capture, args.tree)
    print("capture %s: %d TLS connections, %d TLS records (%d application data)"
          % (args.capture, conns, records, app))
    stage = bench_streams(args.capture)
    print("%s: %d packets in %.3fs = %.0f packets/s (in process, best of 3)"
          % (stage["stage"], stage["packets"], stage["seconds"], stage["packets_per_second"]))
    results = []
    if "ours" not in args.skip:
        results.append(bench_ours(args.capture, args.keylog, args.tree, args.repeat,
                                  args.jobs))
    if "scapy" not in args.skip:
        results.append(bench_scapy(args.capture, args.keylog, port))
    if "tshark" not in args.skip:
        results.append(bench_tshark(args.capture, args.keylog, port))

    for r in results:
        if "error" in r:
            r["records_per_second"] = None
            print("%-38s FAILED after %.2fs: %s" % (r["tool"], r["seconds"], r["error"]))
            continue
        r["records_per_second"] = records / r["seconds"]
        detail = {k: v for k, v in r.items()
                  if k not in ("tool", "argv", "seconds", "records_per_second", "runs", "tree")}
        print("%-38s %8.2fs %9.0f records/s  %s" % (r["tool"], r["seconds"],
                                                     r["records_per_second"], detail))
    rate = {r["tool"].split()[0]: r["records_per_second"] for r in results}
    ours, scapy = rate.get("scapy-tls-hs"), rate.get("scapy.layers.tls")
    summary = "records/s: " + ", ".join(
        "%s %s" % (k, "failed" if v is None else "%.0f" % v) for k, v in rate.items())
    if ours and scapy:
        summary += "; scapy-tls-hs is %.1fx Scapy" % (ours / scapy)
    print(summary)
    doc = {"capture": args.capture, "keylog": args.keylog, "port": port,
           "tls_connections": conns, "records": records, "app_data_records": app,
           "python": sys.version.split()[0], "cpus": os.cpu_count(),
           "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "streams": stage, "results": results, "summary": summary}
    os.makedirs(os.path.dirname(args.result), exist_ok=True)
    with open(args.result, "w") as f:
        json.dump(doc, f, indent=1)


if __name__ == "__main__":
    main()
