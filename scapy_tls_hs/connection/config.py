"""What a client or server connection is allowed and asked to do.

A config is built once and shared by many connections (a server's is shared by every client
it serves), so everything costly is done here, once: certificates are loaded and parsed, the
Certificate message body is encoded, private keys are loaded, suite lists are resolved.
"""
import struct
from dataclasses import dataclass, field

from ..registry import VERSION_CODES

__all__ = ["ClientConfig", "ServerConfig", "Identity", "DEFAULT_GROUPS", "DEFAULT_SIG_SCHEMES",
           "parse_versions", "resolve_suites"]

ALL_VERSIONS = (0x0301, 0x0302, 0x0303, 0x0304)
# x25519 first: fastest, and what every modern peer prefers. ffdhe groups go to TLS 1.3 peers
# and, with DHE suites, to TLS 1.2 ones (RFC 7919 section 3).
DEFAULT_GROUPS = (29, 23, 24, 25, 30, 256, 257)
# A server accepts every FFDHE group a TLS 1.3 client may send a share for.
SERVER_GROUPS = DEFAULT_GROUPS + (258, 259, 260)
DEFAULT_SIG_SCHEMES = (
    0x0403, 0x0503, 0x0603,           # ecdsa_secp256r1_sha256 .. secp521r1_sha512
    0x0804, 0x0805, 0x0806,           # rsa_pss_rsae_sha256 .. 512
    0x0401, 0x0501, 0x0601,           # rsa_pkcs1_sha256 .. 512
    0x0201, 0x0203,                   # rsa_pkcs1_sha1, ecdsa_sha1 (old peers)
)
# What a TLS 1.2 server accepts in a client's CertificateVerify (its CertificateRequest list):
# also EdDSA, SHA-224 and DSA, which OpenSSL and GnuTLS servers accept from clients.
SERVER_SIG_SCHEMES = DEFAULT_SIG_SCHEMES + (
    0x0807, 0x0808,                   # ed25519, ed448
    0x0301, 0x0303,                   # rsa_pkcs1_sha224, ecdsa_sha224
    0x0402, 0x0502, 0x0602, 0x0302, 0x0202,   # dsa_sha256 .. dsa_sha1
)
CLIENT_AUTH_MODES = ("none", "optional", "required")


def parse_version(v):
    """0x0303, "1.2", "TLS 1.2" or "tls1.2" -> 0x0303."""
    if isinstance(v, int):
        if v not in ALL_VERSIONS:
            raise ValueError("unsupported TLS version 0x%04x" % v)
        return v
    text = str(v).strip().upper().replace("TLSV", "TLS ").replace("TLS", "TLS ").split()
    text = "TLS " + text[-1] if text else ""
    code = VERSION_CODES.get(text)
    if code not in ALL_VERSIONS:
        raise ValueError("unsupported TLS version %r" % (v,))
    return code


def parse_versions(versions):
    if versions is None:
        return ALL_VERSIONS
    if isinstance(versions, (int, str)):
        versions = (versions,)
    out = tuple(sorted({parse_version(v) for v in versions}))
    if not out:
        raise ValueError("no TLS version enabled")
    return out


def parse_groups(groups):
    """Named group ids from names (``"x25519"``, ``"secp256r1"``, ``"P-256"``) or ids;
    ``ValueError`` naming an unknown or unsupported one."""
    from ..crypto.keyexchange import key_share_supported
    from ..registry import NAMED_GROUP_CODES
    aliases = {"P-256": "secp256r1", "P-384": "secp384r1", "P-521": "secp521r1",
               "PRIME256V1": "secp256r1", "X25519": "x25519", "X448": "x448"}
    if isinstance(groups, (str, int)):
        groups = (groups,)
    out = []
    for g in groups:
        if isinstance(g, str):
            key = aliases.get(g.strip().upper(), g.strip())
            code = NAMED_GROUP_CODES.get(key)
            if code is None:
                code = {k.lower(): v for k, v in NAMED_GROUP_CODES.items()}.get(key.lower())
            if code is None:
                raise ValueError("unknown group %r" % g)
            g = code
        if not key_share_supported(g):
            raise ValueError("unsupported group %r" % g)
        if g not in out:
            out.append(g)
    if not out:
        raise ValueError("no group enabled")
    return tuple(out)


def version_range(version=None, min_version=None):
    """The versions from ``min_version`` (default TLS 1.0) up to ``version`` (default TLS
    1.3): what ``--tls`` / ``--tls-min`` mean for a client and a server alike."""
    top = parse_version(version) if version is not None else max(ALL_VERSIONS)
    low = parse_version(min_version) if min_version is not None else min(ALL_VERSIONS)
    out = tuple(v for v in ALL_VERSIONS if low <= v <= top)
    if not out:
        raise ValueError("no TLS version between %s and %s" % (min_version, version))
    return out


def resolve_suites13(ciphers, server=False):
    """TLS 1.3 suites among ``ciphers`` (default: ours), in the given order."""
    from ..crypto.suites import CipherSuite
    if ciphers is None:
        return CipherSuite.default13(server)
    if isinstance(ciphers, (str, int)):
        ciphers = [ciphers]
    out = []
    for c in ciphers:
        s = _suite(c)
        if s.key_exchange == "TLS13" and s not in out:
            out.append(s)
    return out


def _suite(c):
    """A ``CipherSuite`` from an id, an IANA or OpenSSL name, or itself; ``ValueError`` naming
    what is unknown (the options are checked when a config is made)."""
    from ..crypto.suites import CipherSuite
    try:
        if isinstance(c, int):
            return CipherSuite.by_id(c)
        if isinstance(c, str):
            return CipherSuite.by_name(c)
    except KeyError as exc:
        raise ValueError(exc.args[0] if exc.args else "unknown cipher suite %r" % (c,)) \
            from None
    if not isinstance(c, CipherSuite):
        raise ValueError("not a cipher suite: %r" % (c,))
    return c


def resolve_suites(ciphers, versions, server=False):
    """CipherSuite objects, in the given order, usable with at least one of ``versions``
    (default: ``CipherSuite.default(server)``)."""
    from ..crypto.suites import CipherSuite
    if ciphers is None:
        suites = CipherSuite.default(server)
    else:
        if isinstance(ciphers, (str, int)):
            ciphers = [ciphers]
        suites = []
        for c in ciphers:
            s = _suite(c)
            if s not in suites:
                suites.append(s)
    runnable = set(CipherSuite.all())
    return [s for s in suites if s in runnable and any(s.usable_in(v) for v in versions)]


def _record_size_limit(value):
    """RFC 8449 section 4: a uint16 of at least 64, or None."""
    if value is None:
        return None
    value = int(value)
    if not 64 <= value <= 0xFFFF:
        raise ValueError("record_size_limit must be between 64 and 65535, not %d" % value)
    return value


def _certificate_body(chain_der):
    """RFC 5246 section 7.4.2: certificate_list<0..2^24-1> of ASN.1Cert<1..2^24-1>."""
    inner = b"".join(struct.pack("!I", len(d))[1:] + d for d in chain_der)
    return struct.pack("!I", len(inner))[1:] + inner


@dataclass
class Identity:
    """A certificate chain with its private key, loaded and encoded once."""

    chain: list            # x509.Certificate, leaf first
    chain_der: list        # DER bytes, leaf first
    private_key: object
    kind: str              # "RSA", "ECDSA", "DSA" (the suites' ``authentication``),
    #                        "ED25519", "ED448"
    certificate_body: bytes

    @classmethod
    def load(cls, chain, private_key):
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
        from ..crypto import certs
        if isinstance(chain, str):
            chain = certs.load_certificates(chain)
        elif isinstance(chain, bytes) and chain.startswith(b"-----"):
            chain = x509.load_pem_x509_certificates(chain)
        elif isinstance(chain, (x509.Certificate, bytes)):
            chain = [chain]
        chain = [c if isinstance(c, x509.Certificate) else x509.load_der_x509_certificate(c)
                 for c in chain]
        if not chain:
            raise ValueError("empty certificate chain")
        if isinstance(private_key, str):
            private_key = certs.load_private_key(private_key)
        elif isinstance(private_key, bytes):
            if private_key.startswith(b"-----"):
                private_key = serialization.load_pem_private_key(private_key, None)
            else:
                private_key = serialization.load_der_private_key(private_key, None)
        if isinstance(private_key, rsa.RSAPrivateKey):
            kind = "RSA"
        elif isinstance(private_key, ec.EllipticCurvePrivateKey):
            kind = "ECDSA"
        elif isinstance(private_key, ed25519.Ed25519PrivateKey):
            kind = "ED25519"            # TLS 1.3 only (no TLS 1.2 suite of ours uses EdDSA)
        elif isinstance(private_key, ed448.Ed448PrivateKey):
            kind = "ED448"
        elif isinstance(private_key, dsa.DSAPrivateKey):
            kind = "DSA"                # TLS 1.0-1.2 DHE_DSS suites only
        else:
            raise ValueError("unsupported private key type %s" % type(private_key).__name__)
        leaf_pub = chain[0].public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        key_pub = private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        if leaf_pub != key_pub:
            raise ValueError("private key does not match the certificate")
        der = [c.public_bytes(serialization.Encoding.DER) for c in chain]
        return cls(chain, der, private_key, kind, _certificate_body(der))


def _identity(chain, key):
    if chain is None and key is None:
        return None
    if chain is None or key is None:
        raise ValueError("a certificate needs its private key (and the key its certificate)")
    if isinstance(chain, Identity):
        return chain
    return Identity.load(chain, key)


def _load_roots(cafile):
    """CA certificates, loaded once per config rather than once per handshake."""
    if cafile is None:
        return None
    if isinstance(cafile, (list, tuple)):
        return list(cafile)
    from ..crypto.certs import load_certificates
    return load_certificates(cafile)


def _alpn_list(alpn):
    if alpn is None:
        return None
    if isinstance(alpn, (str, bytes)):
        alpn = [alpn]
    return [p.encode() if isinstance(p, str) else bytes(p) for p in alpn] or None


@dataclass
class ClientConfig:
    """``client_hello``: a codec ``ClientHello`` or raw bytes (body, handshake message or
    records) sent as is instead of the one built from this config; the connection still
    completes the handshake when the server picks something it can run.
    ``verify_hostname``: with ``cafile``, the host name or IP address the server certificate
    must be valid for (default: ``sni``; set it when connecting to an IP address, which
    RFC 6066 keeps out of SNI)."""

    versions: tuple = ALL_VERSIONS
    ciphers: list = None
    sni: str = None
    alpn: list = None
    groups: tuple = DEFAULT_GROUPS
    sig_schemes: tuple = DEFAULT_SIG_SCHEMES
    cert_chain: object = None
    private_key: object = None
    cafile: str = None
    ems: bool = True
    etm: bool = True
    tickets: bool = True
    session: object = None
    client_hello: object = None
    secure_renegotiation: bool = True
    renegotiation: bool = True        # answer a HelloRequest (RFC 5746 peers only)
    record_size_limit: int = None     # RFC 8449: offered when set (64 .. 2^16 - 1)
    verify_hostname: str = None       # name or IP the server chain must match; default sni
    # TLS 1.3: early_data is sent as 0-RTT when ``session`` holds a ticket allowing it;
    # key_shares ({group: private key}) keeps the private halves of a given client_hello's
    # shares (replay); psk_modes: (1,) psk_dhe_ke, (0,) psk_ke, or both.
    early_data: bytes = None
    key_shares: dict = None
    psk_modes: tuple = (1,)
    middlebox_compat: bool = True
    post_handshake_auth: bool = True

    def __post_init__(self):
        self.versions = parse_versions(self.versions)
        self.suites = resolve_suites(self.ciphers, self.versions)
        self.suites13 = resolve_suites13(self.ciphers) if 0x0304 in self.versions else []
        # Named ciphers are exactly what is offered: TLS 1.3 only when a TLS 1.3 suite is named.
        if not self.suites and not self.suites13:
            raise ValueError("no cipher suite usable with the configured versions")
        self.alpn = _alpn_list(self.alpn)
        self.groups = parse_groups(self.groups)
        self.record_size_limit = _record_size_limit(self.record_size_limit)
        if isinstance(self.early_data, str):
            self.early_data = self.early_data.encode()
        self.sig_schemes = tuple(self.sig_schemes)
        self.identity = _identity(self.cert_chain, self.private_key)
        self.ca_roots = _load_roots(self.cafile)


@dataclass
class ServerConfig:
    """``extra_identities``: more ``(chain, key)`` pairs, e.g. an ECDSA certificate beside the
    RSA one; the suite chosen decides which one is sent."""

    cert_chain: object = None
    private_key: object = None
    versions: tuple = ALL_VERSIONS
    ciphers: list = None
    client_auth: str = "none"
    cafile: str = None
    alpn: list = None
    session_cache: object = None
    ticket_keys: object = None
    ems: bool = True
    etm: bool = True
    tickets: bool = True
    groups: tuple = SERVER_GROUPS
    sig_schemes: tuple = SERVER_SIG_SCHEMES
    dhe_params: tuple = None          # (p, g); default RFC 7919 ffdhe2048
    extra_identities: list = field(default_factory=list)
    early_data_max: int = 0           # TLS 1.3 0-RTT bytes accepted (0: refused)
    tickets13: int = 2                # NewSessionTickets after a TLS 1.3 handshake
    ticket_lifetime: int = 7200
    psk_modes: tuple = (1, 0)         # psk_dhe_ke, psk_ke accepted
    renegotiation: bool = True        # accept client renegotiation (RFC 5746 clients only)
    # RFC 8449: the largest protected record we take, answered to a client that sends its
    # own; None is the protocol's maximum (2^14, 2^14 + 1 in TLS 1.3)
    record_size_limit: int = None
    middlebox_compat: bool = True

    def __post_init__(self):
        from .session import SessionCache
        self.versions = parse_versions(self.versions)
        if self.client_auth not in CLIENT_AUTH_MODES:
            raise ValueError("client_auth must be one of %s" % ", ".join(CLIENT_AUTH_MODES))
        self.identities = {}
        for chain, key in [(self.cert_chain, self.private_key)] + list(self.extra_identities):
            ident = _identity(chain, key)
            if ident is not None:
                self.identities.setdefault(ident.kind, ident)
        if not self.identities:
            raise ValueError("a server needs a certificate and its private key")
        # Only suites a loaded key can authenticate, in the server's preference order.
        self.suites = [s for s in resolve_suites(self.ciphers, self.versions, server=True)
                       if s.authentication in self.identities]
        self.suites13 = (resolve_suites13(self.ciphers, server=True)
                         if 0x0304 in self.versions else [])
        if not self.suites and not self.suites13:
            raise ValueError("no cipher suite fits the configured keys and versions")
        self.alpn = _alpn_list(self.alpn)
        self.groups = parse_groups(self.groups)
        self.record_size_limit = _record_size_limit(self.record_size_limit)
        self.sig_schemes = tuple(self.sig_schemes)
        if self.session_cache is None:
            self.session_cache = SessionCache()
        elif self.session_cache is False:       # explicitly no resumption by session id
            self.session_cache = None
        if self.tickets and self.ticket_keys is None:
            from ..crypto.tickets import TicketKeys
            self.ticket_keys = TicketKeys()
        if not self.tickets:
            self.ticket_keys = None
        if self.dhe_params is None:
            from ..crypto.keyexchange import FFDHE2048
            self.dhe_params = FFDHE2048
        self.ca_roots = _load_roots(self.cafile)
        self._ca_names = None

    @property
    def identity(self):
        return next(iter(self.identities.values()))
