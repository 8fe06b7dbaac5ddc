"""Test PKI and server command lines for the three targets (ours, openssl, gnutls).

Keys are made at run time in a temporary folder (never committed). Every server
is started on 127.0.0.1 with a port found free, waited for, and stopped by PID.
`gnutls-serv` binds every address, so the gnutls target only runs inside a
private network namespace (see run_tlsfuzzer.py).
"""

from __future__ import annotations

import functools
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from scripts import PSK_HEX, PSK_IDENTITY, Script

REPO = Path(__file__).resolve().parent.parent
# The protocol servers offer to the ALPN scripts (their probes ask for http/1.1).
ALPN = "http/1.1"


@dataclass
class Pki:
    folder: Path

    def path(self, name: str) -> str:
        return str(self.folder / name)

    def cert(self, kind: str) -> str:
        return self.path(f"{kind}.pem")

    def key(self, kind: str) -> str:
        return self.path(f"{kind}.key")

    def client(self, kind: str) -> tuple[str, str]:
        """(key, cert) of the client certificate of that key type."""
        name = "client" if kind == "rsa" else f"client-{kind}"
        return self.key(name), self.cert(name)


def make_pki(folder: Path, reuse: bool = False) -> Pki:
    """Self-signed RSA, RSASSA-PSS, ECDSA (P-256) and DSA server certs for localhost, and
    client RSA, ECDSA, Ed25519 and DSA certs (end-entity, CA:FALSE) issued by ca.pem, the
    servers' client CA file."""
    folder.mkdir(parents=True, exist_ok=True)
    if reuse and (folder / "psk.txt").exists():
        return Pki(folder)      # made by the parent run (the gnutls netns child reuses it)
    specs = {
        "rsa": ["-newkey", "rsa:2048"],
        "ecdsa": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
        "rsapss": ["-newkey", "rsa-pss", "-pkeyopt", "rsa_keygen_bits:2048"],
        "dsa": ["-newkey", f"dsa:{folder / 'dsa.params'}"],
    }
    # DSA keys (the TLS 1.2 DSA scripts) are made from parameters.
    _run_openssl("genpkey", "-genparam", "-algorithm", "DSA", "-pkeyopt", "dsa_paramgen_bits:2048",
                 "-out", "dsa.params", cwd=folder)
    for kind, newkey in specs.items():
        _run_openssl("req", "-x509", *newkey, "-nodes", "-sha256", "-days", "7",
                 "-subj", "/CN=localhost",
                 "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                 "-keyout", f"{kind}.key", "-out", f"{kind}.pem", cwd=folder)
    _run_openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "7",
             "-subj", "/CN=conformance client CA", "-keyout", "ca.key", "-out", "ca.pem",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=folder)
    (folder / "client.ext").write_text(
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=clientAuth\nsubjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid\n")
    clients = {"client": ["-newkey", "rsa:2048"],
               "client-ecdsa": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
               "client-ed25519": ["-newkey", "ed25519"],
               "client-dsa": ["-newkey", f"dsa:{folder / 'dsa.params'}"]}
    for name, newkey in clients.items():
        _run_openssl("req", "-new", *newkey, "-nodes", "-subj", f"/CN={name}",
                     "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=folder)
        _run_openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                     "-CAcreateserial", "-sha256", "-days", "7", "-extfile", "client.ext",
                     "-out", f"{name}.pem", cwd=folder)
    # GnuTLS reads "identity:hexkey" lines for external PSKs.
    (folder / "psk.txt").write_text(f"{PSK_IDENTITY}:{PSK_HEX}\n")
    return Pki(folder)


def _run_openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60, cwd=cwd)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@functools.cache
def our_flags() -> frozenset[str]:
    """Options our `server` accepts today (TLS 1.3 options arrive during issue 11)."""
    out = subprocess.run([sys.executable, "-m", "scapy_tls_hs", "server", "--help"],
                         capture_output=True, text=True, cwd=REPO, timeout=60).stdout
    return frozenset(word.strip("[],") for word in out.split() if word.startswith(("--", "[--")))


def server_command(target: str, script: Script, pki: Pki, port: int, tls: str
                   ) -> tuple[list[str], list[str]]:
    """The command line, and the script needs this target cannot be given (for the report)."""
    if target == "ours":
        return _ours(script, pki, port, tls)
    if target == "openssl":
        return _openssl(script, pki, port, tls), []
    if target == "gnutls":
        return _gnutls(script, pki, port, tls), []
    raise ValueError(f"unknown target {target!r}")


def _ours(script: Script, pki: Pki, port: int, tls: str) -> tuple[list[str], list[str]]:
    flags = our_flags()
    cmd = [sys.executable, "-m", "scapy_tls_hs", "server",
           "--cert", pki.cert(script.cert), "--key", pki.key(script.cert),
           "--host", "127.0.0.1", "--port", str(port), "--tls", tls]
    missing = []
    if script.echo:
        cmd += ["--echo"]
    if not script.tickets:
        cmd += ["--no-tickets"]
    if script.client_auth:
        cmd += ["--client-auth", "optional", "--cafile", pki.path("ca.pem")]
    if script.early_data:
        if "--early-data" in flags:
            cmd += ["--early-data", "16384"]
        else:
            missing.append("--early-data")
    if script.psk:
        if "--psk" in flags:
            cmd += ["--psk", f"{PSK_IDENTITY}:{PSK_HEX}"]
        else:
            missing.append("external PSK (--psk)")
    if script.alpn:
        cmd += ["--alpn", ALPN]
    if not script.renegotiation:
        if "--no-renegotiation" in flags:
            cmd += ["--no-renegotiation"]
        else:
            missing.append("--no-renegotiation")
    return cmd + list(script.server_args.get("ours", ())), missing


def _openssl(script: Script, pki: Pki, port: int, tls: str) -> list[str]:
    cmd = ["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-www",
           "-cert", pki.cert(script.cert), "-key", pki.key(script.cert)]
    if tls == "1.2":
        cmd += ["-no_tls1_3"]
    # tlsfuzzer's TLS 1.2 hellos omit signature_algorithms (so SHA-1 is implied), and its
    # fallback probes use TLS 1.0/1.1: OpenSSL 3 refuses both at its default security
    # level, while our server (like GnuTLS here) runs TLS 1.0-1.3. TLS 1.3 is unaffected
    # (measured: only TLS 1.0-1.2 legs of probes change).
    cmd += ["-cipher", "DEFAULT:@SECLEVEL=0"]
    if script.echo:
        cmd[cmd.index("-www")] = "-rev"     # echoes each line back, reversed: same length
    if script.client_auth:
        cmd += ["-verify", "1", "-CAfile", pki.path("ca.pem")]
    if script.early_data:
        cmd += ["-early_data"]
    if not script.tickets:
        cmd += ["-num_tickets", "0"]
    if script.psk:
        cmd += ["-psk", PSK_HEX, "-psk_identity", PSK_IDENTITY]
    if script.alpn:
        cmd += ["-alpn", ALPN]
    if tls == "1.2" and script.renegotiation:
        # OpenSSL 3 refuses client-initiated renegotiation unless asked; ours (issue 12)
        # and GnuTLS accept secure renegotiation by default.
        cmd += ["-client_renegotiation"]
    return cmd + list(script.server_args.get("openssl", ()))


def _gnutls(script: Script, pki: Pki, port: int, tls: str) -> list[str]:
    priority = "NORMAL" if tls == "1.3" else "NORMAL:-VERS-TLS1.3"
    cmd = ["gnutls-serv", "--echo" if script.echo else "--http", "-p", str(port),
           "--x509certfile", pki.cert(script.cert), "--x509keyfile", pki.key(script.cert)]
    if script.client_auth:
        cmd += ["--verify-client-cert", "--x509cafile", pki.path("ca.pem")]
    else:
        cmd += ["--disable-client-cert"]
    if script.early_data:
        cmd += ["--earlydata", "--maxearlydata", "16384"]
    if not script.tickets:
        cmd += ["--noticket"]
    if script.psk:
        cmd += ["--pskpasswd", pki.path("psk.txt")]
        priority += ":+ECDHE-PSK:+DHE-PSK:+PSK"
    if script.alpn:
        # Without --alpn-fatal gnutls-serv ignores a list with no match (RFC 7301 asks
        # for no_application_protocol).
        cmd += ["--alpn", ALPN, "--alpn-fatal"]
    extra = list(script.server_args.get("gnutls", ()))
    if "--priority" in extra:       # a script's own priority string replaces the default
        return cmd + extra
    return cmd + extra + ["--priority", priority]


class Server:
    """One server process in its own process group, stopped by PID."""

    def __init__(self, cmd: list[str], log: Path, port: int):
        self.cmd, self.log, self.port = cmd, log, port
        self._log_file = open(log, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._log_file,
                                     stderr=subprocess.STDOUT, cwd=REPO,
                                     start_new_session=True)

    def wait_ready(self, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    pass
            except OSError:
                time.sleep(0.1)
                continue
            # The port was free when chosen, but a parallel run may have taken it first:
            # then another server answered and ours exits with "address in use".
            time.sleep(0.5)
            return self.proc.poll() is None
        return False

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, grace: float = 3.0) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(grace)
        self._log_file.close()

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
