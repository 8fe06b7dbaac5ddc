"""Minimal pcap/pcapng reader and TCP stream reassembly for the codec tests.

The test corpus is clean (no loss, Ethernet, one capture point), so this only needs: both
pcap byte orders, pcapng EPB/SPB, Ethernet + IPv4/IPv6 + TCP, and per-direction byte streams
ordered by sequence number with retransmissions dropped. The real reader lives in
``scapy_tls_hs.capture``; this copy keeps the codec tests independent of it.
"""

import struct

from scapy_tls_hs.codec.records import RecordReader
from scapy_tls_hs.codec.messages import ServerHello
from scapy_tls_hs import registry


def read_frames(path):
    """``(linktype, frame)`` for every packet of a pcap or pcapng file."""
    data = open(path, "rb").read()
    magic = data[:4]
    if magic == b"\x0a\x0d\x0d\x0a":
        yield from _pcapng(data)
        return
    order = {b"\xd4\xc3\xb2\xa1": "<", b"\x4d\x3c\xb2\xa1": "<",
             b"\xa1\xb2\xc3\xd4": ">", b"\xa1\xb2\x3c\x4d": ">"}[magic]
    linktype = struct.unpack_from(order + "I", data, 20)[0]
    pos = 24
    while pos + 16 <= len(data):
        incl = struct.unpack_from(order + "I", data, pos + 8)[0]
        yield linktype, data[pos + 16:pos + 16 + incl]
        pos += 16 + incl


def _pcapng(data):
    pos = 0
    order = "<"
    linktypes = []
    while pos + 12 <= len(data):
        if data[pos:pos + 4] == b"\x0a\x0d\x0d\x0a":
            order = "<" if data[pos + 8:pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            linktypes = []
        btype, blen = struct.unpack_from(order + "II", data, pos)
        if btype == 1:
            linktypes.append(struct.unpack_from(order + "H", data, pos + 8)[0])
        elif btype == 6:
            iface, _, _, incl = struct.unpack_from(order + "IIII", data, pos + 8)
            yield linktypes[iface], data[pos + 28:pos + 28 + incl]
        elif btype == 3:
            yield linktypes[0], data[pos + 12:pos + blen - 4]
        pos += blen


def _tcp(linktype, frame):
    """``(src, dst, seq, flags, payload)`` or None."""
    if linktype != 1:
        return None
    ethertype = struct.unpack_from("!H", frame, 12)[0]
    ip = frame[14:]
    if ethertype == 0x0800:
        ihl = (ip[0] & 15) * 4
        total = struct.unpack_from("!H", ip, 2)[0]
        if ip[9] != 6:
            return None
        src, dst = ip[12:16], ip[16:20]
        tcp = ip[ihl:total]
    elif ethertype == 0x86DD:
        if ip[6] != 6:
            return None
        plen = struct.unpack_from("!H", ip, 4)[0]
        src, dst = ip[8:24], ip[24:40]
        tcp = ip[40:40 + plen]
    else:
        return None
    sport, dport, seq = struct.unpack_from("!HHI", tcp, 0)
    off = (tcp[12] >> 4) * 4
    return (src, sport), (dst, dport), seq, tcp[13], tcp[off:]


def tcp_streams(path):
    """Per connection (in start order): ``{"client": bytes, "server": bytes}``."""
    conns = {}
    order = []
    for linktype, frame in read_frames(path):
        seg = _tcp(linktype, frame)
        if seg is None:
            continue
        src, dst, seq, flags, payload = seg
        key = frozenset((src, dst))
        conn = conns.get(key)
        if conn is None or (flags & 0x12 == 0x02 and conn["closed"]):
            conn = conns[key] = {"client": src, "isn": {}, "segs": {src: {}, dst: {}},
                                 "closed": False}
            order.append(conn)
        if flags & 0x02:
            conn["isn"][src] = (seq + 1) & 0xFFFFFFFF
        if flags & 0x05:
            conn["closed"] = True
        if payload:
            conn["segs"][src].setdefault(seq, payload)
    out = []
    for conn in order:
        result = {}
        for ep, segs in conn["segs"].items():
            direction = "client" if ep == conn["client"] else "server"
            base = conn["isn"].get(ep, min(segs) if segs else 0)
            stream = bytearray()
            for seq in sorted(segs, key=lambda s: (s - base) & 0xFFFFFFFF):
                rel = (seq - base) & 0xFFFFFFFF
                payload = segs[seq]
                if rel + len(payload) > len(stream):
                    stream += payload[len(stream) - rel:]
            result[direction] = bytes(stream)
        out.append(result)
    return out


def plaintext_records(stream):
    """The records of ``stream`` up to (not including) its ChangeCipherSpec or first
    application_data record: the part whose handshake messages are in the clear."""
    out = []
    for rec in RecordReader().feed(stream):
        if rec.content_type in (20, 23):
            break
        out.append(rec)
    return out


def negotiated(server_stream):
    """``(version, key_exchange)`` from the server's ServerHello (first record)."""
    rec = RecordReader().feed(server_stream[:5 + (server_stream[3] << 8 | server_stream[4])])[0]
    body = rec.fragment[4:4 + int.from_bytes(rec.fragment[1:4], "big")]
    sh = ServerHello.parse(body)
    name = registry.CIPHER_SUITES.get(sh.cipher_suite, "")
    if name.startswith("TLS_ECDHE_"):
        kx = "ECDHE"
    elif name.startswith("TLS_DHE_"):
        kx = "DHE"
    elif name.startswith("TLS_RSA_"):
        kx = "RSA"
    else:
        kx = "TLS13"
    return sh.selected_version(), kx


def _hkdf_expand_label(secret, label, length, algorithm):
    from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
    full = b"tls13 " + label
    info = length.to_bytes(2, "big") + bytes((len(full),)) + full + b"\x00"
    return HKDFExpand(algorithm, length, info).derive(secret)


class _Tls13Opener:
    """Record decryption with one traffic secret (RFC 8446 §5.2, §7.3), for test data only."""

    def __init__(self, suite, secret):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
        algorithm = hashes.SHA384() if suite == 0x1302 else hashes.SHA256()
        key_len = {0x1301: 16, 0x1302: 32, 0x1303: 32}[suite]
        key = _hkdf_expand_label(secret, b"key", key_len, algorithm)
        self.iv = _hkdf_expand_label(secret, b"iv", 12, algorithm)
        self.aead = ChaCha20Poly1305(key) if suite == 0x1303 else AESGCM(key)
        self.seq = 0

    def open(self, header, fragment):
        nonce = bytes(a ^ b for a, b in zip(self.iv, self.seq.to_bytes(12, "big")))
        self.seq += 1
        inner = self.aead.decrypt(nonce, fragment, header).rstrip(b"\x00")
        return inner[-1], inner[:-1]


def tls13_handshake_messages(conn, keylog_path):
    """Decrypted TLS 1.3 handshake messages of one connection, per direction:
    ``{"client": [(msg_type, body)], "server": [...]}`` (EncryptedExtensions, Certificate,
    CertificateVerify, Finished, NewSessionTicket ...)."""
    client_random = RecordReader().feed(conn["client"])[0].fragment[6:38]
    secrets = {}
    for line in open(keylog_path):
        parts = line.split()
        if len(parts) == 3 and bytes.fromhex(parts[1]) == client_random:
            secrets[parts[0]] = bytes.fromhex(parts[2])
    sh_rec = RecordReader().feed(conn["server"])[0]
    suite = ServerHello.parse(sh_rec.fragment[4:]).cipher_suite
    out = {}
    for direction in ("client", "server"):
        side = direction.upper()
        keys = [_Tls13Opener(suite, secrets[side + "_HANDSHAKE_TRAFFIC_SECRET"]),
                _Tls13Opener(suite, secrets[side + "_TRAFFIC_SECRET_0"])]
        from scapy_tls_hs.codec.records import HandshakeReassembler
        asm = HandshakeReassembler()
        msgs = []
        for rec in RecordReader().feed(conn[direction]):
            if rec.content_type != 23:
                continue
            header = bytes((23,)) + rec.version.to_bytes(2, "big") + \
                len(rec.fragment).to_bytes(2, "big")
            inner_type, plain = keys[0].open(header, rec.fragment)
            if inner_type != 22:
                continue
            for msg_type, body, _ in asm.feed(plain):
                msgs.append((msg_type, body))
                if msg_type == 20:
                    keys.pop(0)
        out[direction] = msgs
    return out
