"""What the ladder says about a Certificate message: chain length, leaf subject and issuer.

``CertificateChain.from_message(body, tls13)`` keeps the count and the leaf's DER; the X.509
parse (``cryptography``) happens only when ``subject`` or ``issuer`` is read, so ``--json``
runs never pay for it. Names are RFC 4514 strings, as ``openssl x509 -nameopt RFC2253``
prints them. A leaf that is not X.509 (a raw public key, RFC 7250, or damage) reads
"not an X.509 certificate".
"""
from ..codec.messages import Certificate, Certificate13
from ..errors import DecodeError

__all__ = ["CertificateChain"]


class CertificateChain:
    def __init__(self, direction, count, leaf):
        self.direction = direction
        self.count = count
        self._leaf = leaf
        self._names = None

    @classmethod
    def from_message(cls, direction, body, tls13):
        """From a Certificate handshake body; None when it does not parse."""
        try:
            certs = (Certificate13 if tls13 else Certificate).parse(bytes(body)).certificates
        except (DecodeError, ValueError, IndexError):
            return None
        return cls(direction, len(certs), certs[0] if certs else None)

    @property
    def subject(self):
        return self._parse()[0]

    @property
    def issuer(self):
        return self._parse()[1]

    def _parse(self):
        if self._names is None:
            if self._leaf is None:
                self._names = (None, None)
            else:
                from cryptography import x509
                try:
                    cert = x509.load_der_x509_certificate(bytes(self._leaf))
                    self._names = (cert.subject.rfc4514_string() or "(empty)",
                                   cert.issuer.rfc4514_string() or "(empty)")
                except ValueError:
                    self._names = ("not an X.509 certificate", None)
        return self._names
