#!/usr/bin/env python3
"""Record tls13_chromium_openssl.pcap: a headless Chromium's TLS 1.3 handshakes.

Two page loads (``chromium --headless=new --dump-dom``), each one connection, recorded by
``tcpdump -i lo --immediate-mode`` with a filter on the two server ports:
1. to ``openssl s_server -WWW -tls1_3``;
2. to ``openssl s_server -WWW`` with TLS 1.2 allowed too.
The page names an empty icon, so Chromium asks for no favicon; the idle connection it opens
beside the page's (a preconnect) is left out of the file, with its key log lines: each load
keeps the first connection only. The key log is Chromium's own (``--ssl-key-log-file``).
Keys and the certificate (ECDSA P-256, CN=localhost) are made fresh on every run. Needs root
(or CAP_NET_RAW), ``chromium``, ``openssl`` and ``tcpdump``.

    python pcaps/make_chromium_capture.py [--out pcaps] [--chromium /usr/bin/chromium]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

from make_captures import HERE, free_port, stop, wait_listening

NAME = "tls13_chromium_openssl"
PAGE = b'<!doctype html><html><head><link rel="icon" href="data:,"></head>' \
       b'<body>chromium capture</body></html>\n'
SERVERS = (["-tls1_3"], [])         # TLS 1.3 only; TLS 1.2 and 1.3


def make_cert(tmp):
    key, cert = os.path.join(tmp, "server.key"), os.path.join(tmp, "server.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "30", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost"],
                   check=True, capture_output=True)
    return key, cert


def chromium_load(chromium, url, keylog, profile, timeout=60):
    """One headless page load; Chromium appends the connection's secrets to ``keylog``."""
    argv = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
            "--ignore-certificate-errors", "--ssl-key-log-file=" + keylog,
            "--user-data-dir=" + profile, "--no-first-run", "--disable-sync",
            # localhost is tried on ::1 first otherwise: a refused connection in the file.
            "--host-resolver-rules=MAP localhost 127.0.0.1",
            "--disable-background-networking", "--disable-component-update",
            "--dump-dom", url]
    subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=timeout, check=True)


def record(out, chromium):
    tmp = tempfile.mkdtemp(prefix="pcaps-chromium-")
    servers, dump = [], None
    pcap = os.path.join(out, NAME + ".pcap")
    keylog = os.path.join(out, NAME + ".keylog")
    try:
        key, cert = make_cert(tmp)
        with open(os.path.join(tmp, "index.html"), "wb") as f:
            f.write(PAGE)
        ports = []
        for options in SERVERS:
            port = free_port()
            proc = subprocess.Popen(
                ["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-key", key,
                 "-cert", cert, "-WWW"] + options, cwd=tmp, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            servers.append(proc)
            wait_listening(port, proc)
            ports.append(port)
        if os.path.exists(keylog):
            os.remove(keylog)
        bpf = "ip and (%s)" % " or ".join("tcp port %d" % p for p in ports)
        dump = subprocess.Popen(["tcpdump", "-i", "lo", "--immediate-mode", "-U", "-s", "0",
                                 "-w", pcap, bpf], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(1.0)  # tcpdump needs a moment before it captures
        for n, port in enumerate(ports):
            chromium_load(chromium, "https://localhost:%d/index.html" % port, keylog,
                          os.path.join(tmp, "profile%d" % n))
            time.sleep(0.5)
        stop(dump)
        keep_first_connections(pcap, keylog, ports)
        print("wrote", pcap, "and", keylog)
    finally:
        if dump is not None:
            stop(dump)
        for proc in servers:
            stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


def keep_first_connections(pcap, keylog, ports):
    """Rewrite ``pcap`` with the first TCP connection to each of ``ports`` only, and
    ``keylog`` with the lines of their ClientHellos' randoms."""
    from scapy.layers.inet import TCP
    from scapy.utils import rdpcap, wrpcap
    packets = rdpcap(pcap)
    first = {}          # server port -> client port of its first SYN
    for pkt in packets:
        if TCP in pkt and pkt[TCP].flags == "S" and pkt[TCP].dport in ports:
            first.setdefault(pkt[TCP].dport, pkt[TCP].sport)
    kept_pairs = set(first.items())
    kept = [p for p in packets if TCP in p and
            ((p[TCP].dport, p[TCP].sport) in kept_pairs or
             (p[TCP].sport, p[TCP].dport) in kept_pairs)]
    randoms = set()
    for p in kept:
        data = bytes(p[TCP].payload)
        if p[TCP].dport in first and data[:1] == b"\x16" and data[5:6] == b"\x01":
            randoms.add(data[11:43].hex())
    wrpcap(pcap, kept)
    with open(keylog) as f:
        lines = [line for line in f if len(line.split()) == 3 and line.split()[1] in randoms]
    with open(keylog, "w") as f:
        f.writelines(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    args = ap.parse_args()
    record(args.out, args.chromium)
    return 0


if __name__ == "__main__":
    sys.exit(main())
