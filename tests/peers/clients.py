"""Real TLS clients run against a server on 127.0.0.1: openssl s_client, gnutls-cli, curl and
Python's ``ssl``. Each call is bounded by a timeout and returns what the client itself said,
so tests judge the server by the peer's own output ("Reused", "This is a resumed session",
``session_reused``, the alert it received).
"""
import dataclasses
import os
import warnings
import re
import shutil
import socket
import ssl
import subprocess
import tempfile

HTTP_GET = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"

# OpenSSL 3 refuses TLS 1.0/1.1 at the default security level.
OLD_TLS = "DEFAULT:@SECLEVEL=0"


def openssl_version_name(version):
    """"1.0" -> "TLSv1" (OpenSSL's and Python's spelling), "1.2" -> "TLSv1.2"."""
    return "TLSv1" if version == "1.0" else "TLSv" + version


def have(tool):
    return shutil.which(tool) is not None


@dataclasses.dataclass
class ClientRun:
    """What a client process did: exit status and everything it printed."""

    returncode: int
    output: str
    timed_out: bool = False

    @property
    def ok(self):
        return self.returncode == 0 and not self.timed_out


def _run(argv, stdin=b"", timeout=15.0, env=None):
    if not have(str(argv[0])):
        import pytest
        pytest.skip("%s is not installed" % argv[0])     # a missing peer skips, never fails
    full_env = dict(os.environ)
    full_env.update(env or {})
    try:
        p = subprocess.run([str(a) for a in argv], input=stdin, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout, env=full_env)
    except subprocess.TimeoutExpired as exc:     # subprocess.run killed it by PID
        out = (exc.output or b"").decode("utf-8", "replace")
        return ClientRun(-9, out, timed_out=True)
    return ClientRun(p.returncode, p.stdout.decode("utf-8", "replace"))


# -- openssl s_client -------------------------------------------------------------------

_S_CLIENT_VERSION = {"1.0": "-tls1", "1.1": "-tls1_1", "1.2": "-tls1_2", "1.3": "-tls1_3"}


def s_client(port, *, version=None, cipher=None, cafile=None, cert=None, key=None,
             sess_out=None, sess_in=None, reconnect=False, no_ticket=False, no_etm=False,
             servername="localhost", data=HTTP_GET, extra=(), timeout=15.0):
    """``openssl s_client`` with ``data`` on stdin; ``-ign_eof`` so it reads the answer until
    the server closes. ``cipher`` gets ``:@SECLEVEL=0`` for TLS 1.0/1.1."""
    argv = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-ign_eof"]
    if servername:
        argv += ["-servername", servername]
    if version:
        argv.append(_S_CLIENT_VERSION[version])
    if cipher is None and version in ("1.0", "1.1"):
        cipher = OLD_TLS
    if cipher:
        if version in ("1.0", "1.1") and "SECLEVEL" not in cipher:
            cipher += ":@SECLEVEL=0"
        argv += ["-cipher", cipher]
    if cafile:
        argv += ["-CAfile", cafile, "-verify_return_error"]
    if cert:
        argv += ["-cert", cert, "-key", key]
    if sess_out:
        argv += ["-sess_out", sess_out]
    if sess_in:
        argv += ["-sess_in", sess_in]
    if reconnect:
        argv.append("-reconnect")
    if no_ticket:
        argv.append("-no_ticket")
    if no_etm:
        argv.append("-no_etm")
    argv += list(extra)
    return _run(argv, stdin=data, timeout=timeout)


def s_client_cipher(output):
    """The suite s_client reports ("Cipher is X" / "Cipher    : X"), OpenSSL name."""
    m = re.search(r"Cipher is (\S+)", output) or re.search(r"Cipher\s*:\s*(\S+)", output)
    return m.group(1) if m else None


def s_client_protocol(output):
    m = re.search(r"Protocol\s*:\s*(\S+)", output)
    return m.group(1) if m else None


def s_client_alert(output):
    """The alert s_client received ("alert handshake failure" -> "handshake_failure")."""
    m = re.search(r"alert (?:number \d+|([a-z ]+?))(?=[:\n])", output)
    if m is None:
        return None
    return (m.group(1) or m.group(0)).strip().replace(" ", "_")


# -- gnutls-cli --------------------------------------------------------------------------

_GNUTLS_VERSION = {"1.0": "+VERS-TLS1.0", "1.1": "+VERS-TLS1.1", "1.2": "+VERS-TLS1.2"}


def gnutls_priority(version=None, extra=""):
    """A priority string for one version (TLS 1.0/1.1 need their CBC SHA-1 suites back)."""
    prio = "NORMAL"
    if version:
        prio += ":-VERS-ALL:" + _GNUTLS_VERSION[version]
    if version in ("1.0", "1.1"):
        prio += ":+SHA1:+AES-128-CBC:+AES-256-CBC"
    return prio + extra


def gnutls_cli(port, *, priority=None, cafile=None, cert=None, key=None, resume=False,
               no_ticket=False, data=HTTP_GET, extra=(), timeout=15.0):
    """``gnutls-cli`` (a client: fine outside a network namespace). Without ``cafile`` the
    chain is not verified (``--insecure``)."""
    argv = ["gnutls-cli", "--port", str(port), "--logfile=/dev/stderr"]
    argv += ["--x509cafile", cafile] if cafile else ["--insecure"]
    if priority:
        argv.append("--priority=" + priority)
    if cert:
        argv += ["--x509certfile", cert, "--x509keyfile", key]
    if resume:
        argv.append("--resume")
    if no_ticket:       # --noticket only concerns TLS 1.3 tickets in GnuTLS 3.7
        prio = (priority or "NORMAL") + ":%NO_TICKETS"
        argv = [a for a in argv if not a.startswith("--priority=")] + ["--priority=" + prio]
    argv += list(extra)
    argv.append("localhost")
    return _run(argv, stdin=data, timeout=timeout)


def gnutls_description(output):
    """gnutls-cli's "- Description: (TLS1.2)-(ECDHE-SECP256R1)-(RSA-SHA256)-(AES-128-GCM)"."""
    m = re.search(r"Description: (\S+)", output)
    return m.group(1) if m else None


# -- curl --------------------------------------------------------------------------------

_CURL_VERSION = {"1.0": "1.0", "1.1": "1.1", "1.2": "1.2"}


def curl(port, *, paths=("/",), cacert=None, version=None, ciphers=None, cert=None, key=None,
         extra=(), timeout=15.0, env=None):
    """``curl -sS -v`` of https://localhost:PORT<path> for each path (one process, so a
    second URL resumes the TLS session curl cached from the first). ``env``: e.g. an
    ``OPENSSL_CONF`` for curl's OpenSSL."""
    argv = ["curl", "-sS", "-v", "--max-time", str(int(timeout))]
    argv += ["--cacert", cacert] if cacert else ["-k"]
    if version:
        argv += ["--tlsv" + _CURL_VERSION[version], "--tls-max", _CURL_VERSION[version]]
    if version in ("1.0", "1.1"):
        ciphers = (ciphers + ":@SECLEVEL=0") if ciphers else OLD_TLS
    if ciphers:
        argv += ["--ciphers", ciphers]
    if cert:
        argv += ["--cert", cert, "--key", key]
    argv += list(extra)
    argv += ["https://localhost:%d%s" % (port, p) for p in paths]
    return _run(argv, timeout=timeout + 5, env=env)


# -- Python ssl --------------------------------------------------------------------------

_PY_VERSION = {"1.0": ssl.TLSVersion.TLSv1, "1.1": ssl.TLSVersion.TLSv1_1,
               "1.2": ssl.TLSVersion.TLSv1_2}


@dataclasses.dataclass
class PyResult:
    version: str = None
    cipher: str = None
    session: object = None
    session_reused: bool = False
    received: bytes = b""
    error: str = None          # the ssl error (alert) when the handshake failed


# OpenSSL's SSL_OP_NO_ENCRYPT_THEN_MAC, which Python's ssl passes through but does not name.
OP_NO_ENCRYPT_THEN_MAC = 1 << 19


def python_context(*, version=None, ciphers=None, cafile=None, cert=None, key=None,
                   tickets=True, etm=True):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile:
        ctx.load_verify_locations(cafile)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if version:
        with warnings.catch_warnings():      # TLS 1.0/1.1 are deprecated: that is the point
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ctx.maximum_version = _PY_VERSION[version]
    else:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if ciphers or version in ("1.0", "1.1"):
        ctx.set_ciphers((ciphers or "DEFAULT") + (":@SECLEVEL=0" if version in ("1.0", "1.1")
                                                    else ""))
    if cert:
        ctx.load_cert_chain(cert, key)
    if not tickets:
        ctx.options |= ssl.OP_NO_TICKET
    if not etm:
        ctx.options |= OP_NO_ENCRYPT_THEN_MAC
    return ctx


def python_client(port, ctx=None, *, session=None, data=HTTP_GET, timeout=10.0,
                  server_hostname="localhost", **ctx_options):
    """One connection with Python's ``ssl``: handshake, send ``data``, read to EOF."""
    ctx = ctx or python_context(**ctx_options)
    result = PyResult()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
            with ctx.wrap_socket(raw, server_hostname=server_hostname,
                                 session=session) as s:
                result.version = s.version()
                result.cipher = s.cipher()[0]
                result.session_reused = s.session_reused
                if data:
                    s.sendall(data)
                    chunks = []
                    while True:
                        try:
                            chunk = s.recv(65536)
                        except (ssl.SSLEOFError, ConnectionResetError):
                            break
                        if not chunk:
                            break
                        chunks.append(chunk)
                    result.received = b"".join(chunks)
                result.session = s.session
    except ssl.SSLError as exc:
        result.error = exc.reason or str(exc)
    except OSError as exc:
        result.error = "%s: %s" % (type(exc).__name__, exc)
    return result


def temp_path(suffix=""):
    fd, path = tempfile.mkstemp(suffix=suffix, prefix="tls-test-")
    os.close(fd)
    os.unlink(path)
    return path


# -- our own core as a (misbehaving) client --------------------------------------------------

def core_client(port, config=None, *, tamper=None, corrupt_last_record=False, data=None,
                timeout=10.0, **config_options):
    """Drive the package's ``ClientConnection`` over a plain socket. ``tamper(msg_type, body)``
    may change outgoing handshake messages (e.g. a wrong Finished); ``corrupt_last_record``
    flips a bit in the last record of the client's second flight (its encrypted Finished).
    Returns ``(connection, error)``: ``error`` is the ``AlertError`` that ended it, if any."""
    from scapy_tls_hs.connection.client import ClientConnection
    from scapy_tls_hs.connection.config import ClientConfig
    from scapy_tls_hs.errors import AlertError
    conn = ClientConnection(config or ClientConfig(**config_options))
    conn.tamper = tamper
    conn.start()
    flights = 0
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(conn.data_to_send())
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return conn, None
                conn.receive_data(chunk)
                out = conn.data_to_send()
                if out:
                    flights += 1
                    if corrupt_last_record and flights == 1:
                        out = out[:-1] + bytes((out[-1] ^ 1,))
                    s.sendall(out)
                if conn.handshake_complete and data is not None:
                    conn.send_application_data(data)
                    conn.close()
                    s.sendall(conn.data_to_send())
                    data = None
        except AlertError as exc:
            return conn, exc
        except OSError:
            return conn, None


def read_alerts(sock, timeout=10.0):
    """Read until EOF (or ``timeout``) and return the plaintext alerts in what came:
    a list of (level, description)."""
    from scapy_tls_hs.registry import ALERT_DESCRIPTIONS
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    alerts = []
    pos = 0
    while pos + 5 <= len(data):
        ct, length = data[pos], int.from_bytes(data[pos + 3:pos + 5], "big")
        body = data[pos + 5:pos + 5 + length]
        if ct == 21 and len(body) == 2:
            alerts.append((body[0], ALERT_DESCRIPTIONS.get(body[1], str(body[1]))))
        pos += 5 + length
    return alerts
