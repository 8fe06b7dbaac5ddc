#!/usr/bin/env python3
"""Record the benchmark capture: N TLS 1.2 connections with application data both ways.

Real peers on 127.0.0.1, recorded by ``tcpdump -i lo``:
- server: Python ``ssl`` (OpenSSL) in a child process, TLS 1.2 only, one suite, no tickets;
  it answers each client message with a response of a fixed size;
- client: Python ``ssl`` with ``keylog_filename`` (NSS key log), full handshake per
  connection, ``--messages`` requests each answered, then close_notify both ways.

Everything is fixed (counts, sizes, suite) except keys and randoms, so every run gives a
capture with the same number of packets' worth of records. Output in benchmarks/out/:
``bench.pcap``, ``bench.keylog``, ``bench.json`` (port, counts, tool versions).

    python benchmarks/make_capture.py [--connections 300] [--messages 10]
"""
import argparse
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from common import client_context, free_port  # noqa: E402
OUT = os.path.join(HERE, "out")
SUITE = "ECDHE-RSA-AES128-GCM-SHA256"


def request_size(i):
    return 120 + 37 * i


def response_size(i):
    return 400 + 211 * i


def serve(port, cert, key, messages):
    """Child process: accept connections one at a time until killed."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(SUITE)
    ctx.options |= ssl.OP_NO_TICKET
    ctx.load_cert_chain(cert, key)
    with socket.socket() as ls:
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", port))
        ls.listen(16)
        print("ready", flush=True)
        while True:
            conn, _ = ls.accept()
            try:
                with ctx.wrap_socket(conn, server_side=True) as tls:
                    for i in range(messages):
                        want = request_size(i)
                        got = 0
                        while got < want:
                            data = tls.recv(want - got)
                            if not data:
                                raise ConnectionError("client closed early")
                            got += len(data)
                        tls.sendall(bytes([65 + i % 26]) * response_size(i))
                    tls.unwrap()
            except (OSError, ssl.SSLError) as e:
                print("server: %s" % e, file=sys.stderr)


def run_client(port, keylog, messages):
    ctx = client_context(SUITE, keylog)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            for i in range(messages):
                tls.sendall(bytes([97 + i % 26]) * request_size(i))
                want = response_size(i)
                got = 0
                while got < want:
                    data = tls.recv(want - got)
                    if not data:
                        raise ConnectionError("server closed early")
                    got += len(data)
            tls.unwrap()


def wait_ready(proc):
    """The server says "ready" once it listens (no probe connection in the capture)."""
    if proc.stdout.readline().strip() != b"ready":
        raise SystemExit("server did not start")


def stop(proc, sig=signal.SIGTERM):
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--connections", type=int, default=300)
    ap.add_argument("--messages", type=int, default=10,
                    help="requests per connection, each answered (2 records each)")
    ap.add_argument("--out", default=OUT)
    ap.add_argument("--serve", nargs=3, metavar=("PORT", "CERT", "KEY"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(int(args.serve[0]), args.serve[1], args.serve[2], args.messages)
        return

    os.makedirs(args.out, exist_ok=True)
    cap = os.path.join(args.out, "bench.pcap")
    keylog = os.path.join(args.out, "bench.keylog")
    cert = os.path.join(args.out, "server.crt")
    key = os.path.join(args.out, "server.key")
    for path in (cap, keylog):
        if os.path.exists(path):
            os.unlink(path)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                    "-subj", "/CN=localhost", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    port = free_port()
    dump_err = open(os.path.join(args.out, "tcpdump.log"), "w+")
    # A 64 MB kernel buffer: with the default one tcpdump drops packets on this burst.
    dump = subprocess.Popen(["tcpdump", "-i", "lo", "--immediate-mode", "-U", "-s", "0",
                             "-B", "65536", "-w", cap, "tcp port %d" % port],
                            stdout=subprocess.DEVNULL, stderr=dump_err)
    server = None
    try:
        deadline = time.monotonic() + 10
        while True:  # tcpdump says "listening on lo" once it captures
            dump_err.seek(0)
            if "listening on" in dump_err.read():
                break
            if dump.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("tcpdump did not start: see %s" % dump_err.name)
            time.sleep(0.05)
        server = subprocess.Popen([sys.executable, __file__, "--messages", str(args.messages),
                                   "--serve", str(port), cert, key], stdout=subprocess.PIPE)
        wait_ready(server)
        start = time.monotonic()
        for _ in range(args.connections):
            run_client(port, keylog, args.messages)
        elapsed = time.monotonic() - start
        time.sleep(0.5)  # let tcpdump write the last packets
    finally:
        if server is not None:
            stop(server)
        stop(dump, signal.SIGINT)
    dump_err.seek(0)
    tcpdump_log = dump_err.read().strip()
    dump_err.close()
    meta = {
        "capture": cap, "keylog": keylog, "port": port, "cipher_suite": SUITE,
        "version": "TLS 1.2", "tls_connections": args.connections,
        "messages_per_connection": args.messages,
        "app_data_records": 2 * args.messages * args.connections,
        "capture_bytes": os.path.getsize(cap), "record_seconds": round(elapsed, 2),
        "openssl": ssl.OPENSSL_VERSION, "tcpdump": tcpdump_log.splitlines()[-3:],
        "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    with open(os.path.join(args.out, "bench.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print("%s: %d connections, %d bytes (%s)" % (cap, args.connections, meta["capture_bytes"],
                                                 "; ".join(meta["tcpdump"])))
    dropped = [line for line in meta["tcpdump"] if "dropped by kernel" in line]
    if dropped and not dropped[0].startswith("0 "):
        sys.exit("tcpdump dropped packets: the capture has holes; run again")


if __name__ == "__main__":
    main()
