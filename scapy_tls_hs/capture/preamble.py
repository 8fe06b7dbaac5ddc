"""TLS that starts after a plaintext preamble on the same TCP connection.

STARTTLS (SMTP RFC 3207, IMAP/POP3 RFC 2595, FTP RFC 4217, XMPP RFC 6120, LDAP RFC 4511
section 4.14, PostgreSQL's SSLRequest), HTTP CONNECT (RFC 9110 section 9.3.6) and SOCKS 4 /
5 (RFC 1928) tunnels: each direction speaks something else first, then its first TLS
record. ``find(client, server)`` looks for the ClientHello record in the first bytes the
client sent and the server's first handshake or alert record after it, and names the
preamble; the dissector skips those bytes and shows them as one ladder line.
"""
import re

__all__ = ["find", "SEARCH"]

# How far into each direction the TLS start is looked for.
SEARCH = 16384

_CLIENT_HELLO = re.compile(rb"\x16\x03[\x00-\x04][\x00-\x40].\x01\x00", re.S)
_SERVER_START = re.compile(rb"\x16\x03[\x00-\x04][\x00-\x40].[\x02\x0b\x0c\x0e]\x00|"
                           rb"\x15\x03[\x00-\x04]\x00\x02[\x01\x02]", re.S)
_TEXT = re.compile(rb"[\t\r\n\x20-\x7e]*\Z")


def _kind(client, server):
    """The name of the preamble, or None when it is none we know (then not TLS)."""
    upper = client.upper()
    if client.startswith(b"\x00\x00\x00\x08\x04\xd2\x16\x2f"):
        return "PostgreSQL SSLRequest"
    if b"1.3.6.1.4.1.1466.20037" in client and client[:1] == b"\x30":
        return "LDAP StartTLS"
    if client[:1] == b"\x05" and server[:1] == b"\x05":
        return "SOCKS 5"
    if client[:1] == b"\x04" and server[:2] in (b"\x00\x5a", b"\x00Z"):
        return "SOCKS 4"
    if b"urn:ietf:params:xml:ns:xmpp-tls" in client:
        return "XMPP STARTTLS"
    if not (_TEXT.match(client) and _TEXT.match(server)):
        return None
    if upper.startswith(b"CONNECT "):
        return "HTTP CONNECT"
    if b"STARTTLS" in upper and (b"EHLO" in upper or b"HELO" in upper):
        return "SMTP STARTTLS"
    if b"STARTTLS" in upper:
        return "IMAP STARTTLS" if server.startswith(b"* ") else "STARTTLS"
    if re.search(rb"(?m)^STLS\r?$", upper):
        return "POP3 STLS"
    if re.search(rb"(?m)^AUTH (TLS|SSL)", upper):
        return "FTP AUTH TLS"
    return None


def find(client, server):
    """``(client offset, server offset, name)`` where TLS starts after a known preamble in
    the first bytes of each direction, or None."""
    m = _CLIENT_HELLO.search(client[:SEARCH])
    if m is None or m.start() == 0:
        return None
    c_off = m.start()
    m = _SERVER_START.search(server[:SEARCH])
    s_off = m.start() if m is not None else len(server[:SEARCH])
    name = _kind(client[:c_off], server[:s_off])
    if name is None:
        return None
    return c_off, s_off, name
