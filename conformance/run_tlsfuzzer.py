#!/usr/bin/env python3
"""tlsfuzzer conformance campaign: ours vs openssl s_server vs gnutls-serv.

    python conformance/run_tlsfuzzer.py openssl gnutls            # TLS 1.3 set, baselines
    python conformance/run_tlsfuzzer.py ours --baseline conformance/expected/openssl-tls13.json \
        --baseline conformance/expected/gnutls-tls13.json --notes /tmp/tlsfuzzer_ours.md
    python conformance/run_tlsfuzzer.py ours openssl --tls12       # TLS 1.2 harness check
    python conformance/run_tlsfuzzer.py ours --scripts test-tls13-hrr,test-tls13-ccs

Each script gets a fresh server on 127.0.0.1 and a free port; the script runs
through tlsfuzzer.sh (in $TLSFUZZER_TOOLS) with a fixed seed (see _tlsfuzzer_entry.py);
its per-probe results are parsed and written, per target, to OUT/<target>-<set>.json,
with OUT/comparison.md and .json putting all targets side by side. See README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from parse import parse_output  # noqa: E402
from report import comparison_markdown, merge, notes_markdown  # noqa: E402
from scripts import SETS, Script, by_name  # noqa: E402
from servers import Server, free_port, make_pki, server_command  # noqa: E402

# The folder holding tlsfuzzer.sh (a wrapper running tlsfuzzer in its own venv) and its
# tlsfuzzer/ checkout; by default a `tools` folder beside this repository.
TOOLS = Path(os.environ.get("TLSFUZZER_TOOLS",
                            Path(__file__).resolve().parents[2] / "shared" / "tools"))
TARGETS = ("ours", "openssl", "gnutls")


def _entry_relpath() -> str:
    """tlsfuzzer.sh runs `scripts/$1` from its tree: point it at our entry shim."""
    return os.path.relpath(HERE / "_tlsfuzzer_entry.py", TOOLS / "tlsfuzzer" / "scripts")


def run_script(target: str, script: Script, pki, tls: str, seed: int, logs: Path,
               scale: float) -> dict:
    """Run one script (and its retry variants, see Script.retry); keep the best run."""
    best = _attempt(target, script, pki, tls, seed, logs, scale, ())
    output = best.pop("_output", "")
    extra: tuple[str, ...] = ()
    for text, options in script.retry:
        if text not in output:
            continue
        extra += options
        again = _attempt(target, script, pki, tls, seed, logs, scale, extra)
        again.pop("_output", None)
        if _passed(again) > _passed(best):
            best = again
    return best


def _passed(result: dict) -> int:
    return sum(1 for p in result.get("probes", {}).values() if p["result"] == "pass")


# A server that does not start is tried again: while the campaign runs against a
# working tree that others edit, a half-saved module makes one start fail.
_STARTS = 3
_START_PAUSE = 10.0


def _attempt(target: str, script: Script, pki, tls: str, seed: int, logs: Path,
             scale: float, extra: tuple[str, ...]) -> dict:
    """Run one script against a fresh server, retrying a server that did not start."""
    for start in range(_STARTS):
        result = _attempt_once(target, script, pki, tls, seed, logs, scale, extra)
        if result["status"] != "no-server":
            return result
        if start + 1 < _STARTS:
            time.sleep(_START_PAUSE)
    return result


def _attempt_once(target: str, script: Script, pki, tls: str, seed: int, logs: Path,
                  scale: float, extra: tuple[str, ...]) -> dict:
    """Start a server, run one tlsfuzzer script against it, stop the server, parse."""
    port = free_port()
    cmd, missing = server_command(target, script, pki, port, tls)
    started = time.monotonic()
    result: dict = {"server": " ".join(cmd), "server_missing": missing}
    tag = f"{target}.{script.key}" + ("".join(extra) if extra else "")
    with Server(cmd, logs / f"{tag}.server.log", port) as server:
        if not server.wait_ready():
            result.update(status="no-server", seconds=0.0, probes={}, summary={})
            return result
        args = ["-h", "127.0.0.1", "-p", str(port), *script.args,
                *script.target_args.get(target, ()), *extra]
        if script.client_cert:
            key, cert = pki.client(script.client_cert)
            args += ["-k", key, "-c", cert]
        result["args"] = [a for a in args[4:] if not a.startswith(str(pki.folder))]
        fuzz = [str(TOOLS / "tlsfuzzer.sh"), _entry_relpath(), script.module, str(seed), *args]
        out_path = logs / f"{tag}.log"
        status = "done"
        with open(out_path, "wb") as out:
            proc = subprocess.Popen(fuzz, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
            try:
                rc = proc.wait(script.timeout * scale)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                rc = proc.wait()
                status = "timeout"
        result["server_died"] = not server.alive()
    text = out_path.read_text(errors="replace")
    parsed = parse_output(text)
    if status == "done" and not parsed["complete"]:
        status = "error"
        result["error"] = _tail(text)
    result.update(status=status, rc=rc, seconds=round(time.monotonic() - started, 1),
                  summary=parsed["summary"], probes=parsed["probes"], _output=text)
    return result


def _tail(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"


def run_target(target: str, scripts: list[Script], set_name: str, args, out: Path,
               pki) -> dict:
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    tls = "1.3" if set_name == "tls13" else "1.2"
    results: dict[str, dict] = {}

    def one(script: Script) -> None:
        res = run_script(target, script, pki, script.tls or tls, args.seed, logs,
                         args.timeout_scale)
        res["date"] = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        results[script.key] = res
        summ = res.get("summary", {})
        print(f"[{target}] {script.key}: {res['status']} "
              f"pass {summ.get('PASS', '?')}/{summ.get('TOTAL', '?')} fail {summ.get('FAIL', '?')}"
              f" ({res.get('seconds')}s){' SERVER DIED' if res.get('server_died') else ''}",
              flush=True)

    scripts = [s for s in scripts if target not in s.skip]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        list(pool.map(one, scripts))
    doc = {"target": target, "set": set_name, "seed": args.seed,
           "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "versions": _versions(target),
           "scripts": {s.key: results[s.key] for s in scripts}}
    (out / f"{target}-{set_name}.json").write_text(json.dumps(doc, indent=1, sort_keys=True))
    return doc


def _versions(target: str) -> str:
    if target == "ours":
        return _our_version()
    cmd = {"openssl": ["openssl", "version"], "gnutls": ["gnutls-serv", "--version"]}[target]
    return _first_line(cmd)


def _our_version() -> str:
    """Package version and the commit under test (the working tree may hold more)."""
    from importlib import metadata
    try:
        version = metadata.version("scapy-tls-hs")
    except metadata.PackageNotFoundError:
        version = "?"
    commit = _first_line(["git", "-C", str(HERE.parent), "rev-parse", "--short", "HEAD"])
    return f"scapy-tls-hs {version} (commit {commit} + working tree)"


def _first_line(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30,
                             cwd=HERE.parent).stdout
        return out.strip().splitlines()[0] if out.strip() else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def run_gnutls_in_netns(argv_rest: list[str], out: Path) -> None:
    """gnutls-serv binds every address: run that target in a private network namespace."""
    cmd = ["unshare", "--net", "--", sys.executable, str(HERE / "run_tlsfuzzer.py"),
           "--in-netns", "gnutls", "--out", str(out), *argv_rest]
    proc = subprocess.run(cmd, timeout=None)
    if proc.returncode != 0:
        print(f"gnutls run failed (exit {proc.returncode})", file=sys.stderr)


def _parse_args(argv: list[str]):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("targets", nargs="*", default=[],
                   help="servers to test: ours, openssl, gnutls (default: openssl)")
    p.add_argument("--tls12", action="store_true", help="run the TLS 1.2 set instead of TLS 1.3")
    p.add_argument("--scripts", default="", help="comma-separated script names (default: the set)")
    p.add_argument("--jobs", type=int, default=2, help="scripts run in parallel (default 2)")
    p.add_argument("--seed", type=int, default=1, help="seed for -n sampling and fuzz values")
    p.add_argument("--timeout-scale", type=float, default=1.0,
                   help="multiply every per-script timeout")
    p.add_argument("--out", type=Path, default=None,
                   help="results folder (default: a new /tmp/conformance-* folder)")
    p.add_argument("--baseline", type=Path, action="append", default=[],
                   help="earlier <target>-<set>.json to compare with (repeatable)")
    p.add_argument("--save-expected", action="store_true",
                   help="also write conformance/expected/<target>-<set>.json "
                        "(reference targets only)")
    p.add_argument("--notes", type=Path, help="write the 'fails on ours only' list here")
    p.add_argument("--triage", type=Path,
                   help="markdown put on top of --notes (hand-written causes)")
    p.add_argument("--compare-only", action="store_true",
                   help="run nothing: compare the --baseline files (all targets kept)")
    p.add_argument("--in-netns", metavar="TARGET", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    for target in args.targets:
        if target not in TARGETS:
            p.error(f"unknown target {target!r} (choose from {', '.join(TARGETS)})")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parse_args(argv)
    set_name = "tls12" if args.tls12 else "tls13"
    names = [n.strip() for n in args.scripts.split(",") if n.strip()]
    scripts = [by_name(n) for n in names] if names else SETS[set_name]
    out = args.out or Path(tempfile.mkdtemp(prefix="conformance-", dir="/tmp"))
    out.mkdir(parents=True, exist_ok=True)

    if args.in_netns:
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        pki = make_pki(out / "pki", reuse=True)
        run_target(args.in_netns, scripts, set_name, args, out, pki)
        return 0

    targets = [] if args.compare_only else list(dict.fromkeys(args.targets or ["openssl"]))
    pki = make_pki(out / "pki") if targets else None
    docs = []
    for target in targets:
        if target == "gnutls":
            passthrough = ["--jobs", str(args.jobs), "--seed", str(args.seed),
                           "--timeout-scale", str(args.timeout_scale)]
            passthrough += ["--scripts", args.scripts] if args.scripts else []
            passthrough += ["--tls12"] if args.tls12 else []
            run_gnutls_in_netns(passthrough, out)
            path = out / f"gnutls-{set_name}.json"
            if not path.exists():
                continue
            docs.append(json.loads(path.read_text()))
        else:
            docs.append(run_target(target, scripts, set_name, args, out, pki))
        if args.save_expected and target != "ours":
            _save_expected(docs[-1], partial=bool(names))

    run_targets = {d["target"] for d in docs}
    for path in args.baseline:
        doc = json.loads(path.read_text())
        if doc["target"] not in run_targets and (args.compare_only or doc["set"] == set_name):
            docs.append(doc)
    table = merge(docs)
    (out / "comparison.json").write_text(json.dumps(table, indent=1, sort_keys=True))
    (out / "comparison.md").write_text(comparison_markdown(table, docs))
    if args.notes:
        args.notes.parent.mkdir(parents=True, exist_ok=True)
        triage = args.triage.read_text() if args.triage and args.triage.exists() else ""
        args.notes.write_text(notes_markdown(table, docs, triage))
    print(f"results: {out}/comparison.md")
    return 0


def _save_expected(doc: dict, partial: bool) -> None:
    """Write expected/<target>-<set>.json; a --scripts run updates only those scripts."""
    dest = HERE / "expected" / f"{doc['target']}-{doc['set']}.json"
    dest.parent.mkdir(exist_ok=True)
    new = _compact(doc)
    if partial and dest.exists():
        old = json.loads(dest.read_text())
        old["scripts"].update(new["scripts"])
        new = old
    dest.write_text(json.dumps(new, indent=1, sort_keys=True) + "\n")


def _compact(doc: dict) -> dict:
    """What is kept in the repository: summary and per-probe result, no logs or paths."""
    scripts = {}
    for name, res in doc["scripts"].items():
        scripts[name] = {
            "status": res.get("status"), "summary": res.get("summary", {}),
            "date": res.get("date", doc["date"]), "args": res.get("args", []),
            "server_missing": res.get("server_missing", []),
            "probes": {p: {k: v for k, v in r.items()} for p, r in res.get("probes", {}).items()},
        }
    return {k: doc[k] for k in ("target", "set", "seed", "date", "versions")} | {"scripts": scripts}


if __name__ == "__main__":
    sys.exit(main())
