"""pcap / pcapng reading: every shared capture, hand-built files of each variant, damage."""
import struct
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import CookedLinux, Ether
from scapy.utils import PcapNgWriter, PcapWriter, rdpcap, wrpcap

from scapy_tls_hs.capture.pcapfile import TLS_KEYLOG, read_packets
from scapy_tls_hs.capture.streams import reassemble
from scapy_tls_hs.errors import CaptureError

# Fixed addresses: Scapy must not try to resolve them (ARP / neighbour discovery).
MAC = {"src": "02:00:00:00:00:01", "dst": "02:00:00:00:00:02"}
CAPTURES = Path(__file__).resolve().parent.parent / "data" / "captures"
CAPTURE_FILES = sorted(p for p in CAPTURES.iterdir() if p.suffix in (".pcap", ".pcapng"))

FRAMES = [bytes(Ether(**MAC) / IP() / TCP(seq=i) / (b"x" * i)) for i in range(5)]


@pytest.mark.parametrize("path", CAPTURE_FILES, ids=lambda p: p.name)
def test_shared_captures_match_scapy(path):
    """Same packets, bytes, link types and timestamps as Scapy's own reader."""
    reader = read_packets(path)
    ours = list(reader)
    theirs = rdpcap(str(path))
    assert len(ours) == len(theirs) > 0
    for (ts, linktype, data), pkt in zip(ours, theirs):
        assert data == bytes(pkt)
        assert linktype == 1
        assert ts == pytest.approx(float(pkt.time), abs=1e-6)
    assert reader.errors == [] and not reader.truncated
    assert reader.format == ("pcapng" if path.suffix == ".pcapng" else "pcap")


# -- pcap variants ---------------------------------------------------------------------------

def pcap(frames, order="<", magic=0xA1B2C3D4, linktype=1, times=None, extra=b""):
    """A classic pcap file; ``extra`` goes after each record header (modified pcap)."""
    out = struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 65535, linktype)
    for i, frame in enumerate(frames):
        sec, frac = times[i] if times else (1000 + i, 500)
        out += struct.pack(order + "IIII", sec, frac, len(frame), len(frame)) + extra + frame
    return out


@pytest.mark.parametrize("order", ["<", ">"], ids=["little", "big"])
@pytest.mark.parametrize("magic,unit", [(0xA1B2C3D4, 1e-6), (0xA1B23C4D, 1e-9)],
                         ids=["usec", "nsec"])
def test_pcap_byte_orders_and_resolutions(tmp_path, order, magic, unit):
    path = tmp_path / "x.pcap"
    path.write_bytes(pcap(FRAMES, order, magic, linktype=1 | 0x10000000,
                          times=[(1700000000 + i, 123456 * i) for i in range(5)]))
    got = list(read_packets(path))
    assert [d for _, _, d in got] == FRAMES
    assert {lt for _, lt, _ in got} == {1}      # FCS bits above the link type ignored
    assert [t for t, _, _ in got] == pytest.approx(
        [1700000000 + i + 123456 * i * unit for i in range(5)], abs=1e-9)


def test_pcap_modified_magic(tmp_path):
    path = tmp_path / "x.pcap"
    path.write_bytes(pcap(FRAMES, magic=0xA1B2CD34, extra=bytes(8)))
    assert [d for _, _, d in read_packets(path)] == FRAMES


def test_pcap_nano_written_by_scapy(tmp_path):
    path = tmp_path / "nano.pcap"
    pkt = Ether(**MAC) / IP() / TCP()
    pkt.time = 1700000000.123456789
    with PcapWriter(str(path), nano=True) as w:
        w.write(pkt)
    [(ts, linktype, data)] = list(read_packets(path))
    assert (linktype, data) == (1, bytes(pkt))
    assert ts == pytest.approx(1700000000.123456789, abs=1e-6)


# -- pcapng variants -------------------------------------------------------------------------

def block(order, btype, body):
    body += b"\x00" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack(order + "II", btype, n) + body + struct.pack(order + "I", n)


def option(order, code, value):
    return struct.pack(order + "HH", code, len(value)) + value + b"\x00" * (-len(value) % 4)


def shb(order):
    return block(order, 0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1))


def idb(order, linktype, tsresol=None, tsoffset=None):
    opts = b""
    if tsresol is not None:
        opts += option(order, 9, bytes([tsresol]))
    if tsoffset is not None:
        opts += option(order, 14, struct.pack(order + "q", tsoffset))
    if opts:
        opts += option(order, 0, b"")
    return block(order, 1, struct.pack(order + "HHI", linktype, 0, 0) + opts)


def epb(order, ifid, ts, frame):
    return block(order, 6, struct.pack(order + "IIIII", ifid, ts >> 32, ts & 0xFFFFFFFF,
                                       len(frame), len(frame)) + frame)


def opb(order, ifid, ts, frame):
    return block(order, 2, struct.pack(order + "HHIIII", ifid, 0, ts >> 32, ts & 0xFFFFFFFF,
                                       len(frame), len(frame)) + frame)


def spb(order, frame):
    return block(order, 3, struct.pack(order + "I", len(frame)) + frame)


@pytest.mark.parametrize("order", ["<", ">"], ids=["little", "big"])
def test_pcapng_blocks_interfaces_and_resolutions(tmp_path, order):
    sll = bytes(CookedLinux(proto=0x0800) / IP() / TCP())
    data = (shb(order)
            + idb(order, 1)                                   # microseconds by default
            + idb(order, 113, tsresol=9, tsoffset=100)        # nanoseconds, +100 s
            + idb(order, 101, tsresol=0x80 | 10)              # 2**-10 s
            + block(order, 0x00000BAD, b"unknown block body")
            + epb(order, 0, 1_500_000, FRAMES[0])
            + epb(order, 1, 2_000_000_000, sll)
            + opb(order, 2, 3 * 1024, FRAMES[2][14:])
            + spb(order, FRAMES[3])                            # interface 0, previous time
            + block(order, 5, b"\x00" * 8)                     # Interface Statistics
            # A second section in the other byte order, with its own interfaces.
            + shb("<" if order == ">" else ">")
            + idb("<" if order == ">" else ">", 276)
            + epb("<" if order == ">" else ">", 0, 7_000_000, b"sll2-frame"))
    path = tmp_path / "x.pcapng"
    path.write_bytes(data)
    reader = read_packets(path)
    got = list(reader)
    assert [(lt, d) for _, lt, d in got] == [(1, FRAMES[0]), (113, sll), (101, FRAMES[2][14:]),
                                              (1, FRAMES[3]), (276, b"sll2-frame")]
    assert [t for t, _, _ in got] == pytest.approx([1.5, 102.0, 3.0, 3.0, 7.0])
    assert reader.errors == [] and reader.format == "pcapng"


def test_pcapng_decryption_secrets_block(tmp_path):
    o = ">"
    keylog = b"CLIENT_RANDOM " + b"ab" * 32 + b" " + b"cd" * 48 + b"\n"
    dsb = block(o, 10, struct.pack(o + "II", TLS_KEYLOG, len(keylog)) + keylog)
    path = tmp_path / "dsb.pcapng"
    path.write_bytes(shb(o) + dsb + idb(o, 1) + epb(o, 0, 0, FRAMES[0]))
    reader = read_packets(path)
    assert [d for _, _, d in reader] == FRAMES[:1]
    assert reader.secrets == [(TLS_KEYLOG, keylog)]


def test_pcapng_from_editcap_with_embedded_keylog():
    """A real tool's pcapng: same packets as the pcap it came from, key log in a DSB."""
    path = CAPTURES.parent / "pcapng" / "editcap_dsb_tls12_rsa_aes128gcm_python.pcapng"
    original = CAPTURES / "tls12_rsa_aes128gcm_python.pcap"
    reader = read_packets(path)
    assert list(reader) == list(read_packets(original))
    assert reader.format == "pcapng" and reader.errors == []
    keylog = (CAPTURES / "tls12_rsa_aes128gcm_python.keylog").read_bytes()
    assert reader.secrets == [(TLS_KEYLOG, keylog)]


def test_pcapng_written_by_scapy(tmp_path):
    path = tmp_path / "scapy.pcapng"
    pkts = [Ether(f) for f in FRAMES]
    for i, p in enumerate(pkts):
        p.time = 1700000000 + i / 4
    with PcapNgWriter(str(path)) as w:
        for p in pkts:
            w.write(p)
    got = list(read_packets(path))
    assert [d for _, _, d in got] == FRAMES
    assert [t for t, _, _ in got] == pytest.approx([1700000000 + i / 4 for i in range(5)])


def test_pcapng_two_link_types_reassembled(tmp_path):
    """One connection seen on an Ethernet and a Linux cooked interface of one file."""
    o = "<"
    syn = IP(src="10.1.1.1", dst="10.1.1.2") / TCP(sport=5000, dport=443, flags="S", seq=9)
    synack = IP(src="10.1.1.2", dst="10.1.1.1") / TCP(sport=443, dport=5000, flags="SA",
                                                       seq=99, ack=10)
    hello = IP(src="10.1.1.1", dst="10.1.1.2") / TCP(sport=5000, dport=443, flags="PA",
                                                      seq=10, ack=100) / b"\x16\x03\x01\x00\x00"
    data = (shb(o) + idb(o, 1) + idb(o, 113)
            + epb(o, 0, 1, bytes(Ether(**MAC) / syn))
            + epb(o, 1, 2, bytes(CookedLinux(proto=0x0800) / synack))
            + epb(o, 0, 3, bytes(Ether(**MAC) / hello)))
    path = tmp_path / "two.pcapng"
    path.write_bytes(data)
    [conn] = reassemble(read_packets(path))
    assert (conn.client, conn.server) == ("10.1.1.1:5000", "10.1.1.2:443")
    assert conn.stream("client") == b"\x16\x03\x01\x00\x00"


def test_pcapng_unknown_interface_and_bad_block(tmp_path):
    o = "<"
    bad_epb = block(o, 6, struct.pack(o + "IIIII", 0, 0, 0, 500, 500) + b"short")
    path = tmp_path / "x.pcapng"
    path.write_bytes(shb(o) + idb(o, 1) + epb(o, 3, 0, b"nope") + bad_epb
                     + epb(o, 0, 0, FRAMES[1]))
    reader = read_packets(path)
    assert [d for _, _, d in reader] == [FRAMES[1]]
    assert reader.errors == [
        "%s: packet for unknown pcapng interface 3 skipped" % path,
        "%s: malformed pcapng enhanced packet block at byte %d skipped"
        % (path, len(shb(o) + idb(o, 1) + epb(o, 3, 0, b"nope")))]
    assert not reader.truncated


# -- damage ----------------------------------------------------------------------------------

@pytest.mark.parametrize("content", [b"", b"\x00", b"GET / HTTP/1.1\r\n\r\n" * 10,
                                     bytes(range(256)),
                                     b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x99\x99\x99\x99"],
                         ids=["empty", "one-byte", "text", "binary", "pcapng-bad-bom"])
def test_not_a_capture(tmp_path, content):
    path = tmp_path / "bad.bin"
    path.write_bytes(content)
    with pytest.raises(CaptureError) as e:
        read_packets(path)
    assert str(e.value) == "%s: not a pcap or pcapng file" % path


def test_missing_file(tmp_path):
    path = tmp_path / "nothere.pcap"
    with pytest.raises(CaptureError) as e:
        read_packets(path)
    assert str(e.value) == "%s: No such file or directory" % path


def test_directory(tmp_path):
    with pytest.raises(CaptureError):
        read_packets(tmp_path)


@pytest.mark.parametrize("cut", [1, 8, 16, 17, 30])
def test_pcap_truncated(tmp_path, cut):
    full = pcap(FRAMES)
    path = tmp_path / "cut.pcap"
    path.write_bytes(full[:-cut])
    reader = read_packets(path)
    got = list(reader)
    # The last record (16-byte header + 58-byte frame) is incomplete; the 4 before it are whole.
    assert [d for _, _, d in got] == FRAMES[:4]
    assert reader.truncated
    what = "incomplete packet header" if cut > len(FRAMES[4]) else "incomplete packet record"
    offset = len(full) - 16 - len(FRAMES[4])
    assert reader.errors == ["%s: capture truncated after 4 packets (%s at byte %d)"
                             % (path, what, offset)]


def test_pcap_header_only_and_cut_header(tmp_path):
    path = tmp_path / "x.pcap"
    path.write_bytes(pcap([]))
    reader = read_packets(path)
    assert list(reader) == [] and not reader.truncated
    path.write_bytes(pcap([])[:10])
    reader = read_packets(path)
    assert list(reader) == [] and reader.truncated


def test_pcap_absurd_length_stops(tmp_path):
    data = bytearray(pcap(FRAMES))
    rec = 24 + 16 + len(FRAMES[0])     # second record header
    struct.pack_into("<I", data, rec + 8, 0x7FFFFFFF)
    path = tmp_path / "x.pcap"
    path.write_bytes(bytes(data))
    reader = read_packets(path)
    assert [d for _, _, d in reader] == FRAMES[:1]
    assert reader.truncated
    assert "impossible packet length 2147483647" in reader.errors[0]


@pytest.mark.parametrize("cut", [1, 4, 11, 40])
def test_pcapng_truncated(tmp_path, cut):
    o = "<"
    data = shb(o) + idb(o, 1) + b"".join(epb(o, 0, i, f) for i, f in enumerate(FRAMES))
    path = tmp_path / "cut.pcapng"
    path.write_bytes(data[:-cut])
    reader = read_packets(path)
    assert [d for _, _, d in reader] == FRAMES[:4]
    assert reader.truncated
    assert reader.errors[0].startswith("%s: capture truncated after 4 packets (incomplete block"
                                       % path)


def test_pcapng_garbage_block_length(tmp_path):
    o = "<"
    data = shb(o) + idb(o, 1) + epb(o, 0, 0, FRAMES[0]) + struct.pack("<II", 6, 13) + bytes(40)
    path = tmp_path / "x.pcapng"
    path.write_bytes(data)
    reader = read_packets(path)
    assert [d for _, _, d in reader] == FRAMES[:1]
    assert reader.truncated and "impossible block length 13" in reader.errors[0]


def test_shared_capture_cut_anywhere_never_raises(tmp_path):
    src = (CAPTURES / "ems_off_gnutls.pcapng").read_bytes()
    src2 = (CAPTURES / "resume_ticket_python.pcap").read_bytes()
    path = tmp_path / "cut"
    for data in (src, src2):
        total = len(list(read_packets_bytes(tmp_path, data)))
        for cut in range(30, len(data), 97):
            path.write_bytes(data[:cut])
            reader = read_packets(path)
            n = len(list(reader))
            # pcapng from dumpcap ends with a statistics block: a cut there loses no packet.
            assert (n <= total if data is src else n < total) and reader.truncated


def read_packets_bytes(tmp_path, data):
    path = tmp_path / "whole"
    path.write_bytes(data)
    return read_packets(path)


def test_wrpcap_round_trip_many_packets(tmp_path):
    path = tmp_path / "many.pcap"
    pkts = [Ether(**MAC) / IP() / TCP(seq=i) for i in range(300)]
    wrpcap(str(path), pkts)
    reader = read_packets(path)
    assert sum(1 for _ in reader) == 300 and reader.packets == 300


def test_close_mid_iteration_and_context_manager(tmp_path):
    path = tmp_path / "x.pcap"
    path.write_bytes(pcap(FRAMES))
    reader = read_packets(path)
    assert next(reader)[2] == FRAMES[0]
    reader.close()
    assert list(reader) == []
    with read_packets(path) as reader:
        assert len(list(reader)) == 5


# -- pipes (``dissect /dev/stdin``) -----------------------------------------------------------

def _through_pipe(data):
    """A path that reads ``data`` from a pipe (as /dev/stdin does), written by a thread."""
    import os
    import threading
    r, w = os.pipe()

    def feed():
        with os.fdopen(w, "wb") as f:
            try:
                f.write(data)
            except BrokenPipeError:
                pass

    threading.Thread(target=feed, daemon=True).start()
    return "/dev/fd/%d" % r, r


@pytest.mark.parametrize("path", CAPTURE_FILES, ids=lambda p: p.name)
def test_a_capture_read_from_a_pipe_is_the_same(path):
    import os
    name, fd = _through_pipe(path.read_bytes())
    try:
        reader = read_packets(name)
        assert list(reader) == list(read_packets(path))
        assert reader.errors == [] and reader.format == read_packets(path).format
        assert reader.secrets == read_packets(path).secrets or path.suffix == ".pcap"
    finally:
        os.close(fd)


@pytest.mark.parametrize("head", [b"", b"\xd4\xc3\xb2\xa1\x02\x00", None])
def test_a_pipe_cut_short_or_gone_wrong_ends_with_an_error(head):
    import os
    path = CAPTURE_FILES[0]
    data = path.read_bytes()
    if head is None:
        data = data[:len(data) - 7]          # cut inside the last packet
    else:
        data = head
    name, fd = _through_pipe(data)
    try:
        if len(data) < 4:
            with pytest.raises(CaptureError, match="not a pcap or pcapng file"):
                read_packets(name)
            return
        reader = read_packets(name)
        list(reader)
        assert reader.truncated and reader.errors
    finally:
        os.close(fd)


def test_endless_non_capture_on_stdin_ends_at_once():
    """``yes | scapy-tls-hs dissect /dev/stdin``: one error line after the first bytes, no
    reading of the whole (endless) stream."""
    import subprocess
    import sys
    yes = subprocess.Popen([sys.executable, "-c", "import sys\nwhile True: "
                            "sys.stdout.buffer.write(b'y\\n' * 4096)"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        proc = subprocess.run([sys.executable, "-m", "scapy_tls_hs", "dissect", "/dev/stdin"],
                              stdin=yes.stdout, capture_output=True, text=True, timeout=120)
    finally:
        yes.kill()
        yes.wait()
    assert proc.returncode != 0
    assert proc.stderr.strip() == ("scapy-tls-hs dissect: /dev/stdin: not a pcap or pcapng "
                                   "file")


def test_endless_garbage_after_a_pcap_header_ends_at_once():
    import subprocess
    import sys
    header = CAPTURE_FILES[0].read_bytes()[:24] if CAPTURE_FILES[0].suffix == ".pcap" \
        else pcap([])[:24]
    feeder = subprocess.Popen([sys.executable, "-c", "import sys\nsys.stdout.buffer.write("
                               "bytes.fromhex(%r))\nwhile True: "
                               "sys.stdout.buffer.write(b'y\\n' * 4096)" % header.hex()],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        proc = subprocess.run([sys.executable, "-m", "scapy_tls_hs", "dissect", "/dev/stdin"],
                              stdin=feeder.stdout, capture_output=True, text=True,
                              timeout=120)
    finally:
        feeder.kill()
        feeder.wait()
    assert "capture truncated after 0 packets (impossible packet length" in proc.stderr


# -- gzip-compressed captures ----------------------------------------------------------------

@pytest.mark.parametrize("path", [CAPTURES / "resume_ticket_python.pcap",
                                  CAPTURES / "ems_off_gnutls.pcapng"], ids=lambda p: p.name)
def test_gzip_captures_read_as_the_plain_file(tmp_path, path):
    """Found by the magic bytes, not the name; the same packets as the plain file; read as a
    stream (never decompressed whole), and from a pipe too."""
    import gzip
    import os
    import threading
    plain = list(read_packets(path))
    for name in ("capture.gz", "capture.pcap"):
        packed = tmp_path / name
        packed.write_bytes(gzip.compress(path.read_bytes()))
        reader = read_packets(packed)
        assert reader.compressed and reader.format in ("pcap", "pcapng")
        assert list(reader) == plain and reader.errors == [] and not reader.truncated
    read_fd, write_fd = os.pipe()
    data = packed.read_bytes()
    writer = threading.Thread(target=lambda: (os.write(write_fd, data), os.close(write_fd)))
    writer.start()
    try:
        assert list(read_packets("/dev/fd/%d" % read_fd)) == plain
    finally:
        writer.join(10)
        os.close(read_fd)


def test_gzip_cut_or_damaged_reports_like_a_cut_file(tmp_path):
    import gzip
    data = gzip.compress((CAPTURES / "resume_ticket_python.pcap").read_bytes())
    cut = tmp_path / "cut.pcap.gz"
    cut.write_bytes(data[:len(data) // 2])
    reader = read_packets(cut)
    got = list(reader)
    assert 0 < len(got) and reader.truncated
    assert any("gzip data ends early" in e for e in reader.errors)

    bad = bytearray(data)
    bad[len(bad) // 2] ^= 0xFF
    damaged = tmp_path / "damaged.pcap.gz"
    damaged.write_bytes(bytes(bad))
    try:        # the decompressor reads ahead: the damage may show before the first packet
        reader = read_packets(damaged)
    except CaptureError as exc:
        assert "gzip data damaged" in str(exc)
    else:
        list(reader)                        # never raises
        assert any("gzip data damaged" in e for e in reader.errors)

    for content, why in ((gzip.compress(b"not a capture at all"), "holds no pcap"),
                         (b"\x1f\x8b\x08garbage-garbage", "gzip data")):
        path = tmp_path / "x.gz"
        path.write_bytes(content)
        with pytest.raises(CaptureError, match=why):
            read_packets(path)


@pytest.mark.parametrize("path", [p for p in CAPTURE_FILES if "resume" in p.name
                                  or p.suffix == ".pcapng"], ids=lambda p: p.name)
def test_pages_given_back_as_read_change_nothing(path, monkeypatch):
    """Streaming: the mapped file's pages are given back every ``DROP_EVERY`` bytes read
    (here after every packet); the packets read are the same."""
    from scapy_tls_hs.capture import pcapfile
    want = list(read_packets(path))
    monkeypatch.setattr(pcapfile, "DROP_EVERY", 1)
    reader = read_packets(path)
    got = list(reader)
    assert got == want and reader.errors == []
    assert reader._dropped > len(want)          # it did give pages back
