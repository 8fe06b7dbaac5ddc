"""Property tests: no bytes make dissection (or show/summary/raw of the result) raise, and
rebuilding a dissected packet gives the bytes back."""
import functools

from hypothesis import HealthCheck, given, settings, strategies as st
from scapy.all import raw

from scapy_tls_hs.layers import (TLSHandshake, TLSRecord, dissect_stream, handshake_messages,
                                 split_records)
from tests.conftest import DATA
from tests.layers.streams import tcp_streams

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@functools.lru_cache(maxsize=1)
def real_records():
    """Plaintext handshake records (and a few others) from the capture corpus."""
    out = []
    for name in ("tls12_dhe_rsa_aes256gcm_openssl.pcap", "mutual_auth_rsa_openssl.pcap",
                 "tls13_aes128gcm_openssl.pcap", "sni_alpn_curl_openssl.pcap"):
        for _, _, c_data, s_data in tcp_streams(DATA / "captures" / name):
            for data in (c_data, s_data):
                out.extend(split_records(data)[0][:6])
    return out


def _exercise(pkt, data):
    pkt.show(dump=True)
    pkt.summary()
    assert raw(pkt) == data


@SETTINGS
@given(st.binary(min_size=1, max_size=600))
def test_random_bytes_never_raise(data):
    _exercise(TLSRecord(data), data)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_random_handshake_bodies_never_raise(body):
    for msg_type in (1, 2, 4, 11, 12, 13, 15, 16, 8, 22, 24):
        data = bytes([22, 3, 3]) + (len(body) + 4).to_bytes(2, "big") + \
            bytes([msg_type]) + len(body).to_bytes(3, "big") + body
        _exercise(TLSRecord(data), data)
        hs = data[5:]
        _exercise(TLSHandshake(hs), hs)


@st.composite
def mutated_record(draw):
    records = real_records()
    data = bytearray(draw(st.sampled_from(records)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[pos:]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[pos:pos + draw(st.integers(1, 8))]
    return bytes(data) or b"\x16"


@SETTINGS
@given(mutated_record())
def test_mutated_real_records_never_raise(data):
    _exercise(TLSRecord(data), data)
    for rec in dissect_stream(data):
        rec.show(dump=True)
    assert b"".join(raw(r) for r in dissect_stream(data)) == data
    for msg in handshake_messages(dissect_stream(data)):
        msg.show(dump=True)
        msg.summary()


# --- build -> dissect round trips -----------------------------------------------------------

_u16 = st.integers(0, 0xFFFF)
_host = st.text("abcdefghijklmnopqrstuvwxyz0123456789-.", min_size=1, max_size=40)


@st.composite
def extensions(draw):
    from scapy_tls_hs.layers import (TLSExtALPN, TLSExtension, TLSExtKeyShare,
                                     TLSExtPadding, TLSExtServerName, TLSExtSessionTicket,
                                     TLSExtSignatureAlgorithms, TLSExtSupportedGroups,
                                     TLSExtSupportedVersions, TLSKeyShareEntry)
    from scapy_tls_hs.layers.fields import EXTENSION_CLASSES
    makers = [
        lambda: TLSExtServerName(servernames=draw(st.lists(_host, min_size=1, max_size=3))),
        lambda: TLSExtSupportedGroups(groups=draw(st.lists(_u16, max_size=20))),
        lambda: TLSExtSignatureAlgorithms(sig_algs=draw(st.lists(_u16, max_size=20))),
        lambda: TLSExtALPN(protocols=draw(st.lists(st.binary(min_size=1, max_size=20),
                                                   max_size=4))),
        lambda: TLSExtPadding(padding=b"\x00" * draw(st.integers(0, 300))),
        lambda: TLSExtSessionTicket(ticket=draw(st.binary(max_size=200))),
        lambda: TLSExtSupportedVersions(versions=draw(st.lists(_u16, min_size=1,
                                                               max_size=5))),
        lambda: TLSExtKeyShare(client_shares=[
            TLSKeyShareEntry(group=g, key_exchange=k) for g, k in draw(st.lists(
                st.tuples(_u16, st.binary(max_size=97)), max_size=3))]),
        lambda: TLSExtension(type=draw(_u16.filter(lambda t: t not in EXTENSION_CLASSES)),
                             data=draw(st.binary(max_size=50))),
    ]
    picks = draw(st.lists(st.integers(0, len(makers) - 1), max_size=8))
    return [makers[i]() for i in picks]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(version=st.sampled_from([0x0300, 0x0301, 0x0302, 0x0303]),
       random=st.binary(min_size=32, max_size=32), sid=st.binary(max_size=32),
       ciphers=st.lists(_u16, max_size=60), ext=extensions())
def test_client_hello_build_dissect_round_trip(version, random, sid, ciphers, ext):
    from scapy_tls_hs.layers import TLSClientHello
    from tests.layers.helpers import clean, same_set_fields
    hello = TLSClientHello(version=version, random=random, sid=sid, ciphers=ciphers, ext=ext)
    data = raw(TLSRecord() / TLSHandshake() / hello)
    again = TLSRecord(data)
    assert raw(again) == data and clean(again)
    got = again[TLSClientHello]
    assert (got.version, got.random, got.sid, got.ciphers) == (version, random, sid, ciphers)
    assert [type(e) for e in got.ext] == [type(e) for e in ext]
    assert all(same_set_fields(g, e) for g, e in zip(got.ext, ext))


_vec = st.binary(max_size=300)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(version=st.sampled_from([0x0301, 0x0302, 0x0303]), kind=st.sampled_from(["DHE", "ECDHE"]),
       params=st.tuples(_vec, st.binary(min_size=1, max_size=4), _vec), group=_u16,
       scheme=_u16, sig=_vec)
def test_key_exchange_messages_round_trip_with_context(version, kind, params, group, scheme,
                                                       sig):
    from scapy_tls_hs.layers import (TLSCertificateVerify, TLSClientKeyExchange, TLSContext,
                                     TLSServerKeyExchange)
    from tests.layers.helpers import same_set_fields
    tls12 = version == 0x0303
    sig_alg = scheme if tls12 else None
    if kind == "DHE":
        ske = TLSServerKeyExchange(dh_p=params[0], dh_g=params[1], dh_Ys=params[2],
                                   sig_alg=sig_alg, sig=sig)
        cke = TLSClientKeyExchange(exchange_keys=params[2])
    else:
        ske = TLSServerKeyExchange(named_curve=group, point=params[2][:255], sig_alg=sig_alg,
                                   sig=sig)
        cke = TLSClientKeyExchange(point=params[2][:255])
    ctx = TLSContext(version=version, key_exchange=kind)
    for msg in (ske, cke, TLSCertificateVerify(sig_alg=sig_alg, sig=sig)):
        data = raw(TLSHandshake() / msg)
        again = TLSHandshake(data, ctx=ctx)
        assert type(again.payload) is type(msg) and raw(again) == data
        assert same_set_fields(again.payload, msg)


# -- every layer class made directly from bytes ------------------------------------------------

def _layer_classes():
    import scapy_tls_hs.layers as L
    from scapy_tls_hs.layers.fields import TLSPacket
    return [getattr(L, n) for n in L.__all__
            if isinstance(getattr(L, n), type) and issubclass(getattr(L, n), TLSPacket)]


LAYER_CLASSES = _layer_classes()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(min_size=1, max_size=120), pick=st.integers(0, len(LAYER_CLASSES) - 1))
def test_any_layer_from_random_bytes_never_raises(data, pick):
    """``TLSClientHello(body)``, ``TLSExtServerName(data)`` ...: a user may dissect bytes
    with any class directly; what does not fit is marked, never an exception."""
    pkt = LAYER_CLASSES[pick](data)
    _exercise(pkt, data)
    _exercise(pkt.copy(), data)


def test_bytes_that_do_not_fit_a_class_are_marked():
    from scapy_tls_hs.layers import TLSCertificate, TLSClientHello, TLSMalformed
    for cls, data in ((TLSClientHello, b"\x03\x03abc"), (TLSCertificate, b"\x00\x01")):
        pkt = cls(data)
        assert type(pkt) is cls and isinstance(pkt.payload, TLSMalformed)
        assert pkt.payload.load == data and raw(pkt) == data and pkt.tls_malformed
        assert "malformed" in pkt.summary() and "malformed" in pkt.show(dump=True)
        copy = pkt.copy()
        assert raw(copy) == data and copy.tls_malformed
    # Inside a record the same bytes are the record's malformed content, as before.
    rec = TLSRecord(b"\x16\x03\x03\x00\x09\x01\x00\x00\x05\x03\x03abc")
    assert isinstance(rec[TLSHandshake].payload, TLSMalformed)
    assert not TLSClientHello(raw(TLSClientHello())).tls_malformed
