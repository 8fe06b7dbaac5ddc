"""The observer on TLS 1.3 conversations built here, byte by byte, with known secrets:
HelloRetryRequest (the transcript's message_hash), client authentication, KeyUpdate,
PSK resumption, a missing key log, and the key log's secrets for another connection."""
import hashlib
import os

import pytest

from scapy_tls_hs.codec.messages import (Certificate13, CertificateVerify, ClientHello,
                                         EncryptedExtensions, Extension, Finished, KeyUpdate,
                                         NewSessionTicket13, ServerHello)
from scapy_tls_hs.codec.records import encode_record, handshake
from scapy_tls_hs.connection.observer import HRR_RANDOM, ObserverConnection
from scapy_tls_hs.crypto.keylog import Keylog
from scapy_tls_hs.crypto.suites import CipherSuite
from scapy_tls_hs.crypto.tls13 import TLS13Protection, next_traffic_secret, verify_data13

SUITE = CipherSuite.get(0x1301)
LABELS = ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
          "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0")


def versions_ext():
    return Extension(43, b"\x02\x03\x04")


class Conversation:
    """Builds the two directions' records the way a TLS 1.3 client and server would."""

    def __init__(self, hrr=False, client_auth=False, psk=False, key_update=False, early=None):
        self.random = os.urandom(32)
        self.secrets = {label: os.urandom(32) for label in LABELS}
        self.chunks = []
        self.transcript = b""
        exts = [Extension(0, b"\x00\x0e\x00\x00\x0bserver.test"), versions_ext(),
                Extension(51, b"\x00\x00")]
        if early:
            psk = True
            exts.append(Extension(42, b""))
            self.secrets["CLIENT_EARLY_TRAFFIC_SECRET"] = os.urandom(32)
            e_prot = TLS13Protection(SUITE, self.secrets["CLIENT_EARLY_TRAFFIC_SECRET"])
        ch = handshake(1, ClientHello(0x0303, self.random, os.urandom(32), [0x1301], [0],
                                      exts).encode())
        self.send("client", 22, ch)
        self.transcript = ch
        if early:
            self.protected("client", e_prot, 23, b"early data")
        if hrr:
            hrr_msg = handshake(2, ServerHello(0x0303, HRR_RANDOM, b"", 0x1301, 0, [
                Extension(43, b"\x03\x04"), Extension(51, b"\x00\x17")]).encode())
            self.send("server", 22, hrr_msg)
            digest = hashlib.sha256(ch).digest()
            self.transcript = b"\xfe\x00\x00\x20" + digest + hrr_msg
            ch2 = ch  # the second hello may repeat the first one's fields
            self.send("client", 22, ch2)
            self.transcript += ch2
        # After a HelloRetryRequest the share is of the group it selected (secp256r1).
        share = b"\x00\x17\x00\x01\x00" if hrr else b"\x00\x1d\x00\x01\x00"
        exts = [Extension(43, b"\x03\x04"), Extension(51, share)]
        if psk:
            exts.append(Extension(41, b"\x00\x00"))
        sh = handshake(2, ServerHello(0x0303, os.urandom(32), b"", 0x1301, 0, exts).encode())
        self.send("server", 22, sh)
        self.transcript += sh
        self.send("server", 20, b"\x01")
        s_hs = TLS13Protection(SUITE, self.secrets["SERVER_HANDSHAKE_TRAFFIC_SECRET"])
        c_hs = TLS13Protection(SUITE, self.secrets["CLIENT_HANDSHAKE_TRAFFIC_SECRET"])
        ee_exts = [Extension(16, b"\x00\x03\x02h2")]
        if early == "accepted":
            ee_exts.append(Extension(42, b""))
        flight = [handshake(8, EncryptedExtensions(ee_exts).encode())]
        if client_auth:
            flight.append(handshake(13, b"\x00\x00\x00"))   # context, no extensions
        if not psk:
            flight.append(handshake(11, Certificate13(b"", [(b"cert", b"")]).encode()))
            flight.append(handshake(15, CertificateVerify(0x0804, b"sig").encode()))
        for msg in flight:
            self.transcript += msg
        fin = handshake(20, Finished(self.verify("SERVER_HANDSHAKE_TRAFFIC_SECRET")).encode())
        self.transcript += fin
        # The whole server flight in one protected record, the Finished in another.
        self.protected("server", s_hs, 22, b"".join(flight))
        self.protected("server", s_hs, 22, fin)
        self.send("client", 20, b"\x01")
        if early == "accepted":
            self.protected("client", e_prot, 23, b" and more")
            eoed = handshake(5, b"")
            self.transcript += eoed
            self.protected("client", e_prot, 22, eoed)
        if client_auth:
            cert = handshake(11, Certificate13(b"", [(b"client cert", b"")]).encode())
            cv = handshake(15, CertificateVerify(0x0804, b"sig").encode())
            self.transcript += cert + cv
            self.protected("client", c_hs, 22, cert)
            self.protected("client", c_hs, 22, cv)
        cfin = handshake(20, Finished(self.verify("CLIENT_HANDSHAKE_TRAFFIC_SECRET")).encode())
        self.protected("client", c_hs, 22, cfin)
        c_ap = TLS13Protection(SUITE, self.secrets["CLIENT_TRAFFIC_SECRET_0"])
        s_ap = TLS13Protection(SUITE, self.secrets["SERVER_TRAFFIC_SECRET_0"])
        self.protected("server", s_ap, 22, handshake(4, NewSessionTicket13(
            7200, 1, b"\x00", b"ticket", []).encode()))
        self.protected("client", c_ap, 23, b"hello")
        if key_update:
            self.protected("client", c_ap, 22, handshake(24, KeyUpdate(1).encode()))
            c_ap = TLS13Protection(SUITE, next_traffic_secret(
                SUITE, self.secrets["CLIENT_TRAFFIC_SECRET_0"]))
            self.protected("client", c_ap, 23, b" world")
        self.protected("server", s_ap, 23, b"response")
        self.protected("server", s_ap, 21, b"\x01\x00")
        self.protected("client", c_ap, 21, b"\x01\x00")

    def verify(self, label):
        return verify_data13(self.secrets[label], hashlib.sha256(self.transcript).digest())

    def send(self, direction, ct, payload):
        self.chunks.append((direction, encode_record(ct, 0x0303, payload)))

    def protected(self, direction, prot, inner_type, payload):
        self.chunks.append((direction, encode_record(23, 0x0303, prot.seal(inner_type, payload))))

    def keylog(self, random=None):
        return Keylog.parse("".join("%s %s %s\n" % (label, (random or self.random).hex(),
                                                     secret.hex())
                                    for label, secret in self.secrets.items()))


def watch(conv, keylog):
    obs = ObserverConnection(keylog=keylog)
    for direction, data in conv.chunks:
        obs.receive(direction, data)
    obs.finish()
    return obs


def test_full_handshake_decrypted_and_verified():
    conv = Conversation()
    obs = watch(conv, conv.keylog())
    assert obs.errors == []
    assert obs.decrypted and obs.version == 0x0304
    assert obs.messages == [
        "C:client_hello", "S:server_hello", "S:change_cipher_spec", "S:encrypted_extensions",
        "S:certificate", "S:certificate_verify", "S:finished", "C:change_cipher_spec",
        "C:finished", "S:new_session_ticket", "C:application_data", "S:application_data",
        "S:alert:close_notify", "C:alert:close_notify"]
    assert obs.alpn == "h2" and obs.sni == "server.test"
    assert obs.resumed is False and obs.extended_master_secret is False
    assert obs.app_data["client_sha256"] == hashlib.sha256(b"hello").hexdigest()
    fields = obs.fields()
    assert (fields["group"], fields["hello_retry"], fields["early_data"],
            fields["key_updates"]) == ("x25519", False, None, 0)
    assert obs.client_hello.random == conv.random
    assert obs.server_hello.selected_version() == 0x0304


def test_hello_retry_request_transcript():
    conv = Conversation(hrr=True)
    obs = watch(conv, conv.keylog())
    assert obs.errors == [] and obs.decrypted
    assert obs.messages[:4] == ["C:client_hello", "S:hello_retry_request", "C:client_hello",
                                "S:server_hello"]
    fields = obs.fields()
    assert fields["hello_retry"] is True and fields["group"] == "secp256r1"
    # The summary keeps the real ServerHello, not the HelloRetryRequest.
    assert obs.server_hello.random != HRR_RANDOM


def test_hello_retry_group_without_keys():
    """The HRR and ServerHello are in clear: group and hello_retry need no key log."""
    conv = Conversation(hrr=True)
    fields = watch(conv, None).fields()
    assert fields["hello_retry"] is True and fields["group"] == "secp256r1"
    assert fields["key_updates"] == 0 and not fields["decrypted"]


def test_client_authentication_and_key_update():
    conv = Conversation(client_auth=True, key_update=True)
    obs = watch(conv, conv.keylog())
    assert obs.errors == [] and obs.decrypted
    assert obs.client_auth is True
    assert "S:certificate_request" in obs.messages and "C:certificate_verify" in obs.messages
    assert "C:key_update" in obs.messages
    assert obs.fields()["key_updates"] == 1
    # The data after the KeyUpdate decrypts under the next secret.
    assert obs.app_data["client_bytes"] == len(b"hello world")
    assert obs.messages[-1] == "C:alert:close_notify"


def test_psk_resumption_flag():
    conv = Conversation(psk=True)
    obs = watch(conv, conv.keylog())
    assert obs.resumed is True and obs.decrypted and obs.errors == []
    assert "S:certificate" not in obs.messages


@pytest.mark.parametrize("which", ["none", "other connection"])
def test_without_the_right_secrets(which):
    conv = Conversation()
    keylog = Keylog() if which == "none" else conv.keylog(random=os.urandom(32))
    obs = watch(conv, keylog)
    assert not obs.decrypted and obs.app_data is None
    assert obs.messages[:3] == ["C:client_hello", "S:server_hello", "S:change_cipher_spec"]
    assert obs.messages[3:5] == ["S:encrypted_handshake", "S:encrypted_handshake"]
    assert obs.errors and "no TLS 1.3 secrets" in obs.errors[0]


def test_wrong_secret_is_bad_record_mac():
    conv = Conversation()
    conv.secrets["SERVER_HANDSHAKE_TRAFFIC_SECRET"] = os.urandom(32)
    obs = watch(conv, conv.keylog())
    assert not obs.decrypted
    assert any("bad_record_mac" in e for e in obs.errors)
    # The client's side still decrypts: its secrets are right.
    assert "C:finished" in obs.messages
    assert not any("verify_data" in e for e in obs.errors)  # not checkable, not wrong


@pytest.mark.parametrize("early", ["accepted", "rejected"])
@pytest.mark.parametrize("with_key", [True, False])
def test_early_data(early, with_key):
    conv = Conversation(early=early)
    keylog = conv.keylog()
    if not with_key:
        keylog = Keylog.parse("".join("%s %s %s\n" % (label, conv.random.hex(), secret.hex())
                                      for label, secret in conv.secrets.items()
                                      if label != "CLIENT_EARLY_TRAFFIC_SECRET"))
    obs = watch(conv, keylog)
    assert obs.errors == [] and obs.resumed
    assert obs.messages[:2] == ["C:client_hello", "C:application_data"]
    # The EncryptedExtensions decrypt with the handshake secrets either way.
    assert obs.fields()["early_data"] == early
    zero_rtt = [detail for _, direction, name, detail in obs.ladder
                if direction == "client" and name == "application_data"][0]
    assert zero_rtt.endswith("0-RTT") == with_key
    if early == "accepted" and with_key:
        assert obs.decrypted and "C:end_of_early_data" in obs.messages
        assert obs.app_data["client_bytes"] == len(b"early data and morehello")
    elif early == "rejected":
        assert obs.decrypted
        early_bytes = len(b"early data") if with_key else 0
        assert obs.app_data["client_bytes"] == early_bytes + len(b"hello")
    else:
        # Accepted 0-RTT without its key: the client Finished cannot be checked.
        assert not obs.decrypted
        assert "C:finished" in obs.messages


def test_early_data_acceptance_unknown_without_handshake_keys():
    """The server took the PSK; whether it took the early data is in the encrypted
    EncryptedExtensions: without keys the observer cannot tell, and says null."""
    conv = Conversation(early="accepted")
    obs = watch(conv, Keylog())
    assert obs.resumed and obs.fields()["early_data"] is None


def test_early_data_rejected_when_the_psk_is_not_taken():
    """A full handshake after a 0-RTT offer: the early data was refused (RFC 8446 section
    4.2.10), which the clear ServerHello shows without keys."""
    conv = Conversation(early="rejected")
    # The same conversation but a ServerHello without pre_shared_key.
    chunks = []
    for direction, data in conv.chunks:
        if direction == "server" and data[5] == 2:
            sh = ServerHello.parse(data[9:])
            sh.extensions = [e for e in sh.extensions if e.type != 41]
            data = encode_record(22, 0x0303, handshake(2, sh.encode()))
        chunks.append((direction, data))
    conv.chunks = chunks
    obs = watch(conv, Keylog())
    assert not obs.resumed and obs.fields()["early_data"] == "rejected"



def test_finished_in_clear_after_a_lost_server_hello_is_not_a_crash():
    """A HelloRetryRequest, then (the ServerHello lost) a Finished in a plaintext record:
    garbage for TLS 1.3, reported as what it is, never an internal error."""
    conv = Conversation(hrr=True)
    obs = ObserverConnection(keylog=conv.keylog())
    obs.receive("client", conv.chunks[0][1])
    obs.receive("server", conv.chunks[1][1])
    obs.receive("server", encode_record(22, 0x0303, handshake(20, b"\0" * 32)))
    obs.finish()
    assert obs.messages == ["C:client_hello", "S:hello_retry_request", "S:finished"]
    assert not any("internal" in e for e in obs.errors)
    assert obs.hello_retry and not obs.decrypted


@pytest.mark.parametrize("options", [{"hrr": True}, {"early": "accepted"},
                                     {"key_update": True, "client_auth": True}])
def test_any_chunk_lost_or_damaged_is_reported_not_raised(options):
    """Every single chunk of a TLS 1.3 conversation dropped, or one byte of it flipped: the
    observer reports (errors, undecrypted entries) and never raises or hits a bug."""
    conv = Conversation(**options)
    for i in range(len(conv.chunks)):
        for damage in ("drop", "flip"):
            chunks = list(conv.chunks)
            if damage == "drop":
                del chunks[i]
            else:
                direction, data = chunks[i]
                pos = len(data) // 2
                chunks[i] = (direction, data[:pos] + bytes((data[pos] ^ 0x40,)) + data[pos + 1:])
            obs = ObserverConnection(keylog=conv.keylog())
            for direction, data in chunks:
                obs.receive(direction, data)
            obs.finish()
            obs.fields()
            assert not any("internal" in e for e in obs.errors)
