#!/usr/bin/env python3
"""Full TLS 1.2 handshakes per second against one ``openssl s_server``
(ECDHE-RSA-AES128-GCM-SHA256, RSA 2048 certificate), side by side in one run:

(a) scapy-tls-hs ``TLSClientAutomaton(...).run()``: a new Scapy automaton per connection
    (states, timers, pipes; a blocking ``run()`` needs no control thread), with the options
    the CLI gives (``config`` built once);
(b) the same core without the automaton: ``ClientConnection`` over a blocking socket, to
    show what the automaton machinery costs;
(c) Python's ``ssl`` (OpenSSL in C): ``wrap_socket`` + ``unwrap`` (close_notify both ways);
(d) Scapy 2.8's own ``scapy.layers.tls.automaton_cli.TLSClientAutomaton`` (the comparison
    baseline only; never used by the package).

Each client does connect, full handshake (no resumption), close_notify, close, one
connection at a time, for ``--seconds`` in ten rounds interleaved with the other clients
(after a short warm-up), so that other load on the machine hits every client alike; the rate
is connections over wall time. s_server is single-threaded, so its own work (RSA signature)
is in every rate. ``--profile`` runs (a) under cProfile and prints the top functions.
Results go to stdout and benchmarks/out/bench_client.json.

``--tls 1.3``: TLS 1.3 instead, against ``openssl s_server -tls1_3`` (TLS_AES_128_GCM_SHA256,
X25519 on every side, pinned for Python ``ssl`` and s_server by an OPENSSL_CONF file):
full handshakes of (a), (b), (c), and PSK resumptions (psk_dhe_ke, each connection resuming
with the newest ticket of the one before) of the same three, all interleaved in one run.
``--tree DIR`` measures the ``scapy_tls_hs`` of another checkout (e.g. a ``git worktree``
of the last commit) with this same script.

    python benchmarks/bench_client.py [--seconds 5] [--skip scapy] [--profile]
    python benchmarks/bench_client.py --tls 1.3 [--seconds 5] [--profile]
    python benchmarks/bench_client.py --tree /tmp/baseline --skip scapy --result FILE
"""
import argparse
import cProfile
import io
import json
import os
import pstats
import socket
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "out")
sys.path.insert(0, HERE)

from common import (TLS13_GROUP, TLS13_SUITE, client_context, free_port,  # noqa: E402
                    make_identity, reexec_pinned, use_tree)

SUITE = "ECDHE-RSA-AES128-GCM-SHA256"
TLS = "1.2"          # set by --tls before any client is built


def wait_port(port, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("s_server did not start")


# -- the clients: each returns a function doing one full handshake + close ---------------

def our_config(session=None):
    from scapy_tls_hs.automata.client import client_config
    if TLS == "1.3":
        return client_config("127.0.0.1", version="1.3", min_version="1.3",
                             ciphers=[TLS13_SUITE], groups=[TLS13_GROUP], session=session)
    return client_config("127.0.0.1", version="1.2", ciphers=[SUITE])


def ours_automaton(port, resume=False):
    from scapy_tls_hs.automata.client import TLSClientAutomaton
    config = our_config()
    last = [None]

    def once():
        result = TLSClientAutomaton("127.0.0.1", port, config=config, timeout=5,
                                    session=last[0]).run()
        if not result.handshake_complete:
            raise RuntimeError("handshake failed: %s" % result.errors)
        if resume:
            if last[0] is not None and not result.resumed:
                raise RuntimeError("not resumed")
            last[0] = result.session
    if resume:
        once()                         # the full handshake that gives the first ticket
    return once


def ours_core(port, resume=False):
    from scapy_tls_hs.connection.client import ClientConnection
    configs = [our_config()]

    def once():
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = ClientConnection(configs[0])
        conn.start()
        sock.sendall(conn.data_to_send())
        while not conn.handshake_complete:
            data = sock.recv(65536)
            if not data:
                raise RuntimeError("closed")
            conn.receive_data(data)
            out = conn.data_to_send()
            if out:
                sock.sendall(out)
        conn.close()
        sock.sendall(conn.data_to_send())
        while not conn.closed:
            data = sock.recv(65536)
            if not data:
                break
            conn.receive_data(data)
        sock.close()
        if resume:
            if configs[0].session is not None and not conn.resumed:
                raise RuntimeError("not resumed")
            # TLS 1.3: the ticket came after the handshake, read before close_notify.
            configs[0] = our_config(conn.session)
    if resume:
        once()
    return once


def python_ssl(port, resume=False):
    ctx = client_context(SUITE, tls=TLS)
    want = "TLSv1.3" if TLS == "1.3" else "TLSv1.2"
    last = [None]

    def once():
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        if TLS == "1.3":
            # As ours does: no Nagle wait for the close_notify behind the Finished while
            # s_server's tickets are in flight.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        tls = ctx.wrap_socket(sock, session=last[0])
        if tls.version() != want:
            raise RuntimeError("no %s handshake" % want)
        if resume and last[0] is not None and not tls.session_reused:
            raise RuntimeError("not resumed")
        # unwrap() drops the SSLSocket's link to OpenSSL's object; the TLS 1.3 tickets
        # arrive while unwrap() reads the peer's close_notify, so keep the object to ask it.
        sslobj = tls._sslobj
        try:
            tls.unwrap()
        except (OSError, ssl.SSLError):
            pass
        sock.close()
        if resume:
            last[0] = sslobj.session
    if resume:
        once()
    return once


def scapy_own(port):
    from scapy.layers.tls.automaton_cli import TLSClientAutomaton
    from scapy.layers.tls.extensions import (TLS_Ext_SignatureAlgorithms,
                                             TLS_Ext_SupportedGroups,
                                             TLS_Ext_SupportedPointFormat)
    from scapy.layers.tls.handshake import TLSClientHello

    class Checked(TLSClientAutomaton):
        """Scapy calls ``vprint_sessioninfo`` once the server's Finished is handled: the
        proof that the handshake really completed."""
        completed = False

        def vprint_sessioninfo(self):
            self.completed = True

    # Scapy's default hello has no supported_groups, which OpenSSL refuses for ECDHE.
    hello = TLSClientHello(ciphers=[0xC02F], ext=[
        TLS_Ext_SupportedGroups(groups=["x25519", "secp256r1"]),
        TLS_Ext_SupportedPointFormat(),
        TLS_Ext_SignatureAlgorithms(sig_algs=["sha256+rsaepss", "sha256+rsa"])])

    def once():
        client = Checked(server="127.0.0.1", dport=port, client_hello=hello.copy(),
                         data="quit", verbose=False)
        client.run()
        if not client.completed:
            raise RuntimeError("Scapy's handshake did not complete")
    return once


CLIENTS = [("scapy-tls-hs TLSClientAutomaton", "ours", ours_automaton),
           ("scapy-tls-hs core over a socket (no automaton)", "core", ours_core),
           ("Python ssl (OpenSSL)", "python", python_ssl),
           ("Scapy 2.8 TLSClientAutomaton (baseline)", "scapy", scapy_own)]


def _resuming(factory):
    return lambda port: factory(port, resume=True)


CLIENTS13 = [("scapy-tls-hs TLSClientAutomaton, full", "ours", ours_automaton),
             ("scapy-tls-hs core over a socket, full", "core", ours_core),
             ("Python ssl (OpenSSL), full", "python", python_ssl),
             ("scapy-tls-hs TLSClientAutomaton, PSK", "ours-psk", _resuming(ours_automaton)),
             ("scapy-tls-hs core over a socket, PSK", "core-psk", _resuming(ours_core)),
             ("Python ssl (OpenSSL), PSK", "python-psk", _resuming(python_ssl))]
RATIOS = [("ours", "python"), ("core", "python"), ("ours-psk", "python-psk"),
          ("core-psk", "python-psk")]


def measure(clients, seconds, rounds=10, warmup=5):
    """Rates of every client, measured in interleaved rounds (a, b, c, d, a, b, ...) so that
    a change of load on the machine hits them all alike. Per client: the total rate and the
    best round's."""
    onces = {}
    rows = {}
    for key, once in clients:
        try:
            for _ in range(warmup):
                once()
            onces[key] = once
            rows[key] = {"handshakes": 0, "seconds": 0.0, "best_round": 0.0, "cpu": 0.0}
        except Exception as exc:     # a baseline that breaks must not hide the rest
            rows[key] = {"error": "%s: %s" % (type(exc).__name__, exc)}
    slot = seconds / rounds
    for _ in range(rounds):
        for key, once in onces.items():
            count = 0
            cpu = time.process_time()
            start = time.perf_counter()
            deadline = start + slot
            while time.perf_counter() < deadline:
                once()
                count += 1
            elapsed = time.perf_counter() - start
            row = rows[key]
            row["cpu"] += time.process_time() - cpu
            row["handshakes"] += count
            row["seconds"] += elapsed
            row["best_round"] = max(row["best_round"], count / elapsed)
    for row in rows.values():
        if "error" not in row:
            row["handshakes_per_second"] = round(row["handshakes"] / row["seconds"], 1)
            # This process's CPU time (user + system) per handshake: the client's own cost,
            # which other load on the machine moves much less than the rate.
            row["cpu_ms"] = round(row.pop("cpu") * 1000 / max(row["handshakes"], 1), 3)
            row["best_round"] = round(row["best_round"], 1)
            row["seconds"] = round(row["seconds"], 3)
    return rows


def profile_ours(port, count=300, top=30, which="ours", cpu=False):
    """cProfile of ``count`` handshakes of our automaton (``which="ours"``: a blocking
    ``run()`` walks the states in the calling thread, so one profiler sees everything) or of
    the core over a socket (``"core"``). ``cpu``: the profiler's clock is this thread's CPU
    time, so waiting for s_server and being preempted by other load count for nothing."""
    once = (ours_automaton if which == "ours" else ours_core)(port)
    for _ in range(5):
        once()
    prof = cProfile.Profile(time.thread_time) if cpu else cProfile.Profile()
    start = time.perf_counter()
    prof.enable()
    for _ in range(count):
        once()
    prof.disable()
    elapsed = time.perf_counter() - start
    text = io.StringIO()
    stats = pstats.Stats(prof, stream=text)
    text.write("%s: %.3f ms %s per handshake, %.0f function calls per handshake\n"
               % (which, stats.total_tt * 1000 / count, "CPU" if cpu else "wall",
                  stats.total_calls / count))
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return elapsed, text.getvalue()


def main():
    global TLS
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0,
                    help="per client, in 10 interleaved rounds (default 5)")
    ap.add_argument("--skip", action="append", default=[],
                    choices=sorted({c[1] for c in CLIENTS + CLIENTS13}))
    ap.add_argument("--profile", action="store_true", help="cProfile our automaton")
    ap.add_argument("--profile-cpu", action="store_true",
                    help="cProfile our automaton and our core on CPU time (not wall time)")
    ap.add_argument("--tls", choices=["1.2", "1.3"], default="1.2",
                    help="1.3: TLS 1.3 full handshakes and PSK resumptions")
    ap.add_argument("--tree", help="checkout whose scapy_tls_hs is measured "
                                   "(default: the one holding this script)")
    ap.add_argument("--result", help="JSON result file (default out/bench_client.json, "
                                     "out/bench_client13.json with --tls 1.3)")
    args = ap.parse_args()
    TLS = args.tls
    os.makedirs(OUT, exist_ok=True)
    if TLS == "1.3":
        reexec_pinned(OUT)           # OpenSSL reads its configuration once, at start-up
    tree = use_tree(args.tree)
    clients = CLIENTS13 if TLS == "1.3" else CLIENTS
    if TLS == "1.3":
        protocol = ["-tls1_3", "-ciphersuites", TLS13_SUITE, "-groups", "X25519"]
        suite = "%s, %s" % (TLS13_SUITE, TLS13_GROUP)
    else:
        protocol = ["-tls1_2", "-cipher", SUITE]
        suite = SUITE
    with tempfile.TemporaryDirectory(prefix="bench-client-") as tmp:
        cert, key = make_identity(tmp)
        port = free_port()
        server = subprocess.Popen(
            ["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-cert", cert,
             "-key", key] + protocol + ["-www", "-naccept", "100000000"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(port)
            print("TLS %s %s, RSA 2048, openssl s_server, %.1fs per client, load average %s"
                  % (TLS, suite, args.seconds, " ".join("%.2f" % x for x in os.getloadavg())),
                  flush=True)
            chosen = [(key_name, factory(port)) for _, key_name, factory in clients
                      if key_name not in args.skip]
            rows = measure(chosen, args.seconds)
            results = []
            for label, key_name, _ in clients:
                if key_name not in rows:
                    continue
                row = dict(rows[key_name], client=label, key=key_name)
                results.append(row)
                rate = row.get("handshakes_per_second")
                print("%-46s %s" % (label, "%7.1f handshakes/s (best round %7.1f; %d in %.1fs)"
                                    " %5.2f ms client CPU each"
                                    % (rate, row["best_round"], row["handshakes"],
                                       row["seconds"], row["cpu_ms"]) if rate else row["error"]),
                      flush=True)
            rates = {r["key"]: r.get("handshakes_per_second") for r in results}
            cpus = {r["key"]: r.get("cpu_ms") for r in results}
            ratios = {}
            for a, b in RATIOS:
                if rates.get(a) and rates.get(b):
                    ratios["%s/%s" % (a, b)] = round(rates[a] / rates[b], 3)
                    print("%-10s / %-10s = %.2f (handshakes/s), %.2f (client CPU per "
                          "handshake)" % (a, b, rates[a] / rates[b], cpus[b] / cpus[a]))
            if rates.get("ours") and rates.get("scapy"):
                print("ours       / scapy      = %.1fx" % (rates["ours"] / rates["scapy"]))
            report = {"tls": TLS, "suite": suite, "tree": tree,
                      "server": "openssl s_server -www %s (RSA 2048)" % protocol[0],
                      "openssl": subprocess.run(["openssl", "version"], capture_output=True,
                                                text=True).stdout.strip(),
                      "python": sys.version.split()[0], "cpus": os.cpu_count(),
                      "loadavg": os.getloadavg(),
                      "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                      "results": results, "rates": rates, "cpu_ms": cpus, "ratios": ratios}
            if args.profile:
                elapsed, text = profile_ours(port)
                print("\ncProfile of 300 automaton handshakes (%.2fs under the profiler):"
                      % elapsed)
                print(text)
                report["profile"] = text
            if args.profile_cpu:
                for which in ("ours", "core"):
                    elapsed, text = profile_ours(port, which=which, cpu=True)
                    print("\ncProfile (CPU time) of 300 %s handshakes:" % which)
                    print(text)
                    report["profile_cpu_" + which] = text
        finally:
            server.terminate()
            server.wait(timeout=5)
    result = args.result or os.path.join(
        OUT, "bench_client13.json" if TLS == "1.3" else "bench_client.json")
    with open(result, "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
