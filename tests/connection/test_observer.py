"""The observer role, fed the two byte streams of real captures (tests/data/captures)."""
import hashlib
import json
import pathlib

import pytest
from hypothesis import given, settings, strategies as st

from scapy_tls_hs.capture.pcapfile import read_packets
from scapy_tls_hs.capture.streams import reassemble
from scapy_tls_hs.connection.events import (Alert, ApplicationData, ChangeCipherSpec,
                                            HandshakeComplete, HandshakeMessage, Undecryptable)
from scapy_tls_hs.connection.observer import ObserverConnection, SessionTable
from scapy_tls_hs.crypto.keylog import Keylog

CAPTURES = pathlib.Path(__file__).resolve().parent.parent / "data" / "captures"


def streams(name):
    path = next(p for p in (CAPTURES / (name + ".pcap"), CAPTURES / (name + ".pcapng"))
                if p.exists())
    return [[(c[0], c[1]) for c in conn.chunks] for conn in reassemble(read_packets(path))]


def truth(name):
    with open(CAPTURES / (name + ".truth.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def keylog(name):
    return Keylog.load(CAPTURES / (name + ".keylog"))


def observe(chunks, **kw):
    obs = ObserverConnection(**kw)
    events = []
    for direction, data in chunks:
        events += obs.receive(direction, data)
    obs.finish()
    return obs, events


def test_events_of_a_tls12_connection_in_wire_order():
    name = "tls12_ecdhe_rsa_aes128gcm_openssl"
    (chunks,) = streams(name)
    obs, events = observe(chunks, keylog=keylog(name))
    (want,) = truth(name)
    names = []
    for ev in events:
        tag = "C:" if ev.direction == "client" else "S:"
        if isinstance(ev, HandshakeComplete):
            continue
        names.append(tag + ev.name)
    assert names == want["messages"] == obs.messages
    done = [ev for ev in events if isinstance(ev, HandshakeComplete)]
    assert len(done) == 1 and done[0].resumed is False
    session = done[0].session
    assert session.master_secret == keylog(name).master_secret(obs.client_random)
    assert session.suite.name == want["cipher_suite"]
    # The handshake is complete right after the server Finished.
    i = events.index(done[0])
    assert isinstance(events[i - 1], HandshakeMessage) and events[i - 1].name == "finished"
    assert events[i - 1].encrypted is True
    client_data = b"".join(ev.data for ev in events
                           if isinstance(ev, ApplicationData) and ev.direction == "client")
    assert hashlib.sha256(client_data).hexdigest() == want["app_data"]["client_sha256"]
    alerts = [ev for ev in events if isinstance(ev, Alert)]
    assert [(a.level, a.description) for a in alerts] == [(1, "close_notify")] * 2
    assert sum(isinstance(ev, ChangeCipherSpec) for ev in events) == 2


def test_fields_match_truth():
    name = "mutual_auth_rsa_openssl"
    (chunks,) = streams(name)
    obs, _ = observe(chunks, keylog=keylog(name))
    (want,) = truth(name)
    got = obs.fields()
    for key, value in want.items():
        if key not in ("client", "server"):
            assert got[key] == value, key
    assert got["errors"] == []


def test_without_keys_protected_records_are_undecryptable_events():
    name = "tls12_ecdhe_rsa_aes128sha_curl"
    (chunks,) = streams(name)
    obs, events = observe(chunks)
    undec = [ev for ev in events if isinstance(ev, Undecryptable)]
    # Finished both ways, application data both ways, close_notify both ways.
    assert sorted(ev.content_type for ev in undec) == [21, 21, 22, 22, 23, 23]
    assert obs.decrypted is False and obs.app_data is None and obs.errors == []
    assert not any(isinstance(ev, HandshakeComplete) for ev in events)


def test_tls13_events_decrypted_with_traffic_secrets():
    name = "tls13_aes128gcm_openssl"
    (chunks,) = streams(name)
    obs, events = observe(chunks, keylog=keylog(name))
    hs = [ev for ev in events if isinstance(ev, HandshakeMessage)]
    assert [ev.name for ev in hs if ev.encrypted][:4] == [
        "encrypted_extensions", "certificate", "certificate_verify", "finished"]
    assert obs.version == 0x0304 and obs.decrypted and obs.errors == []
    assert obs.extended_master_secret is False and obs.resumed is False


@pytest.mark.parametrize("name", ["resume_session_id_openssl", "resume_ticket_python"])
def test_session_table_carries_master_secret_to_the_resumed_connection(name):
    first, second = streams(name)
    lines = [l for l in (CAPTURES / (name + ".keylog")).read_text().splitlines()
             if l.startswith("CLIENT_RANDOM")]
    kl = Keylog.parse(lines[0] + "\n")
    table = SessionTable()
    obs1, _ = observe(first, keylog=kl, sessions=table)
    assert obs1.decrypted and len(table) >= 1
    obs2, events = observe(second, keylog=kl, sessions=table)
    assert obs2.resumed and obs2.decrypted and obs2.key_source == "session"
    assert obs2.messages == truth(name)[1]["messages"]


@settings(max_examples=20, deadline=None)
@given(st.data(), st.sampled_from(["big_cert_chain_multisegment", "tls13_aes128gcm_openssl",
                                   "tls12_ecdhe_rsa_aes128sha_curl"]))
def test_any_split_of_the_streams_gives_the_same_report(data, name):
    (chunks,) = streams(name)
    pieces = []
    for direction, blob in chunks:
        cuts = sorted(data.draw(st.lists(st.integers(0, len(blob)), max_size=4)))
        start = 0
        for cut in cuts + [len(blob)]:
            pieces.append((direction, blob[start:cut]))
            start = cut
    obs, _ = observe(pieces, keylog=keylog(name))
    (want,) = truth(name)
    assert obs.messages == want["messages"]
    assert obs.app_data == want["app_data"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["client", "server"]), st.binary(max_size=300)),
                max_size=8))
def test_random_bytes_never_raise(chunks):
    obs, _ = observe(chunks, keylog=Keylog.parse(""))
    json.dumps(obs.fields())


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_random_record_bodies_never_raise(data):
    """Valid record headers around random bodies: errors in the report, no exception."""
    chunks = []
    for _ in range(data.draw(st.integers(1, 6))):
        direction = data.draw(st.sampled_from(["client", "server"]))
        ct = data.draw(st.sampled_from([20, 21, 22, 23, 24]))
        body = data.draw(st.binary(max_size=200))
        if ct == 22 and data.draw(st.booleans()):
            msg_type = data.draw(st.sampled_from([1, 2, 4, 8, 11, 12, 13, 14, 15, 16, 20, 24]))
            body = bytes((msg_type,)) + len(body).to_bytes(3, "big") + body
        chunks.append((direction, bytes((ct, 3, 3)) + len(body).to_bytes(2, "big") + body))
    obs, _ = observe(chunks)
    json.dumps(obs.fields())


def test_real_hello_then_garbage_record():
    name = "tls12_ecdhe_rsa_aes128gcm_openssl"
    (chunks,) = streams(name)
    obs = ObserverConnection()
    obs.receive(*chunks[0])
    obs.receive("server", b"\x16\x03\x03\x00\x06\x02\x00\x00\x02\x03\x03")  # short hello
    obs.receive("client", b"GET / HTTP/1.1\r\n\r\n")
    obs.receive("client", b"\x16\x03\x03\x00\x01")  # ignored: this direction is lost
    obs.finish()
    assert obs.messages == ["C:client_hello", "S:server_hello"]
    assert obs.version is None
    assert any("not a TLS record" in e for e in obs.errors)
    assert any("server_hello" in e for e in obs.errors)


def test_lost_bytes_are_reported_and_the_rest_still_dissected():
    name = "tls12_ecdhe_rsa_aes128gcm_openssl"
    (chunks,) = streams(name)
    obs = ObserverConnection(keylog=keylog(name))
    # Drop the client's application data record (the chunk after the client Finished).
    seen_ccs = False
    for direction, data in chunks:
        if direction == "client" and data[:1] == b"\x17" and not seen_ccs:
            seen_ccs = True
            obs.receive(direction, b"", gap=len(data))
            continue
        obs.receive(direction, data)
    obs.finish()
    assert obs.errors == []  # the TCP reassembler reports the hole, not the observer
    # The close_notify after the hole still decrypts (sequence number guessed).
    assert obs.messages[-1] == "C:alert:close_notify"
    assert obs.decrypted
