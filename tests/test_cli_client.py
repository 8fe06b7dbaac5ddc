"""``scapy-tls-hs client``: human output, ``--json``, ``--resume``, failures (one line on
stderr naming the alert, non-zero status), ``--cafile``, and ``--keylog`` checked by letting
tshark decrypt a capture of the session."""
import json
import shutil
import subprocess
import sys
import time

import pytest

from scapy_tls_hs.cli import main
from tests.contract import CLIENT_FIELDS
from tests.peers.process import Peer, free_port as free_port_now
from tests.peers.servers import openssl_server

SEND = r"GET / HTTP/1.0\r\n\r\n"          # as typed on a command line: escapes honoured
JSON_FIELDS = CLIENT_FIELDS


@pytest.fixture(scope="module")
def server(pki):
    with openssl_server(pki.rsa_cert, pki.rsa_key, dcert=pki.ecdsa_cert,
                        dkey=pki.ecdsa_key) as peer:
        yield peer


def client(capsys, *argv):
    status = main(["client"] + [str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_human_output(capsys, pki, server):
    status, out, err = client(capsys, "127.0.0.1", server.port, "--send", SEND, "--cafile",
                              pki.ca_cert, "--sni", "server.test", "--alpn", "http/1.1")
    assert status == 0, err
    assert err == ""
    lines = out.splitlines()
    assert lines[0] == "Connected to 127.0.0.1:%d from %s" % (
        server.port, lines[0].rsplit(" ", 1)[1])
    assert lines[1].strip() == "client_hello                   -->".strip()
    assert lines[2].strip() == "<--  server_hello"
    assert "Handshake complete: TLS 1.2, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" in out
    assert "extended master secret: yes" in out and "SNI:                    server.test" in out
    assert "Server certificate chain (verified against %s):" % pki.ca_cert in out
    assert "subject: CN=server.test,O=scapy-tls-hs tests" in out
    assert "issuer:  CN=Test Root CA,O=scapy-tls-hs tests" in out
    assert "Received " in out and "HTTP/1.0 200 ok" in out
    # What we sent reached the server with its CR LF (the page echoes nothing of it, but
    # s_server answers a GET only when the request line ends properly).


def test_json_and_resume(capsys, server):
    status, out, err = client(capsys, "127.0.0.1", server.port, "--json", "--resume",
                              "--send", SEND, "--tls", "1.1",
                              "--cipher", "ECDHE-ECDSA-AES256-SHA")
    assert status == 0, err
    first, second = [json.loads(line) for line in out.splitlines()]
    for obj in (first, second):
        assert JSON_FIELDS <= set(obj)
        assert obj["handshake_complete"] and obj["errors"] == []
        assert obj["version"] == "TLS 1.1"
        assert obj["cipher_suite"] == "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"
        assert obj["received"].startswith("HTTP/1.0 200 ok")
    assert not first["resumed"] and first["ticket"]
    assert second["resumed"] and "Reused, " in second["received"]
    assert "S:certificate" not in second["messages"]


def test_resume_by_session_id(capsys, pki):
    with openssl_server(pki.rsa_cert, pki.rsa_key, tickets=False) as peer:
        status, out, err = client(capsys, "127.0.0.1", peer.port, "--json", "--resume",
                                  "--send", SEND)
    assert status == 0, err
    first, second = [json.loads(line) for line in out.splitlines()]
    assert not first["ticket"] and first["session_id"]
    assert second["resumed"] and second["session_id"] == first["session_id"]
    assert "Reused, " in second["received"]


def test_client_certificate(capsys, pki):
    with openssl_server(pki.rsa_cert, pki.rsa_key, verify=1, require_cert=True,
                        cafile=pki.ca_cert) as peer:
        status, out, err = client(capsys, "127.0.0.1", peer.port, "--json", "--send", SEND,
                                  "--cert", pki.client_ecdsa_cert, "--key",
                                  pki.client_ecdsa_key)
    assert status == 0, err
    obj = json.loads(out)
    assert obj["client_auth"] and "C:certificate_verify" in obj["messages"]
    assert "Client certificate" in obj["received"]


def test_no_common_suite_fails_with_the_alert_named(pki):
    """The real console entry point: exit status and one line on stderr, no traceback."""
    with openssl_server(pki.rsa_cert, pki.rsa_key, cipher="AES128-SHA") as peer:
        proc = subprocess.run([sys.executable, "-m", "scapy_tls_hs", "client", "127.0.0.1",
                               str(peer.port), "--cipher", "ECDHE-RSA-AES128-GCM-SHA256",
                               "--json"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    err = proc.stderr.strip().splitlines()
    assert err == ["scapy-tls-hs client: received alert handshake_failure: from the server"]
    obj = json.loads(proc.stdout)
    assert not obj["handshake_complete"]
    assert obj["messages"] == ["C:client_hello", "S:alert:handshake_failure"]


@pytest.mark.parametrize("case,alert", [("wrong-ca", "unknown_ca"),
                                        ("wrong-host", "bad_certificate")])
def test_cafile_failures(capsys, pki, server, case, alert):
    cafile = pki.other_ca_cert if case == "wrong-ca" else pki.ca_cert
    sni = "wrong.test" if case == "wrong-host" else "server.test"
    status, out, err = client(capsys, "127.0.0.1", server.port, "--cafile", cafile,
                              "--sni", sni)
    assert status == 1
    assert err.startswith("scapy-tls-hs client: sent alert %s" % alert), err
    assert len(err.strip().splitlines()) == 1
    assert "Handshake failed (TLS 1.2, " in out
    assert "  %-30s -->" % ("alert:" + alert) in out.splitlines()
    assert "Server certificate chain (rejected):" in out and "CN=server.test" in out
    assert "rror" not in out and "unknown CA" not in out      # the failure: on stderr once
    assert ("unknown CA" if case == "wrong-ca" else "name mismatch") in err


def test_host_name_is_sni_and_verified_name(capsys, pki, server):
    status, out, err = client(capsys, "localhost", server.port, "--cafile", pki.ca_cert)
    assert status == 0, err
    assert "SNI:                    localhost" in out


def test_option_and_connection_errors(capsys, free_port, pki):
    status, _, err = client(capsys, "127.0.0.1", free_port(), "--cipher", "NOPE-SUITE")
    assert status == 1 and "unknown cipher suite" in err
    status, _, err = client(capsys, "127.0.0.1", free_port(), "--cert", pki.client_rsa_cert)
    assert status == 1 and "--cert and --key" in err
    port = free_port()
    status, out, err = client(capsys, "127.0.0.1", port)
    assert status == 1 and out == ""
    status, out, err = client(capsys, "127.0.0.1", port, "--json")
    assert status == 1
    assert err.strip() == ("scapy-tls-hs client: cannot connect to 127.0.0.1:%d: "
                           "Connection refused" % port)
    assert json.loads(out)["errors"] == [err.strip().split(": ", 1)[1]]


@pytest.mark.skipif(not (shutil.which("tcpdump") and shutil.which("tshark")),
                    reason="tcpdump and tshark are needed")
def test_keylog_lets_tshark_decrypt_the_session(capsys, tmp_path, server):
    pcap, keylog = tmp_path / "client.pcap", tmp_path / "keys.log"
    with Peer(["tcpdump", "-i", "lo", "-U", "--immediate-mode", "-w", pcap,
               "tcp port %d" % server.port]) as dump:
        deadline = time.monotonic() + 10
        while "listening on" not in dump.output() and time.monotonic() < deadline:
            time.sleep(0.05)
        status, out, err = client(capsys, "127.0.0.1", server.port, "--send", SEND,
                                  "--keylog", keylog, "--cipher",
                                  "ECDHE-RSA-CHACHA20-POLY1305")
        assert status == 0, err
        time.sleep(0.3)             # let the last segments reach the capture file
        dump.stop()
    assert keylog.read_text().startswith("CLIENT_RANDOM ")
    fields = subprocess.run(
        ["tshark", "-r", pcap, "-o", "tls.keylog_file:%s" % keylog,
         "-o", "http.desegment_body:FALSE",   # s_server's page has no Content-Length
         "-d", "tcp.port==%d,tls" % server.port, "-d", "tls.port==%d,http" % server.port,
         "-Y", "http", "-T", "fields", "-e", "http.request.method", "-e",
         "http.response.code"], capture_output=True, text=True, timeout=60)
    rows = [line.split("\t") for line in fields.stdout.splitlines()]
    assert ["GET", ""] in rows and ["", "200"] in rows, (fields.stdout, fields.stderr)
    # Without the key log nothing of it can be read.
    blind = subprocess.run(["tshark", "-r", pcap, "-d", "tcp.port==%d,tls" % server.port,
                            "-Y", "http"], capture_output=True, text=True, timeout=60)
    assert blind.stdout.strip() == ""


# -- the TLS 1.3 options: parsing and their one-line errors --------------------------------

def test_version_and_tls13_options_parse():
    from scapy_tls_hs.cli import build_parser
    args = build_parser().parse_args(["client", "h", "1"])
    assert (args.tls, args.tls_min, args.group) == ("1.3", "1.0", [])
    assert args.early_data is None and not args.key_update
    args = build_parser().parse_args(
        ["client", "h", "1", "--tls", "1.2", "--tls-min", "1.1", "--group", "x448",
         "--group", "secp256r1", "--early-data", r"GET /\r\n", "--resume", "--key-update"])
    assert (args.tls, args.tls_min) == ("1.2", "1.1")
    assert args.group == ["x448", "secp256r1"]
    assert args.early_data == b"GET /\r\n" and args.key_update


@pytest.mark.parametrize("argv,message", [
    (["--group", "x25519", "--group", "curve1174"],
     "--group: unknown group 'curve1174' (one of x25519, secp256r1, "),
    (["--tls", "1.2", "--tls-min", "1.3"], "--tls-min 1.3 is above --tls 1.2"),
    (["--early-data", "hi"], "--early-data needs --resume"),
    (["--early-data", "hi", "--resume", "--tls", "1.2"], "--early-data needs TLS 1.3"),
    (["--key-update", "--tls", "1.2"], "--key-update needs TLS 1.3"),
    (["--tls-min", "1.4"], "argument --tls-min: invalid choice: '1.4'"),
    (["--tls", "1.3", "--tls-min", "1.3", "--cipher", "ECDHE-RSA-AES128-GCM-SHA256"],
     "cipher suite"),
])
def test_tls13_option_errors_are_one_line(free_port, argv, message):
    """Bad options never reach the network: one line naming the option, status non-zero."""
    proc = subprocess.run([sys.executable, "-m", "scapy_tls_hs", "client", "127.0.0.1",
                           str(free_port())] + argv, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode != 0
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith("scapy-tls-hs client: ")
    assert message in proc.stderr, proc.stderr
    assert "refused" not in proc.stderr and proc.stdout == ""


# -- TLS 1.3 against s_server -tls1_3 ---------------------------------------------------------

@pytest.fixture(scope="module")
def server13(pki):
    port = free_port_now()
    argv = ["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-naccept", "1000",
            "-cert", pki.rsa_cert, "-key", pki.rsa_key, "-tls1_3", "-www"]
    with Peer(argv, port=port) as peer:
        yield peer


def test_tls13_json_group_and_key_update(capsys, server13):
    status, out, err = client(capsys, "127.0.0.1", server13.port, "--json", "--send", SEND,
                              "--group", "secp384r1", "--group", "x25519", "--key-update")
    assert status == 0, err
    obj = json.loads(out)
    assert JSON_FIELDS | {"group", "hello_retry", "early_data", "key_updates"} <= set(obj)
    assert obj["version"] == "TLS 1.3" and obj["handshake_complete"] and obj["errors"] == []
    assert obj["group"] == "secp384r1" and not obj["hello_retry"]
    assert obj["early_data"] is None and obj["key_updates"] == 2
    assert "Shared groups: secp384r1:x25519" in obj["received"]
    assert "C:key_update" in obj["messages"] and "S:key_update" in obj["messages"]


def test_tls13_human_output_and_resume(capsys, server13, tmp_path):
    keylog = tmp_path / "keys.log"
    status, out, err = client(capsys, "127.0.0.1", server13.port, "--send", SEND, "--resume",
                              "--keylog", keylog, "--early-data", "hi")
    assert status == 0, err
    first, second = out.split("\n\nConnected to ")
    assert "Handshake complete: TLS 1.3, TLS_AES_128_GCM_SHA256" in first
    assert "  group:                  x25519" in first
    assert "extended master secret" not in first and "encrypt-then-MAC" not in first
    assert "Handshake complete (resumed): TLS 1.3" in second
    assert "Reused, TLSv1.3" in second
    # s_server without -early_data issues tickets that allow none.
    assert "  early data:             not sent (no ticket allowing it)" in second
    labels = [line.split()[0] for line in keylog.read_text().splitlines()]
    assert labels.count("CLIENT_TRAFFIC_SECRET_0") == 2 and labels.count("EXPORTER_SECRET") == 2


@pytest.mark.skipif(not (shutil.which("tcpdump") and shutil.which("tshark")),
                    reason="tcpdump and tshark are needed")
def test_tls13_keylog_decrypts_our_sessions(capsys, tmp_path, server13):
    """The TLS 1.3 secrets we log let tshark and our own dissect read a capture of a full
    and a resumed session, KeyUpdates included."""
    from scapy_tls_hs.capture.dissect import dissect_capture
    pcap, keylog = tmp_path / "client13.pcap", tmp_path / "keys.log"
    with Peer(["tcpdump", "-i", "lo", "-U", "--immediate-mode", "-w", pcap,
               "tcp port %d" % server13.port]) as dump:
        deadline = time.monotonic() + 10
        while "listening on" not in dump.output() and time.monotonic() < deadline:
            time.sleep(0.05)
        status, out, err = client(capsys, "127.0.0.1", server13.port, "--send", SEND,
                                  "--resume", "--key-update", "--keylog", keylog)
        assert status == 0, err
        time.sleep(0.3)             # let the last segments reach the capture file
        dump.stop()
    reports = [r.to_dict() for r in dissect_capture(str(pcap), keylog=str(keylog))]
    assert [(r["version"], r["resumed"], r["decrypted"]) for r in reports] == [
        ("TLS 1.3", False, True), ("TLS 1.3", True, True)], reports
    for r in reports:
        assert "C:key_update" in r["messages"] and "S:key_update" in r["messages"]
        assert r["app_data"]["server_bytes"] > 0 and not r["errors"]
    fields = subprocess.run(
        ["tshark", "-r", pcap, "-o", "tls.keylog_file:%s" % keylog,
         "-o", "http.desegment_body:FALSE",
         "-d", "tcp.port==%d,tls" % server13.port, "-d", "tls.port==%d,http" % server13.port,
         "-Y", "http", "-T", "fields", "-e", "http.request.method", "-e",
         "http.response.code"], capture_output=True, text=True, timeout=60)
    rows = [line.split("\t") for line in fields.stdout.splitlines()]
    assert rows.count(["GET", ""]) == 2 and rows.count(["", "200"]) == 2, fields.stdout


def test_tls13_resume_with_early_data(capsys, pki):
    port = free_port_now()
    argv = ["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-cert", pki.rsa_cert,
            "-key", pki.rsa_key, "-tls1_3", "-early_data"]
    # Without -www, s_server reads commands on stdin: kept open, or it would stop at EOF.
    with Peer(argv, port=port, stdin=subprocess.PIPE) as peer:
        # (No answer ever comes from s_server: --timeout bounds the wait for one.)
        status, out, err = client(capsys, "127.0.0.1", port, "--json", "--resume",
                                  "--early-data", r"early bird\n", "--timeout", "1.5")
        output = peer.output()
    assert status == 0, err
    first, second = [json.loads(line) for line in out.splitlines()]
    assert first["early_data"] is None and first["ticket"]
    assert second["resumed"] and second["early_data"] == "accepted"
    assert "Early data received:" in output and "early bird\n" in output


def test_tls_min_above_what_the_server_speaks(capsys, server):
    """The module's s_server speaks up to TLS 1.2: with --tls-min 1.3 there is no common
    version, and the server says so."""
    status, out, err = client(capsys, "127.0.0.1", server.port, "--tls-min", "1.3")
    assert status == 1
    assert err.strip() == ("scapy-tls-hs client: received alert protocol_version: "
                           "from the server")


def test_key_update_when_the_server_chose_tls12(capsys, server):
    status, out, err = client(capsys, "127.0.0.1", server.port, "--key-update", "--json",
                              "--send", SEND)
    assert status == 1
    assert err.strip() == ("scapy-tls-hs client: no key update: TLS 1.2 was negotiated, "
                           "KeyUpdate is TLS 1.3's")
    obj = json.loads(out)
    assert obj["handshake_complete"] and obj["version"] == "TLS 1.2"
    assert obj["key_updates"] == 0 and obj["received"].startswith("HTTP/1.0 200 ok")
