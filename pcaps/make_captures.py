#!/usr/bin/env python3
"""Record the extra sample captures of pcaps/ (the ones not copied from the shared corpus).

Real peers on 127.0.0.1 (or ::1): OpenSSL ``s_server`` and ``s_client``, recorded by
``tcpdump -i lo`` (or ``-i any``; needs root or CAP_NET_RAW). Each scenario writes
NAME.pcap, NAME.keylog (s_client -keylogfile) and, for RSA key exchange, NAME.server.key.
Keys and certificates are made fresh on every run, so the files are never byte-for-byte
the same.

    python pcaps/make_captures.py [--out pcaps] [--only NAME]

Scenarios:
- tls13_hrr_keyupdate_openssl: TLS 1.3, the client's first key share (x25519) is refused by a
  server that only takes P-256 (HelloRetryRequest); the client sends a KeyUpdate (s_client
  command "k") between two lines of data.
- tls13_resumption_openssl: two TLS 1.3 connections, the second resumes with the first one's
  ticket (PSK with (EC)DHE, ServerHello carries pre_shared_key).
- tls10_rsa_aes128sha_openssl: TLS 1.0, RSA key exchange, AES128-SHA (CBC, implicit IV).
- tls11_ecdhe_rsa_aes256sha_openssl: TLS 1.1, ECDHE-RSA-AES256-SHA (CBC, explicit IV).
- tls12_ipv6_sll2_openssl: TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256 over IPv6 ([::1]), recorded
  with ``tcpdump -i any -y LINUX_SLL2`` (Linux cooked v2 link type).
- tls13_ipv6_sll_openssl: TLS 1.3 TLS_AES_128_GCM_SHA256 over IPv6 ([::1]), recorded with
  ``tcpdump -i any -y LINUX_SLL`` (Linux cooked v1 link type).
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SECLEVEL0 = "@SECLEVEL=0"

SCENARIOS = {
    "tls13_hrr_keyupdate_openssl": {
        "server": ["-tls1_3", "-groups", "P-256"],
        "client": [["-tls1_3", "-groups", "X25519:P-256"]],
        "input": [b"hello\n", b"k\n", b"after the key update\n", b"Q\n"],
    },
    "tls13_resumption_openssl": {
        "server": ["-tls1_3"],
        "client": [["-tls1_3", "-sess_out", "{tmp}/sess"], ["-tls1_3", "-sess_in", "{tmp}/sess"]],
        "input": [b"hello\n", b"Q\n"],
    },
    "tls10_rsa_aes128sha_openssl": {
        "server": ["-tls1", "-cipher", "AES128-SHA:" + SECLEVEL0],
        "client": [["-tls1", "-cipher", "AES128-SHA:" + SECLEVEL0]],
        "input": [b"hello over TLS 1.0\n", b"Q\n"],
        "server_key": True,
    },
    "tls11_ecdhe_rsa_aes256sha_openssl": {
        "server": ["-tls1_1", "-cipher", "ECDHE-RSA-AES256-SHA:" + SECLEVEL0],
        "client": [["-tls1_1", "-cipher", "ECDHE-RSA-AES256-SHA:" + SECLEVEL0]],
        "input": [b"hello over TLS 1.1\n", b"Q\n"],
    },
    "tls12_ipv6_sll2_openssl": {
        "server": ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256", "-no_ticket"],
        "client": [["-tls1_2"]],
        "input": [b"hello over IPv6\n", b"Q\n"],
        "host": "::1", "tcpdump": ["-i", "any", "-y", "LINUX_SLL2"],
    },
    "tls13_ipv6_sll_openssl": {
        "server": ["-tls1_3", "-ciphersuites", "TLS_AES_128_GCM_SHA256"],
        "client": [["-tls1_3"]],
        "input": [b"hello over IPv6\n", b"Q\n"],
        "host": "::1", "tcpdump": ["-i", "any", "-y", "LINUX_SLL"],
    },
}


def free_port(host="127.0.0.1"):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_listening(port, proc, timeout=10, table="/proc/net/tcp"):
    """Wait until ``port`` is in LISTEN state without connecting to it (a probe connection
    would end up in the capture)."""
    deadline = time.monotonic() + timeout
    hexport = ":%04X" % port
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("s_server exited early")
        with open(table) as f:
            if any(line.split()[1].endswith(hexport) and line.split()[3] == "0A"
                   for line in f.readlines()[1:]):
                return
        time.sleep(0.05)
    raise TimeoutError("s_server does not listen on %d" % port)


def stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def make_cert(tmp):
    key, cert = os.path.join(tmp, "server.key"), os.path.join(tmp, "server.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "30", "-subj", "/CN=server.test",
                    "-addext", "subjectAltName=DNS:server.test"],
                   check=True, capture_output=True)
    return key, cert


def record(name, spec, out):
    tmp = tempfile.mkdtemp(prefix="pcaps-")
    try:
        key, cert = make_cert(tmp)
        host = spec.get("host", "127.0.0.1")
        address = "[%s]:%d" if ":" in host else "%s:%d"
        port = free_port(host)
        pcap = os.path.join(out, name + ".pcap")
        keylog = os.path.join(out, name + ".keylog")
        if os.path.exists(keylog):
            os.remove(keylog)
        server = subprocess.Popen(
            ["openssl", "s_server", "-accept", address % (host, port), "-key", key, "-cert",
             cert, "-rev"] + spec["server"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        dump = None
        try:
            wait_listening(port, server,
                           table="/proc/net/tcp6" if ":" in host else "/proc/net/tcp")
            dump = subprocess.Popen(["tcpdump"] + spec.get("tcpdump", ["-i", "lo"])
                                    + ["-U", "-s", "0", "-w", pcap, "tcp port %d" % port],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    start_new_session=True)
            time.sleep(1.0)  # tcpdump needs a moment before it captures
            for args in spec["client"]:
                args = [a.format(tmp=tmp) for a in args]
                client = subprocess.Popen(
                    ["openssl", "s_client", "-connect", address % (host, port),
                     "-servername", "server.test", "-keylogfile", keylog] + args,
                    stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL, start_new_session=True)
                try:
                    for line in spec["input"]:
                        time.sleep(0.3)
                        client.stdin.write(line)
                        client.stdin.flush()
                    client.stdin.close()
                    client.wait(10)
                finally:
                    stop(client)
                time.sleep(0.3)
            time.sleep(0.5)
        finally:
            if dump is not None:
                stop(dump)
            stop(server)
        if spec.get("server_key"):
            shutil.copy(key, os.path.join(out, name + ".server.key"))
        print("wrote", pcap)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--only")
    args = ap.parse_args()
    for name, spec in SCENARIOS.items():
        if args.only in (None, name):
            record(name, spec, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
