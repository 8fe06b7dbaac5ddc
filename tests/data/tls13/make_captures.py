#!/usr/bin/env python3
"""Record the TLS 1.3 test captures of this folder with real peers on 127.0.0.1.

OpenSSL ``s_server`` and ``s_client`` (both driven through their stdin commands), recorded
by ``tcpdump -i lo --immediate-mode``; the key log is written by ``s_client -keylogfile``.
Each run makes new keys and randoms, so the captures differ from run to run but show the
same messages. Needs root (tcpdump) and ``openssl`` 3.

    python tests/data/tls13/make_captures.py [NAME...]
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Tcpdump:
    def __init__(self, path, port):
        self.proc = subprocess.Popen(
            ["tcpdump", "-i", "lo", "--immediate-mode", "-U", "-s", "0", "-w", path,
             "tcp port %d" % port], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
        line = self.proc.stderr.readline()   # "listening on lo ..." once it captures
        if b"listening" not in line:
            raise RuntimeError("tcpdump: %r" % line)

    def stop(self):
        time.sleep(0.3)
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(10)


def pki(tmp):
    key, cert = os.path.join(tmp, "key.pem"), os.path.join(tmp, "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    key, "-out", cert, "-days", "30", "-subj", "/CN=server.test",
                    "-addext", "subjectAltName=DNS:server.test"],
                   check=True, capture_output=True)
    return cert, key


def server(port, cert, key, *extra):
    return subprocess.Popen(["openssl", "s_server", "-accept", str(port), "-cert", cert,
                             "-key", key, "-tls1_3", "-no_ign_eof", *extra],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def client(port, keylog, *extra):
    return subprocess.Popen(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                             "-servername", "server.test", "-tls1_3", "-keylogfile", keylog,
                             *extra],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def say(proc, text, pause=0.4):
    proc.stdin.write(text.encode())
    proc.stdin.flush()
    time.sleep(pause)


def finish(*procs):
    for p in procs:
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def hrr(name, cert, key, tmp):
    """HelloRetryRequest: the client's one key share (x25519) is not a group the server
    takes (secp384r1 only); the client answers with a secp384r1 share."""
    port = free_port()
    keylog = os.path.join(HERE, name + ".keylog")
    cap = Tcpdump(os.path.join(HERE, name + ".pcap"), port)
    srv = server(port, cert, key, "-groups", "secp384r1", "-naccept", "1")
    wait_port_quiet(port)
    cli = client(port, keylog, "-groups", "x25519:secp384r1")
    time.sleep(0.6)
    say(cli, "hello after a retry\n")
    say(srv, "welcome\n")
    say(cli, "Q\n")
    finish(cli, srv)
    cap.stop()


def keyupdate(name, cert, key, tmp):
    """KeyUpdate both ways: the client sends one with update_requested ('K'), the server
    answers with its own; then the server sends one with update_requested, the client
    answers: four KeyUpdate messages, application data under every generation of keys."""
    port = free_port()
    keylog = os.path.join(HERE, name + ".keylog")
    cap = Tcpdump(os.path.join(HERE, name + ".pcap"), port)
    srv = server(port, cert, key, "-groups", "x25519", "-naccept", "1")
    wait_port_quiet(port)
    cli = client(port, keylog, "-groups", "x25519")
    time.sleep(0.6)
    say(cli, "before any update\n")
    say(cli, "K\n")
    say(cli, "client after its update\n")
    say(srv, "server after the client's update\n")
    say(srv, "K\n")
    say(srv, "server after its update\n")
    say(cli, "client after the server's update\n")
    say(cli, "Q\n")
    finish(cli, srv)
    cap.stop()


def early_data(name, cert, key, tmp):
    """0-RTT: a full handshake that gets tickets, a resumption with early data the server
    accepts, and the same ticket again: with early data on, OpenSSL's anti-replay takes a
    ticket only once, so the third connection is a full handshake and its early data is
    rejected."""
    port = free_port()
    keylog = os.path.join(HERE, name + ".keylog")
    sess = os.path.join(tmp, "sess.pem")
    early = os.path.join(tmp, "early.txt")
    with open(early, "w") as f:
        f.write("GET /early HTTP/1.0\r\n\r\n")
    cap = Tcpdump(os.path.join(HERE, name + ".pcap"), port)
    srv = server(port, cert, key, "-groups", "x25519", "-early_data", "-naccept", "3")
    wait_port_quiet(port)
    cli = client(port, keylog, "-sess_out", sess)
    time.sleep(0.6)
    say(cli, "first connection\n")
    say(cli, "Q\n")
    finish(cli)
    for _ in range(2):
        cli = client(port, keylog, "-sess_in", sess, "-early_data", early)
        time.sleep(0.6)
        say(cli, "after the early data\n")
        say(cli, "Q\n")
        finish(cli)
    finish(srv)
    cap.stop()


def wait_port_quiet(port):
    # s_server with -naccept counts a probe connection as one: wait by polling the
    # listening socket table instead of connecting.
    end = time.monotonic() + 10
    while time.monotonic() < end:
        out = subprocess.run(["ss", "-ltnH", "sport = :%d" % port], capture_output=True,
                             text=True).stdout
        if out.strip():
            return
        time.sleep(0.05)
    raise RuntimeError("port %d never opened" % port)


SCENARIOS = {"tls13_hrr_openssl": hrr, "tls13_keyupdate_openssl": keyupdate,
             "tls13_early_data_openssl": early_data}


def main(names):
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = pki(tmp)
        for name in names or SCENARIOS:
            path = os.path.join(HERE, name + ".keylog")
            if os.path.exists(path):
                os.remove(path)
            SCENARIOS[name](name, cert, key, tmp)
            print("wrote", os.path.join(HERE, name + ".pcap"))


if __name__ == "__main__":
    main(sys.argv[1:])
