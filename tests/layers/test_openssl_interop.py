"""A ClientHello crafted with the layers, sent over a plain socket to ``openssl s_server``:
the server's flight comes back and dissects cleanly (no context given: forms from bytes)."""
import socket
import time

import pytest
from scapy.all import raw

from scapy_tls_hs.layers import (TLSAlert, TLSCertificate, TLSClientHello, TLSExtServerName,
                                 TLSHandshake, TLSRecord, TLSServerHello, TLSServerHelloDone,
                                 TLSServerKeyExchange, default_client_extensions,
                                 dissect_stream, handshake_messages, split_records)
from tests.layers.helpers import clean
from tests.peers.servers import openssl_server


@pytest.fixture(scope="module")
def server(pki):
    with openssl_server(pki.rsa_cert, pki.rsa_key, dcert=pki.ecdsa_cert,
                        dkey=pki.ecdsa_key) as peer:
        yield peer


def _exchange(port, hello, timeout=5.0):
    """Send one record holding ``hello``; read until ServerHelloDone or an alert."""
    data = b""
    deadline = time.monotonic() + timeout
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(raw(TLSRecord(version=0x0301) / TLSHandshake() / hello))
        while time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            records, _ = split_records(data)
            content = b"".join(r[5:] for r in records if r[0] == 22)
            if records and (records[-1][0] == 21 or b"\x0e\x00\x00\x00" in content):
                break
    return data


@pytest.mark.parametrize("suite,version,kx,cert_key", [
    (0x002F, 0x0303, None, "RSA"),         # AES128-SHA, RSA key exchange
    (0x009C, 0x0303, None, "RSA"),         # AES128-GCM-SHA256
    (0xC02F, 0x0303, "ECDHE", "RSA"),      # ECDHE-RSA-AES128-GCM-SHA256
    (0xC02B, 0x0303, "ECDHE", "EC"),       # ECDHE-ECDSA-AES128-GCM-SHA256
    (0xC013, 0x0301, "ECDHE", "RSA"),      # TLS 1.0: signature without algorithm
    (0xC00A, 0x0302, "ECDHE", "EC"),       # TLS 1.1 ECDHE-ECDSA-AES256-SHA
    (0x009E, 0x0303, "DHE", "RSA"),        # DHE-RSA-AES128-GCM-SHA256
    (0x0033, 0x0301, "DHE", "RSA"),        # TLS 1.0 DHE-RSA-AES128-SHA
])
def test_server_flight_dissects(server, suite, version, kx, cert_key):
    hello = TLSClientHello(version=version, ciphers=[suite],
                           ext=default_client_extensions() +
                           [TLSExtServerName(servernames=["server.test"])])
    data = _exchange(server.port, hello)
    records = dissect_stream(data)
    assert records and b"".join(raw(r) for r in records) == data
    assert not any(TLSAlert in r for r in records), [r.summary() for r in records]
    for rec in records:
        assert clean(rec), rec.show(dump=True)
    msgs = handshake_messages(records)
    sh = msgs[0][TLSServerHello]
    assert sh.cipher == suite and sh.version == version
    assert TLSCertificate in msgs[1]
    key_type = msgs[1][TLSCertificate].certs[0].x509().public_key().__class__.__name__
    assert ("RSA" in key_type) == (cert_key == "RSA")
    assert TLSServerHelloDone in msgs[-1]
    ske = [m[TLSServerKeyExchange] for m in msgs if TLSServerKeyExchange in m]
    if kx is None:
        assert not ske
    else:
        assert ske[0].kind == kx
        assert (ske[0].sig_alg is not None) == (version == 0x0303)
        assert len(ske[0].sig) > 0
        if kx == "ECDHE":
            assert ske[0].named_curve == 29 and len(ske[0].point) == 32
        else:
            assert len(ske[0].dh_p) >= 128 and ske[0].dh_g
        _check_signature(hello, sh, msgs[1][TLSCertificate], ske[0], version)
    assert "server_hello" in records[0].show(dump=True)


def _check_signature(hello, sh, cert, ske, version):
    """The server's signature verifies over client_random || server_random || params_raw():
    the layer cut the signed bytes right, and our crypto agrees with OpenSSL on RSA PKCS#1
    (MD5||SHA-1 in TLS 1.0/1.1), RSA-PSS and ECDSA."""
    from scapy_tls_hs.crypto.signatures import ske_signed_data, verify
    from scapy_tls_hs.errors import AlertError
    public_key = cert.certs[0].x509().public_key()
    signed = ske_signed_data(hello.random, sh.random, ske.params_raw())
    verify(public_key, signed, ske.sig, version, ske.sig_alg)
    with pytest.raises(AlertError, match="decrypt_error"):
        verify(public_key, signed[:-1] + bytes([signed[-1] ^ 1]), ske.sig, version,
               ske.sig_alg)


def test_default_offer_is_accepted(server):
    from scapy_tls_hs.layers.hello import DEFAULT_CIPHERS
    hello = TLSClientHello()
    records = dissect_stream(_exchange(server.port, hello))
    sh = handshake_messages(records)[0][TLSServerHello]
    assert sh.cipher in DEFAULT_CIPHERS and sh.version == 0x0303
    # The server echoes the extensions the default offer asks for.
    assert sh.get_extension("extended_master_secret") is not None
    assert sh.get_extension("renegotiation_info") is not None


@pytest.mark.parametrize("suite,scheme", [
    (0xC02F, 0x0401), (0xC02F, 0x0601), (0xC02F, 0x0804), (0xC02F, 0x0806),
    (0xC02B, 0x0403), (0xC02B, 0x0203)])
def test_server_signs_with_the_offered_scheme(server, suite, scheme):
    """signature_algorithms crafted with one scheme: OpenSSL signs with it, and the
    signature verifies with that scheme (RSA PKCS#1 v1.5, RSA-PSS, ECDSA)."""
    from scapy_tls_hs.layers import (TLSExtECPointFormats, TLSExtSignatureAlgorithms,
                                     TLSExtSupportedGroups)
    hello = TLSClientHello(ciphers=[suite], ext=[
        TLSExtSupportedGroups(groups=[23]), TLSExtECPointFormats(),
        TLSExtSignatureAlgorithms(sig_algs=[scheme])])
    msgs = handshake_messages(dissect_stream(_exchange(server.port, hello)))
    sh = msgs[0][TLSServerHello]
    ske = next(m[TLSServerKeyExchange] for m in msgs if TLSServerKeyExchange in m)
    assert sh.cipher == suite and ske.sig_alg == scheme and ske.named_curve == 23
    _check_signature(hello, sh, msgs[1][TLSCertificate], ske, 0x0303)
