"""Wire a ClientConnection to a ServerConnection in memory (no sockets).

``pump`` moves bytes both ways until both sides are quiet. Errors do not stop it: the side
that failed has queued its alert, which is delivered to the other side, so a test can check
both the alert sent and the alert received. ``tamper_c2s`` / ``tamper_s2c`` see (and may
change) every chunk of bytes in flight.
"""
import struct

import pytest

from scapy_tls_hs.connection import ClientConnection, ServerConfig, ServerConnection, states
from scapy_tls_hs.errors import AlertError, TLSError


class Link:
    def __init__(self, client, server):
        self.client = client
        self.server = server
        self.errors = {"client": None, "server": None}
        self.events = {"client": [], "server": []}
        self.received = {"client": b"", "server": b""}

    def pump(self, tamper_c2s=None, tamper_s2c=None, rounds=30):
        for _ in range(rounds):
            moved = False
            for src, dst, name, tamper in ((self.client, self.server, "server", tamper_c2s),
                                           (self.server, self.client, "client", tamper_s2c)):
                data = src.data_to_send()
                if not data:
                    continue
                moved = True
                if tamper is not None:
                    data = tamper(data)
                if self.errors[name] is not None and not self.errors[name].received:
                    continue        # it failed and closed; it reads nothing more
                try:
                    evs = dst.receive_data(data)
                except AlertError as exc:
                    self.errors[name] = exc
                    evs = getattr(exc, "events", [])
                self.events[name].extend(evs)
                for ev in evs:
                    if type(ev).__name__ == "ApplicationData":
                        self.received[name] += ev.data
            if not moved:
                return self
        raise AssertionError("pump did not settle")


def connect(client, server, **kw):
    link = Link(client, server)
    client.start()
    return link.pump(**kw)


def split_records(data):
    """[(content_type, version, fragment)] of a byte string made of whole records."""
    out = []
    pos = 0
    while pos < len(data):
        ct, ver, length = struct.unpack_from("!BHH", data, pos)
        out.append([ct, ver, data[pos + 5:pos + 5 + length]])
        pos += 5 + length
    return out


def join_records(records):
    return b"".join(struct.pack("!BHH", ct, ver, len(frag)) + bytes(frag)
                    for ct, ver, frag in records)


def flip_in_record(data, index, offset=-1):
    """Flip one bit of byte ``offset`` of record ``index`` (a negative index counts from the
    end)."""
    recs = split_records(data)
    frag = bytearray(recs[index][2])
    frag[offset] ^= 0x01
    recs[index][2] = bytes(frag)
    return join_records(recs)


# Shared by the in-memory test modules (fixtures are imported there by name).


@pytest.fixture(scope="module")
def servers(pki):
    """TLS 1.0-1.2 server configs shared by the module (keys loaded once)."""
    return {"RSA": ServerConfig12(pki.rsa_chain, pki.rsa_key),
            "ECDSA": ServerConfig12(pki.ecdsa_cert, pki.ecdsa_key),
            "DSA": ServerConfig12(pki.dsa_cert, pki.dsa_key)}


TLS12_AND_BELOW = ("1.0", "1.1", "1.2")


def ServerConfig12(*args, **kw):
    """A server that stops at TLS 1.2: the TLS 1.2 handshake tests talk to it (our client
    offers TLS 1.3 too, and sees the server pick 1.2)."""
    kw.setdefault("versions", TLS12_AND_BELOW)
    return ServerConfig(*args, **kw)


def run(client_cfg, server_cfg, **kw):
    client = ClientConnection(client_cfg)
    server = ServerConnection(server_cfg)
    return client, server, connect(client, server, **kw)


def assert_ok(link):
    assert link.errors == {"client": None, "server": None}
    assert link.client.handshake_complete and link.server.handshake_complete
    assert link.client.state == link.server.state == states.CONNECTED


def exchange_and_close(link):
    c, s = link.client, link.server
    big = bytes(range(256)) * 100           # more than one record
    c.send_application_data(big)
    link.pump()
    s.send_application_data(b"pong")
    link.pump()
    assert link.received["server"] == big
    assert link.received["client"] == b"pong"
    c.close()
    link.pump()
    assert c.peer_closed and s.peer_closed
    assert c.state == s.state == states.CLOSED
    assert c.messages[-2:] == ["C:alert:close_notify", "S:alert:close_notify"]
    assert c.messages == s.messages


@pytest.fixture(scope="module")
def auth_servers(pki):
    return {mode: ServerConfig12(pki.rsa_cert, pki.rsa_key, client_auth=mode, cafile=pki.ca_cert)
            for mode in ("optional", "required")}


def expect_alert(link, side, description):
    other = "client" if side == "server" else "server"
    assert link.errors[side] is not None, "no error on the %s" % side
    assert link.errors[side].description == description
    assert not link.errors[side].received
    assert link.errors[other] is not None and link.errors[other].received
    assert link.errors[other].description == description


def client_side_alert(client, data):
    try:
        client.receive_data(data)
    except TLSError as exc:
        return exc
    raise AssertionError("no alert")


def client_hello_tamper(change):
    """A ``ClientConnection.tamper`` that lets ``change(hello)`` edit the ClientHello (a
    ``codec.messages.ClientHello``) before it is hashed and sent."""
    from scapy_tls_hs.codec.messages import ClientHello

    def tamper(msg_type, body):
        if msg_type != 1:
            return None
        hello = ClientHello.parse(body)
        change(hello)
        return hello.encode()
    return tamper


def only_signature_algorithms_cert(hello):
    """Move the hello's signature_algorithms list into a signature_algorithms_cert."""
    from scapy_tls_hs.codec.messages import Extension
    schemes = next(e for e in hello.extensions if e.type == 13).data
    hello.extensions = [e for e in hello.extensions if e.type not in (13, 50)]
    hello.extensions.append(Extension(50, schemes))
