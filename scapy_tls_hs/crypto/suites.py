"""Cipher suite registry: every parameter the handshake and the record layer need.

One ``CipherSuite`` per code point we can run (TLS 1.0-1.2) or observe (TLS 1.3). Names are
the IANA ones from ``registry.CIPHER_SUITES``; ``openssl_name`` is what ``openssl ciphers``
prints, and ``by_name`` accepts either (plus a few historic OpenSSL aliases).

Version limits (RFC 5246 section 1.2, RFC 5288, RFC 5289, RFC 6655, RFC 7251, RFC 7905): AEAD
suites and the SHA-256/SHA-384 CBC suites exist from TLS 1.2 on; the SHA-1 CBC suites and 3DES
run on TLS 1.0-1.2 (3DES only so that old captures can be read and old peers reached).
"""
from dataclasses import dataclass

from ..registry import CIPHER_SUITES

TLS10, TLS11, TLS12, TLS13 = 0x0301, 0x0302, 0x0303, 0x0304

# cipher -> (key_len, fixed_iv_len, record_iv_len, block_size, aead, tag_len)
_CIPHERS = {
    "AES_128_CBC": (16, 16, 16, 16, False, 0),
    "AES_256_CBC": (32, 16, 16, 16, False, 0),
    "3DES_EDE_CBC": (24, 8, 8, 8, False, 0),
    "AES_128_GCM": (16, 4, 8, 0, True, 16),
    "AES_256_GCM": (32, 4, 8, 0, True, 16),
    "CHACHA20_POLY1305": (32, 12, 0, 0, True, 16),
    "AES_128_CCM": (16, 4, 8, 0, True, 16),
    "AES_256_CCM": (32, 4, 8, 0, True, 16),
    "AES_128_CCM_8": (16, 4, 8, 0, True, 8),
    "AES_256_CCM_8": (32, 4, 8, 0, True, 8),
}
_MAC_LEN = {"SHA1": 20, "SHA256": 32, "SHA384": 48, "AEAD": 0}


@dataclass(frozen=True)
class CipherSuite:
    id: int
    name: str
    openssl_name: str
    key_exchange: str           # "RSA", "DHE", "ECDHE", "TLS13"
    authentication: object      # "RSA", "ECDSA", "DSA" (DHE_DSS), None (TLS 1.3)
    cipher: str
    mac: str                    # "SHA1", "SHA256", "SHA384", "AEAD"
    prf_hash: str               # "sha256" | "sha384" (the TLS 1.2 PRF and transcript hash)
    aead: bool
    key_len: int
    fixed_iv_len: int
    record_iv_len: int
    mac_len: int
    block_size: int
    min_version: int
    max_version: int
    tag_len: int = 0            # AEAD tag bytes (8 for the CCM_8 suites, else 16)

    def usable_in(self, version):
        """True when this suite may be negotiated in ``version`` (an int such as 0x0303)."""
        return self.min_version <= version <= self.max_version

    @property
    def is_cbc(self):
        return not self.aead

    def __repr__(self):
        return "<CipherSuite 0x%04X %s>" % (self.id, self.name)

    # -- lookups ---------------------------------------------------------------------------

    @classmethod
    def by_id(cls, suite_id):
        """The suite with code point ``suite_id``; ``KeyError`` if we do not know it."""
        try:
            return _BY_ID[suite_id]
        except (KeyError, TypeError):
            raise KeyError("unsupported cipher suite %r" % (suite_id,)) from None

    @classmethod
    def get(cls, suite_id):
        return _BY_ID.get(suite_id)

    @classmethod
    def by_name(cls, name):
        """Look up by IANA name (``TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256``) or OpenSSL name
        (``ECDHE-RSA-AES128-GCM-SHA256``); case-insensitive. ``KeyError`` if unknown."""
        try:
            return _BY_NAME[name.strip().upper()]
        except (KeyError, AttributeError):
            raise KeyError("unknown cipher suite name %r" % (name,)) from None

    @classmethod
    def all(cls):
        """Every suite runnable end to end (TLS 1.0-1.2), in our preference order."""
        return list(_ALL)

    @classmethod
    def default(cls, server=False):
        """The TLS 1.0-1.2 suites offered (or, ``server``, accepted) when none are configured:
        a client leaves out the AES-CCM_8 suites (an 8-byte tag, meant for constrained
        devices) and DHE_DSS (DSA certificates are rare) unless named; a server accepts
        every suite of ``all()`` its keys can authenticate."""
        if server:
            return list(_ALL)
        return [s for s in _ALL if not s.cipher.endswith("CCM_8") and s.authentication != "DSA"]

    @classmethod
    def all13(cls):
        """Every TLS 1.3 suite we run, in our preference order."""
        return list(_TLS13)

    @classmethod
    def default13(cls, server=False):
        """The TLS 1.3 suites offered (or, ``server``, accepted) when none are configured."""
        return [_BY_ID[i] for i in (_SERVER_DEFAULT13 if server else _DEFAULT13)]


def define_suite(suite_id, openssl_name, kx, auth, cipher, mac):
    """A ``CipherSuite`` from its names: key exchange, authentication, cipher (a key of
    ``_CIPHERS``) and MAC or PRF hash; versions and record sizes follow from them. The
    observer defines the suites it can read but never runs (PSK ones) with it too."""
    key_len, fixed_iv, record_iv, block, aead, tag_len = _CIPHERS[cipher]
    if kx == "TLS13":
        lo, hi = TLS13, TLS13
    elif aead or mac in ("SHA256", "SHA384"):
        lo, hi = TLS12, TLS12
    else:
        lo, hi = TLS10, TLS12
    if kx == "TLS13":
        fixed_iv, record_iv = 12, 0      # RFC 8446 section 5.3: 12-byte per-record nonce
    return CipherSuite(
        id=suite_id, name=CIPHER_SUITES[suite_id], openssl_name=openssl_name,
        key_exchange=kx, authentication=auth, cipher=cipher, mac="AEAD" if aead else mac,
        prf_hash="sha384" if mac == "SHA384" else "sha256", aead=aead, key_len=key_len,
        fixed_iv_len=fixed_iv, record_iv_len=record_iv, mac_len=0 if aead else _MAC_LEN[mac],
        block_size=block, min_version=lo, max_version=hi, tag_len=tag_len)


# In preference order: ECDHE AEAD, DHE AEAD, ECDHE CBC, DHE CBC, RSA key exchange, AES-CCM_8
# (a 64-bit tag), DHE_DSS (a DSA certificate serves only these), 3DES. For AEAD suites ``mac`` names the PRF hash: SHA-256 for every AES-CCM
# suite, AES-256 included (RFC 6655 section 3, RFC 7251 section 2).
_RUNNABLE = [
    define_suite(0xC02B, "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE", "ECDSA", "AES_128_GCM", "SHA256"),
    define_suite(0xC02F, "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE", "RSA", "AES_128_GCM", "SHA256"),
    define_suite(0xC02C, "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE", "ECDSA", "AES_256_GCM", "SHA384"),
    define_suite(0xC030, "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE", "RSA", "AES_256_GCM", "SHA384"),
    define_suite(0xCCA9, "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE", "ECDSA", "CHACHA20_POLY1305",
           "SHA256"),
    define_suite(0xCCA8, "ECDHE-RSA-CHACHA20-POLY1305", "ECDHE", "RSA", "CHACHA20_POLY1305",
           "SHA256"),
    define_suite(0xC0AC, "ECDHE-ECDSA-AES128-CCM", "ECDHE", "ECDSA", "AES_128_CCM", "SHA256"),
    define_suite(0xC0AD, "ECDHE-ECDSA-AES256-CCM", "ECDHE", "ECDSA", "AES_256_CCM", "SHA256"),
    define_suite(0x009E, "DHE-RSA-AES128-GCM-SHA256", "DHE", "RSA", "AES_128_GCM", "SHA256"),
    define_suite(0x009F, "DHE-RSA-AES256-GCM-SHA384", "DHE", "RSA", "AES_256_GCM", "SHA384"),
    define_suite(0xCCAA, "DHE-RSA-CHACHA20-POLY1305", "DHE", "RSA", "CHACHA20_POLY1305", "SHA256"),
    define_suite(0xC09E, "DHE-RSA-AES128-CCM", "DHE", "RSA", "AES_128_CCM", "SHA256"),
    define_suite(0xC09F, "DHE-RSA-AES256-CCM", "DHE", "RSA", "AES_256_CCM", "SHA256"),
    define_suite(0xC023, "ECDHE-ECDSA-AES128-SHA256", "ECDHE", "ECDSA", "AES_128_CBC", "SHA256"),
    define_suite(0xC027, "ECDHE-RSA-AES128-SHA256", "ECDHE", "RSA", "AES_128_CBC", "SHA256"),
    define_suite(0xC024, "ECDHE-ECDSA-AES256-SHA384", "ECDHE", "ECDSA", "AES_256_CBC", "SHA384"),
    define_suite(0xC028, "ECDHE-RSA-AES256-SHA384", "ECDHE", "RSA", "AES_256_CBC", "SHA384"),
    define_suite(0xC009, "ECDHE-ECDSA-AES128-SHA", "ECDHE", "ECDSA", "AES_128_CBC", "SHA1"),
    define_suite(0xC013, "ECDHE-RSA-AES128-SHA", "ECDHE", "RSA", "AES_128_CBC", "SHA1"),
    define_suite(0xC00A, "ECDHE-ECDSA-AES256-SHA", "ECDHE", "ECDSA", "AES_256_CBC", "SHA1"),
    define_suite(0xC014, "ECDHE-RSA-AES256-SHA", "ECDHE", "RSA", "AES_256_CBC", "SHA1"),
    define_suite(0x0067, "DHE-RSA-AES128-SHA256", "DHE", "RSA", "AES_128_CBC", "SHA256"),
    define_suite(0x006B, "DHE-RSA-AES256-SHA256", "DHE", "RSA", "AES_256_CBC", "SHA256"),
    define_suite(0x0033, "DHE-RSA-AES128-SHA", "DHE", "RSA", "AES_128_CBC", "SHA1"),
    define_suite(0x0039, "DHE-RSA-AES256-SHA", "DHE", "RSA", "AES_256_CBC", "SHA1"),
    define_suite(0x009C, "AES128-GCM-SHA256", "RSA", "RSA", "AES_128_GCM", "SHA256"),
    define_suite(0x009D, "AES256-GCM-SHA384", "RSA", "RSA", "AES_256_GCM", "SHA384"),
    define_suite(0xC09C, "AES128-CCM", "RSA", "RSA", "AES_128_CCM", "SHA256"),
    define_suite(0xC09D, "AES256-CCM", "RSA", "RSA", "AES_256_CCM", "SHA256"),
    define_suite(0x003C, "AES128-SHA256", "RSA", "RSA", "AES_128_CBC", "SHA256"),
    define_suite(0x003D, "AES256-SHA256", "RSA", "RSA", "AES_256_CBC", "SHA256"),
    define_suite(0x002F, "AES128-SHA", "RSA", "RSA", "AES_128_CBC", "SHA1"),
    define_suite(0x0035, "AES256-SHA", "RSA", "RSA", "AES_256_CBC", "SHA1"),
    define_suite(0xC0AE, "ECDHE-ECDSA-AES128-CCM8", "ECDHE", "ECDSA", "AES_128_CCM_8", "SHA256"),
    define_suite(0xC0AF, "ECDHE-ECDSA-AES256-CCM8", "ECDHE", "ECDSA", "AES_256_CCM_8", "SHA256"),
    define_suite(0xC0A2, "DHE-RSA-AES128-CCM8", "DHE", "RSA", "AES_128_CCM_8", "SHA256"),
    define_suite(0xC0A3, "DHE-RSA-AES256-CCM8", "DHE", "RSA", "AES_256_CCM_8", "SHA256"),
    define_suite(0xC0A0, "AES128-CCM8", "RSA", "RSA", "AES_128_CCM_8", "SHA256"),
    define_suite(0xC0A1, "AES256-CCM8", "RSA", "RSA", "AES_256_CCM_8", "SHA256"),
    # DHE_DSS (RFC 5246, RFC 5288): for a server with a DSA certificate.
    define_suite(0x00A2, "DHE-DSS-AES128-GCM-SHA256", "DHE", "DSA", "AES_128_GCM", "SHA256"),
    define_suite(0x00A3, "DHE-DSS-AES256-GCM-SHA384", "DHE", "DSA", "AES_256_GCM", "SHA384"),
    define_suite(0x0040, "DHE-DSS-AES128-SHA256", "DHE", "DSA", "AES_128_CBC", "SHA256"),
    define_suite(0x006A, "DHE-DSS-AES256-SHA256", "DHE", "DSA", "AES_256_CBC", "SHA256"),
    define_suite(0x0032, "DHE-DSS-AES128-SHA", "DHE", "DSA", "AES_128_CBC", "SHA1"),
    define_suite(0x0038, "DHE-DSS-AES256-SHA", "DHE", "DSA", "AES_256_CBC", "SHA1"),
    define_suite(0xC012, "ECDHE-RSA-DES-CBC3-SHA", "ECDHE", "RSA", "3DES_EDE_CBC", "SHA1"),
    define_suite(0x0016, "DHE-RSA-DES-CBC3-SHA", "DHE", "RSA", "3DES_EDE_CBC", "SHA1"),
    define_suite(0x000A, "DES-CBC3-SHA", "RSA", "RSA", "3DES_EDE_CBC", "SHA1"),
    define_suite(0x0013, "DHE-DSS-DES-CBC3-SHA", "DHE", "DSA", "3DES_EDE_CBC", "SHA1"),
]

# TLS 1.3 suites (RFC 8446 appendix B.4), in our preference order; ``all13()``.
_TLS13 = [
    define_suite(0x1301, "TLS_AES_128_GCM_SHA256", "TLS13", None, "AES_128_GCM", "SHA256"),
    define_suite(0x1302, "TLS_AES_256_GCM_SHA384", "TLS13", None, "AES_256_GCM", "SHA384"),
    define_suite(0x1303, "TLS_CHACHA20_POLY1305_SHA256", "TLS13", None, "CHACHA20_POLY1305",
           "SHA256"),
    define_suite(0x1304, "TLS_AES_128_CCM_SHA256", "TLS13", None, "AES_128_CCM", "SHA256"),
    define_suite(0x1305, "TLS_AES_128_CCM_8_SHA256", "TLS13", None, "AES_128_CCM_8", "SHA256"),
]
# Offered by a client by default (OpenSSL's choice); a server also accepts AES-CCM by
# default, as GnuTLS does. CCM_8 (an 8-byte tag) only when named.
_DEFAULT13 = (0x1301, 0x1302, 0x1303)
_SERVER_DEFAULT13 = (0x1301, 0x1302, 0x1303, 0x1304)

_ALL = tuple(_RUNNABLE)
_BY_ID = {s.id: s for s in _RUNNABLE + _TLS13}
_BY_NAME = {}
for _s in _RUNNABLE + _TLS13:
    _BY_NAME[_s.name.upper()] = _s
    _BY_NAME[_s.openssl_name.upper()] = _s
# Historic OpenSSL spellings still found in scripts and old documentation.
_BY_NAME["EDH-RSA-DES-CBC3-SHA"] = _BY_ID[0x0016]
_BY_NAME["ECDHE-ECDSA-CHACHA20-POLY1305-SHA256"] = _BY_ID[0xCCA9]
_BY_NAME["ECDHE-RSA-CHACHA20-POLY1305-SHA256"] = _BY_ID[0xCCA8]
_BY_NAME["DHE-RSA-CHACHA20-POLY1305-SHA256"] = _BY_ID[0xCCAA]
del _s
