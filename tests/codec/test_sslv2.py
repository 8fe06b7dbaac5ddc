"""The SSL 2.0-format ClientHello (RFC 5246 appendix E.2)."""
import pytest

from scapy_tls_hs.codec.messages import ClientHello
from scapy_tls_hs.codec.sslv2 import (SSLv2ClientHello, is_sslv2_header,
                                      looks_like_sslv2_client_hello, parse_sslv2_client_hello,
                                      sslv2_record_length)
from scapy_tls_hs.errors import DecodeError

# What tlslite-ng sends for ClientHelloGenerator([AES128-SHA, SCSV], ssl2=True) with a
# 16-byte challenge (layout of RFC 5246 appendix E.2, built by hand).
BODY = (b"\x01" b"\x03\x03" b"\x00\x0c" b"\x00\x00" b"\x00\x10"
        b"\x00\x00\x2f" b"\x01\x00\x80" b"\x00\x00\xff" b"\x00\xc0\x2f"
        + bytes(range(1, 17)))
RECORD = bytes((0x80, len(BODY))) + BODY


def test_parse_maps_to_the_tls_client_hello():
    hello, raw, used = parse_sslv2_client_hello(RECORD + b"\x16\x03\x01")
    assert isinstance(hello, ClientHello)
    assert used == len(RECORD)
    assert raw == BODY                    # the transcript covers the body, not the header
    assert hello.version == 0x0303
    # 0x010080 is SSL 2.0 RC4-MD5: not a TLS suite, dropped; order kept.
    assert hello.cipher_suites == [0x002f, 0x00ff, 0xc02f]
    assert hello.random == bytes(16) + bytes(range(1, 17))
    assert hello.session_id == b""
    assert hello.compression_methods == [0]
    assert hello.extensions is None


def test_v2_fields_and_round_trip():
    v2 = SSLv2ClientHello.parse(BODY)
    assert v2.cipher_specs == [0x2f, 0x010080, 0xff, 0xc02f]
    assert v2.challenge == bytes(range(1, 17))
    assert v2.encode() == BODY
    assert v2.record() == RECORD


def test_long_challenge_keeps_its_last_32_bytes():
    v2 = SSLv2ClientHello(0x0301, [0x2f], b"", bytes(range(40)))
    assert v2.random == bytes(range(8, 40))
    short = SSLv2ClientHello(0x0301, [0x2f], b"\x07" * 16, b"\xaa" * 32)
    hello, raw, _ = parse_sslv2_client_hello(short.record())
    assert hello.random == b"\xaa" * 32 and hello.session_id == b"\x07" * 16


def test_incomplete_record_waits():
    for n in range(len(RECORD)):
        assert parse_sslv2_client_hello(RECORD[:n]) is None
    # ... unless what is known already rules out a ClientHello (no wait for 32 KiB).
    with pytest.raises(DecodeError):
        parse_sslv2_client_hello(b"\xff\xff\x04")
    with pytest.raises(DecodeError):
        parse_sslv2_client_hello(b"\x80\x08")
    assert sslv2_record_length(RECORD[:1]) is None
    assert sslv2_record_length(RECORD[:2]) == len(RECORD)


@pytest.mark.parametrize("body", [
    b"",                                                     # empty record
    b"\x00",                                                 # type 0
    b"\x01",                                                 # type 1, nothing else
    b"\x01\x03\x03",                                         # just the version
    BODY[:-1],                                               # challenge cut short
    BODY + b"\x00",                                          # trailing byte
    b"\x04" + BODY[1:],                                      # not client_hello
    b"\x01\x03\x03\x00\x00\x00\x00\x00\x10" + bytes(16),     # no cipher specs
    b"\x01\x03\x03\x00\x02\x00\x00\x00\x10\x00\x2f" + bytes(16),     # spec of 2 bytes
    b"\x01\x03\x03\x00\x03\x00\x21\x00\x10\x00\x00\x2f" + bytes(33 + 16),  # 33-byte id
])
def test_malformed_bodies_are_decode_errors(body):
    record = bytes((0x80 | len(body) >> 8, len(body) & 0xff)) + body
    with pytest.raises(DecodeError):
        parse_sslv2_client_hello(record)


def test_header_without_the_high_bit_is_not_ours():
    with pytest.raises(DecodeError):
        sslv2_record_length(b"\x16\x03\x01\x00\x10")


def test_detection():
    assert is_sslv2_header(RECORD) and not is_sslv2_header(b"\x16\x03\x01")
    assert not is_sslv2_header(b"")
    assert looks_like_sslv2_client_hello(RECORD)
    assert looks_like_sslv2_client_hello(SSLv2ClientHello(0x0002, [0x010080], b"",
                                                          bytes(16)).record())
    assert not looks_like_sslv2_client_hello(b"\x16\x03\x01\x00\x40\x01")  # a TLS record
    assert not looks_like_sslv2_client_hello(b"\x80\x05\x01\x03\x03")      # too short
    assert not looks_like_sslv2_client_hello(b"\x80\x20\x04\x03\x03")      # other type
    assert not looks_like_sslv2_client_hello(b"\x80\x20\x01\x09\x03")      # other version
