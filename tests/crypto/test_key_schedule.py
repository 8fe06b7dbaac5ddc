"""The key schedule objects against RFC 8448 section 3 (simple 1-RTT handshake and the
ticket it issues) and section 4 (the resumed handshake's early secret), and the TLS 1.2
schedule against the PRF functions it wraps."""
import pytest

from scapy_tls_hs.crypto.key_schedule import KeySchedule12, KeySchedule13
from scapy_tls_hs.crypto.keylog import Keylog
from scapy_tls_hs.crypto.prf import Transcript, extended_master_secret, master_secret
from scapy_tls_hs.crypto.suites import CipherSuite

from .test_tls13 import (CLIENT_AP, CLIENT_HS, ECDHE_SHARED, EARLY_SECRET, HANDSHAKE_SECRET,
                         HASH_CH_SH, HASH_THROUGH_SERVER_FINISHED, MASTER, SERVER_AP,
                         SERVER_HS, h)

HASH_THROUGH_CLIENT_FINISHED = "209145a96ee8e2a122ff810047cc952684658d6049e86429426db87c54ad143d"
RES_MASTER = "7df235f2031d2a051287d02b0241b0bfdaf86cc856231f2d5aba46c434ec196c"
EXPORTER_MASTER = "fe22f881176eda18eb8f44529e6792c50c9a3f89452f68d8ae311b4309d3cf50"
TICKET_PSK = "4ecd0eb6ec3b4d87f5d6028f922ca4c5851a277fd41311c9e62d2c9492e1c4f3"
RESUMED_EARLY_SECRET = "9b2188e9b2fc6d64d71dc329900e20bb41915000f678aa839cbb797cb7d8332c"


@pytest.fixture
def rfc8448():
    ks = KeySchedule13("sha256")
    ks.handshake(h(ECDHE_SHARED), h(HASH_CH_SH))
    ks.application(h(HASH_THROUGH_SERVER_FINISHED))
    ks.resumption(h(HASH_THROUGH_CLIENT_FINISHED))
    return ks


def test_full_handshake_secrets(rfc8448):
    ks = rfc8448
    assert ks.early_secret == h(EARLY_SECRET)
    assert ks.handshake_secret == h(HANDSHAKE_SECRET)
    assert (ks.client_handshake, ks.server_handshake) == (h(CLIENT_HS), h(SERVER_HS))
    assert ks.master_secret == h(MASTER)
    assert (ks.client_application, ks.server_application) == (h(CLIENT_AP), h(SERVER_AP))
    assert ks.exporter_master == h(EXPORTER_MASTER)
    assert ks.resumption_master == h(RES_MASTER)


def test_ticket_psk_and_resumed_early_secret(rfc8448):
    psk = rfc8448.ticket_psk(b"\x00\x00")
    assert psk == h(TICKET_PSK)
    assert KeySchedule13("sha256", psk).early_secret == h(RESUMED_EARLY_SECRET)


def test_finished_is_checked_in_constant_time_and_exactly(rfc8448):
    th = bytes(32)
    good = rfc8448.finished(rfc8448.server_handshake, th)
    assert rfc8448.check_finished(rfc8448.server_handshake, th, good)
    assert not rfc8448.check_finished(rfc8448.server_handshake, th, good[:-1] + b"\x00")


def test_binder_differs_by_kind_and_is_a_finished():
    ks = KeySchedule13("sha256", h(TICKET_PSK))
    th = bytes(32)
    assert ks.binder(th) == ks.finished(ks.binder_key(True), th)
    assert ks.binder(th, resumption=False) != ks.binder(th)


def test_exporter_needs_the_master_secret(rfc8448):
    assert len(rfc8448.exporter("EXPERIMENTAL label", b"ctx", 42)) == 42
    assert rfc8448.exporter("a", b"", 16) != rfc8448.exporter("b", b"", 16)
    with pytest.raises(ValueError):
        KeySchedule13().exporter("a", b"", 16)


def test_sha384_sizes():
    ks = KeySchedule13("sha384")
    ks.handshake(bytes(48), bytes(48))
    assert ks.size == 48 and len(ks.client_handshake) == 48


def test_keylog_lines_round_trip(rfc8448):
    rfc8448.early(bytes(32))
    random = bytes(range(32))
    keylog = Keylog.parse("\n".join(rfc8448.keylog_lines(random)))
    for label, attr in KeySchedule13._KEYLOG:
        assert keylog.secret(label, random) == getattr(rfc8448, attr)
    again = KeySchedule13.from_secrets("sha256", client_application=h(CLIENT_AP))
    assert again.keylog_lines(random) == ["CLIENT_TRAFFIC_SECRET_0 %s %s" % (random.hex(),
                                                                              CLIENT_AP)]


def test_restart_with_message_hash_is_rfc8446_4_4_1():
    import hashlib
    t = Transcript()
    t.update(b"\x01\x00\x00\x02ab")
    t.restart_with_message_hash("sha256")
    digest = hashlib.sha256(b"\x01\x00\x00\x02ab").digest()
    assert t.data == b"\xfe\x00\x00\x20" + digest


def test_tls12_schedule_matches_the_prf():
    suite = CipherSuite.by_id(0xC02F)
    cr, sr, pms = bytes(range(32)), bytes(range(32, 64)), bytes(48)
    ks = KeySchedule12(suite, 0x0303, cr, sr)
    assert ks.master(pms) == master_secret(pms, cr, sr, 0x0303, "sha256")
    assert ks.master(pms, session_hash=bytes(32)) == extended_master_secret(
        pms, bytes(32), 0x0303, "sha256")
    assert len(ks.finished("client", bytes(32))) == 12
    assert ks.keylog_lines() == ["CLIENT_RANDOM %s %s" % (cr.hex(), ks.master_secret.hex())]
    assert ks.key_block().client_key != ks.key_block().server_key
