"""Test helper: the records and handshake messages of a capture, for the crypto tests alone.

TCP streams come from ``capture.pcapfile`` / ``capture.streams`` (tested on their own); the
record and handshake walking below is written with ``struct`` here on purpose, so these tests
check the crypto against the captures without going through the observer or the codec.
"""
import struct
from dataclasses import dataclass, field

from scapy_tls_hs.capture.pcapfile import read_packets
from scapy_tls_hs.capture.streams import TCPReassembler

CCS, ALERT, HANDSHAKE, APPLICATION_DATA = 20, 21, 22, 23
EXT_ENCRYPT_THEN_MAC, EXT_EMS, EXT_SUPPORTED_VERSIONS = 22, 23, 43


def streams(path):
    """[{"client": bytes, "server": bytes}] per TCP connection, in start order."""
    reasm = TCPReassembler()
    for ts, linktype, data in read_packets(path):
        reasm.add(ts, linktype, data)
    out = []
    for conn in reasm.finish():
        parts = {"client": [], "server": []}
        for chunk in conn.chunks:
            parts[chunk.direction].append(chunk.data)
        if parts["client"] or parts["server"]:
            out.append({d: b"".join(p) for d, p in parts.items()})
    return out


def records(data):
    """[(content_type, version, fragment)] of one direction's byte stream."""
    out, pos = [], 0
    while pos + 5 <= len(data):
        ct, version, length = struct.unpack_from("!BHH", data, pos)
        out.append((ct, version, data[pos + 5:pos + 5 + length]))
        pos += 5 + length
    assert pos == len(data), "stream does not end on a record boundary"
    return out


def messages(data):
    """[(msg_type, body, raw)] of concatenated handshake fragments."""
    out, pos = [], 0
    while pos + 4 <= len(data):
        msg_type = data[pos]
        length = int.from_bytes(data[pos + 1:pos + 4], "big")
        raw = data[pos:pos + 4 + length]
        out.append((msg_type, raw[4:], raw))
        pos += 4 + length
    assert pos == len(data), "handshake stream does not end on a message boundary"
    return out


def _extensions(body, pos):
    types = {}
    if pos + 2 > len(body):
        return types
    end = pos + 2 + struct.unpack_from("!H", body, pos)[0]
    pos += 2
    while pos < end:
        ext_type, length = struct.unpack_from("!HH", body, pos)
        types[ext_type] = body[pos + 4:pos + 4 + length]
        pos += 4 + length
    return types


def parse_client_hello(body):
    version = struct.unpack_from("!H", body)[0]
    random_ = body[2:34]
    pos = 35 + body[34]
    pos += 2 + struct.unpack_from("!H", body, pos)[0]
    pos += 1 + body[pos]
    return version, random_, _extensions(body, pos)


def parse_server_hello(body):
    version = struct.unpack_from("!H", body)[0]
    random_ = body[2:34]
    pos = 35 + body[34]
    suite = struct.unpack_from("!H", body, pos)[0]
    exts = _extensions(body, pos + 3)
    if EXT_SUPPORTED_VERSIONS in exts:
        version = struct.unpack("!H", exts[EXT_SUPPORTED_VERSIONS])[0]
    return version, random_, suite, exts


@dataclass
class Side:
    """One direction: plaintext handshake messages before its ChangeCipherSpec and the
    records after it (TLS <= 1.2), or every record after the ServerHello (TLS 1.3)."""
    plain: list = field(default_factory=list)
    protected: list = field(default_factory=list)


@dataclass
class Handshake:
    client_hello: tuple
    server_hello: tuple
    client: Side
    server: Side

    @property
    def client_random(self):
        return self.client_hello[1]

    @property
    def server_random(self):
        return self.server_hello[1]

    @property
    def version(self):
        return self.server_hello[0]

    @property
    def suite_id(self):
        return self.server_hello[2]

    def both_have(self, ext):
        return ext in self.client_hello[2] and ext in self.server_hello[3]


def _split(data, tls13):
    side = Side()
    hs = []
    switched = False
    for ct, version, fragment in records(data):
        if tls13:
            if ct == APPLICATION_DATA:
                side.protected.append((ct, version, fragment))
            elif ct == HANDSHAKE:
                hs.append(fragment)
            continue                     # middlebox CCS, plaintext alerts
        if switched:
            side.protected.append((ct, version, fragment))
        elif ct == CCS:
            switched = True
        elif ct == HANDSHAKE:
            hs.append(fragment)
    side.plain = messages(b"".join(hs))
    return side


def handshakes(path):
    """Every connection of the capture that got as far as a ServerHello."""
    out = []
    for conn in streams(path):
        if not conn["client"] or not conn["server"]:
            continue
        first = records(conn["server"])
        plain = b"".join(f for ct, _, f in first if ct == HANDSHAKE)
        if not plain or plain[0] != 2:
            continue
        server_hello = parse_server_hello(messages_prefix(plain)[1])
        tls13 = server_hello[0] == 0x0304
        client, server = _split(conn["client"], tls13), _split(conn["server"], tls13)
        client_hello = parse_client_hello(client.plain[0][1])
        out.append(Handshake(client_hello, server_hello, client, server))
    return out


def messages_prefix(data):
    """The first handshake message of ``data`` (type, body, raw) without parsing the rest."""
    length = int.from_bytes(data[1:4], "big")
    return data[0], data[4:4 + length], data[:4 + length]


def transcripts12(hs):
    """The plaintext pieces of a TLS <= 1.2 transcript, as lists of raw messages:
    ``(resumed, client_hello, server_first_flight, client_rest, new_session_tickets,
    through_client_key_exchange)``. The Finished messages are encrypted: the caller adds
    them once decrypted. ``through_client_key_exchange`` (the RFC 7627 session hash input)
    is None for an abbreviated handshake."""
    client_msgs = hs.client.plain
    server_msgs = hs.server.plain
    resumed = not any(t == 14 for t, _, _ in server_msgs)
    nst = [raw for t, _, raw in server_msgs if t == 4]
    if resumed:
        server_first = [server_msgs[0][2]]
    else:
        end = next(i for i, (t, _, _) in enumerate(server_msgs) if t == 14)
        server_first = [raw for _, _, raw in server_msgs[:end + 1]]
    client_first = [client_msgs[0][2]]
    client_rest = [raw for _, _, raw in client_msgs[1:]]
    cke = [i for i, (t, _, _) in enumerate(client_msgs) if t == 16]
    through_cke = (client_first + server_first + [raw for _, _, raw in
                                                  client_msgs[1:cke[0] + 1]]) if cke else None
    return resumed, client_first, server_first, client_rest, nst, through_cke


def client_key_exchange(hs):
    for t, body, _ in hs.client.plain:
        if t == 16:
            return body
    return None
