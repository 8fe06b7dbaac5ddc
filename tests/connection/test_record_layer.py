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
