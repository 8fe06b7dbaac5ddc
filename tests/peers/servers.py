"""Real TLS servers for the client's interop tests: OpenSSL ``s_server``, a Python ``ssl``
server, and ``gnutls-serv`` (inside a network namespace, with the client under test).

Every server runs on 127.0.0.1 with a port chosen free at run time, is stopped by PID, and
exposes its own output so a test can check the server's view (``Reused``, EMS, client
certificate ...) rather than only trusting the client.
"""
import contextlib
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import textwrap

from .process import Peer, free_port

ROOT = pathlib.Path(__file__).resolve().parents[2]
HTTP_GET = b"GET / HTTP/1.0\r\n\r\n"
_OPENSSL_VERSIONS = {"1.0": "-tls1", "1.1": "-tls1_1", "1.2": "-tls1_2", "1.3": "-tls1_3",
                     "1.2+1.3": None}


def openssl_conf(directory, options=()):
    """An OPENSSL_CONF file whose ``Options`` line applies to every SSL_CTX of the process:
    ``("-ExtendedMasterSecret",)`` turns EMS off, ``("-EncryptThenMac",)`` EtM."""
    path = pathlib.Path(directory) / ("openssl-%s.cnf" % "-".join(
        o.strip("-+").lower() for o in options) or "default")
    path.write_text(textwrap.dedent("""\
        openssl_conf = openssl_init
        [openssl_init]
        ssl_conf = ssl_module
        [ssl_module]
        system_default = tls_defaults
        [tls_defaults]
        CipherString = ALL:@SECLEVEL=0
        MinProtocol = TLSv1
        %s
        """ % ("Options = " + ",".join(options) if options else "")))
    return str(path)


def openssl_server_argv(port, cert, key, *, version=None, cipher=None, mode="-www",
                        dcert=None, dkey=None, verify=None, require_cert=False, cafile=None,
                        tickets=True, alpn=None, servername=None, cert2=None, key2=None,
                        extra=()):
    """``openssl s_server`` arguments. ``mode`` is ``-www`` (HTTP page describing the
    session: "New"/"Reused", "Extended master secret", client certificate), ``-rev`` (echo
    each line reversed) or None (print what the client sends). ``dcert``/``dkey``: a second
    (ECDSA) identity. ``verify=N`` asks for a client certificate (optional), with
    ``require_cert`` it must come (``-Verify``)."""
    argv = ["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-naccept", "1000000",
            "-cert", cert, "-key", key, "-cipher", (cipher or "ALL") + ":@SECLEVEL=0"]
    if mode:
        argv.append(mode)
    if version:
        if _OPENSSL_VERSIONS[version]:
            argv.append(_OPENSSL_VERSIONS[version])
    else:
        argv += ["-no_tls1_3"]
    if dcert:
        argv += ["-dcert", dcert, "-dkey", dkey]
    if verify is not None:
        argv += ["-Verify" if require_cert else "-verify", str(verify)]
    if cafile:
        argv += ["-CAfile", cafile]
    if not tickets:
        argv.append("-no_ticket")
    if alpn:
        argv += ["-alpn", alpn]
    if servername:
        argv += ["-servername", servername, "-cert2", cert2, "-key2", key2]
    return argv + list(extra)


@contextlib.contextmanager
def openssl_server(cert, key, *, port=None, conf_options=(), **kwargs):
    """A running ``openssl s_server`` (a ``Peer``; ``.port`` is where it listens). It serves
    connections one after the other until stopped. ``conf_options`` go to an OPENSSL_CONF
    ``Options`` line (``-ExtendedMasterSecret`` ...)."""
    port = port or free_port()
    with tempfile.TemporaryDirectory(prefix="s_server-") as tmp:
        env = {"OPENSSL_CONF": openssl_conf(tmp, conf_options)}
        with Peer(openssl_server_argv(port, cert, key, **kwargs), port=port, env=env) as peer:
            yield peer


# The Python ssl server, run as a script in its own process. For each connection: handshake,
# read one request (until a newline, EOF or the timeout), answer with one JSON line giving
# the server's view of the session, close_notify, close. The same line goes to stdout.
_PY_SERVER = r'''
import json, socket, ssl, sys
opts = json.loads(sys.argv[1])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.minimum_version = ssl.TLSVersion.TLSv1
ctx.maximum_version = getattr(ssl.TLSVersion, opts.get("max_version") or "TLSv1_2")
if opts.get("min_version"):
    ctx.minimum_version = getattr(ssl.TLSVersion, opts["min_version"])
ctx.set_ciphers(opts.get("ciphers") or "ALL:@SECLEVEL=0")
for cert, key in opts["identities"]:
    ctx.load_cert_chain(cert, key)
if opts.get("client_auth"):
    ctx.verify_mode = ssl.CERT_REQUIRED if opts["client_auth"] == "required" else ssl.CERT_OPTIONAL
    ctx.load_verify_locations(opts["cafile"])
if not opts.get("tickets", True):
    ctx.options |= ssl.OP_NO_TICKET
if opts.get("alpn"):
    ctx.set_alpn_protocols(opts["alpn"])
if opts.get("dhparams"):
    ctx.load_dh_params(opts["dhparams"])
seen = {}
def on_sni(sock, name, context):
    seen["sni"] = name
ctx.sni_callback = on_sni
lsock = socket.socket()
lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lsock.bind(("127.0.0.1", opts["port"]))
lsock.listen(16)
print("listening", flush=True)
while True:
    conn, _ = lsock.accept()
    conn.settimeout(opts.get("timeout", 5))
    seen.clear()
    try:
        tls = ctx.wrap_socket(conn, server_side=True)
        data = b""
        while not data.endswith(b"\n"):
            chunk = tls.recv(4096)
            if not chunk:
                break
            data += chunk
        cert = tls.getpeercert()
        view = {"version": tls.version(), "cipher": tls.cipher()[0],
                "session_reused": tls.session_reused, "alpn": tls.selected_alpn_protocol(),
                "sni": seen.get("sni"), "client_cert": bool(cert),
                "client_subject": dict(x[0] for x in cert["subject"]) if cert else None,
                "received": data.decode("utf-8", "replace")}
        line = json.dumps(view)
        print(line, flush=True)
        tls.sendall(line.encode() + b"\n")
        try:
            tls.unwrap()
        except (OSError, ssl.SSLError):
            pass
    except (OSError, ssl.SSLError) as exc:
        print(json.dumps({"error": str(exc)}), flush=True)
    finally:
        conn.close()
'''


@contextlib.contextmanager
def tlslite_server(cert, key, *, port=None):
    """tlslite-ng's echo server (``tls.py server --echo``); with kyber-py installed it
    prefers the hybrid ML-KEM groups. Skips the test when tls.py is missing."""
    import shutil
    import pytest
    tls_py = shutil.which("tls.py")
    if tls_py is None:
        pytest.skip("tlslite-ng's tls.py is needed")
    port = port or free_port()
    argv = [sys.executable, tls_py, "server", "-c", cert, "-k", key, "--echo",
            "127.0.0.1:%d" % port]
    with Peer(argv, port=port, env=dict(os.environ)) as peer:
        yield peer


@contextlib.contextmanager
def python_server(identities, *, port=None, max_version="TLSv1_2", ciphers=None,
                  client_auth=None, cafile=None, tickets=True, alpn=None, conf_options=()):
    """A Python ``ssl`` server in a subprocess; ``identities`` is a list of (cert, key).
    Its answer to each connection (and its stdout) is one JSON line: version, cipher,
    session_reused, alpn, sni, client_cert, received. ``conf_options``: as for
    ``openssl_server`` (an OPENSSL_CONF ``Options`` line; Python's ssl reads it too)."""
    port = port or free_port()
    with tempfile.TemporaryDirectory(prefix="py-server-") as tmp:
        # Python's ssl enables DHE suites only with explicit parameters: RFC 7919 ffdhe2048.
        dhparams = pathlib.Path(tmp) / "ffdhe2048.pem"
        subprocess.run(["openssl", "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt",
                        "group:ffdhe2048", "-out", str(dhparams)], check=True,
                       capture_output=True, timeout=30)
        opts = {"port": port, "identities": [list(i) for i in identities],
                "max_version": max_version, "ciphers": ciphers, "client_auth": client_auth,
                "cafile": cafile, "tickets": tickets, "alpn": alpn,
                "dhparams": str(dhparams)}
        env = {"OPENSSL_CONF": openssl_conf(tmp, conf_options)} if conf_options else None
        with Peer([sys.executable, "-c", _PY_SERVER, json.dumps(opts)], port=port,
                  env=env) as peer:
            yield peer


def server_views(peer):
    """The JSON lines a ``python_server`` printed, one per TLS connection (the probe that
    waited for the port, which sent nothing, is left out)."""
    out = []
    for line in peer.output().splitlines():
        if line.startswith("{"):
            view = json.loads(line)
            if "EOF occurred" not in view.get("error", ""):
                out.append(view)
    return out


# -- gnutls-serv: in a network namespace of its own, with the client ------------------------

GNUTLS_PORT = 4433      # any port will do: the namespace has nothing else


def gnutls_serv_argv(port, identities, *, priority=None, mode="http", client_cert=None,
                     cafile=None, tickets=True, alpn=None, extra=()):
    """``gnutls-serv`` arguments. ``mode``: "http" (an HTML page per request, then close) or
    "echo". ``client_cert``: None, "optional" (``--verify-client-cert``... not required) or
    "required" (``--require-client-cert``)."""
    argv = ["gnutls-serv", "--port", str(port)]
    for cert, key in identities:
        argv += ["--x509certfile", cert, "--x509keyfile", key]
    if priority:
        argv += ["--priority", priority]
    if mode == "echo":
        argv.append("--echo")
    if client_cert == "required":
        argv.append("--require-client-cert")
    elif client_cert == "optional":
        argv.append("--verify-client-cert")
    else:
        argv.append("--disable-client-cert")
    if cafile:
        argv += ["--x509cafile", cafile]
    if not tickets:
        argv.append("--noticket")
    if alpn:
        for proto in alpn:
            argv += ["--alpn", proto]
    return argv + list(extra)


def run_clients_with_gnutls(server_argv, jobs, *, port=GNUTLS_PORT, timeout=60.0):
    """Run ``gnutls-serv`` and then each client job in one ``unshare --net`` namespace (only
    ``lo``, brought up): gnutls-serv listens on every address, which must never reach a real
    network. A job is a dict of ``TLSClientAutomaton`` options (JSON values only) plus
    ``"resume": True`` to connect a second time with the session of the first.

    Returns ``(results, server_output)``: one ``client --json`` dict per connection (plus
    ``encrypt_then_mac``, ``certificates``, ``job``), in order."""
    with tempfile.TemporaryDirectory(prefix="gnutls-") as tmp:
        jobs_file = pathlib.Path(tmp) / "jobs.json"
        out_file = pathlib.Path(tmp) / "results.jsonl"
        srv_log = pathlib.Path(tmp) / "server.log"
        jobs_file.write_text(json.dumps({"port": port, "jobs": jobs}))
        script = textwrap.dedent("""\
            ip link set lo up || exit 3
            stdbuf -oL -eL "$@" > {log} 2>&1 &
            srv=$!
            # Wait for "listening ... done" rather than probe the port: a probe would be one
            # more connection in the server's log.
            for i in $(seq 200); do
                grep -q "listening on IPv4.*done" {log} && break
                kill -0 $srv 2>/dev/null || break
                sleep 0.05
            done
            {python} -m tests.peers.servers {jobs} {out}
            status=$?
            kill $srv 2>/dev/null
            wait $srv 2>/dev/null
            exit $status
            """).format(log=srv_log, python=sys.executable, jobs=jobs_file, out=out_file)
        peer = Peer(["unshare", "--net", "sh", "-c", script, "sh"] + list(server_argv),
                    cwd=str(ROOT))
        try:
            status = peer.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            status = None
        finally:
            driver_output = peer.stop()
        server_output = srv_log.read_text(errors="replace") if srv_log.exists() else ""
        results = []
        if out_file.exists():
            results = [json.loads(line) for line in out_file.read_text().splitlines() if line]
        if status != 0:
            raise RuntimeError("gnutls run failed (status %s)\n--- driver:\n%s\n--- server:\n%s"
                               % (status, driver_output, server_output))
        return results, server_output


def _drive(jobs_path, out_path):
    """Inside the namespace: run the jobs, write one JSON line per connection."""
    from scapy_tls_hs.automata.client import TLSClientAutomaton
    spec = json.loads(pathlib.Path(jobs_path).read_text())
    with open(out_path, "w") as out:
        for i, job in enumerate(spec["jobs"]):
            job = dict(job)
            resume = job.pop("resume", False)
            if isinstance(job.get("data"), str):
                job["data"] = job["data"].encode()
            session = None
            for _ in range(2 if resume else 1):
                result = TLSClientAutomaton("127.0.0.1", spec["port"], session=session,
                                            **job).run()
                line = result.to_dict()
                line.update(job=i, encrypt_then_mac=result.encrypt_then_mac,
                            certificates=len(result.peer_certificates))
                out.write(json.dumps(line) + "\n")
                out.flush()
                session = result.session


def gnutls_connections(server_output):
    """``gnutls-serv``'s log cut into one text block per accepted connection, in order."""
    return server_output.split("* Accepted connection")[1:]


if __name__ == "__main__":
    _drive(sys.argv[1], sys.argv[2])
    os._exit(0)

