#!/usr/bin/env python3
"""The sans-IO core alone: a ``ClientConnection`` and a ``ServerConnection`` wired in memory
(no sockets, no automata, no peer process), full handshakes (or resumptions) plus
close_notify both ways, each side's CPU time (this thread's, so other load on the machine
preempting us does not count) summed per side. No kernel, no other process: the numbers say what
the protocol code costs, with much less noise than the socket benchmarks, so two checkouts
can be compared (``--tree``) and a slow-down found (``--profile client|server``).

TLS 1.2: ECDHE-RSA-AES128-GCM-SHA256 with EMS; TLS 1.3: TLS_AES_128_GCM_SHA256 and X25519;
RSA 2048 certificate. ``--resume``: each connection resumes the previous one's session
(TLS 1.2: by ticket; TLS 1.3: PSK with the newest ticket).

    python benchmarks/bench_core.py [--tls 1.2|1.3] [--count 300] [--resume] [--tree DIR]
    python benchmarks/bench_core.py --profile server [--tls 1.3]
"""
import argparse
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from common import TLS13_GROUP, TLS13_SUITE, make_identity, use_tree  # noqa: E402

SUITE12 = "ECDHE-RSA-AES128-GCM-SHA256"


def configs(tls, cert, key):
    from scapy_tls_hs.automata.client import client_config
    from scapy_tls_hs.automata.server import server_config
    if tls == "1.3":
        client = client_config("127.0.0.1", version="1.3", min_version="1.3",
                               ciphers=[TLS13_SUITE], groups=[TLS13_GROUP])
        server = server_config(cert, key, version="1.3", min_version="1.3",
                               ciphers=[TLS13_SUITE], groups=[TLS13_GROUP])
    else:
        client = client_config("127.0.0.1", version="1.2", ciphers=[SUITE12])
        server = server_config(cert, key, version="1.2")
    return client, server


class Pair:
    """One handshake + close_notify both ways; ``times`` accumulates each side's seconds."""

    def __init__(self, tls, cert, key, resume, profile=None):
        import copy
        from scapy_tls_hs.connection.client import ClientConnection
        from scapy_tls_hs.connection.server import ServerConnection
        self.Client, self.Server = ClientConnection, ServerConnection
        self.client_config, self.server_config = configs(tls, cert, key)
        self.copy = copy.copy
        self.resume = resume
        self.session = None
        self.times = {"client": 0.0, "server": 0.0}
        self.profile = profile           # (side, cProfile.Profile) or None

    def _call(self, side, fn, *args):
        prof = self.profile[1] if self.profile and self.profile[0] == side else None
        start = time.thread_time()
        if prof:
            prof.enable()
        try:
            return fn(*args)
        finally:
            if prof:
                prof.disable()
            self.times[side] += time.thread_time() - start

    def once(self):
        config = self.client_config
        if self.resume and self.session is not None:
            config = self.copy(config)
            config.session = self.session
        client = self._call("client", self.Client, config)
        server = self._call("server", self.Server, self.server_config)
        self._call("client", client.start)
        closing = False
        for _ in range(40):
            moved = False
            for src, dst, side in ((client, server, "server"), (server, client, "client")):
                data = self._call("client" if side == "server" else "server", src.data_to_send)
                if data:
                    moved = True
                    self._call(side, dst.receive_data, data)
            if not closing and client.handshake_complete and server.handshake_complete:
                # TLS 1.3: the server's tickets are queued by now; the client reads them
                # before the close_notify exchange ends.
                closing = True
                self._call("client", client.close)
                moved = True
            if not moved:
                break
        if not (client.handshake_complete and server.handshake_complete):
            raise RuntimeError("handshake did not complete")
        if self.resume and self.session is not None and not client.resumed:
            raise RuntimeError("not resumed")
        self.session = client.session


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tls", choices=["1.2", "1.3"], default="1.2")
    ap.add_argument("--count", type=int, default=300, help="handshakes measured")
    ap.add_argument("--repeat", type=int, default=3, help="best of N batches of --count")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--tree", help="checkout whose scapy_tls_hs is measured")
    ap.add_argument("--profile", choices=["client", "server"],
                    help="cProfile one side over --count handshakes instead")
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--result", help="JSON result file")
    ap.add_argument("--identity", nargs=2, metavar=("CERT", "KEY"),
                    help="an RSA 2048 certificate and key to use (default: made afresh); "
                         "fixed files keep runs comparable under valgrind --tool=cachegrind")
    args = ap.parse_args()
    tree = use_tree(args.tree)
    with tempfile.TemporaryDirectory() as d:
        cert, key = args.identity or make_identity(d)
        if args.profile:
            prof = cProfile.Profile()
            pair = Pair(args.tls, cert, key, args.resume)
            for _ in range(20):
                pair.once()
            pair.profile = (args.profile, prof)
            for _ in range(args.count):
                pair.once()
            stats = pstats.Stats(prof)
            print("cProfile of the %s side, %d TLS %s %s handshakes: %.0f Python function "
                  "calls per handshake"
                  % (args.profile, args.count, args.tls, "resumed" if args.resume else "full",
                     stats.total_calls / args.count))
            stats.sort_stats("tottime").print_stats(args.top)
            stats.sort_stats("cumulative").print_stats(args.top)
            return
        pair = Pair(args.tls, cert, key, args.resume)
        for _ in range(20):
            pair.once()
        best = None
        for _ in range(args.repeat):
            pair.times = {"client": 0.0, "server": 0.0}
            for _ in range(args.count):
                pair.once()
            per = {k: v * 1000 / args.count for k, v in pair.times.items()}
            if best is None or per["client"] + per["server"] < best["client"] + best["server"]:
                best = per
    print("TLS %s %s, in memory, best of %d x %d: client %.3f ms, server %.3f ms CPU per "
          "handshake (load average %s)"
          % (args.tls, "resumed" if args.resume else "full", args.repeat, args.count,
             best["client"], best["server"], " ".join("%.2f" % x for x in os.getloadavg())))
    if args.result:
        with open(args.result, "w") as f:
            json.dump({"tree": tree, "tls": args.tls, "resume": args.resume,
                       "client_ms": best["client"], "server_ms": best["server"],
                       "loadavg": os.getloadavg()}, f)


if __name__ == "__main__":
    main()
