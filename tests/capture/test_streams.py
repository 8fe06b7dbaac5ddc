"""TCP reassembly: real captures, and synthetic conversations built with Scapy."""
import json
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st
from scapy.layers.inet import IP, TCP, UDP, fragment
from scapy.layers.inet6 import IPv6, IPv6ExtHdrHopByHop
from scapy.layers.l2 import CookedLinux, Dot1Q, Ether, Loopback
from scapy.packet import Padding, Raw
from scapy.utils import wrpcap

from scapy_tls_hs.capture import streams
from scapy_tls_hs.capture.pcapfile import read_packets
from scapy_tls_hs.capture.streams import (TCPReassembler, decode_packet, looks_like_tls,
                                          reassemble)

# Fixed addresses: Scapy must not try to resolve them (ARP / neighbour discovery).
MAC = {"src": "02:00:00:00:00:01", "dst": "02:00:00:00:00:02"}
CAPTURES = Path(__file__).resolve().parent.parent / "data" / "captures"
CAPTURE_FILES = sorted(p for p in CAPTURES.iterdir() if p.suffix in (".pcap", ".pcapng"))

CLIENT_HELLO = bytes.fromhex("160301002f0100002b0303") + bytes(32) + b"\x00\x00\x02\x00\x2f\x01\x00"
SERVER_HELLO = bytes.fromhex("160303002a020000260303") + bytes(32) + b"\x00\x00\x2f\x00"


# -- real captures -------------------------------------------------------------------------

@pytest.mark.parametrize("path", CAPTURE_FILES, ids=lambda p: p.name)
def test_shared_capture_connections(path):
    truth = [json.loads(line) for line in open(path.with_suffix(".truth.jsonl"))]
    conns = reassemble(read_packets(path))
    assert [(c.client, c.server) for c in conns] == [(t["client"], t["server"]) for t in truth]
    for conn in conns:
        assert conn.errors == []
        assert conn.looks_like_tls()
        assert conn.stream("client")[:1] == b"\x16"   # handshake record: the ClientHello
        assert conn.stream("client")[5] == 1
        assert looks_like_tls(conn.stream("server")[:5])
        times = [c.time for c in conn.chunks]
        assert times == sorted(times) and times[0] >= conn.start_time


@pytest.mark.parametrize("path", CAPTURE_FILES[:3], ids=lambda p: p.name)
def test_streams_are_contiguous_records(path):
    """Walking record headers over each stream lands exactly on its end."""
    for conn in reassemble(read_packets(path)):
        for direction in ("client", "server"):
            data = conn.stream(direction)
            pos = 0
            while pos < len(data):
                assert looks_like_tls(data[pos:pos + 5])
                pos += 5 + int.from_bytes(data[pos + 3:pos + 5], "big")
            assert pos == len(data)
            offsets = [c.offset for c in conn.chunks if c[0] == direction]
            sizes = [len(c[1]) for c in conn.chunks if c[0] == direction]
            assert offsets == [sum(sizes[:i]) for i in range(len(sizes))]


# -- a conversation builder ----------------------------------------------------------------

class Conv:
    """Builds the packets of one TCP conversation with correct sequence numbers."""

    def __init__(self, client=("10.0.0.1", 40000), server=("10.0.0.2", 4433), isn=(1000, 5000),
                 v6=False):
        self.ends = {"client": client, "server": server}
        self.seq = {"client": isn[0], "server": isn[1]}
        self.v6 = v6
        self.t = 100.0
        self.packets = []   # (timestamp, scapy packet)

    def ip(self, sender):
        src, dst = self.ends[sender][0], self.ends[self.other(sender)][0]
        return IPv6(src=src, dst=dst) if self.v6 else IP(src=src, dst=dst)

    @staticmethod
    def other(sender):
        return "server" if sender == "client" else "client"

    def tcp(self, sender, flags, seq=None, payload=b"", ack=None):
        sport, dport = self.ends[sender][1], self.ends[self.other(sender)][1]
        if ack is None:
            ack = self.seq[self.other(sender)] % 2**32
        t = TCP(sport=sport, dport=dport, flags=flags,
                seq=(self.seq[sender] if seq is None else seq) % 2**32,
                ack=ack if "A" in flags else 0)
        pkt = self.ip(sender) / t
        if payload:
            pkt = pkt / Raw(payload)
        return pkt

    def add(self, pkt):
        self.t += 0.001
        self.packets.append((self.t, pkt))
        return pkt

    def handshake(self):
        self.add(self.tcp("client", "S"))
        self.seq["client"] += 1
        self.add(self.tcp("server", "SA"))
        self.seq["server"] += 1
        self.add(self.tcp("client", "A"))

    def send(self, sender, data, flags="PA"):
        """A segment with ``data`` at the sender's current sequence number."""
        pkt = self.tcp(sender, flags, payload=data)
        self.seq[sender] += len(data)
        return self.add(pkt)

    def segment(self, sender, data, offset, flags="PA", ack=None):
        """A segment at ``offset`` bytes after the sender's current sequence number (no advance)."""
        return self.add(self.tcp(sender, flags, seq=self.seq[sender] + offset, payload=data,
                                 ack=ack))

    def fin(self, sender):
        self.add(self.tcp(sender, "FA"))
        self.seq[sender] += 1

    def ether(self):
        return [(t, 1, bytes(Ether(**MAC) / p)) for t, p in self.packets]


def run(packets):
    r = TCPReassembler()
    for t, linktype, data in packets:
        r.add(t, linktype, data)
    return r.finish()


def simple_conversation(**kw):
    conv = Conv(**kw)
    conv.handshake()
    conv.send("client", CLIENT_HELLO)
    conv.send("server", SERVER_HELLO)
    conv.send("server", b"\x16\x03\x03\x00\x04\x0e\x00\x00\x00")
    conv.send("client", b"\x17\x03\x03\x00\x03abc")
    conv.fin("client")
    conv.fin("server")
    conv.add(conv.tcp("client", "A"))
    return conv


# -- basic reassembly ----------------------------------------------------------------------

def test_in_order_conversation():
    conv = simple_conversation()
    [conn] = run(conv.ether())
    assert conn.client == "10.0.0.1:40000" and conn.server == "10.0.0.2:4433"
    assert conn.start_time == pytest.approx(100.001)
    assert conn.errors == []
    assert [(d, bytes(x)) for d, x in conn.chunks] == [
        ("client", CLIENT_HELLO), ("server", SERVER_HELLO),
        ("server", b"\x16\x03\x03\x00\x04\x0e\x00\x00\x00"), ("client", b"\x17\x03\x03\x00\x03abc")]
    assert [c.gap for c in conn.chunks] == [0, 0, 0, 0]
    assert conn.chunks[3].offset == len(CLIENT_HELLO)
    assert conn.closed and not conn.reset
    assert conn.looks_like_tls()


def test_retransmission_delivered_once():
    conv = Conv()
    conv.handshake()
    conv.send("client", CLIENT_HELLO)
    conv.segment("client", CLIENT_HELLO, -len(CLIENT_HELLO))    # the same segment again
    conv.segment("client", CLIENT_HELLO[:10], -len(CLIENT_HELLO))
    conv.send("client", b"tail")
    [conn] = run(conv.ether())
    assert [bytes(c[1]) for c in conn.chunks] == [CLIENT_HELLO, b"tail"]
    assert conn.errors == []


def test_out_of_order_segments_merge_into_one_chunk():
    conv = Conv()
    conv.handshake()
    conv.segment("client", b"CCCC", 8)
    conv.segment("client", b"BBBB", 4)
    conv.segment("client", b"AAAA", 0)
    [conn] = run(conv.ether())
    assert conn.stream("client") == b"AAAABBBBCCCC"
    assert len(conn.chunks) == 1            # one segment made all 12 bytes contiguous
    assert conn.chunks[0].time == conv.packets[-1][0]
    assert conn.errors == []


def test_overlapping_segments_first_copy_wins():
    conv = Conv()
    conv.handshake()
    conv.segment("client", b"0123456789", 0)
    conv.segment("client", b"xxxxxABCDE", 5)      # 5..10 overlaps delivered bytes
    conv.segment("client", b"pqrs", 30)           # waits
    conv.segment("client", b"yyyyyyyyyy", 25)     # 25..30 new, 30..34 overlap "pqrs", 34 new
    conv.segment("client", b"zzzzz", 24)          # 24 new, 25..29 already waiting
    conv.segment("client", b"FGHIJKLMN", 15)      # fills 15..24: everything contiguous
    [conn] = run(conv.ether())
    assert conn.stream("client") == b"0123456789" + b"ABCDE" + b"FGHIJKLMN" + b"z" \
        + b"yyyyy" + b"pqrs" + b"y"
    assert [len(c[1]) for c in conn.chunks] == [10, 5, 20]
    assert conn.errors == []


def test_missing_segment_found_by_ack():
    conv = Conv()
    conv.handshake()
    conv.segment("client", b"A" * 100, 0)
    conv.segment("client", b"C" * 50, 300)          # 200 bytes at offset 100 never captured
    # The server acknowledges everything: the capture missed the segment, not the server.
    conv.add(conv.tcp("server", "A", ack=conv.seq["client"] + 350))
    conv.segment("server", b"reply", 0)
    [conn] = run(conv.ether())
    assert conn.errors == ["client->server: 200 bytes missing at stream offset 100"]
    chunks = [(c[0], bytes(c[1]), c.gap, c.offset) for c in conn.chunks]
    assert chunks == [("client", b"A" * 100, 0, 0), ("client", b"C" * 50, 200, 300),
                      ("server", b"reply", 0, 0)]


def test_missing_segment_without_ack_reported_at_end():
    conv = Conv()
    conv.handshake()
    conv.segment("client", b"A" * 10, 0)
    conv.segment("client", b"C" * 10, 1210)
    [conn] = run(conv.ether())
    assert conn.errors == ["client->server: 1200 bytes missing at stream offset 10"]
    assert conn.stream("client") == b"A" * 10 + b"C" * 10
    assert conn.chunks[-1].gap == 1200


def test_long_wait_behind_a_hole_gives_up_early(monkeypatch):
    """Without ACKs, a hole is given up once too many segments wait behind it."""
    monkeypatch.setattr(streams, "MAX_PENDING_SEGMENTS", 50)
    conv = Conv()
    conv.handshake()
    conv.segment("client", b"head", 0)
    frames = conv.ether()
    base = conv.seq["client"]
    n = 200
    for i in range(n):
        seg = conv.tcp("client", "PA", seq=base + 11 + 10 * i, payload=b"%010d" % i)
        frames.append((200.0 + i, 1, bytes(Ether(**MAC) / seg)))
    [conn] = run(frames)
    assert conn.errors == ["client->server: 7 bytes missing at stream offset 4"]
    assert conn.stream("client") == b"head" + b"".join(b"%010d" % i for i in range(n))
    after_gap = [c for c in conn.chunks if c.gap]
    assert len(after_gap) == 1 and after_gap[0].gap == 7 and after_gap[0].offset == 11
    assert after_gap[0].time == 200.0 + 50     # delivered when the 51st segment arrived


def test_missing_tail_acknowledged():
    conv = Conv()
    conv.handshake()
    conv.segment("server", b"S" * 10, 0)
    conv.add(conv.tcp("client", "A", ack=conv.seq["server"] + 50))
    [conn] = run(conv.ether())
    assert conn.errors == ["server->client: 40 bytes missing at stream offset 10"]


def test_ack_of_fin_is_not_a_missing_byte():
    conv = Conv()
    conv.handshake()
    conv.send("client", b"hello")
    conv.fin("client")
    conv.add(conv.tcp("server", "A"))
    [conn] = run(conv.ether())
    assert conn.errors == []


def test_sequence_wraparound():
    conv = Conv(isn=(2**32 - 7, 2**32 - 1))
    conv.handshake()
    conv.send("client", b"0123456789")     # crosses 2**32
    conv.send("client", b"abcdef")
    conv.segment("client", b"XYZ", 3)      # waits (out of order after the wrap)
    conv.send("client", b"uvw")
    conv.send("server", b"server-bytes")
    [conn] = run(conv.ether())
    assert conn.stream("client") == b"0123456789abcdefuvwXYZ"
    assert conn.stream("server") == b"server-bytes"
    assert conn.errors == []


# -- connections and roles -----------------------------------------------------------------

def test_no_syn_client_found_by_client_hello():
    # The server's port is higher than the client's: only the ClientHello tells the roles.
    conv = Conv(client=("10.0.0.9", 2000), server=("10.0.0.8", 50000))
    conv.send("client", CLIENT_HELLO)
    conv.send("server", SERVER_HELLO)
    [conn] = run(conv.ether())
    assert (conn.client, conn.server) == ("10.0.0.9:2000", "10.0.0.8:50000")
    assert not conn.syn_seen
    assert conn.stream("client") == CLIENT_HELLO and conn.stream("server") == SERVER_HELLO


@pytest.mark.parametrize("syn", [False, True])
def test_tls_found_after_the_first_segment_only_without_syn(syn):
    """Caught mid-way, a stream may start inside a record; with its SYN seen, a stream
    that does not start with a record header is not TLS."""
    conv = Conv()
    if syn:
        conv.handshake()
    conv.send("client", b"tail of an earlier record")
    conv.send("client", b"\x17\x03\x03\x00\x03abc")
    [conn] = run(conv.ether())
    assert conn.looks_like_tls() is not syn
    assert conn.looks_like_tls(ports=(4433,))


def test_no_syn_first_payload_server_hello():
    conv = Conv(client=("10.0.0.9", 2000), server=("10.0.0.8", 50000))
    conv.send("server", SERVER_HELLO)
    conv.send("client", b"\x16\x03\x03\x00\x01\x10")
    [conn] = run(conv.ether())
    assert (conn.client, conn.server) == ("10.0.0.9:2000", "10.0.0.8:50000")
    assert conn.chunks[0][0] == "server"


@pytest.mark.parametrize("first", ["client", "server"])
def test_no_syn_no_hello_lower_port_is_server(first):
    conv = Conv(client=("10.0.0.1", 40000), server=("10.0.0.2", 8443))
    conv.send(first, b"\x17\x03\x03\x00\x02hi")
    [conn] = run(conv.ether())
    assert (conn.client, conn.server) == ("10.0.0.1:40000", "10.0.0.2:8443")


def test_no_syn_well_known_port_is_server():
    conv = Conv(client=("10.0.0.1", 1500), server=("10.0.0.2", 443))
    conv.send("client", b"\x17\x03\x03\x00\x02hi")
    [conn] = run(conv.ether())
    assert conn.server == "10.0.0.2:443"


def test_only_syn_ack_seen():
    conv = Conv()
    conv.seq["client"] += 1
    conv.add(conv.tcp("server", "SA"))
    conv.seq["server"] += 1
    conv.send("client", b"data")
    [conn] = run(conv.ether())
    assert conn.client == "10.0.0.1:40000"
    assert conn.stream("client") == b"data"


def test_data_on_syn_fast_open():
    conv = Conv()
    conv.add(conv.tcp("client", "S", payload=CLIENT_HELLO))
    conv.seq["client"] += 1 + len(CLIENT_HELLO)
    conv.add(conv.tcp("server", "SA"))
    conv.seq["server"] += 1
    conv.send("client", b"more")
    [conn] = run(conv.ether())
    assert conn.stream("client") == CLIENT_HELLO + b"more"
    assert conn.errors == []


def test_pure_acks_only_roles_from_ports():
    conv = Conv(client=("10.0.0.1", 40000), server=("10.0.0.2", 993))
    conv.add(conv.tcp("server", "A"))
    [conn] = run(conv.ether())
    assert (conn.client, conn.server, conn.chunks) == ("10.0.0.1:40000", "10.0.0.2:993", [])
    assert not conn.looks_like_tls() and not conn.looks_like_tls(ports=(993,))


def test_rst_then_new_syn_is_a_new_connection():
    conv = Conv()
    conv.handshake()
    conv.send("client", b"first")
    conv.add(conv.tcp("server", "R"))
    conv.seq = {"client": 900000, "server": 7000}
    conv.handshake()
    conv.send("client", b"second")
    first, second = run(conv.ether())
    assert first.reset and first.stream("client") == b"first"
    assert second.stream("client") == b"second" and not second.reset
    assert second.start_time > first.start_time


def test_fin_then_new_syn_and_retransmitted_syn():
    conv = Conv()
    conv.add(conv.tcp("client", "S"))
    conv.add(conv.tcp("client", "S"))           # retransmitted SYN: same connection
    conv.seq["client"] += 1
    conv.add(conv.tcp("server", "SA"))
    conv.seq["server"] += 1
    conv.send("client", b"one")
    conv.fin("client")
    conv.fin("server")
    conv.seq["client"] += 12345
    conv.handshake()
    conv.send("client", b"two")
    conns = run(conv.ether())
    assert [c.stream("client") for c in conns] == [b"one", b"two"]


def test_connections_in_start_order_and_non_tcp_skipped():
    a = Conv(client=("10.0.0.1", 40001))
    b = Conv(client=("10.0.0.1", 40002))
    a.handshake()
    b.handshake()
    b.send("client", b"b-data")
    a.send("client", b"a-data")
    packets = sorted(a.ether() + b.ether())
    packets.insert(1, (100.0015, 1, bytes(Ether(**MAC) / IP() / UDP() / b"x")))
    packets.insert(2, (100.0016, 1, bytes(Ether(type=0x0806, **MAC) / (b"\x00" * 28))))
    r = TCPReassembler()
    for p in packets:
        r.add(*p)
    conns = r.finish()
    assert [c.client for c in conns] == ["10.0.0.1:40001", "10.0.0.1:40002"]
    assert r.tcp_packets == len(packets) - 2


def test_unknown_linktype_and_broken_frames_are_skipped():
    r = TCPReassembler()
    r.add(1.0, 147, b"whatever")
    for n in range(0, 54, 3):  # cut inside the Ethernet, IP or TCP header
        r.add(1.0, 1, bytes(Ether(**MAC) / IP() / TCP() / b"payload")[:n])
    r.add(1.0, 1, bytes(Ether(**MAC) / IP(ihl=2) / TCP()))
    assert r.finish() == []
    assert r.warnings == ["1 packets of unsupported link type 147 skipped"]


def test_looks_like_tls():
    assert looks_like_tls(CLIENT_HELLO)
    assert not looks_like_tls(b"GET / HTTP/1.1\r\n")
    assert not looks_like_tls(b"\x16\x03")
    conv = Conv()
    conv.handshake()
    conv.send("client", b"GET / HTTP/1.1\r\n\r\n")
    [conn] = run(conv.ether())
    assert not conn.looks_like_tls()
    assert conn.looks_like_tls(ports=(4433,))


# -- link and network layers ---------------------------------------------------------------

def _sll2(pkt):
    proto = 0x86DD if pkt.version == 6 else 0x0800
    return struct.pack("!HHIHBB8s", proto, 0, 1, 772, 0, 6, bytes(8)) + bytes(pkt)


LINKS = {
    "ethernet": (1, lambda p: bytes(Ether(**MAC) / p)),
    "vlan": (1, lambda p: bytes(Ether(**MAC) / Dot1Q(vlan=5) / Dot1Q(vlan=7) / p)),
    "sll": (113, lambda p: bytes(CookedLinux(proto=0x86DD if p.version == 6 else 0x0800) / p)),
    "sll2": (276, _sll2),
    "raw101": (101, bytes),
    "raw12": (12, bytes),
    "raw14": (14, bytes),
    "null": (0, lambda p: bytes(Loopback(type=24 if p.version == 6 else 2) / p)),
    "loop": (108, lambda p: struct.pack("!I", 2) + bytes(p)),
}


@pytest.mark.parametrize("v6", [False, True], ids=["ipv4", "ipv6"])
@pytest.mark.parametrize("link", sorted(LINKS))
def test_link_types(link, v6):
    if v6:
        conv = simple_conversation(client=("fe80::1", 40000), server=("2001:db8::2", 4433),
                                   v6=True)
    else:
        conv = simple_conversation()
    linktype, frame = LINKS[link]
    [conn] = run([(t, linktype, frame(p)) for t, p in conv.packets])
    if v6:
        assert (conn.client, conn.server) == ("[fe80::1]:40000", "[2001:db8::2]:4433")
    else:
        assert (conn.client, conn.server) == ("10.0.0.1:40000", "10.0.0.2:4433")
    assert conn.stream("client") == CLIENT_HELLO + b"\x17\x03\x03\x00\x03abc"


@pytest.mark.parametrize("link", ["sll", "raw101", "loop", "null"])
def test_link_types_through_files(tmp_path, link):
    conv = simple_conversation()
    linktype, frame = LINKS[link]
    pcap = tmp_path / "x.pcap"
    # Scapy's writer takes link type 0 for "unset": write 108, then put the real one in.
    wrpcap(str(pcap), [Raw(frame(p)) for _, p in conv.packets], linktype=linktype or 108)
    data = bytearray(pcap.read_bytes())
    struct.pack_into("<I", data, 20, linktype)
    pcap.write_bytes(bytes(data))
    assert {lt for _, lt, _ in read_packets(pcap)} == {linktype}
    [conn] = reassemble(read_packets(pcap))
    assert conn.stream("server") == SERVER_HELLO + b"\x16\x03\x03\x00\x04\x0e\x00\x00\x00"


def test_ipv6_extension_headers():
    conv = Conv(client=("::1", 40000), server=("::1", 443), v6=True)
    conv.handshake()
    conv.send("client", CLIENT_HELLO)
    frames = []
    for t, p in conv.packets:
        ip = p[IPv6]
        tcp = ip.payload
        ip.remove_payload()
        frames.append((t, 1, bytes(Ether(**MAC) / (ip / IPv6ExtHdrHopByHop() / tcp))))
    [conn] = run(frames)
    assert (conn.client, conn.server) == ("[::1]:40000", "[::1]:443")
    assert conn.stream("client") == CLIENT_HELLO


def test_ipv4_fragments_reassembled_and_padding_trimmed():
    conv = Conv()
    conv.handshake()
    big = conv.send("client", bytes(range(256)) * 8)
    conv.send("client", b"xy")
    frames = []
    for t, p in conv.packets:
        if p is big:
            frags = fragment(p, fragsize=400)
            frags.insert(0, frags.pop())        # last fragment first: order must not matter
            frames += [(t, 1, bytes(Ether(**MAC) / f)) for f in frags]
        else:
            frames.append((t, 1, bytes(Ether(**MAC) / p / Padding(b"\x00" * 6))))
    [conn] = run(frames)
    assert conn.stream("client") == bytes(range(256)) * 8 + b"xy"


def test_decode_packet_fields():
    pkt = Ether(**MAC) / IP(src="1.2.3.4", dst="5.6.7.8", options=b"\x01\x01\x01\x01") / \
        TCP(sport=1, dport=2, seq=3, ack=4, flags="PA", options=[("NOP", None)] * 4) / b"data"
    src, dst, sport, dport, seq, ack, flags, payload = decode_packet(1, bytes(pkt))
    assert (src, dst) == (bytes([1, 2, 3, 4]), bytes([5, 6, 7, 8]))
    assert (sport, dport, seq, ack, flags, payload) == (1, 2, 3, 4, 0x18, b"data")


def test_truncated_file_keeps_connections(tmp_path):
    conv = simple_conversation()
    data_path = tmp_path / "full.pcap"
    wrpcap(str(data_path), [Ether(**MAC) / p for _, p in conv.packets])
    raw = data_path.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(raw[:-20])
    reader = read_packets(cut)
    [conn] = reassemble(reader)
    assert reader.truncated
    assert conn.stream("client") == CLIENT_HELLO + b"\x17\x03\x03\x00\x03abc"


# -- robustness ------------------------------------------------------------------------------

REAL_FRAMES = [d for _, _, d in read_packets(CAPTURES / "resume_session_id_openssl.pcap")]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(REAL_FRAMES) - 1), st.integers(0, 200),
                          st.integers(0, 255), st.integers(0, 1600)), max_size=40),
       st.sampled_from([0, 1, 12, 101, 108, 113, 276]))
def test_damaged_frames_never_raise(edits, linktype):
    """Real frames with a byte changed and cut short, in any order, on any link type."""
    r = TCPReassembler()
    for i, (frame, pos, value, cut) in enumerate(edits):
        data = bytearray(REAL_FRAMES[frame])
        if pos < len(data):
            data[pos] = value
        r.add(float(i), linktype if i % 2 else 1, bytes(data[:cut]))
    for conn in r.finish():
        assert all(isinstance(c[1], bytes) for c in conn.chunks)
        conn.client, conn.server, conn.looks_like_tls()
