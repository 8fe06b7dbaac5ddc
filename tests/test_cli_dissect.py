"""``scapy-tls-hs dissect`` as a user runs it: a subprocess, stdout, stderr, exit status."""
import json
import os
import pathlib
import random
import subprocess
import sys

import pytest

from tests.capture.rewrite import differences, names

CAPTURES = pathlib.Path(__file__).resolve().parent / "data" / "captures"
PCAPS = CAPTURES.parent.parent.parent / "pcaps"


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


# -- the corpus comparison of ../shared/tools/check_captures.py, on the repo's copy --------

NAMES = names()


def test_the_corpus_is_all_there():
    manifest = json.loads((CAPTURES / "manifest.json").read_text())
    assert NAMES == sorted(s["name"] for s in manifest["scenarios"])
    assert len(NAMES) == 17


@pytest.mark.parametrize("name", NAMES)
def test_check_captures(name):
    """What check_captures.py runs for one capture: the CLI with every key file there is,
    JSON Lines compared with the truth field by field."""
    cap = next(CAPTURES / (name + ext) for ext in (".pcap", ".pcapng")
               if (CAPTURES / (name + ext)).exists())
    out = run(cap, "--json", *_key_args(cap))
    assert out.returncode == 0 and out.stderr == "", out.stderr
    got = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    want = truth(name)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert differences(w, g) == []
        assert g["errors"] == []


# -- damaged copies of every capture: errors and warnings, never a traceback ---------------

ALL_CAPTURES = sorted(
    [p for p in CAPTURES.iterdir() if p.suffix in (".pcap", ".pcapng")]
    + [p for p in PCAPS.iterdir() if p.suffix == ".pcap" and not (CAPTURES / p.name).exists()])


def _key_args(path):
    args = []
    for suffix, flag in ((".keylog", "--keylog"), (".server.key", "--server-key")):
        if path.with_suffix(suffix).exists():
            args += [flag, path.with_suffix(suffix)]
    return args


def _assert_clean_failure_handling(out):
    assert "Traceback" not in out.stderr and "internal error" not in out.stderr
    assert out.returncode == 0, out.stderr  # the file header is intact: the file was read
    for line in out.stderr.splitlines():
        assert line.startswith("scapy-tls-hs dissect: "), line
    got = [json.loads(line) for line in out.stdout.splitlines()]
    for g in got:
        assert not any(e.startswith("internal error") for e in g["errors"]), g["errors"]
    return got


@pytest.mark.parametrize("path", ALL_CAPTURES, ids=lambda p: p.stem)
def test_truncated_and_corrupted_copies_via_the_cli(tmp_path, path):
    from scapy_tls_hs.capture.dissect import dissect_capture
    from scapy_tls_hs.capture.pcapfile import read_packets
    data = path.read_bytes()
    rng = random.Random(path.name)
    cut = tmp_path / ("cut" + path.suffix)
    cut.write_bytes(data[:rng.randrange(40, len(data) - 1)])
    reader = read_packets(cut)
    complete = len(list(reader))
    out = run(cut, "--json", *_key_args(path))
    got = _assert_clean_failure_handling(out)
    assert ("truncated" in out.stderr) == reader.truncated
    if got:
        assert got[0]["messages"][0] == "C:client_hello"
        keylog, key = path.with_suffix(".keylog"), path.with_suffix(".server.key")
        reports = dissect_capture(cut, keylog=str(keylog) if keylog.exists() else None,
                                  server_key=str(key) if key.exists() else None)
        assert got == [r.to_dict() for r in reports]   # the CLI says what the library says
    else:
        assert "no TLS connection" in out.stderr and complete < 8

    bad = bytearray(data)
    for _ in range(rng.choice((3, 10, 40))):
        bad[rng.randrange(40, len(bad))] ^= 1 << rng.randrange(8)
    corrupted = tmp_path / ("corrupted" + path.suffix)
    corrupted.write_bytes(bytes(bad))
    _assert_clean_failure_handling(run(corrupted, "--json", *_key_args(path)))


# -- the progress bar: on stderr, only when stderr is a terminal -----------------------------

# The CLI with the bar's delay set to 0, so that a small capture shows it too.
NO_DELAY = ("import sys\nfrom scapy_tls_hs.capture import progress\nprogress.Progress.DELAY = 0\n"
            "from scapy_tls_hs.cli import main\nsys.exit(main(sys.argv[1:]))\n")


def _run_with_stderr_on_a_pty(argv, columns=80):
    import fcntl
    import pty
    import struct
    import termios
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    try:
        proc = subprocess.Popen([sys.executable, "-c", NO_DELAY, *map(str, argv)],
                                stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL)
    finally:
        os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    stdout = proc.stdout.read()
    proc.stdout.close()
    assert proc.wait(60) == 0
    return stdout.decode(), b"".join(chunks).decode()


def test_progress_bar_on_a_terminal_only():
    name = "resume_session_id_openssl"
    argv = ["dissect", CAPTURES / (name + ".pcap"), "--json",
            "--keylog", CAPTURES / (name + ".keylog")]
    stdout, tty = _run_with_stderr_on_a_pty(argv)
    assert "reading" in tty and "%" in tty and "[" in tty
    assert tty.endswith("\r\x1b[K")                     # erased before the output
    bars = [part for part in tty.split("\r") if part.strip("\x1b[K")]
    assert bars and all(len(bar) < 80 for bar in bars)
    # stdout stays clean JSON Lines, equal to the truth
    got = [json.loads(line) for line in stdout.splitlines()]
    assert [g["messages"] for g in got] == [w["messages"] for w in truth(name)]

    piped = subprocess.run([sys.executable, "-c", NO_DELAY, *map(str, argv)],
                           capture_output=True, text=True, timeout=60)
    assert piped.returncode == 0 and piped.stderr == ""  # not a terminal: no bar
    assert piped.stdout == stdout


# -- issue 13: .gz, --data, certificates, why keys do not fit, ASCII terminals, live options --

ECDHE = "tls12_ecdhe_rsa_aes128gcm_openssl"


def test_gzip_capture_gives_the_same_output(tmp_path):
    import gzip
    for name in (ECDHE, "ems_off_gnutls"):
        cap = next(CAPTURES / (name + ext) for ext in (".pcap", ".pcapng")
                   if (CAPTURES / (name + ext)).exists())
        packed = tmp_path / (cap.name + ".gz")
        packed.write_bytes(gzip.compress(cap.read_bytes()))
        plain = run(cap, "--json", *_key_args(cap))
        out = run(packed, "--json", *_key_args(cap))
        assert out.returncode == 0 and out.stderr == "", out.stderr
        assert out.stdout == plain.stdout and out.stdout


def test_data_prints_each_direction_as_text():
    out = run(CAPTURES / (ECDHE + ".pcap"), "--keylog", CAPTURES / (ECDHE + ".keylog"),
              "--data")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    ladder_end = text.index("alert:close_notify")
    client = text.index("    data C->S (27 bytes):\n      GET /index.txt HTTP/1.0\n")
    server = text.index("    data C<-S (97 bytes):\n      HTTP/1.0 200 ok\n")
    assert ladder_end < client < server
    assert "      hello from the server file\n" in text
    assert all(len(line) <= 80 for line in text.splitlines())
    # --json --data: the same data in the object
    out = run(CAPTURES / (ECDHE + ".pcap"), "--keylog", CAPTURES / (ECDHE + ".keylog"),
              "--data", "--json")
    (got,) = [json.loads(line) for line in out.stdout.splitlines()]
    assert got["data"]["client"] == {"bytes": 27, "text": "GET /index.txt HTTP/1.0\r\n\r\n"}
    assert got["data"]["server"]["text"].startswith("HTTP/1.0 200 ok\r\n")
    # without keys there is nothing to show, and it says so
    out = run(CAPTURES / (ECDHE + ".pcap"), "--data")
    assert "data: not decrypted" in out.stdout and "GET" not in out.stdout


def test_certificate_subject_and_issuer_on_the_ladder():
    out = run(CAPTURES / (ECDHE + ".pcap"))
    lines = out.stdout.splitlines()
    i = next(n for n, line in enumerate(lines) if "C<-S  certificate" in line)
    assert lines[i].endswith("1 certificate")
    assert lines[i + 1] == " " * 21 + "subject: CN=server.test"
    assert lines[i + 2] == " " * 21 + "issuer:  CN=scapy-tls-hs test root CA"


@pytest.mark.parametrize("keys, why", [
    (("--keylog", CAPTURES / "ems_off_gnutls.keylog"),
     "decrypted: no (key log has 1 secret, none for this client random)"),
    (("--server-key", CAPTURES / "tls12_rsa_aes128sha_openssl.server.key"),
     "decrypted: no (an RSA key cannot decrypt an ECDHE handshake)"),
])
def test_decrypted_line_says_why_keys_do_not_fit(keys, why):
    out = run(CAPTURES / (ECDHE + ".pcap"), *keys)
    assert out.returncode == 0
    assert why in out.stdout


def test_key_log_lines_not_understood_are_counted_and_warned_once(tmp_path):
    keylog = tmp_path / "mixed.keylog"
    keylog.write_text("garbage\nCLIENT_RANDOM 12 34\n"
                      + (CAPTURES / "ems_off_gnutls.keylog").read_text())
    name = "resume_session_id_openssl"          # two connections, neither in this key log
    out = run(CAPTURES / (name + ".pcap"), "--keylog", keylog)
    assert out.returncode == 0
    assert " ".join(out.stdout.split()).count(
        "decrypted: no (key log has 1 secret, none for this client random; 2 key log lines "
        "not understood)") == 2
    (warning,) = out.stderr.splitlines()
    assert warning == ("scapy-tls-hs dissect: warning: key log %s: 2 lines not understood "
                       "(skipped)" % keylog)


@pytest.mark.parametrize("env", [{"PYTHONIOENCODING": "ascii"},
                                 {"LANG": "C", "LC_ALL": "C", "PYTHONUTF8": "0",
                                  "PYTHONCOERCECLOCALE": "0", "PYTHONIOENCODING": ""}])
def test_ascii_only_terminal(env):
    out = run(CAPTURES / (ECDHE + ".pcap"), "--keylog", CAPTURES / (ECDHE + ".keylog"),
              "--data", env=env)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    assert "full handshake | x25519 | session id: none" in out.stdout
    assert "\u00b7" not in out.stdout and "#1   127.0.0.1:56928" in out.stdout


def test_names_the_terminal_cannot_show_are_escaped(tmp_path):
    """A certificate subject with characters an ASCII stdout cannot encode: escaped, never
    an encoding error."""
    from scapy_tls_hs.capture.ladder import render
    from scapy_tls_hs.capture.dissect import dissect_capture
    import io
    reports = dissect_capture(CAPTURES / (ECDHE + ".pcap"))
    chain = reports[0].certificates[0]
    chain._names = ("CN=caf\u00e9 \u2192 server", "CN=r\u00f6ot")
    stream = io.TextIOWrapper(io.BytesIO(), encoding="ascii", errors="backslashreplace")
    stream.write(render(reports, ascii=True))
    stream.flush()
    text = stream.buffer.getvalue().decode("ascii")
    assert "subject: CN=caf\\xe9 \\u2192 server" in text


@pytest.mark.parametrize("args, error", [
    ((), "give CAPTURE files or folders, or --interface IFACE"),
    (("x.pcap", "--interface", "lo"), "give CAPTURE files or folders, or --interface IFACE"),
    (("x.pcap", "--count", "3"), "--count goes with --interface"),
    (("x.pcap", "--bpf", "tcp"), "--bpf goes with --interface"),
    (("--interface", "lo", "--count", "0"), "--count must be at least 1"),
    (("--interface", "lo", "--duration", "-1"), "--duration must be positive"),
])
def test_capture_and_interface_options_are_checked(args, error):
    out = run(*args)
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr == "scapy-tls-hs dissect: %s" % error + out.stderr[
        len("scapy-tls-hs dissect: %s" % error):]
    assert out.stderr.count("\n") == 1 and error in out.stderr


def test_readme_dissect_example_is_the_real_output():
    """README "Dissect a capture": the lines shown (up to "...") are what the command prints
    in 80 columns."""
    readme = (PCAPS.parent / "README.md").read_text()
    section = readme[readme.index("## Dissect a capture"):]
    block = section[section.index("```\n") + 4:]
    block = block[:block.index("```")]
    command, *shown = block.splitlines()
    assert command.startswith("$ scapy-tls-hs dissect ")
    import shlex
    out = subprocess.run([sys.executable, "-m", "scapy_tls_hs"] + shlex.split(command)[2:],
                         cwd=PCAPS.parent, capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, COLUMNS="80"))
    assert out.returncode == 0 and out.stderr == ""
    shown = shown[:shown.index("      ...")]
    assert out.stdout.splitlines()[:len(shown)] == shown


def test_progress_bar_of_a_gzip_capture(tmp_path):
    """The bar follows the compressed bytes read: on the terminal, erased, never on stdout."""
    import gzip
    name = "big_cert_chain_multisegment"
    packed = tmp_path / (name + ".pcap.gz")
    packed.write_bytes(gzip.compress((CAPTURES / (name + ".pcap")).read_bytes()))
    stdout, tty = _run_with_stderr_on_a_pty(["dissect", packed, "--json"])
    assert "reading" in tty and tty.endswith("\r\x1b[K")
    assert "\x1b" not in stdout and "reading" not in stdout
    assert [json.loads(line)["messages"][0] for line in stdout.splitlines()] == [
        "C:client_hello"]


# -- issue 14: streaming -----------------------------------------------------------------

def test_stream_flag_prints_every_connection_and_ladders_too():
    """``--stream``: the same objects (completion order; tests/capture/test_stream.py has a
    capture where it differs from start order), and the same ladders."""
    name = "resume_session_id_openssl"
    cap, keylog = CAPTURES / (name + ".pcap"), CAPTURES / (name + ".keylog")

    def out(*extra):
        done = run(cap, "--keylog", keylog, *extra)
        assert done.returncode == 0 and done.stderr == "", done.stderr
        return done.stdout
    default, streamed = out("--json"), out("--json", "--stream")
    assert sorted(default.splitlines()) == sorted(streamed.splitlines())
    assert len(streamed.splitlines()) == 2
    assert [json.loads(line)["resumed"] for line in streamed.splitlines()] == [False, True]
    assert out("--stream") == out()
