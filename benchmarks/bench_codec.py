"""Micro-benchmark of the codec: records cut, handshake messages reassembled, parsed and
encoded, over the plaintext handshakes of the test captures.

    python benchmarks/bench_codec.py [-n ROUNDS]

Prints messages/s for parse, parse+encode, and records/s for the record reader on a
1 MB stream of small records fed in TCP-sized chunks. Not a test: no assertion on speed.
"""

import argparse
import glob
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from scapy_tls_hs.codec.messages import parse_message  # noqa: E402
from scapy_tls_hs.codec.records import (HandshakeReassembler, RecordReader,  # noqa: E402
                                        encode_record)
from tests.codec.capture_streams import negotiated, plaintext_records, tcp_streams  # noqa: E402


def corpus():
    """``(msg_type, body, version, key_exchange)`` for every plaintext handshake message."""
    msgs = []
    streams = []
    pattern = os.path.join(os.path.dirname(HERE), "tests", "data", "captures", "*.pcap*")
    for path in sorted(glob.glob(pattern)):
        for conn in tcp_streams(path):
            version, kx = negotiated(conn["server"])
            for direction in ("client", "server"):
                streams.append(conn[direction])
                asm = HandshakeReassembler()
                for rec in plaintext_records(conn[direction]):
                    if rec.content_type == 22:
                        for msg_type, body, _ in asm.feed(rec.fragment):
                            msgs.append((msg_type, body, version, kx))
    return msgs, streams


def rate(n, seconds):
    return "%10.0f/s" % (n / seconds)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--rounds", type=int, default=200)
    ap.add_argument("--by-type", action="store_true", help="time one message of each type")
    args = ap.parse_args()
    msgs, streams = corpus()
    print("corpus: %d handshake messages, %d streams" % (len(msgs), len(streams)))

    t = time.perf_counter()
    for _ in range(args.rounds):
        for msg_type, body, version, kx in msgs:
            parse_message(msg_type, body, version, kx)
    dt = time.perf_counter() - t
    print("parse            %s messages" % rate(len(msgs) * args.rounds, dt))

    t = time.perf_counter()
    for _ in range(args.rounds):
        for msg_type, body, version, kx in msgs:
            parse_message(msg_type, body, version, kx).encode()
    dt = time.perf_counter() - t
    print("parse+encode     %s messages" % rate(len(msgs) * args.rounds, dt))

    t = time.perf_counter()
    n = 0
    for _ in range(args.rounds):
        for stream in streams:
            asm = HandshakeReassembler()
            clear = True  # handshake records after ChangeCipherSpec are encrypted
            for rec in RecordReader().feed(stream):
                n += 1
                if rec[0] == 22 and clear:
                    asm.feed(rec[2])
                elif rec[0] == 20:
                    clear = False
    dt = time.perf_counter() - t
    print("records+reassembly %s records (whole capture streams)" % rate(n, dt))

    if args.by_type:
        from scapy_tls_hs.registry import HANDSHAKE_TYPES
        first = {}
        for msg in msgs:
            first.setdefault((msg[0], msg[2] >= 0x0304 and msg[0] not in (1, 2)), msg)
        for (msg_type, _), (_, body, version, kx) in sorted(first.items()):
            n = args.rounds * 50
            t = time.perf_counter()
            for _ in range(n):
                parse_message(msg_type, body, version, kx)
            dt = time.perf_counter() - t
            print("  %-20s %6d bytes %7.2f us/parse" % (HANDSHAKE_TYPES[msg_type], len(body),
                                                          dt / n * 1e6))

    small = encode_record(23, 0x0303, b"x" * 100)
    big = small * (1_000_000 // len(small))
    nrec = len(big) // len(small)
    for chunk in (1448, 65536):
        t = time.perf_counter()
        reader = RecordReader()
        got = 0
        for i in range(0, len(big), chunk):
            got += len(reader.feed(big[i:i + chunk]))
        dt = time.perf_counter() - t
        assert got == nrec
        print("RecordReader 1 MB in %5d-byte chunks %s records" % (chunk, rate(nrec, dt)))


if __name__ == "__main__":
    main()
