"""The cipher suite table: names, parameters, version limits, preference order."""
import subprocess

import pytest

from scapy_tls_hs import CipherSuite as PublicCipherSuite
from scapy_tls_hs.crypto.suites import CipherSuite
from scapy_tls_hs.registry import CIPHER_SUITES

ALL = CipherSuite.all()


def test_public_name_and_lookups():
    assert PublicCipherSuite is CipherSuite
    s = CipherSuite.by_id(0xC02F)
    assert s.name == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
    assert CipherSuite.by_name("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256") is s
    assert CipherSuite.by_name("ECDHE-RSA-AES128-GCM-SHA256") is s
    assert CipherSuite.by_name("ecdhe-rsa-aes128-gcm-sha256") is s
    assert CipherSuite.get(0xC02F) is s and CipherSuite.get(0x0000) is None
    for bad in (0x0000, 0x0001, "x", None):
        with pytest.raises(KeyError):
            CipherSuite.by_id(bad) if not isinstance(bad, str) else CipherSuite.by_name(bad)


@pytest.mark.parametrize("name,suite_id", [
    ("AES128-SHA", 0x002F), ("AES256-SHA", 0x0035), ("AES128-SHA256", 0x003C),
    ("AES128-GCM-SHA256", 0x009C), ("DES-CBC3-SHA", 0x000A),
    ("DHE-RSA-AES256-GCM-SHA384", 0x009F), ("EDH-RSA-DES-CBC3-SHA", 0x0016),
    ("DHE-RSA-DES-CBC3-SHA", 0x0016), ("ECDHE-RSA-DES-CBC3-SHA", 0xC012),
    ("ECDHE-ECDSA-CHACHA20-POLY1305", 0xCCA9), ("ECDHE-RSA-AES256-SHA384", 0xC028),
    ("DHE-RSA-CHACHA20-POLY1305", 0xCCAA), ("TLS_AES_128_GCM_SHA256", 0x1301),
    ("AES128-CCM", 0xC09C), ("AES256-CCM8", 0xC0A1), ("DHE-RSA-AES256-CCM", 0xC09F),
    ("ECDHE-ECDSA-AES128-CCM8", 0xC0AE), ("TLS_DHE_RSA_WITH_AES_128_CCM_8", 0xC0A2),
    ("TLS_ECDHE_ECDSA_WITH_AES_256_CCM", 0xC0AD),
])
def test_openssl_names(name, suite_id):
    assert CipherSuite.by_name(name).id == suite_id


def test_all_covers_the_required_matrix():
    have = {(s.key_exchange, s.authentication, s.cipher, s.mac if not s.aead else s.prf_hash)
            for s in ALL}
    for kx, auth in (("RSA", "RSA"), ("DHE", "RSA"), ("ECDHE", "RSA"), ("ECDHE", "ECDSA")):
        for cipher, mac in (("AES_128_CBC", "SHA1"), ("AES_256_CBC", "SHA1"),
                            ("AES_128_GCM", "sha256"), ("AES_256_GCM", "sha384")):
            assert (kx, auth, cipher, mac) in have
        assert (kx, auth, "AES_128_CBC", "SHA256") in have
    for kx, auth in (("DHE", "RSA"), ("ECDHE", "RSA"), ("ECDHE", "ECDSA")):
        assert (kx, auth, "CHACHA20_POLY1305", "sha256") in have
    for kx in ("RSA", "DHE", "ECDHE"):
        assert (kx, "RSA", "3DES_EDE_CBC", "SHA1") in have
    # RFC 6655 and RFC 7251: every AES-CCM suite with a certificate, PRF SHA-256
    for kx, auth in (("RSA", "RSA"), ("DHE", "RSA"), ("ECDHE", "ECDSA")):
        for cipher in ("AES_128_CCM", "AES_256_CCM", "AES_128_CCM_8", "AES_256_CCM_8"):
            assert (kx, auth, cipher, "sha256") in have
    assert ("ECDHE", "RSA", "AES_256_CBC", "SHA384") in have
    assert ("ECDHE", "ECDSA", "AES_256_CBC", "SHA384") in have
    assert len({s.id for s in ALL}) == len(ALL)
    assert all(s.key_exchange != "TLS13" for s in ALL)


def test_tls13_suites_in_the_table_only():
    for suite_id in (0x1301, 0x1302, 0x1303):
        s = CipherSuite.by_id(suite_id)
        assert s.key_exchange == "TLS13" and s.authentication is None and s.aead
        assert s.usable_in(0x0304) and not s.usable_in(0x0303)
        assert s.fixed_iv_len == 12 and s not in ALL
    assert CipherSuite.by_id(0x1302).prf_hash == "sha384"


@pytest.mark.parametrize("suite", ALL, ids=lambda s: s.openssl_name)
def test_parameters_are_consistent(suite):
    assert CIPHER_SUITES[suite.id] == suite.name
    if suite.aead:
        assert suite.mac == "AEAD" and suite.mac_len == 0 and suite.block_size == 0
        assert (suite.fixed_iv_len, suite.record_iv_len) == (
            (12, 0) if suite.cipher == "CHACHA20_POLY1305" else (4, 8))
        assert suite.min_version == 0x0303
    else:
        assert suite.mac_len == {"SHA1": 20, "SHA256": 32, "SHA384": 48}[suite.mac]
        assert suite.block_size == suite.fixed_iv_len == suite.record_iv_len
        assert suite.block_size == (8 if suite.cipher == "3DES_EDE_CBC" else 16)
        assert suite.min_version == (0x0301 if suite.mac == "SHA1" else 0x0303)
    assert suite.key_len == {"AES_128_CBC": 16, "AES_256_CBC": 32, "3DES_EDE_CBC": 24,
                             "AES_128_GCM": 16, "AES_256_GCM": 32, "AES_128_CCM": 16,
                             "AES_256_CCM": 32, "AES_128_CCM_8": 16, "AES_256_CCM_8": 32,
                             "CHACHA20_POLY1305": 32}[suite.cipher]
    assert suite.tag_len == (0 if not suite.aead else 8 if suite.cipher.endswith("CCM_8")
                             else 16)
    assert suite.prf_hash == ("sha384" if suite.name.endswith("SHA384") else "sha256")
    assert suite.max_version == 0x0303
    assert not suite.usable_in(0x0300) and not suite.usable_in(0x0304)
    assert suite.usable_in(0x0303)
    assert suite.usable_in(0x0301) == (not suite.aead and suite.mac == "SHA1")


def test_preference_order():
    kinds = []
    for s in ALL:
        if s.cipher == "3DES_EDE_CBC":
            kind = 5
        elif s.authentication == "DSA":       # only a DSA certificate serves them
            kind = 4.5
        elif s.cipher.endswith("CCM_8"):
            kind = 4
        elif s.key_exchange == "RSA":
            kind = 3
        elif not s.aead:
            kind = 2
        elif s.key_exchange == "DHE":
            kind = 1
        else:
            kind = 0
        kinds.append(kind)
    assert kinds == sorted(kinds)
    assert ALL[0].key_exchange == "ECDHE" and ALL[0].aead
    assert ALL[-1].cipher == "3DES_EDE_CBC"


def test_all_returns_a_fresh_list():
    lst = CipherSuite.all()
    lst.clear()
    assert CipherSuite.all()


def test_openssl_agrees_on_names():
    """The OpenSSL names we print are the ones `openssl ciphers` knows (for those the
    local OpenSSL still lists at security level 0)."""
    try:
        out = subprocess.run(["openssl", "ciphers", "-V", "ALL:@SECLEVEL=0"],
                             capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        pytest.skip("openssl not available")
    seen = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) > 2 and parts[0].startswith("0x"):
            code = int(parts[0][2:4] + parts[0][7:9], 16)
            seen[code] = parts[2]
    checked = 0
    for s in ALL:
        if s.id in seen:
            assert seen[s.id] == s.openssl_name
            checked += 1
    assert checked >= 20


def test_defaults_leave_ccm8_to_servers_and_named_lists():
    client, server = CipherSuite.default(), CipherSuite.default(server=True)
    assert server == list(ALL)
    assert [s for s in ALL if s not in client] == [
        s for s in ALL if s.cipher.endswith("CCM_8") or s.authentication == "DSA"]
    assert len([s for s in ALL if s.cipher.endswith("CCM_8")]) == 6
    assert {s.name for s in client if "_CCM" in s.cipher} == {
        "TLS_RSA_WITH_AES_128_CCM", "TLS_RSA_WITH_AES_256_CCM",
        "TLS_DHE_RSA_WITH_AES_128_CCM", "TLS_DHE_RSA_WITH_AES_256_CCM",
        "TLS_ECDHE_ECDSA_WITH_AES_128_CCM", "TLS_ECDHE_ECDSA_WITH_AES_256_CCM"}
