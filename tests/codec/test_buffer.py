"""codec/buffer.py: Reader bounds, nested blocks, strict ends; Writer and plain encoders."""

import pytest
from hypothesis import given, strategies as st

from scapy_tls_hs.codec.buffer import (DecodeError, Reader, Writer, u8, u16, u24, u32, vec8,
                                       vec16, vec24)


def test_reads_integers_and_vectors():
    data = b"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a" + vec8(b"ab") + vec16(b"cde") + vec24(b"f")
    r = Reader(data)
    assert r.u8() == 1
    assert r.u16() == 0x0203
    assert r.u24() == 0x040506
    assert r.u32() == 0x0708090A
    assert r.vec8() == b"ab"
    assert r.vec16() == b"cde"
    assert r.vec24() == b"f"
    assert r.done() and r.remaining() == 0
    r.expect_end("test")


@pytest.mark.parametrize("method,data", [
    ("u8", b""), ("u16", b"\x01"), ("u24", b"\x01\x02"), ("u32", b"\x01\x02\x03"),
    ("vec8", b"\x02a"), ("vec16", b"\x00\x03ab"), ("vec24", b"\x00\x00\x01"),
    ("sub16", b"\x00\x05abcd"),
])
def test_short_reads_raise_decode_error(method, data):
    with pytest.raises(DecodeError):
        getattr(Reader(data), method)()


def test_bytes_rejects_negative_and_overlong():
    r = Reader(b"abc")
    with pytest.raises(DecodeError):
        r.bytes(4)
    with pytest.raises(DecodeError):
        r.bytes(-1)
    assert r.bytes(3) == b"abc"


def test_sub_reader_is_bounded_and_parent_skips_it():
    r = Reader(vec16(b"\x00\x01\x02") + b"\xff")
    sub = r.sub16()
    assert sub.u16() == 1
    with pytest.raises(DecodeError, match="extra bytes at the end of inner"):
        sub.expect_end("inner")
    assert sub.u8() == 2
    with pytest.raises(DecodeError):
        sub.u8()  # the parent's next byte is not visible to the sub-reader
    assert r.u8() == 0xFF
    r.expect_end("outer")


def test_rest_and_remaining():
    r = Reader(memoryview(b"hello world"))
    r.bytes(6)
    assert r.remaining() == 5
    assert r.rest() == b"world"
    assert isinstance(r.rest(), bytes) and r.done()


def test_u16_list():
    assert Reader(vec16(b"\x00\x01\xca\xfe")).u16_list() == [1, 0xCAFE]
    with pytest.raises(DecodeError, match="odd length"):
        Reader(vec16(b"\x00\x01\x02")).u16_list()


def test_writer_matches_plain_functions():
    w = Writer().u8(1).u16(2).u24(3).u32(4).bytes(b"x").vec8(b"a").vec16(b"b").vec24(b"c")
    assert w.getvalue() == (u8(1) + u16(2) + u24(3) + u32(4) + b"x" + vec8(b"a")
                            + vec16(b"b") + vec24(b"c"))


def test_vec8_too_long():
    with pytest.raises(ValueError):
        vec8(b"x" * 256)


@given(st.binary(max_size=300), st.lists(st.sampled_from(
    ["u8", "u16", "u24", "u32", "vec8", "vec16", "vec24", "sub8", "sub16", "rest"]), max_size=20))
def test_random_reads_only_raise_decode_error(data, ops):
    r = Reader(data)
    for op in ops:
        try:
            getattr(r, op)()
        except DecodeError:
            break
    assert 0 <= r.remaining() <= len(data)


@given(st.binary(max_size=0x1FF), st.binary(max_size=0xFF))
def test_vectors_round_trip(a, b):
    r = Reader(vec16(a) + vec8(b) + vec24(a))
    assert (r.vec16(), r.vec8(), r.vec24()) == (a, b, a)
    r.expect_end("vectors")
