"""Certificate, CertificateRequest, CertificateVerify, tickets, status; every message crafted
with defaults, re-dissected to the same fields, forms chosen by context or bytes."""
import pytest
from scapy.all import raw

from scapy_tls_hs import registry
from scapy_tls_hs.layers import (TLS13Certificate, TLS13CertificateRequest,
                                 TLS13NewSessionTicket, TLSCertificate, TLSCertificateRequest,
                                 TLSCertificateStatus, TLSCertificateVerify, TLSClientHello,
                                 TLSClientKeyExchange, TLSContext, TLSDistinguishedName,
                                 TLSEncryptedExtensions, TLSEndOfEarlyData, TLSFinished,
                                 TLSHandshake, TLSHelloRequest, TLSHelloRetryRequest,
                                 TLSKeyUpdate, TLSNewSessionTicket, TLSRecord, TLSServerHello,
                                 TLSServerHelloDone, TLSServerKeyExchange)
from tests.layers.helpers import clean, fields_of, round_trip, show_text


def test_certificate_chain(pki):
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding
    with open(pki.rsa_chain, "rb") as f:
        ders = [c.public_bytes(Encoding.DER) for c in x509.load_pem_x509_certificates(f.read())]
    got = round_trip(TLSCertificate(certs=ders))
    assert [c.cert for c in got.certs] == ders
    assert got.certs_len == sum(3 + len(d) for d in ders)
    assert "subject=O=scapy-tls-hs tests,CN=server.test" in show_text(got) or \
        "CN=server.test" in show_text(got)
    assert round_trip(TLSCertificate()).certs == []


@pytest.mark.parametrize("version", [0x0301, 0x0302, 0x0303, None])
def test_certificate_request_forms(version):
    tls12 = version in (0x0303, None)
    msg = TLSCertificateRequest(cas=[TLSDistinguishedName(dn=b"0\x00")],
                                **({} if tls12 else {"sig_algs": None}))
    ctx = None if version is None else TLSContext(version=version)
    got = round_trip(msg, ctx)
    assert got.ctypes == [1, 64]
    assert (got.sig_algs is not None) == tls12
    assert got.cas[0].dn == b"0\x00"
    if tls12:
        assert "rsa_pss_rsae_sha256" in show_text(got)
    # Without context, the bytes alone tell the two forms apart.
    assert fields_of(TLSHandshake(raw(TLSHandshake() / msg)).payload) == fields_of(got)


@pytest.mark.parametrize("sig_alg", [0x0804, None])
def test_certificate_verify_forms(sig_alg):
    got = round_trip(TLSCertificateVerify(sig_alg=sig_alg, sig=b"s" * 64))
    assert got.sig_alg == sig_alg and got.sig == b"s" * 64 and got.sig_len == 64
    assert TLSCertificateVerify().sig_alg == 0x0401


def test_finished_ticket_status():
    assert round_trip(TLSFinished(verify_data=b"\x01" * 12)).verify_data == b"\x01" * 12
    t = round_trip(TLSNewSessionTicket(lifetime_hint=300, ticket=b"T" * 100))
    assert (t.lifetime_hint, t.ticket_len) == (300, 100)
    s = round_trip(TLSCertificateStatus(response=b"R" * 500))
    assert s.status_type == 1 and s.response_len == 500 and "ocsp" in show_text(s)


def test_show_names_every_message():
    msgs = [TLSCertificate(), TLSCertificateRequest(), TLSCertificateVerify(),
            TLSServerKeyExchange(), TLSClientKeyExchange(), TLSFinished(),
            TLSNewSessionTicket(), TLSCertificateStatus(), TLSEncryptedExtensions(),
            TLSKeyUpdate()]
    for msg in msgs:
        pkt = TLSRecord() / TLSHandshake() / msg
        text = show_text(TLSRecord(raw(pkt)))
        assert "handshake" in text and "TLS 1.2" in text
        assert pkt.summary()


DEFAULT_MESSAGES = [
    (TLSHelloRequest, None), (TLSClientHello, None), (TLSServerHello, None),
    (TLSHelloRetryRequest, None), (TLSCertificate, None), (TLSServerKeyExchange, None),
    (TLSCertificateRequest, None), (TLSServerHelloDone, None), (TLSCertificateVerify, None),
    (TLSClientKeyExchange, None), (TLSFinished, None), (TLSNewSessionTicket, None),
    (TLSCertificateStatus, None), (TLSEncryptedExtensions, 0x0304),
    (TLS13Certificate, 0x0304), (TLS13CertificateRequest, 0x0304),
    (TLS13NewSessionTicket, 0x0304), (TLSKeyUpdate, 0x0304), (TLSEndOfEarlyData, 0x0304)]


@pytest.mark.parametrize("cls,version", DEFAULT_MESSAGES, ids=lambda x: getattr(x, "__name__", x))
def test_every_message_with_defaults(cls, version):
    msg = cls()
    data = raw(TLSRecord() / TLSHandshake() / msg)
    assert data[0] == 22 and int.from_bytes(data[3:5], "big") == len(data) - 5
    assert data[5] == cls.hs_type
    assert int.from_bytes(data[6:9], "big") == len(data) - 9
    ctx = TLSContext(version=version) if version else None
    again = TLSRecord(data, ctx=ctx)
    assert type(again[TLSHandshake].payload) is cls
    assert clean(again) and raw(again) == data
    got, want = fields_of(again[TLSHandshake].payload), fields_of(msg)
    # Every field set on the crafted message comes back; unset lengths were computed.
    assert {k: v for k, v in got.items() if want[k] is not None} == \
        {k: v for k, v in want.items() if v is not None}
    text = show_text(again)
    assert registry.HANDSHAKE_TYPES[cls.hs_type] in text and "TLS 1.2" in text
