"""Crafting and dissecting hellos: defaults, computed lengths, names in show()."""
import struct

from scapy.all import raw

from scapy_tls_hs.layers import (HRR_RANDOM, TLSClientHello, TLSExtKeyShare, TLSExtServerName,
                                 TLSExtSupportedVersions, TLSExtension, TLSFinished,
                                 TLSHandshake, TLSHelloRequest, TLSHelloRetryRequest,
                                 TLSKeyShareEntry, TLSRecord, TLSServerHello,
                                 TLSServerHelloDone)
from tests.layers.helpers import clean, fields_of, show_text


def test_contract_example_builds_valid_bytes():
    pkt = TLSRecord() / TLSHandshake() / TLSClientHello(ciphers=[0xC02F, 0x002F])
    data = raw(pkt)
    assert data[0] == 22 and data[1:3] == b"\x03\x03"
    assert struct.unpack("!H", data[3:5])[0] == len(data) - 5
    assert data[5] == 1 and int.from_bytes(data[6:9], "big") == len(data) - 9
    body = data[9:]
    assert body[:2] == b"\x03\x03" and body[34] == 0          # version, empty session id
    assert body[35:41] == b"\x00\x04\xc0\x2f\x00\x2f"       # cipher suites vector
    again = TLSRecord(data)
    assert clean(again) and raw(again) == data
    assert again[TLSClientHello].ciphers == [0xC02F, 0x002F]


def test_client_hello_defaults_are_a_modern_offer():
    ch = TLSClientHello()
    assert len(ch.random) == 32
    assert ch.random != TLSClientHello().random             # fresh for each packet
    assert ch.version == 0x0303
    assert 0xC02F in ch.ciphers and 0xC02B in ch.ciphers and 0x002F in ch.ciphers
    types = [e.type for e in ch.ext]
    assert 0 not in types                                    # no SNI unless asked
    for t in (10, 11, 13, 22, 23, 0xFF01, 35):
        assert t in types
    assert ch.get_extension("supported_groups").groups == [29, 23, 24]
    # A packet keeps its random across builds.
    assert raw(ch) == raw(ch)


def test_client_hello_round_trip_and_names():
    ch = TLSClientHello(sid=b"\x01" * 32, ciphers=["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"],
                        ext=[TLSExtServerName(servernames=["example.test"]),
                             TLSExtSupportedVersions(versions=[0x0304, 0x0303]),
                             TLSExtKeyShare(client_shares=[TLSKeyShareEntry(
                                 group=29, key_exchange=b"\x05" * 32)]),
                             TLSExtension(type=0x0A0A, data=b"")])
    pkt = TLSHandshake() / ch
    data = raw(pkt)
    again = TLSHandshake(data)
    assert clean(again) and raw(again) == data
    got = again[TLSClientHello]
    assert fields_of(got) == fields_of(TLSClientHello(raw(ch)))
    assert got.sid_len == 32 and got.ciphers == [0xC02F]
    assert got.get_extension(0).servernames[0].servername == b"example.test"
    assert got.get_extension(43).versions == [0x0304, 0x0303]
    assert got.get_extension(51).client_shares[0].key_exchange == b"\x05" * 32
    grease = got.ext[3]
    assert type(grease) is TLSExtension and grease.type == 0x0A0A
    text = show_text(again)
    for name in ("client_hello", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS 1.3",
                 "x25519", "GREASE_0x0A0A", "server_name", "example.test"):
        assert name in text
    assert "sni=example.test" in again.summary()


def test_client_hello_without_extensions_block():
    data = raw(TLSHandshake() / TLSClientHello(ext=None, ciphers=[0x2F]))
    assert data.endswith(b"\x01\x00")                        # compression methods, no more
    again = TLSHandshake(data)
    assert again[TLSClientHello].ext is None and raw(again) == data


def test_server_hello_and_selected_version():
    share = TLSKeyShareEntry(group=29, key_exchange=b"\x07" * 32)
    sh = TLSServerHello(cipher=0x1301, ext=[TLSExtSupportedVersions(version=0x0304),
                                            TLSExtKeyShare(server_share=share)])
    data = raw(TLSHandshake() / sh)
    again = TLSHandshake(data)
    got = again[TLSServerHello]
    assert clean(again) and raw(again) == data
    assert got.selected_version() == 0x0304
    assert got.get_extension(51).server_share.key_exchange == b"\x07" * 32
    assert "TLS_AES_128_GCM_SHA256" in show_text(again)
    plain = TLSHandshake(raw(TLSHandshake() / TLSServerHello(cipher=0x009C)))
    assert plain[TLSServerHello].selected_version() == 0x0303


def test_hello_retry_request_is_shown_as_such():
    hrr = TLSServerHello(random=HRR_RANDOM, cipher=0x1301,
                         ext=[TLSExtSupportedVersions(version=0x0304),
                              TLSExtKeyShare(selected_group=23)])
    data = raw(TLSHandshake() / hrr)
    again = TLSHandshake(data)
    assert isinstance(again.payload, TLSHelloRetryRequest)
    assert again.payload.get_extension(51).selected_group == 23
    assert raw(again) == data and clean(again)
    assert "HelloRetryRequest" in show_text(again)


def test_empty_messages_get_their_layer():
    for cls, mtype in ((TLSHelloRequest, 0), (TLSServerHelloDone, 14)):
        data = raw(TLSHandshake() / cls())
        assert data == bytes([mtype, 0, 0, 0])
        assert isinstance(TLSHandshake(data).payload, cls)


def test_several_messages_in_one_record_and_several_records():
    pkt = (TLSRecord() / TLSHandshake() / TLSServerHello() / TLSHandshake() /
           TLSServerHelloDone() / TLSRecord() / TLSHandshake() /
           TLSFinished(verify_data=b"v" * 12))
    data = raw(pkt)
    first_len = struct.unpack("!H", data[3:5])[0]
    assert data[5 + first_len:5 + first_len + 5] == b"\x16\x03\x03\x00\x10"
    again = TLSRecord(data)
    assert raw(again) == data and clean(again)
    assert again[TLSServerHelloDone] and again[TLSFinished].verify_data == b"v" * 12
    assert again[TLSRecord:2].len == 16


def test_sni_and_alpn_shortcuts():
    ch = TLSClientHello(sni="server.test", alpn=["h2", "http/1.1"])
    again = TLSHandshake(raw(TLSHandshake() / ch))[TLSClientHello]
    assert again.get_extension("server_name").servernames[0].servername == b"server.test"
    protos = again.get_extension("application_layer_protocol_negotiation").protocols
    assert [p.protocol for p in protos] == [b"h2", b"http/1.1"]
    assert again.get_extension("supported_groups") is not None    # defaults kept
