"""The crypto functions alone complete real handshakes with ``openssl s_server``.

A small test helper plays the client with nothing but the layers (to build and read the
messages) and crypto/ (key exchange, signatures, PRF, key block, record protection): no
connection core. OpenSSL accepting our Finished, and its Finished and HTTP answer opening
and verifying with our keys, checks every piece against an independent implementation:
RSA and ECDHE key exchange, EMS on and off, TLS 1.0 chained-IV CBC, EtM, GCM, ChaCha20.
"""
import socket
import time

import pytest
from scapy.all import raw

from scapy_tls_hs.crypto.keyexchange import EphemeralKey, rsa_encrypt_pre_master
from scapy_tls_hs.crypto.prf import (Transcript, extended_master_secret, key_block,
                                     master_secret, verify_data)
from scapy_tls_hs.crypto.record import RecordProtection
from scapy_tls_hs.crypto.signatures import ske_signed_data, verify
from scapy_tls_hs.crypto.suites import CipherSuite
from scapy_tls_hs.layers import (TLSApplicationData, TLSCertificate, TLSChangeCipherSpec,
                                 TLSClientHello, TLSClientKeyExchange, TLSContext,
                                 TLSExtECPointFormats, TLSExtEncryptThenMAC,
                                 TLSExtExtendedMasterSecret, TLSExtSignatureAlgorithms,
                                 TLSExtSupportedGroups, TLSFinished, TLSHandshake,
                                 TLSServerHello, TLSServerKeyExchange, split_records)
from tests.peers.servers import openssl_server

TIMEOUT = 5.0


@pytest.fixture(scope="module")
def server(pki):
    with openssl_server(pki.rsa_cert, pki.rsa_key, dcert=pki.ecdsa_cert,
                        dkey=pki.ecdsa_key) as peer:
        yield peer


class _Link:
    """A socket read record by record."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.buf = b""

    def send(self, ctype, version, fragment):
        self.sock.sendall(bytes([ctype]) + version.to_bytes(2, "big") +
                          len(fragment).to_bytes(2, "big") + fragment)

    def record(self):
        deadline = time.monotonic() + TIMEOUT
        while True:
            records, rest = split_records(self.buf)
            if records:
                self.buf = self.buf[len(records[0]):]
                return records[0][0], records[0][5:]
            assert time.monotonic() < deadline, "no record from the server"
            chunk = self.sock.recv(65536)
            assert chunk, "the server closed the connection"
            self.buf += chunk


def _handshake(port, suite, version, ems, etm):
    """A full client handshake and one HTTP request; returns what was negotiated."""
    suite = CipherSuite.by_id(suite)
    ext = [TLSExtSupportedGroups(groups=[29, 23]), TLSExtECPointFormats(),
           TLSExtSignatureAlgorithms()]
    ext += [TLSExtExtendedMasterSecret()] if ems else []
    ext += [TLSExtEncryptThenMAC()] if etm else []
    hello = TLSClientHello(version=version, ciphers=[suite.id], ext=ext)
    link, transcript = _Link(port), Transcript()
    ch = raw(TLSHandshake() / hello)
    transcript.update(ch)
    link.send(22, 0x0301, ch)
    ctx = TLSContext(version=version, key_exchange=suite.key_exchange)
    msgs, pending = {}, b""
    while 14 not in msgs:                          # up to ServerHelloDone
        ctype, fragment = link.record()
        assert ctype == 22, "alert %r" % fragment
        pending += fragment
        while len(pending) >= 4 and len(pending) >= 4 + int.from_bytes(pending[1:4], "big"):
            n = 4 + int.from_bytes(pending[1:4], "big")
            msg, pending = TLSHandshake(pending[:n], ctx=ctx), pending[n:]
            transcript.update(raw(msg))
            msgs[msg.msg_type] = msg
    sh, cert = msgs[2][TLSServerHello], msgs[11][TLSCertificate].certs[0].x509()
    assert sh.cipher == suite.id and sh.version == version
    server_ext = {e.type for e in sh.ext or []}
    if suite.key_exchange == "RSA":
        pre_master, encrypted = rsa_encrypt_pre_master(cert.public_key(), version)
        cke = TLSClientKeyExchange(exchange_keys=encrypted)
    else:
        ske = msgs[12][TLSServerKeyExchange]
        verify(cert, ske_signed_data(hello.random, sh.random, ske.params_raw()), ske.sig,
               version, ske.sig_alg)
        ours = EphemeralKey.generate(ske.named_curve)
        pre_master = ours.exchange(ske.point)
        cke = TLSClientKeyExchange(point=ours.public_bytes())
    cke = raw(TLSHandshake() / cke)
    transcript.update(cke)
    use_ems = ems and 23 in server_ext
    use_etm = etm and 22 in server_ext and not suite.aead
    if use_ems:
        master = extended_master_secret(pre_master, transcript.digest(version, suite.prf_hash),
                                        version, suite.prf_hash)
    else:
        master = master_secret(pre_master, hello.random, sh.random, version, suite.prf_hash)
    kb = key_block(master, hello.random, sh.random, suite, version)
    writer = RecordProtection.for_direction(suite, version, kb, "client", use_etm)
    reader = RecordProtection.for_direction(suite, version, kb, "server", use_etm)
    fin = raw(TLSHandshake() / TLSFinished(verify_data=verify_data(
        master, "client", transcript.digest(version, suite.prf_hash), version,
        suite.prf_hash)))
    transcript.update(fin)
    link.send(22, version, cke)
    link.send(20, version, raw(TLSChangeCipherSpec()))
    link.send(22, version, writer.seal(22, version, fin))
    ctype, fragment = link.record()
    if ctype == 22:                                # NewSessionTicket, before its CCS
        transcript.update(fragment)
        ctype, fragment = link.record()
    assert ctype == 20, "alert %r" % fragment      # the server accepted our Finished
    ctype, fragment = link.record()
    server_fin = TLSHandshake(reader.open(22, version, fragment))
    assert server_fin[TLSFinished].verify_data == verify_data(
        master, "server", transcript.digest(version, suite.prf_hash), version,
        suite.prf_hash)
    link.send(23, version, writer.seal(23, version, b"GET / HTTP/1.0\r\n\r\n"))
    answer = b""
    while True:
        ctype, fragment = link.record()
        plain = reader.open(ctype, version, fragment)
        if ctype == 21:
            break
        answer += TLSApplicationData(plain).data
    link.sock.close()
    return {"ems": use_ems, "etm": use_etm, "answer": answer, "master": master}


@pytest.mark.parametrize("suite,version,ems,etm", [
    (0xC02F, 0x0303, True, False),     # ECDHE-RSA AES-128-GCM, EMS session hash
    (0xC02B, 0x0303, False, False),    # ECDHE-ECDSA AES-128-GCM, classic master secret
    (0xC030, 0x0303, True, False),     # SHA-384 PRF
    (0xCCA8, 0x0303, True, False),     # ChaCha20-Poly1305
    (0xC027, 0x0303, True, True),      # CBC SHA-256, encrypt-then-MAC
    (0x009C, 0x0303, True, False),     # RSA key exchange, GCM
    (0x002F, 0x0301, True, False),     # TLS 1.0 RSA, chained-IV CBC, MAC-then-encrypt
    (0xC014, 0x0302, False, True),     # TLS 1.1 explicit IV, EtM
    (0xC009, 0x0301, True, True),      # TLS 1.0 ECDHE-ECDSA (SHA-1 signature), EtM
], ids=lambda v: "%x" % v if isinstance(v, int) and not isinstance(v, bool) else None)
def test_handshake_with_the_crypto_alone(server, suite, version, ems, etm):
    got = _handshake(server.port, suite, version, ems, etm)
    assert (got["ems"], got["etm"]) == (ems, etm)      # OpenSSL agreed to what we offered
    assert got["answer"].startswith(b"HTTP/1.0 200 ok")
    # s_server -www describes the session it saw: our suite, the EMS outcome, and the
    # master secret, which must be the one we derived.
    page = got["answer"].decode("ascii", "replace")
    assert "Cipher    : %s" % CipherSuite.by_id(suite).openssl_name in page
    assert "Extended master secret: %s" % ("yes" if ems else "no") in page
    assert "Master-Key: %s" % got["master"].hex().upper() in page


def test_a_wrong_finished_is_refused(server, monkeypatch):
    """The check above has teeth: one flipped bit in our verify_data and OpenSSL answers
    with an alert instead of its ChangeCipherSpec."""
    import tests.crypto.test_openssl_handshake as this
    real = this.verify_data

    def flipped(master, sender, *args):
        value = real(master, sender, *args)
        return bytes([value[0] ^ 1]) + value[1:] if sender == "client" else value
    monkeypatch.setattr(this, "verify_data", flipped)
    with pytest.raises(AssertionError, match="alert"):
        _handshake(server.port, 0xC02F, 0x0303, True, False)
