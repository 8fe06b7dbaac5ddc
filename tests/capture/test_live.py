"""Live capture (capture/live.py): the growing key log, reports as connections end, and
``dissect --interface lo`` against real peers (root only)."""
import json
import os
import pathlib
import selectors
import signal
import socket
import ssl
import subprocess
import sys
import time

import pytest

from scapy_tls_hs.capture.dissect import dissect_capture
from scapy_tls_hs.capture.live import LINGER, STOPPED_OPEN, GrowingKeylog, LiveDissector
from scapy_tls_hs.capture.pcapfile import read_packets
from scapy_tls_hs.crypto.keylog import Keylog
from tests.peers import clients
from tests.peers.servers import openssl_server

CAPTURES = pathlib.Path(__file__).resolve().parent.parent / "data" / "captures"
R1, R2 = "11" * 32, "22" * 32


# -- the key log of a running browser --------------------------------------------------------

def test_growing_keylog_reads_new_lines_when_a_secret_is_missing(tmp_path):
    path = tmp_path / "sslkeylog.txt"
    log = GrowingKeylog(path)                       # not there yet: empty, no error
    assert len(log) == 0 and log.master_secret(bytes.fromhex(R1)) is None
    with open(path, "a") as f:
        f.write("# a comment\nCLIENT_RANDOM %s %s\n" % (R1, "aa" * 48))
        f.write("CLIENT_HANDSHAKE_TRAFFIC_SECRET %s %s" % (R2, "bb" * 32))   # no newline yet
        f.flush()
        assert log.master_secret(bytes.fromhex(R1)) == bytes.fromhex("aa" * 48)
        # A line being written is not read half-way.
        assert log.secret("CLIENT_HANDSHAKE_TRAFFIC_SECRET", bytes.fromhex(R2)) is None
        f.write("\nnot a key log line\n")
    assert log.secret("CLIENT_HANDSHAKE_TRAFFIC_SECRET",
                      bytes.fromhex(R2)) == bytes.fromhex("bb" * 32)
    assert len(log) == 2 and log.skipped == 1
    # Replaced by a shorter file (a new browser session): read from the start again.
    path.write_text("CLIENT_RANDOM %s %s\n" % (R2, "cc" * 48))
    assert log.master_secret(bytes.fromhex(R2)) == bytes.fromhex("cc" * 48)


def test_growing_keylog_is_only_read_again_on_a_miss(tmp_path):
    path = tmp_path / "k"
    path.write_text("CLIENT_RANDOM %s %s\n" % (R1, "aa" * 48))
    log = GrowingKeylog(path)
    reads = []
    real = log.refresh
    log.refresh = lambda: reads.append(1) or real()
    assert log.master_secret(bytes.fromhex(R1))
    assert reads == []
    assert log.master_secret(bytes.fromhex(R2)) is None
    assert reads == [1]


# -- LiveDissector: packets in, reports out as connections end -------------------------------

def _live_run(name, keylog, linger=LINGER):
    """Feed a capture's packets one by one; (packet index, report) as they come out."""
    live = LiveDissector(Keylog.load(keylog), linger=linger)
    out = []
    for i, (ts, linktype, data) in enumerate(read_packets(CAPTURES / (name + ".pcap"))):
        out.extend((i, r) for r in live.add(ts, linktype, data))
    total = i + 1
    out.extend((total, r) for r in live.rest())
    return out, total


@pytest.mark.parametrize("name", ["resume_session_id_openssl", "resume_ticket_python",
                                  "tls12_ecdhe_rsa_aes128gcm_openssl"])
def test_each_connection_is_reported_when_it_ends_as_the_file_would_be(name):
    keylog = CAPTURES / (name + ".keylog")
    got, total = _live_run(name, keylog)
    want = dissect_capture(CAPTURES / (name + ".pcap"), keylog=str(keylog))
    assert [r.to_dict() for _, r in got] == [r.to_dict() for r in want]
    # The first connection came out at its closing FIN, before the capture ended, and the
    # resumed one found the session of the first (a shared SessionTable).
    assert got[0][0] < total
    assert all(STOPPED_OPEN not in r.errors for _, r in got)
    assert got[-1][1].decrypted


def _fin(linktype, data):
    from scapy_tls_hs.capture.streams import decode_packet
    tcp = decode_packet(linktype, data, None)
    return tcp is not None and tcp[6] & 0x01


def test_a_connection_open_when_the_capture_stops_is_reported_with_a_note():
    name = "tls12_ecdhe_rsa_aes128gcm_openssl"
    packets = list(read_packets(CAPTURES / (name + ".pcap")))
    live = LiveDissector(Keylog.load(CAPTURES / (name + ".keylog")))
    for ts, linktype, data in packets:
        if _fin(linktype, data):                            # stop before the first FIN
            break
        assert live.add(ts, linktype, data) == []
    assert live.due(ts + 3600) == []                        # open, not half-closed
    (report,) = live.rest()
    assert STOPPED_OPEN in report.errors
    assert report.decrypted and report.messages[0] == "C:client_hello"


def test_a_half_closed_connection_is_reported_after_the_linger_time():
    name = "tls12_ecdhe_rsa_aes128gcm_openssl"
    live = LiveDissector(Keylog.load(CAPTURES / (name + ".keylog")), linger=2.0)
    for ts, linktype, data in read_packets(CAPTURES / (name + ".pcap")):
        assert live.add(ts, linktype, data) == []
        if _fin(linktype, data):                            # the first FIN only
            break
    assert live.due(ts + 1.0) == []
    (report,) = live.due(ts + 2.5)
    assert report.decrypted and STOPPED_OPEN not in report.errors
    assert live.rest() == []


# -- dissect --interface lo, with real peers -------------------------------------------------

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="live capture needs root")


class LiveCLI:
    """``scapy-tls-hs dissect --interface lo ...`` in a subprocess; lines read with a
    deadline, stopped by PID."""

    def __init__(self, *args):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "scapy_tls_hs", "dissect", "--interface", "lo",
             *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=dict(os.environ, COLUMNS="80"))
        self.warnings = []
        line = self._line(self.proc.stderr, 30)
        while b"warning" in line:
            self.warnings.append(line.decode())
            line = self._line(self.proc.stderr, 30)
        if b"listening on lo" not in line:
            self.finish(signal.SIGKILL)
            pytest.fail("the capture did not start: %r" % line)

    def _line(self, stream, timeout):
        sel = selectors.DefaultSelector()
        sel.register(stream, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        buf = b""
        while not buf.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                break
            byte = os.read(stream.fileno(), 1)
            if not byte:
                break
            buf += byte
        sel.close()
        return buf

    def line(self, timeout=30):
        return self._line(self.proc.stdout, timeout).decode()

    def finish(self, sig=None, timeout=30):
        if sig is not None:
            self.proc.send_signal(sig)
        try:
            out, err = self.proc.communicate(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(5)
        return out.decode(), err.decode()


def _bpf(port):
    return "tcp port %d" % port


@needs_root
@pytest.mark.skipif(not clients.have("openssl"), reason="openssl not installed")
def test_live_reports_each_connection_as_it_ends_with_a_key_log_written_meanwhile(
        pki, tmp_path):
    keylog = tmp_path / "sslkeylog.txt"
    keylog.write_text("")          # empty when the capture starts: read again as it grows
    with openssl_server(pki.rsa_cert, pki.rsa_key, version="1.2+1.3") as server:
        cli = LiveCLI("--bpf", _bpf(server.port), "--keylog", keylog, "--json",
                      "--duration", 120)
        try:
            # 1. openssl s_client, TLS 1.3
            run = clients.s_client(server.port, version="1.3",
                                   extra=("-keylogfile", str(keylog)))
            assert run.ok, run.output
            first = json.loads(cli.line())         # out before the capture stopped
            assert first["version"] == "TLS 1.3" and first["decrypted"] is True
            assert first["server"] == "127.0.0.1:%d" % server.port
            assert first["app_data"]["server_bytes"] > 0 and first["errors"] == []

            # 2. our own client, TLS 1.2, appending to the same key log
            ours = subprocess.run(
                [sys.executable, "-m", "scapy_tls_hs", "client", "127.0.0.1",
                 str(server.port), "--tls", "1.2", "--keylog", str(keylog),
                 "--send", "GET / HTTP/1.0\\r\\n\\r\\n", "--json"],
                capture_output=True, text=True, timeout=60)
            assert ours.returncode == 0, ours.stderr
            second = json.loads(cli.line())
            assert second["version"] == "TLS 1.2" and second["decrypted"] is True
            assert second["app_data"]["client_bytes"] == len(b"GET / HTTP/1.0\r\n\r\n")

            # 3. a Python ssl client that stays connected: reported when the capture stops
            ctx = ssl.create_default_context(cafile=pki.ca_cert)
            ctx.keylog_filename = str(keylog)
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
                with ctx.wrap_socket(raw, server_hostname="server.test") as tls:
                    tls.sendall(b"GET / HTTP/1.0\r\n")     # half a request: s_server waits
                    time.sleep(0.5)
                    out, err = cli.finish(signal.SIGINT)
        finally:
            if cli.proc.poll() is None:
                cli.finish(signal.SIGKILL)
    assert cli.proc.returncode == 0, err
    (third,) = [json.loads(line) for line in out.splitlines()]
    assert third["sni"] == "server.test" and third["decrypted"] is True
    assert STOPPED_OPEN in third["errors"]
    assert "Traceback" not in err
    assert "3 TLS connections reported" in err


@needs_root
@pytest.mark.skipif(not clients.have("openssl"), reason="openssl not installed")
def test_live_text_ladder_count_and_data(pki, tmp_path):
    """The ladder (flushed as the connection ends) with --data; --count stops the capture."""
    keylog = tmp_path / "k"
    with openssl_server(pki.rsa_cert, pki.rsa_key, version="1.2") as server:
        cli = LiveCLI("--bpf", _bpf(server.port), "--keylog", keylog, "--data",
                      "--duration", 120)
        assert "does not exist yet" in cli.warnings[0]    # s_client creates it
        try:
            run = clients.s_client(server.port, version="1.2",
                                   extra=("-keylogfile", str(keylog)))
            assert run.ok, run.output
            assert cli.line().startswith("#1   127.0.0.1:")
            out, err = cli.finish(signal.SIGTERM)
        finally:
            if cli.proc.poll() is None:
                cli.finish(signal.SIGKILL)
        assert cli.proc.returncode == 0
        assert "decrypted: yes (key log; both Finished verified)" in out
        assert "subject: CN=server.test,O=scapy-tls-hs tests" in out
        assert "issuer:  CN=Test Root CA,O=scapy-tls-hs tests" in out
        assert "data C->S (" in out and "GET / HTTP/1.1" in out

        # --count: the capture stops by itself after N packets; the handshake it cut is
        # reported as open.
        cli = LiveCLI("--bpf", _bpf(server.port), "--count", 4, "--json")
        try:
            clients.s_client(server.port, version="1.2")
            out, err = cli.finish(timeout=60)
        finally:
            if cli.proc.poll() is None:
                cli.finish(signal.SIGKILL)
    assert cli.proc.returncode == 0, err
    (report,) = [json.loads(line) for line in out.splitlines()]
    assert STOPPED_OPEN in report["errors"]
    assert "4 packets captured" in err


@needs_root
def test_live_errors_are_one_line(tmp_path):
    for args, text in ((["--interface", "nosuchif0"], "no such interface"),
                       (["--interface", "lo", "--bpf", "tcp port"], "not a valid capture filter")):
        out = subprocess.run([sys.executable, "-m", "scapy_tls_hs", "dissect", *args,
                              "--duration", "1"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 1 and out.stdout == ""
        assert out.stderr.count("\n") == 1 and text in out.stderr, out.stderr
