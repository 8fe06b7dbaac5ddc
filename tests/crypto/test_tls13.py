"""TLS 1.3 pieces: the RFC 8448 key schedule, record protection, the TLS 1.3 capture."""
import hashlib
import os
import pathlib

import pytest

from scapy_tls_hs.crypto.keylog import Keylog
from scapy_tls_hs.crypto.prf import Transcript
from scapy_tls_hs.crypto.suites import CipherSuite
from scapy_tls_hs.crypto.tls13 import (TLS13Protection, derive_secret, finished_key,
                                       hkdf_expand_label, hkdf_extract, next_traffic_secret,
                                       traffic_keys, verify_data13)
from scapy_tls_hs.errors import AlertError

from . import capture_keys as C

CAPTURES = pathlib.Path(__file__).parent.parent / "data" / "captures"
AES128 = CipherSuite.by_id(0x1301)

# RFC 8448 section 3 (simple 1-RTT handshake, TLS_AES_128_GCM_SHA256).
ECDHE_SHARED = "8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d"
EARLY_SECRET = "33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a"
DERIVED = "6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba"
HANDSHAKE_SECRET = "1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac"
HASH_CH_SH = "860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8"
CLIENT_HS = "b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21"
SERVER_HS = "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38"
MASTER = "18df06843d13a08bf2a449844c5f8a478001bc4d4c627984d5a41da8d0402919"
HASH_THROUGH_SERVER_FINISHED = "9608102a0f1ccc6db6250b7b7e417b1a000eaada3daae4777a7686c9ff83df13"
CLIENT_AP = "9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5"
SERVER_AP = "a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643"


def h(text):
    return bytes.fromhex(text)


def test_rfc8448_key_schedule():
    empty_hash = hashlib.sha256(b"").digest()
    early = hkdf_extract(b"", b"")
    assert early == h(EARLY_SECRET)
    derived = derive_secret(early, "derived", empty_hash)
    assert derived == h(DERIVED)
    handshake = hkdf_extract(derived, h(ECDHE_SHARED))
    assert handshake == h(HANDSHAKE_SECRET)
    assert derive_secret(handshake, "c hs traffic", h(HASH_CH_SH)) == h(CLIENT_HS)
    assert derive_secret(handshake, b"tls13 s hs traffic", h(HASH_CH_SH)) == h(SERVER_HS)
    master = hkdf_extract(derive_secret(handshake, "derived", empty_hash), b"")
    assert master == h(MASTER)
    assert derive_secret(master, "c ap traffic", h(HASH_THROUGH_SERVER_FINISHED)) == \
        h(CLIENT_AP)
    assert derive_secret(master, "s ap traffic", h(HASH_THROUGH_SERVER_FINISHED)) == \
        h(SERVER_AP)


def test_rfc8448_traffic_keys():
    assert traffic_keys(AES128, h(SERVER_HS)) == (h("3fce516009c21727d0f2e4e86ee403bc"),
                                                  h("5d313eb2671276ee13000b30"))
    assert traffic_keys(AES128, h(CLIENT_HS)) == (h("dbfaa693d1762c5b666af5d950258d01"),
                                                  h("5bd3c71b836e0b76bb73265f"))
    assert traffic_keys(AES128, h(SERVER_AP)) == (h("9f02283b6c9c07efc26bb9f2ac92e356"),
                                                  h("cf782b88dd83549aadf1e984"))


def test_rfc8448_server_finished_key():
    assert finished_key(h(SERVER_HS)) == h(
        "008d3b66f816ea559f96b537e885c31fc068bf492c652f01f288a1d8cdc19fc8")


@pytest.mark.parametrize("suite_id", [0x1301, 0x1302, 0x1303])
def test_seal_open_round_trip_and_tamper(suite_id):
    suite = CipherSuite.by_id(suite_id)
    secret = os.urandom(48 if suite.prf_hash == "sha384" else 32)
    writer, reader = TLS13Protection(suite, secret), TLS13Protection(suite, secret)
    for size in (0, 1, 100, 16384):
        data = os.urandom(size)
        padding = size % 7 if size < 16384 else 0      # RFC 8446 5.4: at most 2^14 + 1 in all
        assert reader.open(writer.seal(23, data, padding=padding)) == (23, data)
    fragment = writer.seal(22, b"hello")
    for bit in range(len(fragment) * 8):
        tampered = bytearray(fragment)
        tampered[bit // 8] ^= 1 << (bit % 8)
        fresh = TLS13Protection(suite, secret)
        fresh.seq = writer.seq - 1
        with pytest.raises(AlertError, match="bad_record_mac"):
            fresh.open(bytes(tampered))
    assert reader.open(fragment) == (22, b"hello")


def test_open_errors():
    prot = TLS13Protection(AES128, bytes(32))
    with pytest.raises(AlertError, match="bad_record_mac"):
        prot.open(b"short")
    with pytest.raises(AlertError, match="record_overflow"):
        TLS13Protection(AES128, bytes(32)).open(bytes(16384 + 257))
    writer = TLS13Protection(AES128, bytes(32))
    # an all-zero inner plaintext has no content type
    fragment = writer._aead.encrypt(writer._nonce(), bytes(5),
                                    bytes((23, 3, 3, 0, 21)))
    with pytest.raises(AlertError, match="unexpected_message"):
        TLS13Protection(AES128, bytes(32)).open(fragment)


def test_key_update_secret():
    secret = os.urandom(32)
    assert next_traffic_secret(AES128, secret) == hkdf_expand_label(
        secret, "traffic upd", b"", 32, "sha256")


def test_hkdf_expand_label_prefix_optional():
    s = os.urandom(32)
    assert hkdf_expand_label(s, "key", b"", 16) == hkdf_expand_label(s, b"tls13 key", b"", 16)


# -- the TLS 1.3 captures (corpus and pcaps/) -------------------------------------------------

PCAPS = CAPTURES.parent.parent.parent / "pcaps"


def _tls13_captures():
    seen = {}
    for folder in (CAPTURES, PCAPS):
        for path in sorted(folder.glob("tls13*.pcap*")):
            if path.with_suffix(".keylog").exists():
                seen.setdefault(path.name, path)
    return [pytest.param(p, id=p.stem) for _, p in sorted(seen.items())]


TLS13_CAPTURES = _tls13_captures()


def _run_side(suite, records, hs_secret, app_secret):
    """Open every record: handshake keys until this side's Finished, then application
    keys, moved on by each KeyUpdate (RFC 8446 section 4.6.3). Returns (handshake messages
    [(type, body, raw)], app plaintext records, number of key updates)."""
    prot = TLS13Protection(suite, hs_secret)
    buffered, msgs, app = b"", [], []
    in_handshake, updates = True, 0
    for ct, version, fragment in records:
        inner_type, plaintext = prot.open(fragment)
        if inner_type == C.HANDSHAKE:
            buffered += plaintext
            while len(buffered) >= 4:
                length = int.from_bytes(buffered[1:4], "big")
                if len(buffered) < 4 + length:
                    break
                raw, buffered = buffered[:4 + length], buffered[4 + length:]
                msgs.append((raw[0], raw[4:], raw))
                if raw[0] == 20 and in_handshake:
                    in_handshake = False
                    prot = TLS13Protection(suite, app_secret)
                elif raw[0] == 24:
                    app_secret = next_traffic_secret(suite, app_secret)
                    prot = TLS13Protection(suite, app_secret)
                    updates += 1
        else:
            app.append((inner_type, plaintext))
    return msgs, app, updates


def _transcript_start(hs, suite):
    """ClientHello .. ServerHello, with a HelloRetryRequest replaced as RFC 8446 section
    4.4.1 says: message_hash(Hash(ClientHello1)), HelloRetryRequest, ClientHello2, ..."""
    t = Transcript()
    client, server = hs.client.plain, hs.server.plain
    if len(client) == 2:
        first = hashlib.new(suite.prf_hash, client[0][2]).digest()
        t.update(b"\xfe\x00\x00" + bytes([len(first)]) + first)
        t.update(server[0][2])
        t.update(client[1][2])
        t.update(server[1][2])
    else:
        t.update(client[0][2])
        t.update(server[0][2])
    return t


def test_tls13_captures_cover_hrr_resumption_and_key_update():
    assert {p.values[0].stem for p in TLS13_CAPTURES} >= {
        "tls13_aes128gcm_openssl", "tls13_hrr_keyupdate_openssl", "tls13_resumption_openssl"}


@pytest.mark.parametrize("path", TLS13_CAPTURES)
def test_tls13_capture(path):
    """Key log secrets open every protected record of both directions, and both Finished
    verify_data match the transcript (full, HelloRetryRequest, PSK resumption)."""
    keylog = Keylog.load(path.with_suffix(".keylog"))
    checked = updates = 0
    for hs in C.handshakes(path):
        cr = hs.client_random
        suite = CipherSuite.by_id(hs.suite_id)
        secrets = {label: keylog.secret(label, cr) for label in (
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
            "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0")}
        assert all(secrets.values())
        server_msgs, server_app, n_server = _run_side(
            suite, hs.server.protected, secrets["SERVER_HANDSHAKE_TRAFFIC_SECRET"],
            secrets["SERVER_TRAFFIC_SECRET_0"])
        client_msgs, client_app, n_client = _run_side(
            suite, hs.client.protected, secrets["CLIENT_HANDSHAKE_TRAFFIC_SECRET"],
            secrets["CLIENT_TRAFFIC_SECRET_0"])
        updates += n_server + n_client
        types = [m[0] for m in server_msgs]
        server_fin = types.index(20)
        resumed = 11 not in types[:server_fin]
        assert types[:server_fin + 1] == ([8, 20] if resumed else [8, 11, 15, 20])
        assert 4 in types[server_fin + 1:]      # NewSessionTicket, under the app keys
        assert [m[0] for m in client_msgs][0] == 20        # no client certificate
        t = _transcript_start(hs, suite)
        for _, _, raw in server_msgs[:server_fin]:
            t.update(raw)
        assert server_msgs[server_fin][1] == verify_data13(
            secrets["SERVER_HANDSHAKE_TRAFFIC_SECRET"], t.digest(0x0304, suite.prf_hash),
            suite.prf_hash)
        t.update(server_msgs[server_fin][2])
        client_fin = next(m for m in client_msgs if m[0] == 20)
        assert client_fin[1] == verify_data13(
            secrets["CLIENT_HANDSHAKE_TRAFFIC_SECRET"], t.digest(0x0304, suite.prf_hash),
            suite.prf_hash)
        assert client_app or server_app
        checked += 1
    assert checked >= 1
    if "keyupdate" in path.stem:
        assert updates >= 1


def test_draft_records_without_additional_data():
    """TLS 1.3 drafts before 25 authenticated no record header (old captures): a record
    sealed that way opens with ``empty_aad`` and not without it, and the reverse."""
    suite, secret = CipherSuite.by_id(0x1301), os.urandom(32)
    writer = TLS13Protection(suite, secret)
    key, iv = writer._aead, writer._nonce()           # the AEAD and the first record's nonce
    inner = b"draft data" + b"\x17"
    draft_record = key.encrypt(iv, inner, b"")
    plain = TLS13Protection(suite, secret)
    with pytest.raises(AlertError):
        plain.open(draft_record)
    draft = TLS13Protection(suite, secret)
    draft.empty_aad = True
    assert draft.open(draft_record) == (23, b"draft data")
    final = TLS13Protection(suite, secret).seal(23, b"final")
    draft = TLS13Protection(suite, secret)
    draft.empty_aad = True
    with pytest.raises(AlertError):
        draft.open(final)
