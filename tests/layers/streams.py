"""Test helper: the TCP byte streams of a capture, with Scapy's reader (not our core)."""
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.utils import rdpcap


def _payload(pkt):
    tcp = pkt[TCP]
    start = tcp.dataofs * 4
    data = bytes(tcp)
    if IP in pkt:
        ip = pkt[IP]
        end = ip.len - ip.ihl * 4
    else:
        end = pkt[IPv6].plen
    return data[start:end]


def _assemble(isn, segments):
    """Contiguous payload from ``isn``: drop retransmissions and overlaps, stop at a gap."""
    out, cur = [], isn
    for seq, data in sorted(segments, key=lambda x: x[0]):
        end = seq + len(data)
        if end <= cur:
            continue
        if seq > cur:
            break
        out.append(data[cur - seq:])
        cur = end
    return b"".join(out)


def tcp_streams(path):
    """[(client, server, client_bytes, server_bytes)] in connection (SYN) order."""
    conns, order, isn = {}, [], {}
    for pkt in rdpcap(str(path)):
        if TCP not in pkt or (IP not in pkt and IPv6 not in pkt):
            continue
        net = pkt[IP] if IP in pkt else pkt[IPv6]
        tcp = pkt[TCP]
        a, b = (net.src, tcp.sport), (net.dst, tcp.dport)
        if tcp.flags.S and not tcp.flags.A:
            key = (a, b)
            if key not in conns:
                conns[key] = {a: [], b: []}
                order.append(key)
        key = (a, b) if (a, b) in conns else (b, a)
        if key not in conns:
            continue
        if tcp.flags.S:
            isn[(key, a)] = tcp.seq + 1
            continue
        data = _payload(pkt)
        if data:
            conns[key][a].append((tcp.seq, data))
    out = []
    for key in order:
        client, server = key
        streams = []
        for side in (client, server):
            segs = conns[key][side]
            start = isn.get((key, side), min((s for s, _ in segs), default=0))
            streams.append(_assemble(start, segs))
        out.append(("%s:%d" % client, "%s:%d" % server, streams[0], streams[1]))
    return out
