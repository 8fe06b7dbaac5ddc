"""Our own TLS 1.3 client and server, captured with tcpdump: the key log they write lets our
``dissect`` and Wireshark's tshark decrypt every handshake: a full handshake with KeyUpdate,
and a PSK resumption with accepted 0-RTT data."""
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from tests.peers.process import Peer, free_port

pytestmark = pytest.mark.skipif(
    not (shutil.which("tcpdump") and shutil.which("tshark")) or os.geteuid() != 0,
    reason="tcpdump (as root) and tshark are needed")

CLI = [sys.executable, "-m", "scapy_tls_hs"]


def test_our_tls13_sessions_decrypt_with_our_key_log(pki, tmp_path):
    pcap, keylog = tmp_path / "ours.pcap", tmp_path / "client.keylog"
    port = free_port()
    with Peer(["tcpdump", "-i", "lo", "-U", "--immediate-mode", "-w", pcap,
               "tcp port %d" % port]) as dump:
        deadline = time.monotonic() + 10
        while "listening on" not in dump.output() and time.monotonic() < deadline:
            time.sleep(0.05)
        with Peer(CLI + ["server", "--cert", pki.rsa_cert, "--key", pki.rsa_key, "--port",
                         str(port), "--early-data", "1000", "--max-connections", "2",
                         "--json"], port=port) as server:
            client = subprocess.run(
                CLI + ["client", "127.0.0.1", str(port), "--json", "--keylog", str(keylog),
                       "--send", r"GET / HTTP/1.0\r\n\r\n", "--resume",
                       "--early-data", "zero-rtt", "--key-update", "--timeout", "10"],
                capture_output=True, text=True, timeout=60)
            server.wait(timeout=20)
        time.sleep(0.3)
        dump.stop()
    assert client.returncode == 0, client.stderr
    first, second = [json.loads(line) for line in client.stdout.splitlines()]
    assert first["version"] == "TLS 1.3" and first["key_updates"] == 2
    assert second["resumed"] and second["early_data"] == "accepted"

    labels = {line.split()[0] for line in keylog.read_text().splitlines()}
    assert labels == {"CLIENT_EARLY_TRAFFIC_SECRET", "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
                      "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0",
                      "SERVER_TRAFFIC_SECRET_0", "EXPORTER_SECRET", "EARLY_EXPORTER_SECRET"}

    dissect = subprocess.run(CLI + ["dissect", str(pcap), "--keylog", str(keylog), "--json"],
                             capture_output=True, text=True, timeout=60)
    assert dissect.returncode == 0, dissect.stderr
    d1, d2 = [json.loads(line) for line in dissect.stdout.splitlines()]
    assert d1["decrypted"] and d2["decrypted"]
    assert d1["key_updates"] == 2 and d1["group"] == "x25519"
    assert d2["resumed"] and d2["early_data"] == "accepted"
    assert d1["app_data"]["client_bytes"] == len("GET / HTTP/1.0\r\n\r\n")
    for field in ("version", "cipher_suite", "resumed", "group", "early_data", "key_updates"):
        assert (d1[field], d2[field]) == (first[field], second[field]), field

    # Wireshark agrees: every Finished and the HTTP exchange are readable with the key log.
    out = subprocess.run(
        ["tshark", "-r", pcap, "-o", "tls.keylog_file:%s" % keylog,
         "-d", "tcp.port==%d,tls" % port, "-Y", "tls.handshake.type == 20",
         "-T", "fields", "-e", "tcp.stream"], capture_output=True, text=True, timeout=60)
    finished = out.stdout.split()          # the port probes before are TCP streams too
    streams = sorted(set(finished))
    assert len(streams) == 2 and all(finished.count(s) == 2 for s in streams), out.stdout
