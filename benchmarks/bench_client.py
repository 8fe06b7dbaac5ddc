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

    python benchmarks/bench_client.py [--seconds 5] [--skip scapy] [--profile]
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
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

from common import client_context, free_port, make_identity  # noqa: E402

SUITE = "ECDHE-RSA-AES128-GCM-SHA256"


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

def ours_automaton(port):
    from scapy_tls_hs.automata.client import TLSClientAutomaton, client_config
    config = client_config("127.0.0.1", version="1.2", ciphers=[SUITE])

    def once():
        result = TLSClientAutomaton("127.0.0.1", port, config=config, timeout=5).run()
        if not result.handshake_complete:
            raise RuntimeError("handshake failed: %s" % result.errors)
    return once


def ours_core(port):
    from scapy_tls_hs.automata.client import client_config
    from scapy_tls_hs.connection.client import ClientConnection
    config = client_config("127.0.0.1", version="1.2", ciphers=[SUITE])

    def once():
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = ClientConnection(config)
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
    return once


def python_ssl(port):
    ctx = client_context(SUITE)

    def once():
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        tls = ctx.wrap_socket(sock)
        if tls.version() != "TLSv1.2":
            raise RuntimeError("no TLS 1.2 handshake")
        try:
            tls.unwrap()
        except (OSError, ssl.SSLError):
            pass
        sock.close()
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
            rows[key] = {"handshakes": 0, "seconds": 0.0, "best_round": 0.0}
        except Exception as exc:     # a baseline that breaks must not hide the rest
            rows[key] = {"error": "%s: %s" % (type(exc).__name__, exc)}
    slot = seconds / rounds
    for _ in range(rounds):
        for key, once in onces.items():
            count = 0
            start = time.perf_counter()
            deadline = start + slot
            while time.perf_counter() < deadline:
                once()
                count += 1
            elapsed = time.perf_counter() - start
            row = rows[key]
            row["handshakes"] += count
            row["seconds"] += elapsed
            row["best_round"] = max(row["best_round"], count / elapsed)
    for row in rows.values():
        if "error" not in row:
            row["handshakes_per_second"] = round(row["handshakes"] / row["seconds"], 1)
            row["best_round"] = round(row["best_round"], 1)
            row["seconds"] = round(row["seconds"], 3)
    return rows


def profile_ours(port, count=300, top=30):
    """cProfile of ``count`` automaton handshakes (a blocking ``run()`` walks the states
    in the calling thread, so one profiler sees everything)."""
    from scapy_tls_hs.automata.client import TLSClientAutomaton, client_config
    config = client_config("127.0.0.1", version="1.2", ciphers=[SUITE])
    prof = cProfile.Profile()
    start = time.perf_counter()
    prof.enable()
    for _ in range(count):
        TLSClientAutomaton("127.0.0.1", port, config=config, timeout=5).run()
    prof.disable()
    elapsed = time.perf_counter() - start
    text = io.StringIO()
    stats = pstats.Stats(prof, stream=text)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return elapsed, text.getvalue()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0,
                    help="per client, in 10 interleaved rounds (default 5)")
    ap.add_argument("--skip", action="append", default=[], choices=[c[1] for c in CLIENTS])
    ap.add_argument("--profile", action="store_true", help="cProfile our automaton")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-client-") as tmp:
        cert, key = make_identity(tmp)
        port = free_port()
        server = subprocess.Popen(
            ["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-cert", cert,
             "-key", key, "-tls1_2", "-cipher", SUITE, "-www", "-naccept", "100000000"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(port)
            chosen = [(key_name, factory(port)) for _, key_name, factory in CLIENTS
                      if key_name not in args.skip]
            rows = measure(chosen, args.seconds)
            results = []
            for label, key_name, _ in CLIENTS:
                if key_name not in rows:
                    continue
                row = dict(rows[key_name], client=label, key=key_name)
                results.append(row)
                rate = row.get("handshakes_per_second")
                print("%-50s %s" % (label, "%7.1f handshakes/s (best round %7.1f; %d in %.1fs)"
                                    % (rate, row["best_round"], row["handshakes"],
                                       row["seconds"]) if rate else row["error"]),
                      flush=True)
            rates = {r["key"]: r.get("handshakes_per_second") for r in results}
            if rates.get("ours") and rates.get("python"):
                print("scapy-tls-hs / Python ssl: %.2f" % (rates["ours"] / rates["python"]))
            if rates.get("ours") and rates.get("scapy"):
                print("scapy-tls-hs / Scapy:      %.1fx" % (rates["ours"] / rates["scapy"]))
            report = {"suite": SUITE, "server": "openssl s_server -www -tls1_2 (RSA 2048)",
                      "openssl": subprocess.run(["openssl", "version"], capture_output=True,
                                                text=True).stdout.strip(),
                      "python": sys.version.split()[0], "cpus": os.cpu_count(),
                      "results": results}
            if args.profile:
                elapsed, text = profile_ours(port)
                print("\ncProfile of 300 automaton handshakes (%.2fs under the profiler):"
                      % elapsed)
                print(text)
                report["profile"] = text
        finally:
            server.terminate()
            server.wait(timeout=5)
    with open(os.path.join(OUT, "bench_client.json"), "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
