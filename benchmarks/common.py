"""What the benchmark scripts share: a free loopback port, a throw-away RSA 2048 identity,
the Python ``ssl`` client context they all measure against (TLS 1.2, one suite, or TLS 1.3;
no verification: the handshake's cost, not the chain check's), the OpenSSL configuration
that pins TLS 1.3's suite and group (Python ``ssl`` has no API for either), and the choice
of the source tree measured (``--tree``: this checkout, or another one such as a
``git worktree`` of the last commit, to compare before and after a change)."""
import datetime
import os
import socket
import ssl
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# TLS 1.3 is measured with one suite and one group on every side.
TLS13_SUITE = "TLS_AES_128_GCM_SHA256"
TLS13_GROUP = "x25519"
_TLS13_CONF = """openssl_conf = openssl_init

[openssl_init]
ssl_conf = ssl_sect

[ssl_sect]
system_default = system_default_sect

[system_default_sect]
Ciphersuites = %s
Groups = X25519
""" % TLS13_SUITE


def use_tree(tree=None):
    """Make ``scapy_tls_hs`` import from ``tree`` (default: the checkout holding this
    script), here and in child processes, and check that it really does. Children that run
    ``python -m scapy_tls_hs`` must also get ``cwd=tree`` (``-m`` puts the working directory
    first on the path): see ``tree_env``. Returns the tree's absolute path."""
    tree = os.path.abspath(tree or ROOT)
    sys.path.insert(0, tree)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [tree] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    import scapy_tls_hs
    where = os.path.abspath(scapy_tls_hs.__file__)
    if not where.startswith(os.path.join(tree, "")):
        raise SystemExit("scapy_tls_hs imports from %s, not from --tree %s" % (where, tree))
    print("scapy_tls_hs from %s" % os.path.dirname(where), flush=True)
    return tree


def tree_env(tree):
    """(env, cwd) for a child process that must import ``scapy_tls_hs`` from ``tree``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [tree] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != tree])
    return env, tree


def pin_tls13(directory):
    """Point OpenSSL (Python ``ssl``, ``openssl s_server``) at a configuration offering and
    accepting only TLS13_SUITE and X25519. OpenSSL reads it once, when it starts: the caller
    re-executes itself when this returns True (the variable was not set yet)."""
    path = os.path.join(directory, "tls13-pin.cnf")
    os.makedirs(directory, exist_ok=True)
    with open(path, "w") as f:
        f.write(_TLS13_CONF)
    if os.environ.get("OPENSSL_CONF") == path:
        return False
    os.environ["OPENSSL_CONF"] = path
    return True


def reexec_pinned(directory):
    """Re-run this script with OPENSSL_CONF pinning TLS 1.3 (see ``pin_tls13``)."""
    if pin_tls13(directory):
        sys.stdout.flush()
        os.execv(sys.executable, [sys.executable] + sys.argv)


def installed_command(name="scapy-tls-hs"):
    """The console script installed with this interpreter, else the one on ``PATH``. A
    version manager's shim on ``PATH`` (pyenv's is a shell script that execs the real one)
    would add its own start-up, ~50 ms here, to every whole-process run we time."""
    import shutil
    beside = os.path.join(os.path.dirname(sys.executable), name)
    if os.access(beside, os.X_OK):
        return beside
    return shutil.which(name)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_identity(directory, name="localhost"):
    """(cert.pem, key.pem) in ``directory``: a self-signed RSA 2048 certificate for ``name``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return cert_path, key_path


def client_context(suite, keylog=None, tls="1.2"):
    """A Python ``ssl`` TLS 1.2 client offering ``suite`` (OpenSSL name) only, or with
    ``tls="1.3"`` a TLS 1.3-only client (its suites and groups: see ``pin_tls13``)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if tls == "1.3":
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    else:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers(suite)
    if keylog:
        ctx.keylog_filename = keylog
    return ctx
