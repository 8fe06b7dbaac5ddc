"""Session tickets: sealed state opens only with the right key, anything else gives None."""
from scapy_tls_hs.crypto.tickets import TicketKeys


def test_round_trip():
    keys = TicketKeys()
    ticket = keys.seal(b"state")
    assert ticket != b"state" and keys.open(ticket) == b"state"


def test_each_ticket_is_different():
    keys = TicketKeys()
    assert keys.seal(b"state") != keys.seal(b"state")


def test_tampered_truncated_foreign_tickets_give_none():
    keys = TicketKeys()
    ticket = bytearray(keys.seal(b"state"))
    for i in (0, 20, 30, len(ticket) - 1):
        bad = bytearray(ticket)
        bad[i] ^= 1
        assert keys.open(bytes(bad)) is None
    assert keys.open(bytes(ticket[:40])) is None
    assert keys.open(b"") is None
    assert TicketKeys().open(bytes(ticket)) is None


def test_rotation_keeps_recent_keys():
    keys = TicketKeys(keep=1)
    old = keys.seal(b"one")
    keys.rotate()
    assert keys.open(old) == b"one"
    keys.rotate()
    assert keys.open(old) is None


def test_fixed_key_shared_between_instances_needs_same_name():
    key = bytes(32)
    assert TicketKeys(key).open(TicketKeys(key).seal(b"x")) is None   # names differ: refused
