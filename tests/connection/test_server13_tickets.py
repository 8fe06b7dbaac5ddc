"""What a TLS 1.3 ticket carries (``crypto.tickets.TicketState13``) and how the server reads
tickets it did not make or cannot use: never an error, a full handshake."""
import time

import pytest
from hypothesis import given, strategies as st

from scapy_tls_hs.crypto.suites import CipherSuite
from scapy_tls_hs.crypto.tickets import TicketKeys, TicketState13
from scapy_tls_hs.connection.session import Session
from scapy_tls_hs.errors import DecodeError


def test_state_round_trips():
    state = TicketState13(0x1302, b"\x01" * 48, 0xDEADBEEF, max_early_data=512, alpn="h2",
                          sni="server.test", peer_certificates=[b"der1", b"der2" * 100])
    again = TicketState13.from_bytes(state.to_bytes())
    assert again == state and len(again.ticket_id) == 16


def test_every_ticket_has_its_own_id():
    a, b = TicketState13(0x1301, bytes(32), 1), TicketState13(0x1301, bytes(32), 1)
    assert a.ticket_id != b.ticket_id


def test_a_tls12_session_is_not_a_tls13_state_and_back():
    s12 = Session(0x0303, CipherSuite.by_id(0xC02F), b"", bytes(48), created=time.time())
    with pytest.raises(DecodeError):
        TicketState13.from_bytes(s12.to_bytes())
    with pytest.raises(DecodeError):
        Session.from_bytes(TicketState13(0x1301, bytes(32), 1).to_bytes())


@given(st.binary(max_size=200))
def test_garbage_is_a_decode_error(data):
    try:
        TicketState13.from_bytes(data)
    except DecodeError:
        pass


def test_sealed_state_opens_only_with_its_keys():
    keys, other = TicketKeys(), TicketKeys()
    ticket = keys.seal(TicketState13(0x1301, bytes(32), 1).to_bytes())
    assert TicketState13.from_bytes(keys.open(ticket)).suite_id == 0x1301
    assert other.open(ticket) is None
    keys.rotate()
    keys.rotate()
    assert keys.open(ticket) is not None        # keep=2 previous keys
    keys.rotate()
    assert keys.open(ticket) is None
