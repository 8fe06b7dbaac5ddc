"""``scapy-tls-hs dissect`` as a user runs it: a subprocess, stdout, stderr, exit status."""
import json
import os
import pathlib
import subprocess
import sys

import pytest

CAPTURES = pathlib.Path(__file__).resolve().parent / "data" / "captures"


def run(*args, env=None):
    full_env = dict(os.environ, COLUMNS="80")
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "scapy_tls_hs", "dissect", *map(str, args)],
                          capture_output=True, text=True, timeout=120, env=full_env)


def truth(name):
    with open(CAPTURES / (name + ".truth.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def test_json_lines_equal_truth():
    name = "resume_ticket_python"
    out = run(CAPTURES / (name + ".pcap"), "--json", "--keylog", CAPTURES / (name + ".keylog"))
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    lines = out.stdout.splitlines()
    got = [json.loads(line) for line in lines]
    want = truth(name)
    assert len(got) == len(want) == 2
    for g, w in zip(got, want):
        for key, value in w.items():
            assert g[key] == value, key
        assert g["errors"] == []


def test_server_key_alone_via_cli():
    name = "tls12_rsa_aes128sha_openssl"
    out = run(CAPTURES / (name + ".pcap"), "--json",
              "--server-key", CAPTURES / (name + ".server.key"))
    assert out.returncode == 0, out.stderr
    (got,) = [json.loads(line) for line in out.stdout.splitlines()]
    (want,) = truth(name)
    assert got["decrypted"] is True and got["app_data"] == want["app_data"]


def test_default_ladder_is_readable_in_80_columns():
    name = "mutual_auth_rsa_openssl"
    out = run(CAPTURES / (name + ".pcap"), "--keylog", CAPTURES / (name + ".keylog"))
    assert out.returncode == 0, out.stderr
    text = out.stdout
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    assert lines[0].startswith("#1") and "127.0.0.1:24109" in lines[0]
    assert "TLS 1.2  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" in text
    assert "decrypted: yes" in text and "client certificate" in " ".join(text.split())
    ladder = [line.split()[1:3] for line in lines if "C->S" in line or "C<-S" in line]
    assert ladder[0] == ["C->S", "client_hello"]
    assert ladder[1] == ["C<-S", "server_hello"]
    assert ["C->S", "certificate_verify"] in ladder
    assert len(ladder) == len(truth(name)[0]["messages"])


def test_ladder_without_keys_says_so():
    name = "tls13_aes128gcm_openssl"
    out = run(CAPTURES / (name + ".pcap"))
    assert out.returncode == 0
    assert "decrypted: no (no keys)" in out.stdout
    assert "encrypted_handshake" in out.stdout


@pytest.mark.parametrize("content", [None, b"this is not a capture\n", b"\xd4\xc3\xb2"])
def test_bad_file_one_line_error_nonzero_exit(tmp_path, content):
    path = tmp_path / "bad.pcap"
    if content is not None:
        path.write_bytes(content)
    out = run(path, "--json")
    assert out.returncode != 0
    assert out.stdout == ""
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad.pcap" in lines[0]


def test_missing_key_log_is_one_line(tmp_path):
    name = "ems_off_gnutls"
    out = run(CAPTURES / (name + ".pcapng"), "--keylog", tmp_path / "absent.keylog")
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "absent.keylog" in out.stderr


def test_truncated_capture_still_reports_with_a_warning(tmp_path):
    name = "big_cert_chain_multisegment"
    data = (CAPTURES / (name + ".pcap")).read_bytes()
    path = tmp_path / "cut.pcap"
    path.write_bytes(data[:len(data) * 2 // 3])
    out = run(path, "--json", "--keylog", CAPTURES / (name + ".keylog"))
    assert out.returncode == 0 and "Traceback" not in out.stderr
    assert "truncated" in out.stderr
    (got,) = [json.loads(line) for line in out.stdout.splitlines()]
    assert got["messages"][0] == "C:client_hello" and got["errors"]


def test_capture_without_tls(tmp_path):
    # A pcap header and one UDP packet.
    import struct
    pkt = bytes.fromhex("4500001c0001000040110000" "7f000001" "7f000001"
                        "00350035000800 00".replace(" ", ""))
    data = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101)
    data += struct.pack("<IIII", 0, 0, len(pkt), len(pkt)) + pkt
    path = tmp_path / "udp.pcap"
    path.write_bytes(data)
    out = run(path, "--json")
    assert out.returncode == 0 and out.stdout == ""
    assert "no TLS connection" in out.stderr


def _tcp_capture(path, payloads, sport=40000, dport=8080):
    """A pcap of one TCP connection (SYN, then ``payloads`` as (direction, bytes))."""
    from scapy.layers.inet import IP, TCP
    from scapy.utils import wrpcap
    c, s = "10.0.0.1", "10.0.0.2"
    pkts = [IP(src=c, dst=s) / TCP(sport=sport, dport=dport, flags="S", seq=999),
            IP(src=s, dst=c) / TCP(sport=dport, dport=sport, flags="SA", seq=4999, ack=1000)]
    seq = {"client": 1000, "server": 5000}
    for direction, data in payloads:
        if direction == "client":
            pkt = IP(src=c, dst=s) / TCP(sport=sport, dport=dport, flags="PA",
                                         seq=seq["client"], ack=seq["server"])
        else:
            pkt = IP(src=s, dst=c) / TCP(sport=dport, dport=sport, flags="PA",
                                         seq=seq["server"], ack=seq["client"])
        pkts.append(pkt / data)
        seq[direction] += len(data)
    wrpcap(str(path), pkts)


def test_port_hint_reports_a_non_tls_connection(tmp_path):
    path = tmp_path / "http.pcap"
    _tcp_capture(path, [("client", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
                        ("server", b"HTTP/1.1 200 OK\r\n\r\n")])
    out = run(path, "--json")
    assert out.returncode == 0 and out.stdout == ""
    out = run(path, "--json", "--port", "8080")
    assert out.returncode == 0, out.stderr
    (got,) = [json.loads(line) for line in out.stdout.splitlines()]
    assert got["server"] == "10.0.0.2:8080" and got["version"] is None
    assert any("not a TLS record" in e for e in got["errors"])


def test_tls_on_any_port_and_garbage_records(tmp_path):
    """A ClientHello-looking record then garbage handshake bodies, on port 5555."""
    body = b"\x03\x03" + bytes(32) + b"\x00\x00\x02\x00\x2f\x01\x00"
    hello = b"\x16\x03\x01\x00\x2d\x01\x00\x00\x29" + body
    bad = b"\x16\x03\x03\x00\x08\x02\x00\x00\x04\xff\xff\xff\xff"
    path = tmp_path / "odd.pcap"
    _tcp_capture(path, [("client", hello), ("server", bad), ("server", b"\x17\x03\x03\x00")],
                 dport=5555)
    out = run(path, "--json")
    assert out.returncode == 0 and "Traceback" not in out.stderr
    (got,) = [json.loads(line) for line in out.stdout.splitlines()]
    assert got["messages"] == ["C:client_hello", "S:server_hello"]
    assert got["errors"]


def test_a_key_log_that_is_not_one_gives_a_warning(tmp_path):
    name = "tls12_ecdhe_rsa_aes128gcm_openssl"
    bogus = tmp_path / "bogus.keylog"
    bogus.write_text("hello\nworld\n")
    out = run(CAPTURES / (name + ".pcap"), "--json", "--keylog", bogus)
    assert out.returncode == 0 and "Traceback" not in out.stderr
    assert "holds no key" in out.stderr and "bogus.keylog" in out.stderr
    (got,) = [json.loads(line) for line in out.stdout.splitlines()]
    assert got["decrypted"] is False and got["errors"]
