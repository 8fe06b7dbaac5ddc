"""Session state and the server's session cache."""
import threading

import pytest

from scapy_tls_hs.connection.session import Session, SessionCache
from scapy_tls_hs.crypto.suites import CipherSuite
from scapy_tls_hs.errors import DecodeError


def make(sid=b"\x01" * 32, created=None, **kw):
    kw.setdefault("version", 0x0303)
    kw.setdefault("suite", CipherSuite.by_id(0xC02F))
    kw.setdefault("master_secret", bytes(range(48)))
    if created is not None:
        kw["created"] = created
    return Session(session_id=sid, **kw)


def test_state_round_trip_with_everything():
    s = make(extended_master_secret=True, encrypt_then_mac=True, alpn="h2", sni="a.test",
             peer_certificates=[b"\x30\x01\x02", b"\x30" * 700])
    again = Session.from_bytes(s.to_bytes(), session_id=b"x")
    assert again.session_id == b"x"
    for attr in ("version", "suite", "master_secret", "extended_master_secret",
                 "encrypt_then_mac", "alpn", "sni", "peer_certificates", "created"):
        assert getattr(again, attr) == getattr(s, attr)


@pytest.mark.parametrize("cut", [0, 1, 5, 20, -1])
def test_truncated_state_is_decode_error(cut):
    data = make().to_bytes()
    with pytest.raises(DecodeError):
        Session.from_bytes(data[:cut])


def test_state_with_trailing_bytes_is_decode_error():
    with pytest.raises(DecodeError):
        Session.from_bytes(make().to_bytes() + b"\x00")


def test_cache_get_put_remove():
    cache = SessionCache()
    s = make()
    cache.put(s)
    assert cache.get(s.session_id) is s and s.session_id in cache
    cache.remove(s.session_id)
    assert cache.get(s.session_id) is None
    cache.put(make(sid=b""))            # no id: nothing to cache
    assert len(cache) == 0


def test_cache_is_bounded_oldest_first():
    cache = SessionCache(max_entries=3)
    for i in range(5):
        cache.put(make(sid=bytes([i]) * 32))
    assert len(cache) == 3
    assert cache.get(b"\x00" * 32) is None and cache.get(b"\x04" * 32) is not None


def test_cache_entries_expire():
    cache = SessionCache(lifetime=10)
    cache.put(make(created=1000.0))
    assert cache.get(b"\x01" * 32, now=1005.0) is not None
    assert cache.get(b"\x01" * 32, now=1011.0) is None
    assert len(cache) == 0


def test_cache_shared_between_threads():
    cache = SessionCache(max_entries=50)

    def work(n):
        for i in range(200):
            cache.put(make(sid=bytes([n, i % 256]) * 16))
            cache.get(bytes([n, (i * 7) % 256]) * 16)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache) == 50
