"""codec/extensions.py: encode/parse pairs, strictness, constants."""

import pytest
from hypothesis import given, settings, strategies as st

from scapy_tls_hs import registry
from scapy_tls_hs.codec import extensions as ex
from scapy_tls_hs.errors import AlertError, DecodeError


def test_constants_match_the_registry():
    for name in dir(ex):
        if name.startswith("EXT_"):
            assert getattr(ex, name) in registry.EXTENSION_TYPES, name
    assert (ex.EXT_SERVER_NAME, ex.EXT_SUPPORTED_GROUPS, ex.EXT_EC_POINT_FORMATS,
            ex.EXT_SIGNATURE_ALGORITHMS, ex.EXT_ALPN, ex.EXT_ENCRYPT_THEN_MAC,
            ex.EXT_EXTENDED_MASTER_SECRET, ex.EXT_SESSION_TICKET, ex.EXT_PRE_SHARED_KEY,
            ex.EXT_SUPPORTED_VERSIONS, ex.EXT_KEY_SHARE, ex.EXT_RENEGOTIATION_INFO) == (
        0, 10, 11, 13, 16, 22, 23, 35, 41, 43, 51, 0xFF01)


def test_server_name_wire_format():
    # RFC 6066 §3: list length, name_type host_name (0), name length, name.
    assert ex.server_name("a.b") == b"\x00\x06\x00\x00\x03a.b"
    assert ex.parse_server_name(ex.server_name("server.test")) == "server.test"
    assert ex.parse_server_name(b"") is None  # the server's acknowledgement
    # Another name type first: the host_name is still found.
    body = b"\x00\x0b" + b"\x05\x00\x02xx" + b"\x00\x00\x03a.b"
    assert ex.parse_server_name(body) == "a.b"


def test_alpn_wire_format():
    assert ex.alpn([b"h2", "http/1.1"]) == b"\x00\x0c\x02h2\x08http/1.1"
    assert ex.parse_alpn(b"\x00\x0c\x02h2\x08http/1.1") == [b"h2", b"http/1.1"]


def test_lists():
    assert ex.supported_groups([29, 23]) == b"\x00\x04\x00\x1d\x00\x17"
    assert ex.parse_supported_groups(b"\x00\x04\x00\x1d\x00\x17") == [29, 23]
    assert ex.ec_point_formats() == b"\x01\x00"
    assert ex.parse_ec_point_formats(b"\x03\x00\x01\x02") == [0, 1, 2]
    assert ex.parse_signature_algorithms(ex.signature_algorithms([0x0804, 0x0403])) == [
        0x0804, 0x0403]
    assert ex.supported_versions_client([0x0304, 0x0303]) == b"\x04\x03\x04\x03\x03"
    assert ex.parse_supported_versions_client(b"\x04\x03\x04\x03\x03") == [0x0304, 0x0303]
    assert ex.parse_supported_versions_server(ex.supported_versions_server(0x0304)) == 0x0304
    assert ex.parse_psk_key_exchange_modes(ex.psk_key_exchange_modes()) == [1]


def test_key_share():
    shares = [(29, b"k" * 32), (23, b"\x04" + b"p" * 64)]
    assert ex.parse_key_share_client(ex.key_share_client(shares)) == shares
    assert ex.key_share_client([]) == b"\x00\x00"
    assert ex.key_share_server(29, b"k" * 32) == b"\x00\x1d\x00\x20" + b"k" * 32
    assert ex.key_share_server((29, b"k")) == ex.key_share_server(29, b"k")
    assert ex.parse_key_share_server(b"\x00\x1d\x00\x01k") == (29, b"k")
    assert ex.parse_key_share_hello_retry(ex.key_share_hello_retry(24)) == 24


def test_renegotiation_ticket_flags():
    assert ex.renegotiation_info() == b"\x00"
    assert ex.parse_renegotiation_info(ex.renegotiation_info(b"v" * 24)) == b"v" * 24
    assert ex.session_ticket() == b"" and ex.parse_session_ticket(b"tkt") == b"tkt"
    assert ex.empty() == b"" and ex.parse_empty(b"")
    assert ex.parse_max_fragment_length(ex.max_fragment_length(4)) == 4
    assert ex.parse_record_size_limit(ex.record_size_limit(16385)) == 16385
    assert ex.padding(3) == b"\x00\x00\x00"
    assert ex.status_request_ocsp() == b"\x01\x00\x00\x00\x00"


@pytest.mark.parametrize("parser,data", [
    (ex.parse_server_name, b"\x00\x06\x00\x00\x03a.b\x00"),      # trailing byte
    (ex.parse_server_name, b"\x00\x06\x00\x00\x04a.b"),          # name overruns list
    (ex.parse_alpn, b"\x00\x03\x02h2\x00"),
    (ex.parse_alpn, b"\x00\x01\x00"),                            # empty protocol name
    (ex.parse_supported_groups, b"\x00\x03\x00\x1d\x00"),        # odd length
    (ex.parse_supported_groups, b"\x00\x02\x00\x1d\x00\x17"),    # extra bytes
    (ex.parse_ec_point_formats, b"\x02\x00"),
    (ex.parse_signature_algorithms, b"\x00"),
    (ex.parse_supported_versions_client, b"\x03\x03\x04\x03"),
    (ex.parse_supported_versions_server, b"\x03\x04\x00"),
    (ex.parse_key_share_client, b"\x00\x04\x00\x1d\x00\x00"),    # empty key
    (ex.parse_key_share_client, b"\x00\x05\x00\x1d\x00\x02k"),
    (ex.parse_key_share_server, b"\x00\x1d\x00\x01kk"),
    (ex.parse_key_share_hello_retry, b"\x00"),
    (ex.parse_renegotiation_info, b"\x01"),
    (ex.parse_renegotiation_info, b"\x00\x00"),
    (ex.parse_empty, b"\x00"),
    (ex.parse_max_fragment_length, b""),
])
def test_strict_parsers_reject(parser, data):
    with pytest.raises(DecodeError):
        parser(data)


PARSERS = [getattr(ex, n) for n in dir(ex) if n.startswith("parse_")]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=60))
def test_random_bodies_only_raise_decode_error(data):
    """Only protocol alerts: decode_error, or the RFC's own (record_size_limit below 64 is
    illegal_parameter, RFC 8449 section 4)."""
    for parser in PARSERS:
        try:
            parser(data)
        except DecodeError:
            pass
        except AlertError as exc:
            assert parser is ex.parse_record_size_limit and \
                exc.description == "illegal_parameter"


@given(st.lists(st.binary(min_size=1, max_size=20), min_size=1, max_size=8),
       st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=30),
       st.from_regex(r"[a-z0-9.-]{1,60}", fullmatch=True))
def test_round_trips(protocols, codes, host):
    assert ex.parse_alpn(ex.alpn(protocols)) == protocols
    assert ex.parse_supported_groups(ex.supported_groups(codes)) == codes
    assert ex.parse_signature_algorithms(ex.signature_algorithms(codes)) == codes
    assert ex.parse_supported_versions_client(ex.supported_versions_client(codes[:127])) == \
        codes[:127]
    assert ex.parse_server_name(ex.server_name(host)) == host
    assert ex.parse_client_server_name(ex.server_name(host)) == host


# RFC 6066 section 3, RFC 7301 section 3.1, RFC 8422 section 5.1.2, RFC 5246 section
# 7.4.1.4.1: what a server must refuse in a ClientHello, and with which alert.
@pytest.mark.parametrize("parse, data, alert", [
    (ex.parse_client_server_name, b"", "decode_error"),                  # empty extension
    (ex.parse_client_server_name, b"\x00\x00", "decode_error"),          # empty list
    (ex.parse_client_server_name, b"\x00\x03\x00\x00\x00", "decode_error"),  # empty name
    (ex.parse_client_server_name, ex.server_name(b"a.example\x00"), "illegal_parameter"),
    (ex.parse_client_server_name, ex.server_name(b"a.exampl\x07e"), "illegal_parameter"),
    (ex.parse_client_server_name, ex.server_name("a.ex\u0105mple".encode()),
     "illegal_parameter"),
    (ex.parse_client_server_name, ex.server_name(b"a\x1b[31mBAD"), "illegal_parameter"),
    (ex.parse_client_server_name, b"\x00\x0a" + b"\x00\x00\x02ab" + b"\x00\x00\x02cd",
     "illegal_parameter"),                                                # two host_names
    (ex.parse_alpn, b"\x00\x00", "decode_error"),
    (ex.parse_alpn, b"", "decode_error"),
    (ex.parse_alpn, b"\x00\x01\x00", "decode_error"),
    (ex.parse_signature_algorithms, b"\x00\x00", "decode_error"),
    (ex.parse_ec_point_formats, b"\x00", "decode_error"),
])
def test_client_hello_refusals(parse, data, alert):
    with pytest.raises(AlertError) as info:
        parse(data)
    assert info.value.description == alert


def test_client_server_name_skips_other_name_types():
    data = b"\x00\x0e" + b"\x01\x00\x03\x00\x01\x02" + b"\x00\x00\x05a.b-c"
    assert ex.parse_client_server_name(data) == "a.b-c"
    assert ex.parse_client_server_name(b"\x00\x04\x05\x00\x01x") is None
