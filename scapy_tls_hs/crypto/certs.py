"""Certificates and keys: loading PEM files and verifying a peer's chain.

Chain verification is ``cryptography.x509.verification`` (RFC 5280 path building with the
CA/B Forum "web PKI" profile): a ``Store`` of the CA file's certificates, a server verifier
for a host name (DNS name or IP address), a client verifier for client certificates.
Failures map to the RFC 5246 section 7.2.2 alerts a TLS peer sends:
``certificate_expired`` (a certificate outside its validity period), ``unknown_ca`` (no path
to a trusted root), ``bad_certificate`` (anything else: wrong host name, wrong key usage,
malformed certificate).
"""
import datetime
import ipaddress

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import verification as V
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..errors import AlertError


def load_certificates(path):
    """Every certificate of a PEM file (leaf first, as written), or one DER certificate.
    ``OSError`` if unreadable, ``ValueError`` naming the file if it holds no certificate."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        if b"-----BEGIN" in data:
            certs = x509.load_pem_x509_certificates(data)
        else:
            certs = [x509.load_der_x509_certificate(data)]
    except ValueError:
        raise ValueError("%s: no certificate in this file" % path) from None
    return certs


def load_private_key(path, password=None):
    """A private key from a PEM (PKCS#8, PKCS#1, SEC1) or DER file. ``OSError`` if
    unreadable, ``ValueError`` naming the file if it holds no usable key."""
    with open(path, "rb") as f:
        data = f.read()
    if isinstance(password, str):
        password = password.encode()
    try:
        if b"-----BEGIN" in data:
            return serialization.load_pem_private_key(data, password)
        return serialization.load_der_private_key(data, password)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        # cryptography's reason is ASN.1 detail; what a user can act on is the kind.
        kind = ("encrypted, and no password given" if b"ENCRYPTED" in data
                else "not a PEM or DER private key of a supported type")
        raise ValueError("%s: not a usable private key (%s)" % (path, kind)) from None


def parse_certificate(der):
    """A certificate from DER bytes; ``AlertError("bad_certificate")`` if it does not parse."""
    try:
        return x509.load_der_x509_certificate(bytes(der))
    except ValueError as e:
        raise AlertError("bad_certificate", "certificate does not parse: %s" % e) from None


def _subject(hostname):
    try:
        return V.IPAddress(ipaddress.ip_address(hostname))
    except ValueError:
        return V.DNSName(hostname)


def _is_client_certificate(cert):
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except (x509.ExtensionNotFound, ValueError):
        return False
    return (ExtendedKeyUsageOID.CLIENT_AUTH in eku
            and ExtendedKeyUsageOID.SERVER_AUTH not in eku)


def _check_validity(chain, now):
    for cert in chain:
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise AlertError("certificate_expired", "%s: %s is valid from %s to %s" % (
                "expired" if now > cert.not_valid_after_utc else "not yet valid",
                cert.subject.rfc4514_string(), cert.not_valid_before_utc,
                cert.not_valid_after_utc))


def _classify(message):
    text = message.lower()
    if "not valid at validation time" in text or "expired" in text:
        return "certificate_expired"
    if "candidates exhausted" in text or "no valid issuer" in text or "issuer" in text:
        return "unknown_ca"
    return "bad_certificate"


def verify_chain(chain, cafile, hostname=None, purpose=None, now=None):
    """Verify a peer's chain (leaf first) against the CA certificates of ``cafile`` (a path,
    PEM bytes, or a list of certificates).

    ``purpose``: ``"server"`` (a server's chain, checked against ``hostname`` when given) or
    ``"client"`` (a client certificate); by default ``"server"`` when a host name is given,
    else guessed from the leaf's extended key usage. Raises ``AlertError`` with
    ``unknown_ca``, ``certificate_expired`` or ``bad_certificate``; returns the verified
    chain (leaf to root) on success.
    """
    if not chain:
        raise AlertError("bad_certificate", "empty certificate chain")
    roots = _roots(cafile)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    leaf, intermediates = chain[0], list(chain[1:])
    if purpose is None:
        purpose = "server" if hostname or not _is_client_certificate(leaf) else "client"
    if leaf in roots:
        # The peer's own certificate is in the CA file (``openssl req -x509`` makes such a
        # self-signed CA:TRUE certificate): a trust anchor, as OpenSSL and Python ssl take it.
        _check_validity([leaf], now)
        if purpose == "server" and hostname and not _names_match(leaf, hostname):
            raise AlertError("bad_certificate", "name mismatch: the certificate is for %s, "
                             "not %s" % (_names(leaf), hostname))
        return [leaf]
    if leaf.issuer == leaf.subject and not intermediates:
        raise AlertError("unknown_ca", "unknown CA: self-signed certificate %s is not in the "
                         "CA file" % leaf.subject.rfc4514_string())
    # OpenSSL does not require keyUsage on a CA certificate; the web PKI profile does.
    ca = V.ExtensionPolicy.webpki_defaults_ca().may_be_present(
        x509.KeyUsage, V.Criticality.AGNOSTIC, None)
    ee = V.ExtensionPolicy.webpki_defaults_ee()
    if purpose == "client":
        # Client certificates often carry no subjectAltName (nothing to match it to).
        ee = ee.may_be_present(x509.SubjectAlternativeName, V.Criticality.AGNOSTIC, None)
    builder = (V.PolicyBuilder().store(V.Store(roots)).time(now)
               .extension_policies(ca_policy=ca, ee_policy=ee))
    try:
        if purpose == "client":
            return builder.build_client_verifier().verify(leaf, intermediates).chain
        if hostname:
            return builder.build_server_verifier(_subject(hostname)).verify(leaf, intermediates)
        # A server chain without a name to check (no SNI): path and usage only. The web PKI
        # server policy needs a subject, so check against one of the leaf's own names.
        name = _any_name(leaf)
        if name is None:
            raise AlertError("bad_certificate", "server certificate has no subjectAltName")
        return builder.build_server_verifier(name).verify(leaf, intermediates)
    except V.VerificationError as e:
        _check_validity(chain, now)
        alert = _classify(str(e))
        raise AlertError(alert, _explain(alert, str(e), leaf, hostname)) from None
    except ValueError as e:      # unsupported or malformed content in a certificate
        raise AlertError("bad_certificate", str(e)) from None


def _names(cert):
    """The DNS names and IP addresses a certificate is for (its CN when it has no SAN)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(n) for n in san.get_values_for_type(x509.DNSName)]
        names += [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    except (x509.ExtensionNotFound, ValueError):
        names = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    return ", ".join(names) or "no name"


def _names_match(cert, hostname):
    """RFC 6125 matching, with OpenSSL's fallback to the common name when there is no SAN."""
    host = hostname.lower().rstrip(".")
    for name in _names(cert).split(", "):
        name = name.lower().rstrip(".")
        if name == host or (name.startswith("*.") and "." in host
                            and host.split(".", 1)[1] == name[2:]):
            return True
    return False


def _explain(alert, detail, leaf, hostname):
    """The verifier's finding in the words OpenSSL users know."""
    if alert == "unknown_ca":
        return ("unknown CA: %s is not signed by a certificate of the CA file (%s)"
                % (leaf.issuer.rfc4514_string() or "the issuer", detail))
    if hostname and not _names_match(leaf, hostname):
        return "name mismatch: the certificate is for %s, not %s" % (_names(leaf), hostname)
    return detail


def _roots(cafile):
    """CA certificates from a path, PEM bytes, or a list of certificates."""
    if isinstance(cafile, bytes) and b"-----BEGIN" in cafile:
        return x509.load_pem_x509_certificates(cafile)
    if isinstance(cafile, (str, bytes)) or hasattr(cafile, "__fspath__"):
        return load_certificates(cafile)
    if isinstance(cafile, x509.Certificate):
        return [cafile]
    return list(cafile)


def _any_name(cert):
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return None
    for ip in san.get_values_for_type(x509.IPAddress):
        return V.IPAddress(ip)
    for dns in san.get_values_for_type(x509.DNSName):
        if "*" not in dns:
            return V.DNSName(dns)
    return None
