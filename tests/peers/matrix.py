"""The interop matrix every peer is run through: each key exchange (with each kind of server
certificate) x each cipher family x each version, one representative suite per cell, and
CBC both with and without encrypt-then-MAC.

The full suite x version product runs against one peer per role (s_server / s_client, with
gnutls for what this OpenSSL lacks); every other peer gets this smaller, complete-by-kind
matrix.
"""
from scapy_tls_hs.crypto.suites import CipherSuite

VERSIONS = (("1.0", 0x0301), ("1.1", 0x0302), ("1.2", 0x0303))


def family(suite):
    """"GCM", "CCM", "CHACHA20" or "CBC"."""
    if suite.cipher.endswith("GCM"):
        return "GCM"
    if "_CCM" in suite.cipher:
        return "CCM"
    if suite.cipher.startswith("CHACHA20"):
        return "CHACHA20"
    return "CBC"


def kind(suite):
    """The key exchange with the server certificate it needs: "ECDHE-RSA", "DHE-RSA",
    "RSA" ..."""
    if suite.key_exchange == "RSA":
        return "RSA"
    return "%s-%s" % (suite.key_exchange, suite.authentication)


# The suites the interop tests run: every suite an RSA or ECDSA certificate serves. DHE_DSS
# needs a DSA certificate: its peers are in tests/automata/test_server_signatures.py.
PEER_SUITES = [s for s in CipherSuite.all() if s.authentication != "DSA"]


def cases(available=lambda suite: True):
    """``[(version, suite, etm)]``: for every version, key exchange kind and cipher family the
    first suite of ``CipherSuite.all()`` (the preferred one) that ``available`` accepts; CBC
    cells twice, with and without EtM."""
    out = []
    for version, code in VERSIONS:
        seen = set()
        for suite in PEER_SUITES:
            cell = (kind(suite), family(suite))
            if cell in seen or not suite.usable_in(code) or not available(suite):
                continue
            seen.add(cell)
            for etm in ((True, False) if family(suite) == "CBC" else (True,)):
                out.append((version, suite, etm))
    return out


def case_id(case):
    version, suite, etm = case
    return "%s-%s%s" % (version, suite.openssl_name, "" if etm else "-no-etm")


# GnuTLS priority names.
_GNUTLS_CIPHER = {"AES_128_GCM": "AES-128-GCM", "AES_256_GCM": "AES-256-GCM",
                  "CHACHA20_POLY1305": "CHACHA20-POLY1305", "AES_128_CBC": "AES-128-CBC",
                  "AES_256_CBC": "AES-256-CBC", "3DES_EDE_CBC": "3DES-CBC",
                  "AES_128_CCM": "AES-128-CCM", "AES_256_CCM": "AES-256-CCM",
                  "AES_128_CCM_8": "AES-128-CCM-8", "AES_256_CCM_8": "AES-256-CCM-8"}


def gnutls_priority(version, suite, etm=True):
    """A GnuTLS priority string allowing exactly ``suite`` at ``version``."""
    vers = {"1.0": "TLS1.0", "1.1": "TLS1.1", "1.2": "TLS1.2"}[version]
    mac = "AEAD" if suite.aead else suite.mac
    prio = ("NORMAL:-VERS-ALL:+VERS-%s:-KX-ALL:+%s:-CIPHER-ALL:+%s:-MAC-ALL:+%s"
            % (vers, kind(suite), _GNUTLS_CIPHER[suite.cipher], mac))
    return prio + ("" if etm else ":%NO_ETM")
