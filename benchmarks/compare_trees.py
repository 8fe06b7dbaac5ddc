#!/usr/bin/env python3
"""Before and after: the TLS 1.2 benchmarks of two checkouts, interleaved on one machine.

Runs ``bench_dissect.py`` (ours only, ``--repeat``), ``bench_client.py`` (ours, core, Python
``ssl``) and ``bench_server.py`` (ours, Python ``ssl``; ``--only resumed``: with
``--resume``) of THIS checkout with ``--tree BASE`` and ``--tree NEW`` in turn, ``--pairs``
times, alternating which tree goes first, so load from other jobs hits both alike. Prints,
per metric, each tree's median and NEW / BASE taken pair by pair (median and range), for
the rates and for what load moves less: CPU time per unit of work, and our rate divided by
Python ``ssl``'s from the same run. Every run's JSON is kept in ``--out``.

    git worktree add /tmp/baseline COMMIT
    python benchmarks/compare_trees.py --base /tmp/baseline [--pairs 5] [--only client]
    python benchmarks/compare_trees.py --summary benchmarks/out/compare/summary.json
    git worktree remove --force /tmp/baseline
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run_dissect(tree, out, args):
    cap = args.capture
    keylog = os.path.splitext(cap)[0] + ".keylog"
    subprocess.run([sys.executable, os.path.join(HERE, "bench_dissect.py"), "--capture", cap,
                    "--keylog", keylog, "--skip", "scapy", "--skip", "tshark", "--tree", tree,
                    "--repeat", str(args.dissect_repeat), "--result", out],
                   check=True, stdout=subprocess.DEVNULL, cwd="/")
    with open(out) as f:
        doc = json.load(f)
    ours = doc["results"][0]
    if ours.get("error") or ours.get("errors") or ours.get("decrypted_connections") != \
            doc["tls_connections"]:
        raise RuntimeError("dissect failed in %s: %s" % (tree, ours))
    return {"ours records/s": doc["records"] / ours["seconds"],
            "ours CPU ms per 1000 records": min(r["cpu_seconds"] for r in ours["runs"])
            * 1e6 / doc["records"]}


def run_client(tree, out, args):
    subprocess.run([sys.executable, os.path.join(HERE, "bench_client.py"), "--tree", tree,
                    "--skip", "scapy", "--seconds", str(args.seconds), "--result", out],
                   check=True, stdout=subprocess.DEVNULL, cwd="/")
    with open(out) as f:
        doc = json.load(f)
    rates, cpu = doc["rates"], doc["cpu_ms"]
    return {"ours handshakes/s": rates["ours"], "core handshakes/s": rates["core"],
            "python handshakes/s": rates["python"],
            "ours / python": rates["ours"] / rates["python"],
            "core / python": rates["core"] / rates["python"],
            "ours client CPU ms": cpu["ours"], "core client CPU ms": cpu["core"],
            "python client CPU ms": cpu["python"]}


def run_server(tree, out, args, resume=False):
    subprocess.run([sys.executable, os.path.join(HERE, "bench_server.py"), "--tree", tree,
                    "--servers", "ours,python", "--seconds", str(args.seconds),
                    "--clients", str(args.server_clients), "--result", out]
                   + (["--resume"] if resume else []),
                   check=True, stdout=subprocess.DEVNULL, cwd="/")
    with open(out) as f:
        doc = json.load(f)
    med = {m["server"]: m for m in doc["medians"]}
    for r in doc["runs"]:
        if r["errors"]:
            raise RuntimeError("server run with errors in %s: %s" % (tree, r))
    return {"ours handshakes/s": med["ours"]["rate"], "python handshakes/s":
            med["python"]["rate"], "ours / python": med["ours"]["rate"] / med["python"]["rate"],
            "ours server CPU ms": med["ours"]["cpu_ms"],
            "python server CPU ms": med["python"]["cpu_ms"]}


def run_server_resumed(tree, out, args):
    return run_server(tree, out, args, resume=True)


BENCHES = {"dissect": run_dissect, "client": run_client, "server": run_server,
           "resumed": run_server_resumed}
DEFAULT = ["dissect", "client", "server"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", help="the checkout before (git worktree)")
    ap.add_argument("--summary", metavar="JSON", help="reprint a finished run's summary.json")
    ap.add_argument("--new", default=ROOT, help="the checkout after (default: this one)")
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--only", help="comma-separated: dissect,client,server (the default) and "
                                   "resumed (the server, TLS 1.2 session-id resumptions)")
    ap.add_argument("--seconds", type=float, default=4.0, help="per client/server per run")
    ap.add_argument("--server-clients", type=int, default=1)
    ap.add_argument("--dissect-repeat", type=int, default=3)
    ap.add_argument("--capture", default=os.path.join(HERE, "out", "bench.pcap"))
    ap.add_argument("--out", default=os.path.join(HERE, "out", "compare"))
    args = ap.parse_args()
    if args.summary:
        return resummarize(args.summary)
    if not args.base:
        ap.error("--base is required")
    trees = {"base": os.path.abspath(args.base), "new": os.path.abspath(args.new)}
    benches = args.only.split(",") if args.only else DEFAULT
    os.makedirs(args.out, exist_ok=True)
    print("base %(base)s, new %(new)s" % trees)
    print("load average at start: %s" % " ".join("%.2f" % x for x in os.getloadavg()),
          flush=True)
    samples = {(b, t): [] for b in benches for t in trees}
    for i in range(args.pairs):
        order = ["base", "new"] if i % 2 == 0 else ["new", "base"]
        for bench in benches:
            for which in order:
                out = os.path.join(args.out, "%s-%s-%d.json" % (bench, which, i))
                for attempt in range(3):       # a half-finished edit elsewhere: retry later
                    try:
                        sample = BENCHES[bench](trees[which], out, args)
                        break
                    except (subprocess.CalledProcessError, RuntimeError, KeyError) as exc:
                        print("  %s %s failed (%s); retrying in 60 s" % (bench, which, exc),
                              flush=True)
                        time.sleep(60)
                else:
                    raise SystemExit("%s %s keeps failing" % (bench, which))
                samples[bench, which].append(sample)
                print("pair %d %-7s %-4s %s" % (i, bench, which, "  ".join(
                    "%s %.3g" % kv for kv in sample.items())), flush=True)
    print("load average at end: %s" % " ".join("%.2f" % x for x in os.getloadavg()))
    summary = summarize(samples, benches, args.pairs)
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump({"trees": trees, "pairs": args.pairs, "samples": {
            "%s %s" % k: v for k, v in samples.items()}, "summary": summary}, f, indent=1)


def summarize(samples, benches, pairs):
    """Per metric: each tree's median, and the median (and range) of NEW / BASE taken pair
    by pair: the two runs of a pair ran back to back, so the pair's ratio is the least
    disturbed by load that comes and goes."""
    summary = {}
    print("\n%d pairs; per metric: median base, median new, and NEW / BASE per pair: median "
          "[lowest, highest]\n(above 1 is faster for rates and ratios to Python ssl, "
          "costlier for CPU)" % pairs)
    for bench in benches:
        base_runs, new_runs = samples[bench, "base"], samples[bench, "new"]
        for metric in base_runs[0]:
            base = statistics.median(s[metric] for s in base_runs)
            new = statistics.median(s[metric] for s in new_runs)
            paired = sorted(n[metric] / b[metric] for b, n in zip(base_runs, new_runs))
            summary["%s: %s" % (bench, metric)] = {
                "base": base, "new": new, "paired_new_over_base": statistics.median(paired),
                "paired_low": paired[0], "paired_high": paired[-1]}
            print("%-8s %-30s base %9.3f  new %9.3f  new/base %.3f [%.3f, %.3f]"
                  % (bench, metric, base, new, statistics.median(paired), paired[0],
                     paired[-1]))
    return summary


def resummarize(path):
    """Print the summary of a finished run again from its summary.json."""
    with open(path) as f:
        doc = json.load(f)
    samples = {tuple(k.split(" ")): v for k, v in doc["samples"].items()}
    benches = list(dict.fromkeys(k[0] for k in samples))
    print("base %(base)s, new %(new)s" % doc["trees"])
    summarize(samples, benches, doc["pairs"])


if __name__ == "__main__":
    main()
