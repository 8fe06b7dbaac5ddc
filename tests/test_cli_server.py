"""``scapy-tls-hs server`` as a user runs it: a real process, real clients, JSON on stdout."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.contract import CLIENT_FIELDS
from tests.peers import clients
from tests.peers.process import Peer

CLI = [sys.executable, "-m", "scapy_tls_hs", "server"]


def _server(pki, port, *args):
    argv = CLI + ["--cert", pki.rsa_chain, "--key", pki.rsa_key, "--port", str(port)]
    return argv + [str(a) for a in args]


def _json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _wait_reports(peer, count, timeout=10.0):
    """The server prints a connection's report once it is over: wait for ``count`` of them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reports = _json_lines(peer.output())
        if len(reports) >= count:
            return reports
        time.sleep(0.05)
    raise AssertionError("only %d report(s): %s" % (len(_json_lines(peer.output())),
                                                    peer.output()))


def test_serves_max_connections_then_exits(pki, free_port, tmp_path):
    port = free_port()
    keylog = tmp_path / "keys.log"
    out_file = tmp_path / "out.jsonl"
    err_file = tmp_path / "err.log"
    with open(out_file, "wb") as out, open(err_file, "wb") as err:
        proc = subprocess.Popen(_server(pki, port, "--max-connections", 3, "--json",
                                        "--keylog", keylog, "--alpn", "http/1.1",
                                        "--tls", "1.2"),
                                stdout=out, stderr=err, start_new_session=True)
        try:
            from tests.peers.process import wait_port
            wait_port(port, proc=proc)        # a probe: not counted as a connection
            sess = str(tmp_path / "sess.pem")
            client_keylog = str(tmp_path / "client_keys.log")
            a = clients.s_client(port, cafile=pki.ca_cert, sess_out=sess,
                                 extra=["-alpn", "http/1.1", "-keylogfile", client_keylog])
            b = clients.s_client(port, cafile=pki.ca_cert, sess_in=sess,
                                 extra=["-keylogfile", client_keylog])
            c = clients.python_client(port, cafile=pki.ca_cert, version="1.0")
            assert proc.wait(timeout=20) == 0
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    assert a.ok and b.ok and c.error is None, (a.output, b.output, c.error)
    assert "Reused" in b.output
    reports = _json_lines(out_file.read_text())
    assert len(reports) == 3
    for r in reports:
        for field in CLIENT_FIELDS:
            assert field in r, field
        assert r["handshake_complete"] and r["received"].startswith("GET / ")
    by_version = {r["version"] for r in reports}
    assert by_version == {"TLS 1.2", "TLS 1.0"}
    assert sum(r["resumed"] for r in reports) == 1
    assert any(r["alpn"] == "http/1.1" for r in reports)
    lines = keylog.read_text().splitlines()
    assert len(lines) == 3 and all(line.startswith("CLIENT_RANDOM ") for line in lines)
    # The same secrets as OpenSSL's own key log of its two connections.
    theirs = [line for line in open(client_keylog).read().splitlines()
              if line.startswith("CLIENT_RANDOM ")]
    assert len(theirs) == 2 and set(theirs) <= set(lines)
    err = err_file.read_text()
    assert "listening on 127.0.0.1:%d" % port in err and "Traceback" not in err


@pytest.mark.parametrize("version,no_cert_alert", [("1.2", "handshake_failure"),
                                                   ("1.3", "certificate_required")])
def test_client_auth_required(pki, free_port, version, no_cert_alert):
    """RFC 8446 section 4.4.2.4: TLS 1.3 names a missing certificate certificate_required."""
    port = free_port()
    with Peer(_server(pki, port, "--client-auth", "required", "--cafile", pki.ca_cert,
                      "--json", "--tls", version), port=port) as srv:
        good = clients.s_client(port, cert=pki.client_rsa_cert, key=pki.client_rsa_key)
        missing = clients.s_client(port)
        wrong = clients.s_client(port, cert=pki.wrong_client_cert, key=pki.wrong_client_key)
        reports = _wait_reports(srv, 3)
        err = srv.output()
    assert good.ok and "HTTP/1.1 200 OK" in good.output, good.output
    assert clients.s_client_alert(missing.output) == no_cert_alert, missing.output
    assert clients.s_client_alert(wrong.output) == "unknown_ca", wrong.output
    assert [r["client_auth"] for r in reports] == [True, False, False]
    assert [r["version"] for r in reports] == ["TLS " + version] * 3
    assert reports[1]["errors"][0].startswith("sent alert " + no_cert_alert)
    assert reports[2]["errors"][0].startswith("sent alert unknown_ca")
    assert "client-certificate" in err and "Traceback" not in err


def test_echo_and_no_tickets(pki, free_port):
    port = free_port()
    with Peer(_server(pki, port, "--echo", "--no-tickets", "--json", "--tls", "1.1"),
              port=port) as srv:
        # Python's default client wants TLS 1.2 (and no SHA-1 suite usable in 1.1): refused.
        res = clients.python_client(port, data=None)
        assert res.error is not None
        ctx = clients.python_context(version="1.1")
        import socket
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                s.sendall(b"echo me")
                assert s.recv(100) == b"echo me"
                s.unwrap()
        _wait_reports(srv, 2)
        srv.proc.send_signal(signal.SIGINT)
        status = srv.wait(10)
        out = srv.output()
    assert status == 130
    assert "Traceback" not in out
    reports = _json_lines(out)
    echoed = [r for r in reports if r["received"] == "echo me"]
    assert len(echoed) == 1 and echoed[0]["version"] == "TLS 1.1"
    assert not any(r["ticket"] for r in reports)


def test_sigterm_exits_cleanly(pki, free_port):
    port = free_port()
    with Peer(_server(pki, port), port=port) as srv:
        srv.proc.send_signal(signal.SIGTERM)
        assert srv.wait(10) == 0
        assert "Traceback" not in srv.output()


@pytest.mark.parametrize("args,message", [
    (["--cert", "/nonexistent.pem", "--key", "/nonexistent.key"], "nonexistent"),
    (["--group", "x25519", "--group", "nope"], "--group: unknown group 'nope'"),
    (["--tls", "1.1", "--tls-min", "1.2"], "--tls-min 1.2 is above --tls 1.1"),
    (["--early-data", "-1"], "--early-data must be 0 or more"),
    (["--early-data", "lots"], "argument --early-data: invalid int value: 'lots'"),
    (["--tls-min", "1.4"], "argument --tls-min: invalid choice"),
    (["--cipher", "NO-SUCH-CIPHER"], "NO-SUCH-CIPHER"),
    (["--client-auth", "required", "--max-connections", "0"], "max-connections"),
    (["--psk", "nocolon"], "argument --psk: 'nocolon' is not IDENTITY:HEX[:sha384]"),
    (["--psk", "id:zz"], "argument --psk: the PSK of 'id' is not hex"),
])
def test_bad_arguments_one_line_error(pki, free_port, args, message):
    argv = CLI + ["--cert", pki.rsa_cert, "--key", pki.rsa_key, "--port", str(free_port())]
    p = subprocess.run(argv + args, capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert message in p.stderr and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_port_in_use(pki, free_port):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        p = subprocess.run(CLI + ["--cert", pki.rsa_cert, "--key", pki.rsa_key,
                                  "--port", str(port)], capture_output=True, text=True,
                           timeout=30)
    assert p.returncode == 1
    assert "cannot listen on 127.0.0.1:%d" % port in p.stderr and "Traceback" not in p.stderr


def test_no_common_suite_reported(pki, free_port):
    port = free_port()
    with Peer(_server(pki, port, "--cipher", "ECDHE-RSA-AES128-GCM-SHA256", "--json",
                      "--max-connections", 1, "--tls", "1.2"), port=port) as srv:
        out = clients.s_client(port, cipher="AES256-SHA")
        assert not out.ok
        assert clients.s_client_alert(out.output) == "handshake_failure"
        assert srv.wait(10) == 0
        reports = _json_lines(srv.output())
    assert reports[0]["errors"][0].startswith("sent alert handshake_failure")
    assert not reports[0]["handshake_complete"]


def test_tls13_group_early_data_and_json(pki, free_port, tmp_path):
    """--group (HelloRetryRequest for s_client's x25519 share), --early-data N (0-RTT on the
    resumed connection), the TLS 1.3 JSON fields and key log."""
    port = free_port()
    sess, early = str(tmp_path / "sess.pem"), tmp_path / "early.txt"
    early.write_bytes(b"GET /0rtt HTTP/1.1\r\nHost: localhost\r\n\r\n")
    keylog = tmp_path / "keys.log"
    with Peer(_server(pki, port, "--group", "secp384r1", "--group", "secp256r1",
                      "--early-data", 1024, "--json", "--max-connections", 2,
                      "--keylog", keylog), port=port) as srv:
        a = clients.s_client(port, version="1.3", sess_out=sess)
        # A share for the server's group this time: after a HelloRetryRequest early data
        # is always rejected (RFC 8446 section 4.2.10).
        b = clients.s_client(port, version="1.3", sess_in=sess, data=b"",
                             extra=["-early_data", str(early), "-groups", "secp384r1"])
        assert srv.wait(10) == 0
        reports = _json_lines(srv.output())
    assert a.ok and b.ok, (a.output, b.output)
    assert "Early data was accepted" in b.output and "Reused, TLSv1.3" in b.output
    first, second = reports
    for r in (first, second):
        assert CLIENT_FIELDS | {"group", "hello_retry", "early_data", "key_updates"} <= set(r)
        assert r["version"] == "TLS 1.3" and r["handshake_complete"] and not r["errors"]
    assert first["hello_retry"] and first["group"] == "secp384r1"
    assert not first["resumed"] and first["early_data"] is None
    assert second["resumed"] and second["early_data"] == "accepted"
    assert not second["hello_retry"] and second["group"] == "secp384r1"
    assert second["received"].startswith("GET /0rtt HTTP/1.1")
    labels = [line.split()[0] for line in keylog.read_text().splitlines()]
    assert labels.count("SERVER_HANDSHAKE_TRAFFIC_SECRET") == 2
    assert labels.count("CLIENT_EARLY_TRAFFIC_SECRET") == 1


def test_tls13_no_tickets_and_tls_min(pki, free_port):
    port = free_port()
    with Peer(_server(pki, port, "--no-tickets", "--tls-min", "1.3", "--json"),
              port=port) as srv:
        good = clients.s_client(port, version="1.3")
        old = clients.s_client(port, version="1.2")
        reports = _wait_reports(srv, 2)
    assert good.ok and "Post-Handshake New Session Ticket" not in good.output, good.output
    assert clients.s_client_alert(old.output) == "protocol_version", old.output
    assert not reports[0]["ticket"] and reports[0]["version"] == "TLS 1.3"
    assert reports[1]["errors"][0].startswith("sent alert protocol_version")


def test_external_psk_with_tlslite_client(pki, free_port):
    """--psk: a TLS 1.3 handshake on an out-of-band key (no certificate sent), with
    tlslite-ng's client holding the same identity and key."""
    import shutil
    tls_py = shutil.which("tls.py")
    if tls_py is None:
        pytest.skip("tlslite-ng's tls.py is needed")
    port = free_port()
    key = "a1b2c3d4" * 8
    with Peer(_server(pki, port, "--psk", "lab:" + key, "--json", "--max-connections", "1"),
              port=port) as peer:
        done = subprocess.run([sys.executable, tls_py, "client", "--psk", key, "--psk-ident",
                               "lab", "localhost:%d" % port], capture_output=True, text=True,
                              timeout=30, input="")
        (report,) = _wait_reports(peer, 1)
    assert "Version: TLS 1.3" in done.stdout, done.stdout + done.stderr
    assert report["version"] == "TLS 1.3" and report["resumed"]
    assert "S:certificate" not in report["messages"]
