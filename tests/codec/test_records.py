"""codec/records.py: record framing over real capture streams, any split, bad headers;
handshake reassembly across records."""

import glob
import os

import pytest
from hypothesis import given, settings, strategies as st

from scapy_tls_hs.codec.records import (MAX_RECORD_LENGTH, HandshakeReassembler, Record,
                                        RecordReader, encode_record, encode_records, handshake,
                                        looks_like_tls)
from scapy_tls_hs.errors import DecodeError
from tests.codec.capture_streams import plaintext_records, tcp_streams

CAPTURES = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "data", "captures",
                                         "*.pcap*")))


def _streams():
    for path in CAPTURES:
        for i, conn in enumerate(tcp_streams(path)):
            for direction in ("client", "server"):
                yield pytest.param(conn[direction], id="%s-%d-%s" % (
                    os.path.basename(path).split(".")[0], i, direction))


STREAMS = list(_streams())


def test_corpus_present():
    assert len(CAPTURES) >= 17 and len(STREAMS) >= 34


@pytest.mark.parametrize("stream", STREAMS)
def test_every_record_reencodes_to_the_stream(stream):
    reader = RecordReader()
    records = reader.feed(stream)
    assert records and reader.pending == 0
    assert b"".join(r.encode() for r in records) == stream
    pos = 0
    for rec in records:
        assert rec.offset == pos
        assert 20 <= rec.content_type <= 24 and rec.version >> 8 == 3
        pos += 5 + len(rec.fragment)


@pytest.mark.parametrize("stream", STREAMS)
def test_byte_at_a_time_gives_the_same_records(stream):
    whole = RecordReader().feed(stream)
    reader = RecordReader()
    pieces = []
    for i in range(len(stream)):
        pieces += reader.feed(stream[i:i + 1])
    assert pieces == whole
    assert [r.offset for r in pieces] == [r.offset for r in whole]
    assert reader.pending == 0


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_random_splits_give_the_same_records(data):
    stream = data.draw(st.sampled_from([p.values[0] for p in STREAMS]))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=30)))
    reader = RecordReader()
    got = []
    prev = 0
    for cut in cuts + [len(stream)]:
        got += reader.feed(memoryview(stream)[prev:cut])
        prev = cut
    assert got == RecordReader().feed(stream)


def test_partial_record_is_pending():
    rec = encode_record(23, 0x0303, b"abcdef")
    reader = RecordReader()
    assert reader.feed(rec[:3]) == []
    assert reader.pending == 3
    assert reader.feed(rec[3:8]) == []
    assert reader.feed(rec[8:] + rec[:2]) == [(23, 0x0303, b"abcdef")]
    assert reader.pending == 2


@pytest.mark.parametrize("header", [b"\x19\x03\x03\x00\x01", b"\x00\x03\x01\x00\x00",
                                    b"\x16\x03\x03" + (MAX_RECORD_LENGTH + 1).to_bytes(2, "big")])
def test_bad_header_raises_with_the_records_before_it(header):
    good = encode_record(22, 0x0303, b"x")
    reader = RecordReader()
    with pytest.raises(DecodeError) as exc:
        reader.feed(good + header + b"\x00" * 10)
    assert exc.value.records == [(22, 0x0303, b"x")]
    assert reader.offset == len(good)
    with pytest.raises(DecodeError):
        reader.feed(b"more")


def test_max_length_record_is_accepted():
    frag = b"\x00" * MAX_RECORD_LENGTH
    assert RecordReader().feed(encode_record(23, 0x0303, frag)) == [(23, 0x0303, frag)]


def test_record_tuple_and_attributes():
    rec = Record(21, 0x0301, b"\x02\x28")
    ctype, version, fragment = rec
    assert (ctype, version, fragment) == (rec.content_type, rec.version, rec.fragment)
    assert rec.offset is None and rec.encode() == b"\x15\x03\x01\x00\x02\x02\x28"


def test_encode_records_splits():
    payload = bytes(range(256)) * 100
    data = encode_records(23, 0x0303, payload, max_fragment=1000)
    recs = RecordReader().feed(data)
    assert [len(r.fragment) for r in recs] == [1000] * 25 + [600]
    assert b"".join(r.fragment for r in recs) == payload
    assert RecordReader().feed(encode_records(23, 0x0303, b"")) == [(23, 0x0303, b"")]


def test_looks_like_tls():
    assert looks_like_tls(b"\x16\x03\x01\x02\x00\x01")
    assert looks_like_tls(b"\x17\x03\x04\x48\x00")
    assert not looks_like_tls(b"\x16\x03\x01\x02")            # short
    assert not looks_like_tls(b"GET / HTTP/1.1\r\n")
    assert not looks_like_tls(b"\x16\x02\x01\x00\x10")        # major version 2
    assert not looks_like_tls(b"\x16\x03\x05\x00\x10")        # minor version 5
    assert not looks_like_tls(b"\x16\x03\x03\x48\x01")        # 2^14 + 2049


def test_handshake_header():
    assert handshake(14, b"") == b"\x0e\x00\x00\x00"
    assert handshake(1, b"abc") == b"\x01\x00\x00\x03abc"


def _handshake_messages(stream):
    asm = HandshakeReassembler()
    msgs = []
    for rec in plaintext_records(stream):
        if rec.content_type == 22:
            msgs += asm.feed(rec.fragment)
    assert not asm.pending
    return msgs


@pytest.mark.parametrize("stream", STREAMS)
def test_reassembly_splits_anywhere(stream):
    msgs = _handshake_messages(stream)
    joined = b"".join(raw for _, _, raw in msgs)
    for t, body, raw in msgs:
        assert raw == handshake(t, body)
    # Re-fragment the concatenated messages into records of 1, 7 and 1000 bytes.
    for size in (1, 7, 1000):
        asm = HandshakeReassembler()
        got = []
        for i in range(0, len(joined), size):
            got += asm.feed(joined[i:i + size])
        assert got == msgs and not asm.pending


def test_message_spread_over_several_records():
    body = bytes(range(256)) * 200  # 51,200 bytes: four records of at most 2^14
    wire = encode_records(22, 0x0303, handshake(11, body) + handshake(14, b""))
    asm = HandshakeReassembler()
    got = []
    for rec in RecordReader().feed(wire):
        got += asm.feed(rec.fragment)
        if not got:
            assert asm.pending
    assert got == [(11, body, handshake(11, body)), (14, b"", b"\x0e\x00\x00\x00")]
    assert not asm.pending


def test_oversized_handshake_message_refused():
    asm = HandshakeReassembler(max_length=1000)
    with pytest.raises(DecodeError):
        asm.feed(b"\x0b\x00\x03\xe9")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 255), st.binary(max_size=300)), max_size=8),
       st.lists(st.integers(1, 50), min_size=1, max_size=10))
def test_reassembly_property(messages, sizes):
    joined = b"".join(handshake(t, b) for t, b in messages)
    asm = HandshakeReassembler()
    got = []
    i = 0
    k = 0
    while i < len(joined):
        n = sizes[k % len(sizes)]
        got += asm.feed(joined[i:i + n])
        i += n
        k += 1
    assert [(t, b) for t, b, _ in got] == messages
    assert not asm.pending


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=10))
def test_random_bytes_never_raise_anything_but_decode_error(chunks):
    reader = RecordReader()
    asm = HandshakeReassembler()
    for chunk in chunks:
        try:
            for rec in reader.feed(chunk):
                asm.feed(rec.fragment)
        except DecodeError:
            break


def test_one_megabyte_of_small_records_is_linear():
    # Correctness on a big stream fed in odd chunk sizes (speed is in benchmarks/).
    small = encode_record(23, 0x0303, b"y" * 37)
    big = small * 25000
    reader = RecordReader()
    n = 0
    for i in range(0, len(big), 1447):
        n += len(reader.feed(big[i:i + 1447]))
    assert n == 25000 and reader.pending == 0


def test_codec_imports_no_scapy():
    import subprocess
    import sys
    code = ("import sys, scapy_tls_hs.codec.records, scapy_tls_hs.codec.messages, "
            "scapy_tls_hs.codec.extensions; "
            "print(sorted(m for m in sys.modules if m == 'scapy' or m.startswith('scapy.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_oversized_record_is_record_overflow():
    # RFC 5246 section 6.2.3 / RFC 8446 section 5.2: record_overflow, not decode_error.
    from scapy_tls_hs.codec.records import RecordOverflow
    with pytest.raises(RecordOverflow) as exc:
        RecordReader().feed(b"\x17\x03\x03" + (MAX_RECORD_LENGTH + 1).to_bytes(2, "big"))
    assert exc.value.description == "record_overflow"
    assert isinstance(exc.value, DecodeError)
