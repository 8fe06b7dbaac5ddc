"""The sealed-state layout shared by TLS 1.2 sessions and TLS 1.3 ticket states
(codec/state.py): both round-trip, keep the byte layout of earlier releases (tickets a
running server issued before an upgrade still open), and every cut or extended state is a
DecodeError."""
import struct

import pytest

from scapy_tls_hs.codec.state import StateReader, certificates, vector
from scapy_tls_hs.connection.session import Session
from scapy_tls_hs.crypto.suites import CipherSuite
from scapy_tls_hs.crypto.tickets import TicketState13
from scapy_tls_hs.errors import DecodeError

CERTS = [b"\x30\x03abc", b"\x30\x01z"]


def session():
    return Session(version=0x0303, suite=CipherSuite.by_id(0xC02F), session_id=b"",
                   master_secret=bytes(range(48)), extended_master_secret=True,
                   alpn="h2", sni="example.com", peer_certificates=CERTS, created=1234.5)


def state13():
    return TicketState13(0x1302, b"\x07" * 48, 0xDEADBEEF, created=99.0, max_early_data=512,
                         alpn="http/1.1", sni="host", peer_certificates=CERTS,
                         ticket_id=b"\x11" * 16)


def certs_layout():
    return bytes((2,)) + b"".join(struct.pack("!I", len(c)) + c for c in CERTS)


def test_session_layout_is_unchanged():
    want = (struct.pack("!BHHBdB", 1, 0x0303, 0xC02F, 1, 1234.5, 48) + bytes(range(48))
            + struct.pack("!H", 11) + b"example.com" + b"\x02h2" + certs_layout())
    assert session().to_bytes() == want
    again = Session.from_bytes(want, session_id=b"id")
    assert (again.master_secret, again.alpn, again.sni, again.peer_certificates,
            again.extended_master_secret, again.encrypt_then_mac, again.session_id) == (
        bytes(range(48)), "h2", "example.com", CERTS, True, False, b"id")


def test_ticket_state13_layout_is_unchanged():
    want = (struct.pack("!B16sHdIIB", 13, b"\x11" * 16, 0x1302, 99.0, 0xDEADBEEF, 512, 48)
            + b"\x07" * 48 + b"\x08http/1.1" + struct.pack("!H", 4) + b"host" + certs_layout())
    assert state13().to_bytes() == want
    assert TicketState13.from_bytes(want) == state13()


@pytest.mark.parametrize("make,read", [(session, Session.from_bytes),
                                       (state13, TicketState13.from_bytes)])
def test_every_cut_or_extended_state_is_a_decode_error(make, read):
    data = make().to_bytes()
    for cut in range(len(data)):
        with pytest.raises(DecodeError):
            read(data[:cut])
    with pytest.raises(DecodeError):
        read(data + b"\x00")


def test_empty_texts_are_none_and_bad_utf8_is_a_decode_error():
    s = Session(version=0x0303, suite=CipherSuite.by_id(0xC02F), session_id=b"",
                master_secret=bytes(48))
    again = Session.from_bytes(s.to_bytes())
    assert again.alpn is None and again.sni is None and again.peer_certificates == []
    reader = StateReader(vector(b"\xff\xfe", 1), 0, "thing")
    with pytest.raises(DecodeError, match="bad thing"):
        reader.text(1)


def test_reader_helpers():
    data = vector(b"ab", 2) + certificates([b"x", b"yz"]) + b"\x05"
    read = StateReader(data, 0, "x")
    assert read.vector(2) == b"ab" and read.certificates() == [b"x", b"yz"]
    assert read.number(1) == 5
    read.end()
    with pytest.raises(DecodeError, match="truncated"):
        read.take(1)
