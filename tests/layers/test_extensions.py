"""Every extension class: crafted, built with computed lengths, dissected back to the same
class and fields; forms that depend on the message; bad bodies kept as type + bytes."""
import pytest
from scapy.all import raw

from scapy_tls_hs.layers import (TLSClientHello, TLSEncryptedExtensions, TLSExtALPN,
                                 TLSExtCompressCertificate, TLSExtCookie, TLSExtEarlyData,
                                 TLSExtECPointFormats, TLSExtEncryptThenMAC, TLSExtension,
                                 TLSExtExtendedMasterSecret, TLSExtKeyShare,
                                 TLSExtMaxFragmentLength, TLSExtPadding,
                                 TLSExtPostHandshakeAuth, TLSExtPreSharedKey,
                                 TLSExtPSKKeyExchangeModes, TLSExtRecordSizeLimit,
                                 TLSExtRenegotiationInfo, TLSExtSCT, TLSExtServerName,
                                 TLSExtSessionTicket, TLSExtSignatureAlgorithms,
                                 TLSExtSignatureAlgorithmsCert, TLSExtStatusRequest,
                                 TLSExtSupportedGroups, TLSExtSupportedVersions, TLSHandshake,
                                 TLSKeyShareEntry, TLSPSKBinder, TLSPSKIdentity, TLSServerHello,
                                 dissect_extension)
from tests.layers.helpers import clean, fields_of, show_text

CLIENT_SIDE = [
    (TLSExtServerName(servernames=["a.example", b"b.example"]), "a.example"),
    (TLSExtMaxFragmentLength(maxlen=2), "2^10"),
    (TLSExtStatusRequest(status_type=1), "ocsp"),
    (TLSExtSupportedGroups(groups=["x25519", "secp384r1", 0x1A1A]), "GREASE_0x1A1A"),
    (TLSExtECPointFormats(), "uncompressed"),
    (TLSExtSignatureAlgorithms(sig_algs=[0x0804, 0x0403]), "rsa_pss_rsae_sha256"),
    (TLSExtSignatureAlgorithmsCert(sig_algs=[0x0807]), "ed25519"),
    (TLSExtALPN(protocols=["h2", "http/1.1"]), "http/1.1"),
    (TLSExtSCT(), "signed_certificate_timestamp"),
    (TLSExtPadding(padding=b"\x00" * 17), "padding"),
    (TLSExtEncryptThenMAC(), "encrypt_then_mac"),
    (TLSExtExtendedMasterSecret(), "extended_master_secret"),
    (TLSExtRecordSizeLimit(record_size_limit=4096), "record_size_limit"),
    (TLSExtSessionTicket(ticket=b"T" * 40), "session_ticket"),
    (TLSExtRenegotiationInfo(renegotiated_connection=b"r" * 12), "renegotiation_info"),
    (TLSExtSupportedVersions(), "TLS 1.3"),
    (TLSExtKeyShare(client_shares=[TLSKeyShareEntry(group=29, key_exchange=b"k" * 32),
                                   TLSKeyShareEntry(group=23, key_exchange=b"\x04" * 65)]),
     "secp256r1"),
    (TLSExtPreSharedKey(identities=[TLSPSKIdentity(identity=b"id" * 10,
                                                   obfuscated_ticket_age=99)],
                        binders=[TLSPSKBinder(binder=b"b" * 32)]), "pre_shared_key"),
    (TLSExtPSKKeyExchangeModes(), "psk_dhe_ke"),
    (TLSExtCookie(cookie=b"c" * 20), "cookie"),
    (TLSExtEarlyData(), "early_data"),
    (TLSExtPostHandshakeAuth(), "post_handshake_auth"),
    (TLSExtCompressCertificate(algorithms=[1, 2]), "compress_certificate"),
    (TLSExtension(type=0xFAFA, data=b"\x00"), "GREASE_0xFAFA"),
    (TLSExtension(type=0x4444, data=b"xyz"), "unknown_0x4444"),
]


@pytest.mark.parametrize("ext,name", CLIENT_SIDE, ids=lambda x: getattr(x, "name", x))
def test_extension_in_client_hello(ext, name):
    data = raw(TLSHandshake() / TLSClientHello(ext=[ext]))
    again = TLSHandshake(data)
    got = again[TLSClientHello].ext[0]
    assert type(got) is type(ext)
    assert clean(again) and raw(again) == data
    assert got.len == len(raw(ext)) - 4
    assert fields_of(got) == fields_of(dissect_extension(raw(ext)))
    assert name in show_text(again)


SERVER_SIDE = [
    (TLSExtServerName(), {"servernames": None}),
    (TLSExtStatusRequest(), {"status_type": None}),
    (TLSExtSCT(scts=b"\x00\x05hello"), {"scts": b"\x00\x05hello"}),
    (TLSExtSupportedVersions(version=0x0304), {"version": 0x0304, "versions": None}),
    (TLSExtKeyShare(server_share=TLSKeyShareEntry(group=29, key_exchange=b"s" * 32)),
     {"client_shares": None}),
    (TLSExtPreSharedKey(selected_identity=0), {"selected_identity": 0, "identities": None}),
    (TLSExtALPN(protocols=["h2"]), {}),
]


@pytest.mark.parametrize("ext,expect", SERVER_SIDE, ids=lambda x: getattr(x, "name", "f"))
def test_extension_in_server_hello(ext, expect):
    data = raw(TLSHandshake() / TLSServerHello(ext=[ext]))
    again = TLSHandshake(data)
    got = again[TLSServerHello].ext[0]
    assert type(got) is type(ext) and clean(again) and raw(again) == data
    for field, value in expect.items():
        assert got.getfieldval(field) == value


def test_server_share_and_hrr_group():
    ext = TLSExtKeyShare(server_share=TLSKeyShareEntry(group=23, key_exchange=b"\x04" * 65))
    got = TLSServerHello(raw(TLSServerHello(ext=[ext]))).ext[0]
    assert got.server_share.group == 23 and got.server_share.key_exchange == b"\x04" * 65
    # Outside a hello, the body alone tells the forms apart.
    assert dissect_extension(raw(ext)).server_share.group == 23
    hrr = dissect_extension(raw(TLSExtKeyShare(selected_group=24)))
    assert hrr.selected_group == 24 and hrr.client_shares is None
    client = dissect_extension(raw(TLSExtKeyShare(
        client_shares=[TLSKeyShareEntry(key_exchange=b"k" * 32)])))
    assert client.client_shares[0].key_exchange == b"k" * 32


def test_extensions_in_encrypted_extensions():
    ee = TLSEncryptedExtensions(ext=[TLSExtServerName(), TLSExtALPN(protocols=["h2"]),
                                     TLSExtEarlyData()])
    data = raw(TLSHandshake() / ee)
    got = TLSHandshake(data)
    assert raw(got) == data and clean(got)
    kinds = [type(e) for e in got.payload.ext]
    assert kinds == [TLSExtServerName, TLSExtALPN, TLSExtEarlyData]


@pytest.mark.parametrize("data", [
    bytes.fromhex("000a0003000217"),            # supported_groups: odd inner length
    bytes.fromhex("0000000500030001"),          # server_name: inner list too short
    bytes.fromhex("0017000100"),                # extended_master_secret with a body
    bytes.fromhex("002b0003020304ff"),          # supported_versions: trailing byte
    bytes.fromhex("001000"),                    # truncated header
])
def test_bad_extension_bodies_keep_their_bytes(data):
    ext = dissect_extension(data)
    assert raw(ext) == data
    assert type(ext) in (TLSExtension,) or not clean(ext)


def test_bad_extension_inside_hello_keeps_the_rest():
    good = raw(TLSExtALPN(protocols=["h2"]))
    bad = bytes.fromhex("000a0003000217")
    hello = TLSClientHello(ext=[])
    data = raw(TLSHandshake() / hello)
    # Splice a bad extension before a good one, lengths fixed by hand.
    body = data[4:-2] + (len(bad + good)).to_bytes(2, "big") + bad + good
    msg = bytes([1]) + len(body).to_bytes(3, "big") + body
    got = TLSHandshake(msg)
    exts = got[TLSClientHello].ext
    assert type(exts[0]) is TLSExtension and exts[0].type == 10
    assert type(exts[1]) is TLSExtALPN and raw(got) == msg
