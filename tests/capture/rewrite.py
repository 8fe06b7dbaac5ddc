"""Rewrite real captures for tests: other file formats, link types, IP versions, segments.

Built with ``struct`` from the TCP segments of a real capture (``tcp_segments``), so the
TLS bytes stay the real ones while everything around them changes. TCP checksums are left
zero (the dissector does not check them; Wireshark would flag them).
"""
import json
import socket
import struct
from pathlib import Path

from scapy_tls_hs.capture.pcapfile import read_packets
from scapy_tls_hs.capture.streams import decode_packet
from tests.contract import DISSECT_FIELDS

ROOT = Path(__file__).resolve().parent.parent.parent
CAPTURES = ROOT / "tests" / "data" / "captures"
PCAPS = ROOT / "pcaps"
# What ``check_captures.py`` compares (every CONTRACT field but ``errors``).
FIELDS = DISSECT_FIELDS
V6_PREFIX = bytes.fromhex("20010db8000000000000ffff")  # 2001:db8::ffff:a.b.c.d

SYN, RST, FIN = 0x02, 0x04, 0x01


def names():
    return sorted(p.name[:-len(".truth.jsonl")] for p in CAPTURES.glob("*.truth.jsonl"))


def capture(name, folder=CAPTURES):
    for ext in (".pcap", ".pcapng"):
        if (folder / (name + ext)).exists():
            return folder / (name + ext)
    raise FileNotFoundError(name)


def optional(name, suffix, folder=CAPTURES):
    path = folder / (name + suffix)
    return str(path) if path.exists() else None


def truth(name):
    with open(CAPTURES / (name + ".truth.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def differences(want, got):
    """check_captures.py's comparison of one connection: a list of readable differences."""
    diffs = []
    for field in FIELDS:
        if field not in want or want[field] is None and field not in got:
            continue
        if want[field] != got.get(field, "<missing>"):
            diffs.append("%s: expected %r, got %r" % (field, want[field],
                                                      got.get(field, "<missing>")))
    return diffs


# -- reading ------------------------------------------------------------------------------

class Segment:
    """One TCP segment of a capture, editable."""

    __slots__ = ("time", "src", "dst", "sport", "dport", "seq", "ack", "flags", "payload")

    def __init__(self, time, src, dst, sport, dport, seq, ack, flags, payload):
        self.time, self.src, self.dst = time, src, dst
        self.sport, self.dport, self.seq, self.ack = sport, dport, seq, ack
        self.flags, self.payload = flags, payload

    def copy(self, **changes):
        out = Segment(*(getattr(self, k) for k in Segment.__slots__))
        for key, value in changes.items():
            setattr(out, key, value)
        return out


def tcp_segments(path):
    """Every TCP segment of a capture, in file order."""
    out = []
    for ts, linktype, data in read_packets(path):
        tcp = decode_packet(linktype, data)
        assert tcp is not None
        out.append(Segment(ts, *tcp))
    return out


# -- building frames ------------------------------------------------------------------------

def v6_address(addr):
    return V6_PREFIX + addr if len(addr) == 4 else addr


def v6_endpoint(endpoint):
    """``"127.0.0.1:4433"`` as it reads once ``v6_address`` has mapped it."""
    host, port = endpoint.rsplit(":", 1)
    addr = v6_address(socket.inet_aton(host))
    return "[%s]:%s" % (socket.inet_ntop(socket.AF_INET6, addr), port)


def tcp_bytes(seg):
    header = struct.pack("!HHIIBBHHH", seg.sport, seg.dport, seg.seq % 2**32, seg.ack % 2**32,
                         5 << 4, seg.flags, 65535, 0, 0)
    return header + seg.payload


def ip_packet(seg, v6=False):
    tcp = tcp_bytes(seg)
    if v6:
        return struct.pack("!IHBB", 6 << 28, len(tcp), 6, 64) + v6_address(seg.src) + \
            v6_address(seg.dst) + tcp
    return struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0) + \
        seg.src + seg.dst + tcp


LINKTYPES = {"ethernet": 1, "null": 0, "loop": 108, "raw": 101, "sll": 113, "sll2": 276}


def frame(packet, link, v6=False):
    """An IP packet behind the link-layer header of ``link`` (a LINKTYPES key)."""
    etype = 0x86DD if v6 else 0x0800
    if link == "ethernet":
        return bytes.fromhex("020000000002020000000001") + struct.pack("!H", etype) + packet
    if link == "null":  # host byte order; BSD's AF_INET6 value differs per OS (30 here)
        return struct.pack("<I", 30 if v6 else 2) + packet
    if link == "loop":
        return struct.pack("!I", 30 if v6 else 2) + packet
    if link == "raw":
        return packet
    if link == "sll":
        return struct.pack("!HHH8sH", 0, 772, 6, bytes(8), etype) + packet
    if link == "sll2":
        return struct.pack("!HHIHBB8s", etype, 0, 1, 772, 0, 6, bytes(8)) + packet
    raise ValueError(link)


# -- writing files --------------------------------------------------------------------------

def write_pcap(path, records, linktype, order="<", nano=False):
    """``records``: (time, frame bytes)."""
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    per_sec = 10**9 if nano else 10**6
    out = [struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 262144, linktype)]
    for t, data in records:
        units = round(t * per_sec)
        out.append(struct.pack(order + "IIII", units // per_sec, units % per_sec, len(data),
                               len(data)))
        out.append(data)
    Path(path).write_bytes(b"".join(out))


def _block(order, btype, body):
    body += b"\x00" * (-len(body) % 4)
    return struct.pack(order + "II", btype, len(body) + 12) + body + \
        struct.pack(order + "I", len(body) + 12)


def write_pcapng(path, records, linktype, order="<", tsresol=6):
    """One section, one interface with ``if_tsresol`` = ``tsresol`` (10**-tsresol s)."""
    per_sec = 10**tsresol
    out = [_block(order, 0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1))]
    opts = struct.pack(order + "HH", 9, 1) + bytes([tsresol]) + bytes(3) + bytes(4)
    out.append(_block(order, 1, struct.pack(order + "HHI", linktype, 0, 0) + opts))
    for t, data in records:
        units = round(t * per_sec)
        out.append(_block(order, 6, struct.pack(order + "IIIII", 0, units >> 32,
                                                units & 0xFFFFFFFF, len(data), len(data))
                          + data))
    Path(path).write_bytes(b"".join(out))


def write(path, segments, link="ethernet", v6=False, **options):
    """Segments to a pcap (``.pcap``) or pcapng (``.pcapng``) file."""
    records = [(s.time, frame(ip_packet(s, v6), link, v6)) for s in segments]
    writer = write_pcapng if str(path).endswith(".pcapng") else write_pcap
    writer(path, records, LINKTYPES[link], **options)
    return path


# -- reshaping TCP ------------------------------------------------------------------------

def resegment(segments, rng, max_piece=300):
    """The same byte streams as smaller segments, with what real captures show:
    retransmissions (a piece again, same bytes), out-of-order pieces (swapped within one
    original segment), overlapping segments (a piece that starts inside the one before it;
    two neighbouring pieces sent again as one), and late copies whose bytes differ (the
    first copy must win)."""
    out = []
    for seg in segments:
        if not seg.payload:
            out.append(seg)
            continue
        pieces, pos = [], 0
        while pos < len(seg.payload):
            n = rng.randint(1, max_piece)
            pieces.append(seg.copy(seq=seg.seq + pos, payload=seg.payload[pos:pos + n],
                                   flags=seg.flags & ~FIN if pos + n < len(seg.payload)
                                   else seg.flags))
            pos += n
        order = list(range(len(pieces)))
        for i in range(0, len(order) - 1, 2):
            if rng.random() < 0.5:
                order[i], order[i + 1] = order[i + 1], order[i]
        emitted = set()
        for k, i in enumerate(order):
            piece = pieces[i]
            if i and rng.random() < 0.3:
                # Sent again from a few bytes earlier: overlaps bytes already delivered (then
                # they differ here: the first copy wins) or still waiting.
                prefix = pieces[i - 1].payload[-rng.randint(1, len(pieces[i - 1].payload)):]
                if emitted >= set(range(i)):
                    prefix = bytes(b ^ 0xFF for b in prefix)
                piece = piece.copy(seq=piece.seq - len(prefix), payload=prefix + piece.payload)
            emitted.add(i)
            out.append(piece)
            if not emitted >= set(range(i)) and rng.random() < 0.5:
                # Waiting behind a hole, and another copy with other bytes comes along.
                out.append(pieces[i].copy(payload=bytes(b ^ 0x5A for b in pieces[i].payload)))
            if rng.random() < 0.3:
                out.append(pieces[i].copy())                      # retransmission
            if k and rng.random() < 0.3:
                a, b = sorted((order[k - 1], i))
                if b == a + 1:                                    # overlap of two pieces
                    out.append(pieces[a].copy(payload=pieces[a].payload + pieces[b].payload,
                                              flags=pieces[b].flags))
        if rng.random() < 0.3:
            out.append(seg.copy(payload=bytes(len(seg.payload)), flags=seg.flags & ~FIN))
    return out


def merge_handshake_records(segments):
    """Each run of plaintext handshake records inside one segment becomes one record holding
    all their messages (as many stacks send a flight); sequence and acknowledgment numbers
    are shifted by the header bytes saved. For captures whose segments hold whole records."""
    removed = {}    # (src, sport) -> [(original seq after the segment, bytes saved so far)]
    encrypted = {}  # (src, sport) -> True once it sent ChangeCipherSpec

    def shift(end, saved_list):
        saved = 0
        for seq_end, total in saved_list:
            if (end - seq_end) % 2**32 < 2**31:
                saved = total
        return saved

    out = []
    for seg in segments:
        side = (seg.src, seg.sport)
        saved_list = removed.setdefault(side, [])
        before = shift(seg.seq, saved_list)
        payload = seg.payload
        if payload:
            records, pos = [], 0
            while pos < len(payload):
                n = int.from_bytes(payload[pos + 3:pos + 5], "big")
                assert pos + 5 + n <= len(payload), "a record split across segments"
                records.append(payload[pos:pos + 5 + n])
                pos += 5 + n
            merged = []
            for rec in records:
                if merged and rec[0] == 22 and merged[-1][0] == 22 and \
                        merged[-1][1:3] == rec[1:3] and len(merged[-1]) + len(rec) < 16000 \
                        and not encrypted.get(side):
                    body = merged[-1][5:] + rec[5:]
                    merged[-1] = merged[-1][:3] + len(body).to_bytes(2, "big") + body
                else:
                    merged.append(rec)
                if rec[0] == 20:
                    encrypted[side] = True
            payload = b"".join(merged)
            saved_list.append(((seg.seq + len(seg.payload)) % 2**32,
                               before + len(seg.payload) - len(payload)))
        peer = removed.get((seg.dst, seg.dport), [])
        out.append(seg.copy(seq=seg.seq - before, payload=payload,
                            ack=seg.ack - shift(seg.ack, peer)))
    return out
