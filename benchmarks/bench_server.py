"""Handshakes per second a TLS server serves to a loop of Python ``ssl`` clients.

Side by side, in one run, with the same certificate (RSA 2048), suite and client loop:

- ``ours``:   ``scapy-tls-hs server`` (this package's ``TLSServerAutomaton`` + listener),
- ``python``: a Python ``ssl`` server (OpenSSL in C; the reference),
- ``scapy``:  Scapy's own ``scapy.layers.tls.automaton_srv.TLSServerAutomaton`` (comparison
  baseline only; the package never uses Scapy's TLS layer).

Each server runs in its own process; the clients run in this process (or ``--clients N``
processes). A client connects, completes a full TLS 1.2 handshake, sends an HTTP GET, reads
the answer and closes; a handshake counts when the answer came back. ``--resume`` measures
resumed handshakes (session id) instead. ``--profile`` runs our server in-process under
cProfile and prints where its time goes.

``--tls 1.3``: TLS 1.3 only, TLS_AES_128_GCM_SHA256 and X25519 on every side (our server by
its options, Python ``ssl`` by an OPENSSL_CONF file), servers ``ours,python``, and in each
round both full handshakes and PSK resumptions (psk_dhe_ke; each connection resumes with
the newest ticket), unless ``--modes`` says otherwise. ``--tree DIR`` runs the
``scapy_tls_hs`` of another checkout (e.g. a ``git worktree`` of the last commit) with this
same script; ``--result FILE`` writes every round and the medians as JSON.

    python benchmarks/bench_server.py [--seconds 5] [--clients 1] [--servers ours,python,scapy]
    python benchmarks/bench_server.py --tls 1.3 --rounds 3
"""
import argparse
import json
import multiprocessing
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from common import (TLS13_GROUP, TLS13_SUITE, client_context, free_port,  # noqa: E402
                    make_identity, reexec_pinned, tree_env, use_tree)
OUT = os.path.join(HERE, "out")
REQUEST = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
DEFAULT_CIPHER = "ECDHE-RSA-AES128-GCM-SHA256"


# -- certificate ---------------------------------------------------------------------------

# -- servers (each runs in its own process) ------------------------------------------------

def serve_python(port, cert, key, tls="1.2"):
    """A plain Python ssl server: accept, handshake, answer, close; one thread per client."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    if tls == "1.3":
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3      # two tickets, as ours sends
    else:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    body = b"python ssl\n"
    answer = (b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
              % len(body)) + body
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", port))
    lsock.listen(128)

    def one(raw):
        try:
            raw.settimeout(5)
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with ctx.wrap_socket(raw, server_side=True) as s:
                if s.recv(65536):
                    s.sendall(answer)
                    # close_notify: OpenSSL only keeps sessions closed this way resumable
                    s.unwrap()
        except (OSError, ssl.SSLError, ValueError):
            pass

    while True:
        raw, _ = lsock.accept()
        threading.Thread(target=one, args=(raw,), daemon=True).start()


def serve_scapy(port, cert, key):
    from scapy.layers.tls.automaton_srv import TLSServerAutomaton
    srv = TLSServerAutomaton(server="127.0.0.1", sport=port, mycert=cert, mykey=key,
                             verbose=False, is_echo_server=False, max_client_idle_time=5)
    srv.run()


def server_command(which, port, cert, key, tls="1.2"):
    if which == "ours":
        argv = [sys.executable, "-m", "scapy_tls_hs", "server", "--cert", cert, "--key", key,
                "--port", str(port), "--timeout", "5"]
        if tls == "1.3":
            argv += ["--tls", "1.3", "--tls-min", "1.3", "--cipher", TLS13_SUITE,
                     "--group", TLS13_GROUP]
        return argv
    return [sys.executable, os.path.abspath(__file__), "--serve-" + which, str(port), cert,
            key, tls]


def wait_port(port, proc, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited with status %s" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError("server did not listen on %d" % port)


# -- the client loop -----------------------------------------------------------------------

def one_handshake(port, ctx, session=None):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        # Like curl and s_client: no Nagle delay between the client's last handshake flight
        # and its request (it would wait for a delayed ACK when the server has nothing to
        # send, as after a resumed handshake).
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with ctx.wrap_socket(raw, server_hostname="localhost", session=session) as s:
            s.sendall(REQUEST)
            if not s.recv(65536).startswith(b"HTTP/1.1 200"):
                raise RuntimeError("no HTTP answer")
            return s.session, s.session_reused


def client_loop(args):
    port, seconds, warmup, cipher, resume, tls = args
    ctx = client_context(cipher, tls=tls)
    if resume and tls != "1.3":
        ctx.options |= ssl.OP_NO_TICKET        # TLS 1.2: resume by session id
    session = None
    warm = 0
    end_warmup = time.monotonic() + warmup
    while time.monotonic() < end_warmup:
        session, _ = one_handshake(port, ctx)
        warm += 1
    done = errors = reused = 0
    start = time.monotonic()
    end = start + seconds
    while time.monotonic() < end:
        try:
            new, was_reused = one_handshake(port, ctx, session if resume else None)
            done += 1
            reused += was_reused
            # TLS 1.3: every resumption brings a fresh ticket, used next (as browsers do).
            if resume and (tls == "1.3" or not was_reused):
                session = new
        except (OSError, ssl.SSLError, RuntimeError):
            errors += 1
    return done, errors, reused, time.monotonic() - start, warm + done + errors


def client_count(args):
    port, count, cipher, resume, tls = args
    ctx = client_context(cipher, tls=tls)
    if resume and tls != "1.3":
        ctx.options |= ssl.OP_NO_TICKET
    session = None
    for _ in range(count):
        session, _ = one_handshake(port, ctx, session if resume else None)


def cpu_seconds(pid):
    """User + system CPU time of a process (Linux /proc), None elsewhere."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def measure(which, cert, key, seconds, clients, cipher, resume, tls, tree, warmup=1.0):
    port = free_port()
    # cwd=tree: ``python -m`` looks in the working directory first.
    env, cwd = tree_env(tree)
    proc = subprocess.Popen(server_command(which, port, cert, key, tls), env=env, cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        wait_port(port, proc)
        jobs = [(port, seconds, warmup, cipher, resume, tls)] * clients
        # Server CPU time is measured over the whole run (warm-up included) and divided by
        # every handshake made, warm-up ones counted by a first pass of the clients.
        cpu0 = cpu_seconds(proc.pid)
        if clients == 1:
            results = [client_loop(jobs[0])]
        else:
            with multiprocessing.Pool(clients) as pool:
                results = pool.map(client_loop, jobs)
        cpu1 = cpu_seconds(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    done = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    reused = sum(r[2] for r in results)
    elapsed = max(r[3] for r in results)
    total = sum(r[4] for r in results)
    cpu_ms = (cpu1 - cpu0) * 1000 / total if cpu0 is not None and total else float("nan")
    return done / elapsed, done, errors, reused, cpu_ms


# -- profiling our server ------------------------------------------------------------------

def profile_ours(cert, key, count, cipher, resume, tls):
    import cProfile
    import pstats
    from scapy_tls_hs.automata.listener import TLSListener
    from scapy_tls_hs.automata.server import TLSServerAutomaton

    profiles = []
    original = TLSServerAutomaton.run_inline

    def profiled(self, *a, **k):       # each connection's automaton, in its worker thread
        p = cProfile.Profile()
        p.enable()
        try:
            return original(self, *a, **k)
        finally:
            p.disable()
            profiles.append(p)

    TLSServerAutomaton.run_inline = profiled
    # The options ``scapy-tls-hs server`` passes (see server_command).
    options = {"timeout": 5}
    if tls == "1.3":
        options.update(versions=["TLS 1.3"], ciphers=[TLS13_SUITE], groups=[TLS13_GROUP])
    listener = TLSListener("127.0.0.1", 0, cert=cert, key=key, keep_results=False,
                           **options).start()
    # The clients run in another process, so the profile is the server's alone.
    start = time.monotonic()
    with multiprocessing.Pool(1) as pool:
        pool.apply(client_count, ((listener.port, count, cipher, resume, tls),))
    elapsed = time.monotonic() - start
    listener.stop()
    TLSServerAutomaton.run_inline = original
    print("%d handshakes in %.2fs (%.0f/s) with the server profiled"
          % (count, elapsed, count / elapsed))
    stats = pstats.Stats(profiles[0])
    for p in profiles[1:]:
        stats.add(p)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(30)


# -- main ----------------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="measuring time per server")
    ap.add_argument("--clients", type=int, default=1, help="parallel client loops")
    ap.add_argument("--servers", help="default ours,python,scapy (TLS 1.3: ours,python)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="measure the servers in turn this many times; report the median "
                         "(the machine may be shared: interleaving evens the noise out)")
    ap.add_argument("--cipher", default=DEFAULT_CIPHER, help="OpenSSL suite name (TLS 1.2)")
    ap.add_argument("--resume", action="store_true",
                    help="resumed handshakes (TLS 1.2: session id; TLS 1.3: PSK)")
    ap.add_argument("--modes", help="full,resumed (TLS 1.3 default: both, interleaved)")
    ap.add_argument("--tls", choices=["1.2", "1.3"], default="1.2")
    ap.add_argument("--tree", help="checkout whose scapy_tls_hs is measured "
                                   "(default: the one holding this script)")
    ap.add_argument("--result", help="write the rounds and medians to this JSON file")
    ap.add_argument("--profile", type=int, metavar="N",
                    help="profile N handshakes of our server in-process instead")
    ap.add_argument("--serve-python", nargs="+", metavar="ARG", help=argparse.SUPPRESS)
    ap.add_argument("--serve-scapy", nargs="+", metavar="ARG", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve_python:
        return serve_python(int(args.serve_python[0]), *args.serve_python[1:])
    if args.serve_scapy:
        return serve_scapy(int(args.serve_scapy[0]), *args.serve_scapy[1:3])
    if args.tls == "1.3":
        reexec_pinned(OUT)           # OpenSSL reads its configuration once, at start-up
    tree = use_tree(args.tree)
    if args.modes:
        modes = args.modes.split(",")
    elif args.resume:
        modes = ["resumed"]
    else:
        modes = ["full", "resumed"] if args.tls == "1.3" else ["full"]
    names = (args.servers or ("ours,python" if args.tls == "1.3" else "ours,python,scapy")
             ).split(",")
    suite = ("%s, %s" % (TLS13_SUITE, TLS13_GROUP)) if args.tls == "1.3" else args.cipher

    with tempfile.TemporaryDirectory() as d:
        cert, key = make_identity(d)
        if args.profile:
            return profile_ours(cert, key, args.profile, args.cipher, modes == ["resumed"],
                                args.tls)
        print("TLS %s %s, RSA 2048, %s handshakes, %d client loop(s), %.0fs per server, "
              "%d CPU(s), load average %s"
              % (args.tls, suite, " and ".join(modes), args.clients, args.seconds,
                 os.cpu_count(), " ".join("%.2f" % x for x in os.getloadavg())), flush=True)
        runs = {(name, mode): [] for mode in modes for name in names}
        for _ in range(args.rounds):
            for mode in modes:
                for which in names:
                    result = measure(which, cert, key, args.seconds, args.clients, args.cipher,
                                     mode == "resumed", args.tls, tree)
                    runs[which, mode].append(result)
                    rate, done, errors, reused, cpu_ms = result
                    print("%-7s %-7s %8.1f handshakes/s  %6.2f ms server CPU per handshake  "
                          "(%d done, %d errors, %d resumed)"
                          % (which, mode, rate, cpu_ms, done, errors, reused), flush=True)
        rows = {k: statistics.median(r[0] for r in results) for k, results in runs.items()}
        cpu = {k: statistics.median(r[4] for r in results) for k, results in runs.items()}
        if args.rounds > 1:
            print("median of %d rounds:" % args.rounds)
            for k in runs:
                print("%-7s %-7s %8.1f handshakes/s  %6.2f ms server CPU per handshake"
                      % (k[0], k[1], rows[k], cpu[k]))
        ratios = {}
        for mode in modes:
            ours, python, scapy = (rows.get((n, mode)) for n in ("ours", "python", "scapy"))
            if ours and python:
                ratios[mode] = {"rate": ours / python,
                                "cpu": cpu["python", mode] / cpu["ours", mode]}
                print("%s: ours / python ssl = %.2f (handshakes/s), %.2f (server CPU per "
                      "handshake)" % (mode, ours / python, ratios[mode]["cpu"]))
            if ours and scapy:
                print("%s: ours / scapy      = %.1fx" % (mode, ours / scapy))
        if args.result:
            doc = {"tls": args.tls, "suite": suite, "tree": tree, "clients": args.clients,
                   "seconds": args.seconds, "rounds": args.rounds,
                   "python": sys.version.split()[0], "cpus": os.cpu_count(),
                   "loadavg": os.getloadavg(),
                   "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                   "runs": [{"server": k[0], "mode": k[1], "rate": r[0], "done": r[1],
                             "errors": r[2], "resumed": r[3], "cpu_ms": r[4]}
                            for k, results in runs.items() for r in results],
                   "medians": [{"server": k[0], "mode": k[1], "rate": rows[k],
                                "cpu_ms": cpu[k]} for k in runs],
                   "ratios": ratios}
            os.makedirs(os.path.dirname(os.path.abspath(args.result)), exist_ok=True)
            with open(args.result, "w") as f:
                json.dump(doc, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
