"""``scapy-tls-hs replay`` as a user runs it: JSON Lines, the side-by-side report, and servers
that refuse, reset, stall or talk nonsense (a result and a one-line error, never a
traceback)."""
import json
import os
import socket
import struct
import subprocess
import sys
import threading

import pytest

from scapy_tls_hs.crypto.keylog import Keylog
from tests.contract import CLIENT_FIELDS
from tests.peers.servers import openssl_server
from tests.replay.helpers import ROOT, capture, captured_identity

RESUME = "resume_session_id_openssl.pcap"
LIKE = dict(tickets=False, cipher="ECDHE-RSA-AES128-GCM-SHA256")


def run(*args, timeout=60):
    env = dict(os.environ, COLUMNS="80")
    return subprocess.run([sys.executable, "-m", "scapy_tls_hs", "replay"] + list(args),
                          capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=str(ROOT))


@pytest.fixture(scope="module")
def identity(tmp_path_factory):
    return captured_identity(tmp_path_factory.mktemp("cli-replay"))


@pytest.fixture(scope="module")
def server(identity):
    with openssl_server(*identity, **LIKE) as peer:
        yield peer


def test_json_lines_one_object_per_connection(server, tmp_path):
    keylog_out = tmp_path / "replay.keylog"
    proc = run(capture(RESUME), "--to", "127.0.0.1:%d" % server.port, "--json", "--resume",
               "--keylog", capture(RESUME.replace(".pcap", ".keylog")),
               "--keylog-out", str(keylog_out), "--send", r"GET / HTTP/1.0\r\n\r\n")
    assert proc.returncode == 0, proc.stderr
    objs = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [o["connection"] for o in objs] == [1, 2]
    truth = [json.loads(line) for line in
             open(capture(RESUME.replace(".pcap", ".truth.jsonl"))).read().splitlines()]
    for obj, want in zip(objs, truth):
        assert set(obj) == {"connection", "client", "server", "to", "offered", "captured",
                            "replayed", "differences", "notes"}
        assert obj["to"] == "127.0.0.1:%d" % server.port
        for key, value in want.items():         # the captured side is the dissect report
            assert obj["captured"][key] == value, key
        for key in CLIENT_FIELDS:
            assert key in obj["replayed"]
        assert obj["differences"] == []
    assert objs[1]["replayed"]["resumed"] and "Reused" in objs[1]["replayed"]["received"]
    assert objs[0]["offered"]["cipher_suites"][0] == "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"
    # --keylog-out: one CLIENT_RANDOM per replayed connection, none of them the capture's.
    written = Keylog.load(str(keylog_out))
    assert len(written) == 2
    captured = Keylog.load(capture(RESUME.replace(".pcap", ".keylog")))
    assert not {e[1] for e in written} & {e[1] for e in captured}


def test_readable_report_fits_80_columns_and_marks_differences(identity):
    with openssl_server(*identity, tickets=False, extra=["-serverpref"],
                        cipher="ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256") as peer:
        proc = run(capture(RESUME), "--to", "127.0.0.1:%d" % peer.port, "--only", "1")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("#1 ") and "replayed to 127.0.0.1:%d" % peer.port in lines[0]
    assert max(len(line) for line in lines) <= 80
    marked = [line for line in lines if line.lstrip().startswith("!")]
    assert len(marked) == 1 and "cipher suite" in marked[0]
    assert "then TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" in marked[0]
    assert any("now  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" in line for line in lines)
    assert lines[-1].strip() == "1 difference: cipher suite"
    assert "#2" not in proc.stdout


def test_chromium_hello_replays_to_completion(pki):
    """README's command: a headless Chromium's TLS 1.3 hellos (GREASE, X25519MLKEM768 beside
    x25519, ECH GREASE ...) against OpenSSL 3.0 s_server -tls1_3, as the capture's was."""
    from tests.peers.process import Peer, free_port
    port = free_port()
    argv = ["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-naccept", "10",
            "-cert", pki.ecdsa_cert, "-key", pki.ecdsa_key, "-www", "-tls1_3"]
    with Peer(argv, port=port):
        proc = run("pcaps/tls13_chromium_openssl.pcap", "--to", "127.0.0.1:%d" % port,
                   "--keylog", "pcaps/tls13_chromium_openssl.keylog")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    lines = [line.strip() for line in proc.stdout.splitlines()]
    assert lines.count("now:  handshake complete") == 2
    assert lines.count("version            TLS 1.3") == 2
    assert lines.count("group              x25519") == 2
    assert lines.count("no difference") == 2
    assert not any(line.startswith("note:") for line in lines)


def test_sni_override(identity, pki):
    """--sni other.test: s_server answers that name with its second certificate (and an
    empty server_name to say so); to any other name (the captured server.test) it adds a
    warning alert unrecognized_name."""
    opts = dict(LIKE, servername="other.test", cert2=pki.rsa_cert, key2=pki.rsa_key)
    with openssl_server(*identity, **opts) as peer:
        same = run(capture(RESUME), "--to", "127.0.0.1:%d" % peer.port, "--only", "1",
                   "--json")
        other = run(capture(RESUME), "--to", "127.0.0.1:%d" % peer.port, "--only", "1",
                    "--json", "--sni", "other.test")
    obj = json.loads(same.stdout)
    assert obj["differences"] == ["server_alerts"]
    assert obj["replayed"]["server_alerts"] == ["unrecognized_name"]
    assert obj["replayed"]["handshake_complete"]
    obj = json.loads(other.stdout)
    assert obj["replayed"]["sni"] == "other.test"
    # The name was recognised: a new certificate, and the server_name acknowledgement.
    assert obj["differences"] == ["server_extensions", "certificate"]
    assert "server_name" in obj["replayed"]["server_extensions"]


class _BadServer:
    """A TCP server on 127.0.0.1 that misbehaves: "reset" (RST at once), "silent" (accepts,
    says nothing), "garbage" (answers with bytes that are not TLS)."""

    def __init__(self, mode):
        self.mode = mode
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            if self.mode == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
            elif self.mode == "garbage":
                conn.recv(4096)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.mark.parametrize("mode, says", [("reset", "reset"), ("silent", "timeout"),
                                        ("garbage", "alert")])
def test_misbehaving_server_is_a_result(mode, says):
    srv = _BadServer(mode)
    try:
        proc = run(capture(RESUME), "--to", "127.0.0.1:%d" % srv.port, "--timeout", "1",
                   "--json")
    finally:
        srv.close()
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr + proc.stdout
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("scapy-tls-hs replay: no TLS answer")
    objs = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(objs) == 2          # both connections tried and reported
    for obj in objs:
        errors = " ".join(obj["replayed"]["errors"]).lower()
        assert says in errors or (mode == "reset" and "closed" in errors), errors
        assert not obj["replayed"]["handshake_complete"]


def test_refused(free_port):
    proc = run(capture(RESUME), "--to", "127.0.0.1:%d" % free_port())
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "Connection refused" in proc.stderr and len(proc.stderr.splitlines()) == 1
    assert proc.stdout.count("failed: cannot connect") == 2


@pytest.mark.parametrize("args, says", [
    (["README.md", "--to", "127.0.0.1:1"], "not a pcap or pcapng file"),
    (["missing.pcap", "--to", "127.0.0.1:1"], "missing.pcap"),
    ([capture(RESUME), "--to", "nonsense"], "--to wants HOST:PORT"),
    ([capture(RESUME), "--to", "127.0.0.1:1", "--only", "3"], "no #3"),
    ([capture(RESUME), "--to", "127.0.0.1:1", "--timeout", "0"], "--timeout"),
])
def test_bad_arguments_one_line(args, says):
    proc = run(*args)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert says in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_capture_without_a_client_hello(tmp_path):
    """A capture that starts after the ClientHello: reported, nothing sent, exit status 1."""
    from scapy.layers.inet import IP, TCP
    from scapy.utils import wrpcap
    from scapy_tls_hs.codec.records import encode_record
    alert = encode_record(21, 0x0303, b"\x02\x28")
    pcap = tmp_path / "late.pcap"
    wrpcap(str(pcap), [IP(src="10.0.0.2", dst="10.0.0.1") /
                       TCP(sport=443, dport=40000, flags="PA", seq=7, ack=9) / alert])
    proc = run(str(pcap), "--to", "127.0.0.1:1", "--json")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "no ClientHello to replay" in proc.stderr
    (obj,) = [json.loads(line) for line in proc.stdout.splitlines()]
    assert obj["replayed"] is None and obj["captured"]["messages"] == ["S:alert:handshake_failure"]
    assert obj["notes"] == ["no ClientHello in clear in the capture"]
