#!/usr/bin/env python3
"""Record the dissector test captures of this folder with real peers on 127.0.0.1.

OpenSSL ``s_server`` / ``s_client`` (driven through their stdin commands) and small Python
servers that speak a plaintext preamble before handing the socket to TLS, recorded by
``tcpdump -i lo --immediate-mode``; key logs from ``s_client -keylogfile``. Each run makes
new keys and randoms. Needs root (tcpdump) and ``openssl`` 3. The helpers (tcpdump, PKI,
peers) are the TLS 1.3 folder's.

    python tests/data/dissect/make_captures.py [NAME...]
"""
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tls13"))
from make_captures import (Tcpdump, finish, free_port, say,  # noqa: E402
                           wait_port_quiet)

PSK = "5ca1ab1e0123456789abcdef5ca1ab1e"


class Ports(Tcpdump):
    """tcpdump on several ports at once."""

    def __init__(self, path, ports):
        self.proc = subprocess.Popen(
            ["tcpdump", "-i", "lo", "--immediate-mode", "-U", "-s", "0", "-w", path,
             " or ".join("tcp port %d" % p for p in ports)],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
        if b"listening" not in self.proc.stderr.readline():
            raise RuntimeError("tcpdump did not start")


def s_server(port, *args):
    return subprocess.Popen(["openssl", "s_server", "-accept", str(port), "-no_ign_eof",
                             "-naccept", "1", *args],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def s_client(port, keylog, *args):
    return subprocess.Popen(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                             "-keylogfile", keylog, *args],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def renegotiation(name, cert, key, tmp):
    """TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256, data, then ``R`` on s_client's stdin (a
    client-initiated secure renegotiation, RFC 5746), data both ways under the new keys,
    then ``R`` on s_server's stdin (HelloRequest, the client renegotiates again). Full
    handshakes both times (``-no_resumption_on_reneg``)."""
    port = free_port()
    keylog = os.path.join(HERE, name + ".keylog")
    cap = Tcpdump(os.path.join(HERE, name + ".pcap"), port)
    srv = s_server(port, "-cert", cert, "-key", key, "-tls1_2", "-client_renegotiation",
                   "-no_resumption_on_reneg")
    wait_port_quiet(port)
    cli = s_client(port, keylog, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256")
    time.sleep(0.6)
    say(cli, "before renegotiation\n")
    say(cli, "R\n", 0.8)
    say(cli, "after the first renegotiation\n")
    say(srv, "server after it\n")
    say(srv, "R\n", 0.8)
    say(cli, "after the second\n")
    say(cli, "Q\n")
    finish(cli, srv)
    cap.stop()


PSK_SUITES = {"psk": "PSK-AES128-GCM-SHA256", "dhe_psk": "DHE-PSK-AES128-CBC-SHA256",
              "ecdhe_psk": "ECDHE-PSK-CHACHA20-POLY1305", "rsa_psk": "RSA-PSK-AES256-GCM-SHA384"}


def psk(name, cert, key, tmp):
    """One TLS 1.2 connection per PSK family (PSK_SUITES), the same key on both sides;
    RSA_PSK needs the server's certificate, the others run without one."""
    port = free_port()
    keylog = os.path.join(HERE, name + ".keylog")
    cap = Tcpdump(os.path.join(HERE, name + ".pcap"), port)
    for family, cipher in PSK_SUITES.items():
        auth = ["-cert", cert, "-key", key] if family == "rsa_psk" else ["-nocert"]
        srv = s_server(port, *auth, "-tls1_2", "-psk", PSK, "-psk_hint", "hint-" + family,
                       "-cipher", cipher)
        wait_port_quiet(port)
        cli = s_client(port, keylog, "-tls1_2", "-psk", PSK, "-psk_identity", family,
                       "-cipher", cipher)
        time.sleep(0.6)
        say(cli, "hello over %s\n" % family)
        say(srv, "answer over %s\n" % family)
        say(cli, "Q\n")
        finish(cli, srv)
    cap.stop()


# The plaintext each STARTTLS server speaks before TLS: (greeting, {client line: answer}),
# what OpenSSL's s_client -starttls expects (apps/s_client.c).
XMPP_NS = "urn:ietf:params:xml:ns:xmpp-tls"
STARTTLS = {
    "smtp": (b"220 server.test ESMTP\r\n",
             [(b"EHLO", b"250-server.test\r\n250 STARTTLS\r\n"),
              (b"STARTTLS", b"220 Ready to start TLS\r\n")]),
    "pop3": (b"+OK POP3 ready\r\n", [(b"STLS", b"+OK Begin TLS negotiation\r\n")]),
    "imap": (b"* OK IMAP4rev1 ready\r\n",
             [(b"CAPABILITY", b"* CAPABILITY IMAP4rev1 STARTTLS\r\n. OK done\r\n"),
              (b"STARTTLS", b". OK Begin TLS negotiation\r\n")]),
    "ftp": (b"220 FTP ready\r\n", [(b"AUTH TLS", b"234 AUTH TLS OK\r\n")]),
    "xmpp": (b"", [(b"<stream:stream",
                    ("<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                     "xmlns:stream='http://etherx.jabber.org/streams' id='1' "
                     "from='server.test' version='1.0'><stream:features><starttls "
                     "xmlns='%s'/></stream:features>" % XMPP_NS).encode()),
                   (b"<starttls", ("<proceed xmlns='%s'/>" % XMPP_NS).encode())]),
    # RFC 4511 section 4.14: ExtendedResponse, messageID 1, success, no DN, no message.
    "ldap": (b"", [(b"1.3.6.1.4.1.1466.20037",
                    bytes.fromhex("300c02010178070a010004000400"))]),
    # PostgreSQL SSLRequest (code 80877103): "S", go on with TLS.
    "postgres": (b"", [(bytes.fromhex("04d2162f"), b"S")]),
}


def tls_server(sock, cert, key):
    """Python's ssl on an accepted socket after its preamble: one line each way."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    tls = ctx.wrap_socket(sock, server_side=True)
    line = tls.recv(4096)
    tls.sendall(b"answer to " + line)
    try:
        tls.unwrap()
    except (OSError, ValueError):
        pass
    tls.close()


def preamble_server(port, cert, key, greeting, steps):
    """Accept one connection, speak ``greeting`` and ``steps`` in plaintext, then TLS."""
    import socket
    import threading

    def run():
        with socket.create_server(("127.0.0.1", port)) as lsock:
            lsock.settimeout(15)
            sock, _ = lsock.accept()
            sock.settimeout(10)
            if greeting:
                sock.sendall(greeting)
            for expect, answer in steps:
                got = b""
                while expect not in got:
                    more = sock.recv(4096)
                    if not more:
                        return
                    got += more
                sock.sendall(answer)
            tls_server(sock, cert, key)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def starttls(name, cert, key, tmp):
    """``openssl s_client -starttls PROTO`` against a Python server that speaks PROTO's
    plaintext opening and then TLS 1.2 (python ssl), one connection per protocol."""
    keylog = os.path.join(HERE, name + ".keylog")
    ports = {proto: free_port() for proto in STARTTLS}
    cap = Ports(os.path.join(HERE, name + ".pcap"), ports.values())
    for proto, (greeting, steps) in STARTTLS.items():
        thread = preamble_server(ports[proto], cert, key, greeting, steps)
        time.sleep(0.2)
        extra = ["-name", "server.test"] if proto in ("smtp", "xmpp") else []
        cli = s_client(ports[proto], keylog, "-starttls", proto, *extra)
        time.sleep(0.8)
        say(cli, "hello over %s\n" % proto)
        finish(cli)   # the server closes after its answer
        thread.join(10)
    cap.stop()


def proxy_server(port, cert, key, kind):
    """HTTP CONNECT, SOCKS 4 or SOCKS 5 (RFC 1928, no authentication): the proxy's
    answer, then the proxy itself is the TLS server (python ssl)."""
    import socket
    import threading

    def read(sock, n):
        out = b""
        while len(out) < n:
            more = sock.recv(n - len(out))
            if not more:
                raise OSError("closed")
            out += more
        return out

    def run():
        with socket.create_server(("127.0.0.1", port)) as lsock:
            lsock.settimeout(15)
            sock, _ = lsock.accept()
            sock.settimeout(10)
            if kind == "connect":
                got = b""
                while b"\r\n\r\n" not in got:
                    got += sock.recv(4096)
                sock.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            elif kind == "socks4":
                head = read(sock, 8)
                while not head.endswith(b"\0") or len(head) == 8:
                    head += read(sock, 1)
                sock.sendall(b"\x00\x5a" + bytes(6))
            else:
                n = read(sock, 2)[1]
                read(sock, n)
                sock.sendall(b"\x05\x00")
                req = read(sock, 4)
                read(sock, {1: 4, 4: 16}.get(req[3]) or read(sock, 1)[0])
                read(sock, 2)
                sock.sendall(b"\x05\x00\x00\x01" + bytes(6))
            tls_server(sock, cert, key)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


PROXIES = {"connect": "http://127.0.0.1:%d", "socks4": "socks4://127.0.0.1:%d",
           "socks5": "socks5h://127.0.0.1:%d"}


def proxies(name, cert, key, tmp):
    """curl through an HTTP CONNECT, a SOCKS 4 and a SOCKS 5 proxy (``-x``) to
    https://server.test/; SSLKEYLOGFILE is curl's key log."""
    keylog = os.path.join(HERE, name + ".keylog")
    ports = {kind: free_port() for kind in PROXIES}
    cap = Ports(os.path.join(HERE, name + ".pcap"), ports.values())
    env = dict(os.environ, SSLKEYLOGFILE=keylog)
    for kind, url in PROXIES.items():
        thread = proxy_server(ports[kind], cert, key, kind)
        time.sleep(0.2)
        subprocess.run(["curl", "-sk", "--max-time", "10", "--tlsv1.2", "--tls-max", "1.2",
                        "-x", url % ports[kind], "https://127.0.0.1:443/" if kind == "socks4"
                        else "https://server.test/"], env=env, capture_output=True)
        thread.join(10)
    cap.stop()


def ssl3(name, cert, key, tmp):
    """SSL 3.0 between tlslite-ng's client and server (Python: no other peer here still
    speaks it), RSA key exchange with AES128-SHA; one line each way. The server key is
    written beside the capture (``.server.key``): tlslite-ng writes no key log."""
    import shutil
    import socket
    import threading
    from tlslite import HandshakeSettings, TLSConnection, X509CertChain, parsePEMKey
    settings = HandshakeSettings()
    settings.minVersion = settings.maxVersion = (3, 0)
    settings.cipherNames = ["aes128"]
    settings.keyExchangeNames = ["rsa"]
    chain = X509CertChain()
    chain.parsePemList(open(cert).read())
    private = parsePEMKey(open(key).read(), private=True)
    shutil.copy(key, os.path.join(HERE, name + ".server.key"))
    port = free_port()
    cap = Tcpdump(os.path.join(HERE, name + ".pcap"), port)
    lsock = socket.create_server(("127.0.0.1", port))
    lsock.settimeout(15)

    def serve():
        sock, _ = lsock.accept()
        sock.settimeout(10)
        conn = TLSConnection(sock)
        conn.handshakeServer(certChain=chain, privateKey=private, settings=settings)
        line = conn.read()
        conn.write(b"answer to " + line)
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    conn = TLSConnection(socket.create_connection(("127.0.0.1", port), timeout=10))
    conn.handshakeClientCert(settings=settings)
    conn.write(b"hello over SSL 3.0\n")
    conn.read()
    conn.close()
    thread.join(10)
    lsock.close()
    cap.stop()


def sslv2_hello(name, cert, key, tmp):
    """An SSL 2.0-format ClientHello (RFC 5246 appendix E.2: version 3.3, AES128-SHA and
    AES256-SHA, a 32-byte challenge) sent from a Python socket to ``openssl s_server``,
    which answers with its TLS 1.2 flight; the client then closes."""
    import socket
    port = free_port()
    cap = Tcpdump(os.path.join(HERE, name + ".pcap"), port)
    # Without extensions the client offers no signature algorithms: SHA-1 defaults, which
    # OpenSSL 3 refuses above security level 0.
    srv = s_server(port, "-cert", cert, "-key", key, "-tls1_2", "-cipher", "ALL:@SECLEVEL=0")
    wait_port_quiet(port)
    body = (b"\x01\x03\x03\x00\x06\x00\x00\x00\x20" + b"\x00\x00\x2f\x00\x00\x35"
            + os.urandom(32))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(bytes((0x80, len(body))) + body)
        time.sleep(0.5)
        sock.recv(65536)
    finish(srv)
    cap.stop()


SCENARIOS = {"tls12_renegotiation_openssl": renegotiation, "tls12_psk_openssl": psk,
             "sslv2_hello_openssl": sslv2_hello,
             "ssl3_rsa_aes128sha_tlslite": ssl3,
             "starttls_openssl": starttls, "proxies_curl": proxies}


if __name__ == "__main__":
    # The TLS 1.3 folder's driver (fresh key log, PKI, one scenario after the other), run
    # on this folder's scenarios.
    import make_captures as driver
    driver.HERE, driver.SCENARIOS = HERE, SCENARIOS
    driver.main(sys.argv[1:])
