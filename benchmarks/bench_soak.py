"""Soak: the server's memory (RSS) over many handshakes and during long connections.

A benchmark, not a test: it prints what it measures and asserts nothing. One
``scapy-tls-hs server`` process per phase (``--tree DIR``: another checkout's package, to
compare before and after a change); its RSS is read from ``/proc/PID/status`` (Linux).

- ``handshakes``: ``--handshakes N`` (default 20,000) full TLS 1.2 handshakes by Python
  ``ssl`` clients (``--clients`` processes), each with an HTTP GET answered; RSS every
  ``N/10`` handshakes.
- ``stream``: one Python ``ssl`` client streams 16 KB records to an ``--echo`` server for
  ``--seconds`` (default 30) and reads the echo back; RSS every second, then after the
  client closed. ``--timeout`` of the server is raised above ``--seconds`` and its total
  connection budget (``lifetime``) with it, so the connection lives the whole time.
- ``header``: one client sends ``GET /`` then header lines that never end, as fast as it
  can, to the HTTP server; server RSS and CPU time until the server cuts it (or
  ``--seconds`` pass).
- ``slow``: 64 clients complete a handshake, start an HTTP request and then send one byte
  every 2 s (holding all 64 workers); 8 good clients, one after the other, each with a 6 s
  timeout: how many are served, and how long each took.
- ``client``: our client (``scapy-tls-hs client --send``) against a Python ``ssl`` server
  that streams without end: the client's RSS and wall time (``--timeout 5``; then with
  ``--max-receive`` 64 MiB, so the timeout is what ends the read).

    python benchmarks/bench_soak.py [--phases handshakes,stream,header,slow,client]
        [--handshakes 20000] [--seconds 30] [--clients 2] [--tree DIR] [--result FILE]
"""
import argparse
import json
import multiprocessing
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from bench_server import cpu_seconds, wait_port  # noqa: E402
from common import client_context, free_port, make_identity, tree_env, use_tree  # noqa: E402

OUT = os.path.join(HERE, "out")
CIPHER = "ECDHE-RSA-AES128-GCM-SHA256"
RSS_LIMIT_MB = 1500
IN_FLIGHT = 256 << 10
REQUEST = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"


def rss_mb(pid):
    """Resident set size of a process in MB (Linux /proc), None when it is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def start_server(tree, cert, key, *extra):
    port = free_port()
    env, cwd = tree_env(tree)
    argv = [sys.executable, "-m", "scapy_tls_hs", "server", "--cert", cert, "--key", key,
            "--port", str(port), "--tls", "1.2"] + list(extra)
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    wait_port(port, proc)
    return proc, port


def stop(proc):
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# -- handshakes ----------------------------------------------------------------------------

def _handshakes(args):
    port, count = args
    ctx = client_context(CIPHER)
    errors = 0
    for _ in range(count):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
                raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                    s.sendall(REQUEST)
                    if not s.recv(65536).startswith(b"HTTP/1.1 200"):
                        errors += 1
        except (OSError, ssl.SSLError):
            errors += 1
    return errors


def phase_handshakes(tree, cert, key, total, clients):
    proc, port = start_server(tree, cert, key, "--timeout", "5")
    samples = [(0, rss_mb(proc.pid))]
    errors = 0
    step = max(1, total // 10)
    start = time.monotonic()
    try:
        with multiprocessing.Pool(clients) as pool:
            done = 0
            while done < total:
                n = min(step, total - done)
                share = [n // clients + (i < n % clients) for i in range(clients)]
                errors += sum(pool.map(_handshakes, [(port, c) for c in share if c]))
                done += n
                samples.append((done, rss_mb(proc.pid)))
                print("  %6d handshakes: server RSS %.1f MB" % (done, samples[-1][1]),
                      flush=True)
    finally:
        stop(proc)
    return {"handshakes": total, "errors": errors, "seconds": time.monotonic() - start,
            "rss_mb": samples}


# -- one long echo stream ------------------------------------------------------------------

def phase_stream(tree, cert, key, seconds):
    budget = str(int(seconds * 2 + 10))
    # The lifetime option is new; an older tree does not know it (and has no such budget).
    extra = ["--echo", "--timeout", budget]
    env, cwd = tree_env(tree)
    helptext = subprocess.run([sys.executable, "-m", "scapy_tls_hs", "server", "--help"],
                              env=env, cwd=cwd, capture_output=True, text=True).stdout
    if "--lifetime" in helptext:
        extra += ["--lifetime", budget]
    proc, port = start_server(tree, cert, key, *extra)
    samples = [(0.0, rss_mb(proc.pid))]
    sent = echoed = 0
    outcome = "streamed to the end"
    chunk = os.urandom(16384)
    stop_at = time.monotonic() + seconds
    ctx = client_context(CIPHER)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                # One thread (an SSL socket is not for two threads at once): send, and read
                # the echo back whenever more than IN_FLIGHT bytes are on their way.
                start = time.monotonic()
                next_sample = start + 1.0
                try:
                    while time.monotonic() < stop_at:
                        s.sendall(chunk)
                        sent += len(chunk)
                        while sent - echoed > IN_FLIGHT:
                            data = s.recv(65536)
                            if not data:
                                raise EOFError("closed")
                            echoed += len(data)
                        if time.monotonic() >= next_sample:
                            samples.append((round(time.monotonic() - start, 1),
                                            rss_mb(proc.pid)))
                            next_sample += 1.0
                    while echoed < sent:
                        data = s.recv(65536)
                        if not data:
                            break
                        echoed += len(data)
                except (OSError, ssl.SSLError, EOFError) as exc:
                    outcome = "the server stopped after %.1fs (%s)" % (
                        time.monotonic() - start, type(exc).__name__)
                    samples.append((round(time.monotonic() - start, 1), rss_mb(proc.pid)))
        time.sleep(1.5)            # the server's connection ended; what stays allocated
        samples.append(("closed", rss_mb(proc.pid)))
    finally:
        stop(proc)
    rss = [r for _, r in samples if r is not None]
    print("  %s: streamed %.0f MB, echoed %.0f MB; server RSS %s MB"
          % (outcome, sent / 1e6, echoed / 1e6, " ".join("%.0f" % r for r in rss)),
          flush=True)
    return {"seconds": seconds, "outcome": outcome, "sent_mb": sent / 1e6,
            "echoed_mb": echoed / 1e6, "rss_mb": samples}


# -- a request header that never ends ------------------------------------------------------

def phase_header(tree, cert, key, seconds):
    proc, port = start_server(tree, cert, key, "--timeout", str(int(seconds + 5)))
    rss0, cpu0 = rss_mb(proc.pid), cpu_seconds(proc.pid)
    sent = 0
    peak = rss0
    start = time.monotonic()
    outcome = "still open after %gs" % seconds
    ctx = client_context(CIPHER)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                s.sendall(b"GET / HTTP/1.1\r\n")
                line = b"X-Filler: " + b"a" * 1000 + b"\r\n"
                try:
                    while time.monotonic() - start < seconds:
                        s.sendall(line * 16)
                        sent += len(line) * 16
                        peak = max(peak, rss_mb(proc.pid) or 0)
                except (OSError, ssl.SSLError) as exc:
                    outcome = "cut by the server after %.1fs (%s)" % (
                        time.monotonic() - start, type(exc).__name__)
        time.sleep(1.0)
        cpu = cpu_seconds(proc.pid) - cpu0
    finally:
        stop(proc)
    print("  header of %.1f MB sent: %s; server RSS %.0f -> peak %.0f MB, CPU %.1fs"
          % (sent / 1e6, outcome, rss0, peak, cpu), flush=True)
    return {"sent_mb": sent / 1e6, "outcome": outcome, "rss_mb_before": rss0,
            "rss_mb_peak": peak, "server_cpu_s": cpu}


# -- our client against a server that never stops sending ----------------------------------

def _endless_server(lsock, cert, key, stop_event):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    chunk = b"x" * 16384
    lsock.settimeout(30)
    try:
        raw, _ = lsock.accept()
        with ctx.wrap_socket(raw, server_side=True) as s:
            s.recv(65536)
            while not stop_event.is_set():
                s.sendall(chunk)
                time.sleep(0.005)           # about 3 MB/s: never a pause of 0.5 s
    except (OSError, ssl.SSLError):
        pass


def phase_client(tree, cert, key, timeout=5.0, max_receive=None):
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(4)
    port = lsock.getsockname()[1]
    stop_event = threading.Event()
    t = threading.Thread(target=_endless_server, args=(lsock, cert, key, stop_event),
                         daemon=True)
    t.start()
    env, cwd = tree_env(tree)
    argv = [sys.executable, "-m", "scapy_tls_hs", "client", "127.0.0.1", str(port),
            "--tls", "1.2", "--send", "GET / HTTP/1.1\\r\\n\\r\\n", "--timeout", str(timeout),
            "--json"]
    if max_receive is not None:
        argv += ["--max-receive", str(max_receive)]
    start = time.monotonic()
    # A file, not a pipe: the JSON line holds up to 1 MiB of answer.
    out_file = tempfile.TemporaryFile("w+")
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out_file,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    peak = 0.0
    # An unbounded client is stopped before it takes the machine down.
    limit = start + timeout * 4 + 10
    while proc.poll() is None and time.monotonic() < limit and peak < RSS_LIMIT_MB:
        peak = max(peak, rss_mb(proc.pid) or 0)
        time.sleep(0.2)
    if proc.poll() is None:
        proc.kill()
        outcome = "killed after %.0fs" % (time.monotonic() - start)
    else:
        outcome = "exited %d" % proc.returncode
    proc.wait()
    elapsed = time.monotonic() - start
    out_file.seek(0)
    out = out_file.read()
    out_file.close()
    stop_event.set()
    lsock.close()
    errors = None
    try:
        errors = json.loads(out.splitlines()[0])["errors"]
    except (ValueError, IndexError, KeyError):
        pass
    print("  client --timeout %g%s: %s after %.1fs, peak RSS %.0f MB, errors %s"
          % (timeout, "" if max_receive is None else " --max-receive %d" % max_receive,
             outcome, elapsed, peak, errors), flush=True)
    return {"timeout": timeout, "max_receive": max_receive, "outcome": outcome,
            "seconds": elapsed, "rss_mb_peak": peak, "errors": errors}


# -- slow clients holding every worker ------------------------------------------------------

def phase_slow(tree, cert, key, slow=64, good=8):
    """``slow`` clients complete a handshake, start an HTTP request and send one more byte of
    it every 2 s; meanwhile ``good`` clients, one after the other, each with a 6 s timeout."""
    proc, port = start_server(tree, cert, key)
    ctx = client_context(CIPHER)
    socks = []
    stop_event = threading.Event()
    try:
        for _ in range(slow):
            raw = socket.create_connection(("127.0.0.1", port), timeout=10)
            s = ctx.wrap_socket(raw, server_hostname="localhost")
            s.sendall(b"GET / HTTP/1.1\r\n")
            socks.append(s)

        def trickle():
            i = 0
            while not stop_event.wait(2.0 / slow):
                try:
                    socks[i % slow].sendall(b"X")
                except OSError:
                    pass
                i += 1

        t = threading.Thread(target=trickle, daemon=True)
        t.start()
        time.sleep(2.5)
        times = []
        for _ in range(good):
            start = time.monotonic()
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=6) as raw:
                    with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                        s.sendall(REQUEST)
                        ok = s.recv(65536).startswith(b"HTTP/1.1 200")
            except (OSError, ssl.SSLError):
                ok = False
            times.append((ok, round(time.monotonic() - start, 2)))
        stop_event.set()
        t.join(5)
    finally:
        for s in socks:
            s.close()
        stop(proc)
    served = sum(ok for ok, _ in times)
    print("  %d slow clients: %d of %d good clients served, seconds each: %s"
          % (slow, served, good, " ".join("%g%s" % (sec, "" if ok else "(failed)")
                                          for ok, sec in times)), flush=True)
    return {"slow": slow, "good": good, "served": served, "seconds": times}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--phases", default="handshakes,stream,header,slow,client")
    ap.add_argument("--handshakes", type=int, default=20000)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--tree", help="the checkout whose scapy_tls_hs is measured")
    ap.add_argument("--result", help="write the numbers as JSON to this file")
    args = ap.parse_args()
    tree = use_tree(args.tree)
    os.makedirs(OUT, exist_ok=True)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = make_identity(tmp)
        for phase in args.phases.split(","):
            print("%s:" % phase, flush=True)
            if phase == "handshakes":
                results[phase] = phase_handshakes(tree, cert, key, args.handshakes,
                                                  args.clients)
            elif phase == "stream":
                results[phase] = phase_stream(tree, cert, key, args.seconds)
            elif phase == "header":
                results[phase] = phase_header(tree, cert, key, min(args.seconds, 20.0))
            elif phase == "slow":
                results[phase] = phase_slow(tree, cert, key)
            elif phase == "client":
                results[phase] = [phase_client(tree, cert, key)]
                # Without the 1 MiB stop, --timeout alone ends the read (newer trees only).
                env, cwd = tree_env(tree)
                helptext = subprocess.run(
                    [sys.executable, "-m", "scapy_tls_hs", "client", "--help"], env=env,
                    cwd=cwd, capture_output=True, text=True).stdout
                if "--max-receive" in helptext:
                    results[phase].append(phase_client(tree, cert, key,
                                                       max_receive=1 << 26))
            else:
                raise SystemExit("unknown phase %s" % phase)
    if args.result:
        with open(args.result, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
