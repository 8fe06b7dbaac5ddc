"""TLS 1.3 message forms: EncryptedExtensions, Certificate, CertificateRequest,
NewSessionTicket, KeyUpdate, EndOfEarlyData."""
from scapy.all import raw

from scapy_tls_hs.layers import (TLS13Certificate, TLS13CertificateEntry,
                                 TLS13CertificateRequest, TLS13NewSessionTicket, TLSContext,
                                 TLSEncryptedExtensions, TLSEndOfEarlyData, TLSExtALPN,
                                 TLSExtEarlyData, TLSExtServerName, TLSExtSignatureAlgorithms,
                                 TLSHandshake, TLSKeyUpdate, TLSNewSessionTicket)
from tests.layers.helpers import round_trip, show_text


def test_tls13_messages_by_context():
    ctx = TLSContext(version=0x0304)
    ee = round_trip(TLSEncryptedExtensions(ext=[TLSExtServerName(),
                                                TLSExtALPN(protocols=["h2"])]), ctx)
    assert ee.ext[1].protocols[0].protocol == b"h2"
    cert = round_trip(TLS13Certificate(certs=[TLS13CertificateEntry(cert=b"C" * 40)]), ctx)
    assert cert.certs[0].cert == b"C" * 40 and cert.certs[0].ext == []
    req = round_trip(TLS13CertificateRequest(cert_request_context=b"",
                                             ext=[TLSExtSignatureAlgorithms()]), ctx)
    assert req.ext[0].sig_algs[0] == 0x0403
    early = TLSExtEarlyData(max_early_data_size=1024)
    nst = round_trip(TLS13NewSessionTicket(ticket_age_add=7, ticket_nonce=b"\x00",
                                           ticket=b"T" * 50, ext=[early]), ctx)
    assert nst.ext[0].max_early_data_size == 1024
    assert round_trip(TLSKeyUpdate(request_update=1)).request_update == 1
    assert "update_requested" in show_text(TLSKeyUpdate(request_update=1))
    assert raw(TLSHandshake() / TLSEndOfEarlyData()) == b"\x05\x00\x00\x00"


def test_tls13_certificate_request_from_bytes_alone():
    # Same layout as the TLS 1.0 message: told apart by the signature_algorithms extension.
    req = raw(TLSHandshake() / TLS13CertificateRequest(cert_request_context=b"\x07",
                                                       ext=[TLSExtSignatureAlgorithms()]))
    assert isinstance(TLSHandshake(req).payload, TLS13CertificateRequest)


def test_tls13_forms_from_bytes_alone():
    cert = raw(TLSHandshake() / TLS13Certificate(certs=[b"C" * 40]))
    assert isinstance(TLSHandshake(cert).payload, TLS13Certificate)
    nst = raw(TLSHandshake() / TLS13NewSessionTicket(ticket=b"T" * 50))
    assert isinstance(TLSHandshake(nst).payload, TLS13NewSessionTicket)
    old = raw(TLSHandshake() / TLSNewSessionTicket(ticket=b"T" * 50))
    assert isinstance(TLSHandshake(old).payload, TLSNewSessionTicket)
