"""The one record layer: TLS 1.0-1.2 and TLS 1.3 protection behind one seal/open shape,
fragmentation, TLS 1.3 epochs, the compatibility CCS and refused early data."""
import os

import pytest

from scapy_tls_hs.codec.records import RecordReader
from scapy_tls_hs.connection.record_layer import RecordLayer
from scapy_tls_hs.crypto.prf import key_block
from scapy_tls_hs.crypto.record import RecordProtection
from scapy_tls_hs.crypto.suites import CipherSuite
from scapy_tls_hs.errors import AlertError

AES128_13 = CipherSuite.by_id(0x1301)
GCM12 = CipherSuite.by_id(0xC02F)
CBC12 = CipherSuite.by_id(0xC013)


def pair13(secret=None):
    secret = secret or os.urandom(32)
    w, r = RecordLayer(), RecordLayer()
    w.set_write13(AES128_13, secret)
    r.set_read13(AES128_13, secret)
    return w, r


def roundtrip(writer, reader, ct, payload):
    out = []
    for record in reader.feed(writer.seal(ct, payload)):
        out.append(reader.open(record))
    return out


def test_plaintext_records_and_fragmentation():
    w, r = RecordLayer(), RecordLayer()
    data = os.urandom(40000)
    got = roundtrip(w, r, 22, data)
    assert [len(p) for _, p in got] == [16384, 16384, 40000 - 32768]
    assert b"".join(p for _, p in got) == data


@pytest.mark.parametrize("suite,etm", [(GCM12, False), (CBC12, False), (CBC12, True)])
def test_tls12_protection(suite, etm):
    kb = key_block(os.urandom(48), os.urandom(32), os.urandom(32), suite, 0x0303)
    w, r = RecordLayer(), RecordLayer()
    w.version = 0x0303
    w.set_write(RecordProtection.for_direction(suite, 0x0303, kb, "client", etm))
    r.set_read(RecordProtection.for_direction(suite, 0x0303, kb, "client", etm))
    assert w.write_encrypted and r.read_encrypted
    assert roundtrip(w, r, 23, b"hello") == [(23, b"hello")]
    assert roundtrip(w, r, 21, b"\x01\x00") == [(21, b"\x01\x00")]


def test_tls13_inner_type_hidden_outside():
    w, r = pair13()
    wire = w.seal(22, b"finished-ish")
    (record,) = RecordReader().feed(wire)
    assert record.content_type == 23 and record.version == 0x0303
    assert r.open(record) == (22, b"finished-ish")


def test_tls13_padding_and_limits():
    w, r = pair13()
    w.pad13 = 100
    got = roundtrip(w, r, 23, os.urandom(16384))
    assert sum(len(p) for _, p in got) == 16384 and len(got) == 2


def test_tls13_ccs_passes_through_and_plain_handshake_is_unexpected():
    w, r = pair13()
    (ccs,) = RecordReader().feed(RecordLayer().seal_plain(20, b"\x01"))
    assert r.open(ccs) == (20, b"\x01")
    (plain,) = RecordReader().feed(RecordLayer().seal(22, b"\x01\x00\x00\x00"))
    with pytest.raises(AlertError, match="unexpected_message"):
        r.open(plain)


def test_tls13_bad_tag_is_bad_record_mac():
    w, r = pair13()
    wire = bytearray(w.seal(23, b"data"))
    wire[-1] ^= 1
    (record,) = RecordReader().feed(bytes(wire))
    with pytest.raises(AlertError, match="bad_record_mac"):
        r.open(record)


def test_refused_early_data_is_skipped_within_its_budget():
    early, _ = pair13()                        # keys the server does not have
    w, r = pair13()
    r.skip_early_data(100)
    junk = RecordReader().feed(early.seal(23, bytes(40)))
    assert r.open(junk[0]) is None             # skipped: 57 bytes of budget used
    assert roundtrip(w, r, 22, b"real") == [(22, b"real")]   # sequence numbers unharmed
    too_much = RecordReader().feed(early.seal(23, bytes(80)))
    with pytest.raises(AlertError, match="unexpected_message"):
        r.open(too_much[0])


def test_plain_early_data_after_hello_retry_is_skipped():
    r = RecordLayer()
    r.skip_early_data(50)
    (rec,) = RecordReader().feed(pair13()[0].seal(23, bytes(10)))
    assert r.open(rec) is None
    r.stop_skipping()
    ct, _ = r.open(rec)            # not skipping: handed to the role, whose table refuses it
    assert ct == 23


def test_header_longer_than_any_record_is_record_overflow():
    """RFC 5246 section 6.2.3: 2^14 + 2048 at most; more is record_overflow, and the records
    before the bad header still count (as for any bad header)."""
    from scapy_tls_hs.codec.records import RecordOverflow
    layer = RecordLayer()
    good = b"\x17\x03\x03\x00\x01x"
    with pytest.raises(RecordOverflow) as info:
        layer.feed(good + b"\x17\x03\x03" + (16384 + 2049).to_bytes(2, "big"))
    assert info.value.description == "record_overflow"
    assert [r.fragment for r in info.value.records] == [b"x"]
    assert RecordLayer().feed(b"\x17\x03\x03" + (16384 + 2048).to_bytes(2, "big")) == []
    with pytest.raises(AlertError) as info:
        RecordLayer().feed(b"\x63\x03\x03\x00\x01x")
    assert info.value.description == "decode_error"


def _pair12(suite=GCM12):
    kb = key_block(os.urandom(48), os.urandom(32), os.urandom(32), suite, 0x0303)
    w, r = RecordLayer(), RecordLayer()
    w.version = r.version = 0x0303
    return w, r, (lambda: RecordProtection.for_direction(suite, 0x0303, kb, "client"))


def test_tls12_send_limit_takes_effect_at_the_key_change():
    w, r, prot = _pair12()
    w.limit_sending(100)
    assert len(r.feed(w.seal(22, b"h" * 300))) == 1     # in the clear: no limit (RFC 8449 4)
    w.set_write(prot())
    r.set_read(prot())
    got = roundtrip(w, r, 23, b"d" * 300)
    assert [len(p) for _, p in got] == [100, 100, 100]


def test_tls12_send_limit_from_the_peer_change_cipher_spec_on():
    w, _, prot = _pair12()
    w.limit_sending(100)
    w.set_read(prot())                      # the peer's CCS: its new limit holds already
    records = RecordReader().feed(w.seal(22, b"t" * 300))
    assert [len(rec.fragment) for rec in records] == [100, 100, 100]


def test_tls12_receive_limit():
    w, r, prot = _pair12()
    r.limit_receiving(100)
    w.set_write(prot())
    r.set_read(prot())
    assert roundtrip(w, r, 23, b"d" * 100) == [(23, b"d" * 100)]
    with pytest.raises(AlertError) as info:
        roundtrip(w, r, 23, b"d" * 101)
    assert info.value.description == "record_overflow"


def test_tls13_limits_count_the_content_type_and_padding():
    w, r = pair13()
    w.limit_sending(64, now=True)
    w.pad13 = 10
    got = roundtrip(w, r, 23, b"d" * 200)
    # 64 = content + type byte + padding: 53 bytes of content each
    assert [len(p) for _, p in got] == [53, 53, 53, 41]
    w.pad13 = 1000                          # padding gives way to at least one content byte
    assert [len(p) for _, p in roundtrip(w, r, 23, b"e" * 3)] == [1, 1, 1]
    r.limit_receiving(64, now=True)
    w.limit_sending(None, now=True)
    w.pad13 = 0
    with pytest.raises(AlertError) as info:
        roundtrip(w, r, 23, b"f" * 64)
    assert info.value.description == "record_overflow"


def test_a_server_answers_an_oversized_header_with_record_overflow(pki):
    from scapy_tls_hs.connection import ServerConfig, ServerConnection
    server = ServerConnection(ServerConfig(pki.rsa_chain, pki.rsa_key))
    with pytest.raises(AlertError) as info:
        server.receive_data(b"\x16\x03\x01" + (16384 + 2049).to_bytes(2, "big") + b"\x01")
    assert info.value.description == "record_overflow"
    assert server.data_to_send() == b"\x15\x03\x01\x00\x02\x02\x16"    # fatal record_overflow
