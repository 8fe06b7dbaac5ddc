"""The rebuilt ClientHello: the captured offer with fresh secrets, nothing else changed."""
import dataclasses
import pathlib

import pytest
from hypothesis import given, settings, strategies as st

from scapy_tls_hs.codec import extensions as X
from scapy_tls_hs.codec.messages import ClientHello
from scapy_tls_hs.connection.session import Session
from scapy_tls_hs.crypto.suites import CipherSuite
from scapy_tls_hs.registry import NAMED_GROUPS, name
from scapy_tls_hs.replay import read_captured, rebuild_client_hello

ROOT = pathlib.Path(__file__).resolve().parents[2]
CAPTURES = sorted((ROOT / "tests" / "data" / "captures").glob("*.pcap*")) + [
    ROOT / "pcaps" / "tls13_resumption_openssl.pcap",
    ROOT / "pcaps" / "tls10_rsa_aes128sha_openssl.pcap"]
# What the rebuild may change: the rest must be byte for byte the captured extension.
FRESH = {X.EXT_KEY_SHARE, X.EXT_SESSION_TICKET, X.EXT_PADDING}


def _hellos():
    for path in CAPTURES:
        for cap in read_captured(str(path)):
            yield pytest.param(cap.hello, id="%s#%d" % (path.stem, cap.number))


@pytest.mark.parametrize("hello", list(_hellos()))
def test_same_offer_fresh_secrets(hello):
    new, session, notes = rebuild_client_hello(hello)
    assert session is None
    assert new.version == hello.version
    assert new.cipher_suites == hello.cipher_suites
    assert new.compression_methods == hello.compression_methods
    assert new.random != hello.random and len(new.random) == 32
    assert len(new.session_id) == len(hello.session_id)
    if hello.session_id:
        assert new.session_id != hello.session_id
    dropped = {X.EXT_PRE_SHARED_KEY, X.EXT_EARLY_DATA}
    kept = [e for e in hello.extensions if e.type not in dropped]
    assert [e.type for e in new.extensions] == [e.type for e in kept]
    for old, ext in zip(kept, new.extensions):
        if old.type not in FRESH:
            assert ext.data == old.data, old.type
    ticket = new.ext(X.EXT_SESSION_TICKET)
    assert ticket is None or ticket.data == b""
    # What is sent parses back, and keeps the captured length unless something was dropped.
    assert ClientHello.parse(new.encode()) == new
    if len(kept) == len(hello.extensions) and hello.ext(X.EXT_SESSION_TICKET) is None:
        assert len(new.encode()) == len(hello.encode())


def _tls13_hellos():
    caps = read_captured(str(ROOT / "pcaps" / "tls13_resumption_openssl.pcap"))
    return caps[0].hello, caps[1].hello


def test_key_shares_are_fresh_keys_on_the_same_groups():
    hello, _ = _tls13_hellos()
    new, _, notes = rebuild_client_hello(hello)
    old_shares = X.parse_key_share_client(hello.ext(X.EXT_KEY_SHARE).data)
    new_shares = X.parse_key_share_client(new.ext(X.EXT_KEY_SHARE).data)
    assert [g for g, _ in new_shares] == [g for g, _ in old_shares]
    for (_, old), (group, key) in zip(old_shares, new_shares):
        assert key != old and len(key) == len(old)
    # A fresh x25519 share is a usable public key.
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
    X25519PublicKey.from_public_bytes(new_shares[0][1])
    assert notes == []


def test_tls13_psk_offer_is_left_out_and_said():
    _, resuming = _tls13_hellos()
    assert resuming.ext(X.EXT_PRE_SHARED_KEY) is not None
    new, _, notes = rebuild_client_hello(resuming)
    assert new.ext(X.EXT_PRE_SHARED_KEY) is None
    assert any("pre_shared_key" in n for n in notes)


def test_unknown_group_keeps_its_share_and_says_so():
    unknown = 0x6399    # no one's group: nothing here can make a fresh share for it
    grease = 0x2A2A
    shares = [(grease, b"\x00" * 3), (unknown, b"\x01" * 100), (29, b"\x02" * 32)]
    hello = ClientHello(cipher_suites=[0x1301], extensions=[
        X.Extension(X.EXT_KEY_SHARE, X.key_share_client(shares))])
    new, _, notes = rebuild_client_hello(hello)
    got = X.parse_key_share_client(new.ext(X.EXT_KEY_SHARE).data)
    # GREASE: fresh random bytes of the same length (a zero run of 3 drawn again: 2^-24).
    assert got[0][0] == grease and len(got[0][1]) == 3 and got[0][1] != shares[0][1]
    assert got[1] == shares[1]
    assert got[2][0] == 29 and got[2][1] != shares[2][1]
    assert notes == ["key_share for %s replayed as captured (no fresh key for it)"
                     % name(NAMED_GROUPS, unknown)]


def test_sni_override_replaces_or_adds_server_name():
    caps = read_captured(str(ROOT / "tests/data/captures/sni_alpn_curl_openssl.pcap"))
    hello = caps[0].hello
    new, _, _ = rebuild_client_hello(hello, sni="other.example")
    assert X.parse_server_name(new.ext(X.EXT_SERVER_NAME).data) == "other.example"
    assert [e.type for e in new.extensions] == [e.type for e in hello.extensions]
    bare = ClientHello(cipher_suites=[0x002F], extensions=None)
    new, _, _ = rebuild_client_hello(bare, sni="x.test")
    assert [e.type for e in new.extensions] == [X.EXT_SERVER_NAME]


def _session(session_id=b"", ticket=None):
    return Session(version=0x0303, suite=CipherSuite.by_id(0xC030), session_id=session_id,
                   master_secret=bytes(48), ticket=ticket, ticket_lifetime=300,
                   extended_master_secret=True, encrypt_then_mac=False, alpn=None, sni=None,
                   peer_certificates=[])


def test_resumption_by_ticket_keeps_the_captured_length():
    caps = read_captured(str(ROOT / "tests/data/captures/resume_ticket_python.pcap"))
    hello = caps[1].hello           # a ticket resumption with a padding extension
    assert hello.ext(X.EXT_PADDING) is not None and hello.ext(X.EXT_SESSION_TICKET).data
    for size in (64, 160, 200):
        ticket = bytes(range(256))[:size]
        new, session, _ = rebuild_client_hello(hello, session=_session(ticket=ticket))
        assert new.ext(X.EXT_SESSION_TICKET).data == ticket
        # RFC 5077 section 3.4: a fresh session id goes with the ticket, and the session
        # given back carries it, so the client sees the server accept.
        assert len(new.session_id) == 32 and session.session_id == new.session_id
        assert len(new.encode()) == len(hello.encode())


def test_resumption_by_session_id():
    caps = read_captured(str(ROOT / "tests/data/captures/resume_session_id_openssl.pcap"))
    hello = caps[1].hello
    sid = bytes(range(32))
    new, session, notes = rebuild_client_hello(hello, session=_session(session_id=sid))
    assert new.session_id == sid and session.session_id == sid
    assert new.ext(X.EXT_SESSION_TICKET).data == b""
    assert notes == []


def test_ticket_only_session_without_ticket_extension_is_a_full_offer():
    hello = ClientHello(cipher_suites=[0xC030], extensions=[])
    new, session, notes = rebuild_client_hello(hello, session=_session(ticket=b"t" * 80))
    assert session is None and new.session_id == b"" and notes


_ext = st.builds(X.Extension, st.sampled_from([0, 10, 13, 16, 23, 0x0A0A, 0xFE0D, 777]),
                 st.binary(max_size=40))


@settings(max_examples=60, deadline=None)
@given(version=st.sampled_from([0x0301, 0x0302, 0x0303]),
       suites=st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=30),
       session_id=st.binary(max_size=32),
       compression=st.lists(st.integers(0, 255), min_size=1, max_size=3),
       exts=st.one_of(st.none(), st.lists(_ext, max_size=8)))
def test_any_offer_survives(version, suites, session_id, compression, exts):
    hello = ClientHello(version=version, session_id=session_id, cipher_suites=suites,
                        compression_methods=compression, extensions=exts)
    new, _, _ = rebuild_client_hello(hello)
    expect = dataclasses.replace(hello, random=new.random, session_id=new.session_id)
    assert new == expect
    assert len(new.encode()) == len(hello.encode())
