"""Replay GnuTLS captures against a live ``gnutls-serv`` configured like and unlike the
captured one. gnutls-serv listens on every address, so it runs in a network namespace of its
own (``unshare --net``, only ``lo``), with the replay command beside it."""
import json
import shutil
import subprocess
import sys
import textwrap

import pytest

from scapy_tls_hs.replay import COMPARED
from tests.replay.helpers import ROOT, capture, captured_identity

pytestmark = pytest.mark.skipif(shutil.which("gnutls-serv") is None or
                                shutil.which("unshare") is None,
                                reason="gnutls-serv (gnutls-bin) and unshare are needed")

EMS_OFF = "ems_off_gnutls.pcapng"   # gnutls-serv --echo, RSA certificate, tickets


def replay_in_namespace(server_args, capture_path, *replay_args, timeout=60, status=0):
    """Start ``gnutls-serv SERVER_ARGS`` on port 4433 in a fresh network namespace, run
    ``scapy-tls-hs replay CAPTURE --to 127.0.0.1:4433 --json`` there; its JSON objects.
    ``status``: the exit status replay must give (1: a handshake failed that the capture
    completed)."""
    script = textwrap.dedent("""\
        ip link set lo up || exit 3
        gnutls-serv --port 4433 "$@" > "$LOG" 2>&1 &
        srv=$!
        for i in $(seq 200); do
            grep -q "listening on IPv4.*done" "$LOG" && break
            kill -0 $srv 2>/dev/null || break
            sleep 0.05
        done
        "$PY" -m scapy_tls_hs replay "$CAP" --to 127.0.0.1:4433 --json --timeout 5 $REPLAY
        status=$?
        kill $srv 2>/dev/null
        wait $srv 2>/dev/null
        exit $status
        """)
    import tempfile
    with tempfile.TemporaryDirectory(prefix="gnutls-replay-") as tmp:
        env = {"LOG": tmp + "/server.log", "PY": sys.executable, "CAP": capture_path,
               "REPLAY": " ".join(replay_args), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        proc = subprocess.run(["unshare", "--net", "sh", "-c", script, "sh"] + server_args,
                              capture_output=True, text=True, timeout=timeout, cwd=str(ROOT),
                              env=env)
        log = open(env["LOG"]).read() if proc.returncode != 3 else ""
    assert proc.returncode == status, (proc.returncode, proc.stderr, log)
    return [json.loads(line) for line in proc.stdout.splitlines()], log


@pytest.fixture(scope="module")
def identity(tmp_path_factory):
    cert, key = captured_identity(tmp_path_factory.mktemp("gnutls-id"), EMS_OFF)
    return ["--x509certfile", cert, "--x509keyfile", key, "--echo", "--disable-client-cert"]


CASES = {
    "like": ([], set()),
    "no-tickets": (["--noticket"], {"server_extensions", "server_messages"}),
    # The client offered AES-256-GCM suites only: nothing left in common.
    "cipher-disabled": (["--priority", "NORMAL:-AES-256-GCM"],
                        set(COMPARED) - {"resumed", "alpn", "extended_master_secret",
                                         "hello_retry"} | {"handshake"}),
    # RSA key exchange instead of ECDHE: no ServerKeyExchange, no ec_point_formats, no group.
    "ecdhe-disabled": (["--priority", "NORMAL:-ECDHE-RSA"],
                       {"cipher_suite", "group", "server_extensions", "server_messages"}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_gnutls_differences_are_the_configuration_change(identity, case):
    extra, expected = CASES[case]
    (res,), log = replay_in_namespace(identity + extra, capture(EMS_OFF),
                                      status=1 if "handshake" in expected else 0)
    assert set(res["differences"]) == expected, res
    rep = res["replayed"]
    if case == "cipher-disabled":
        assert rep["server_alerts"] == ["handshake_failure"]
        assert "No supported cipher suites" in log
        return
    assert rep["handshake_complete"], rep["errors"]
    assert "* Accepted connection" in log
    assert "- Description: (TLS1.2-X.509)" in log         # the server's own view
    if case == "ecdhe-disabled":
        assert rep["cipher_suite"] == "TLS_RSA_WITH_AES_256_GCM_SHA384"
        assert "- Key Exchange: RSA" in log


def test_gnutls_chacha20_capture_against_gnutls(identity, pki):
    """An ECDSA ChaCha20 capture (we lack that server's key): with our own ECDSA
    certificate only the certificate differs."""
    server = ["--x509certfile", pki.ecdsa_cert, "--x509keyfile", pki.ecdsa_key, "--echo",
              "--disable-client-cert"]
    (res,), _ = replay_in_namespace(server, capture("tls12_ecdhe_ecdsa_chacha20_gnutls.pcap"),
                                    "--send", r"hello\n")
    assert res["differences"] == ["certificate"], res
    assert res["replayed"]["cipher_suite"] == "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
    assert res["replayed"]["received"] == "hello\n"     # gnutls-serv --echo: line by line
