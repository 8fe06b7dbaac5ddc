"""Registries give names, not numbers, in ``show()`` and ``summary()``: every code point of
every table, in the field where it appears on the wire."""
import pytest
from scapy.all import raw

from scapy_tls_hs import registry
from scapy_tls_hs.layers import (TLSAlert, TLSApplicationData, TLSCertificateRequest,
                                 TLSCertificateStatus, TLSCertificateVerify,
                                 TLSChangeCipherSpec, TLSClientHello, TLSExtECPointFormats,
                                 TLSExtension, TLSExtKeyShare, TLSExtMaxFragmentLength,
                                 TLSExtPSKKeyExchangeModes, TLSExtSignatureAlgorithms,
                                 TLSExtSupportedGroups, TLSExtSupportedVersions, TLSHandshake,
                                 TLSKeyShareEntry, TLSRecord, TLSServerHello,
                                 TLSServerKeyExchange)
from tests.layers.helpers import show_text


def _dissected(pkt):
    return TLSRecord(raw(pkt))


def _hello(**kwargs):
    kwargs.setdefault("ext", [])
    return _dissected(TLSRecord() / TLSHandshake() / TLSClientHello(**kwargs))


def test_every_cipher_suite_by_name():
    codes = sorted(registry.CIPHER_SUITES)
    text = show_text(_hello(ciphers=codes))
    for code in codes:
        assert registry.CIPHER_SUITES[code] in text, hex(code)
    for code in (0x1301, 0xC02F, 0x000A):
        sh = _dissected(TLSRecord() / TLSHandshake() / TLSServerHello(cipher=code))
        assert registry.CIPHER_SUITES[code] in sh.summary()


def test_every_extension_type_by_name():
    exts = [TLSExtension(type=code, data=b"") for code in sorted(registry.EXTENSION_TYPES)]
    text = show_text(_hello(ext=exts))
    for code, name in registry.EXTENSION_TYPES.items():
        assert "type      = %s" % name in text, name


def test_every_named_group_by_name():
    codes = sorted(registry.NAMED_GROUPS)
    ske_texts = [show_text(_dissected(TLSRecord() / TLSHandshake() / TLSServerKeyExchange(
        named_curve=code, point=b"\x04"))) for code in codes[:5]]
    text = show_text(_hello(ext=[
        TLSExtSupportedGroups(groups=codes),
        TLSExtKeyShare(client_shares=[TLSKeyShareEntry(group=c, key_exchange=b"k")
                                      for c in codes])]))
    for code in codes:
        assert text.count(registry.NAMED_GROUPS[code]) >= 2, hex(code)
    for code, ske in zip(codes, ske_texts):
        assert registry.NAMED_GROUPS[code] in ske and "named_curve" in ske


def test_every_signature_scheme_by_name():
    codes = sorted(registry.SIGNATURE_SCHEMES)
    text = show_text(_hello(ext=[TLSExtSignatureAlgorithms(sig_algs=codes)]))
    cr = show_text(_dissected(TLSRecord() / TLSHandshake() / TLSCertificateRequest(
        sig_algs=codes)))
    for code in codes:
        assert registry.SIGNATURE_SCHEMES[code] in text and \
            registry.SIGNATURE_SCHEMES[code] in cr, hex(code)
    cv = _dissected(TLSRecord() / TLSHandshake() / TLSCertificateVerify(sig_alg=0x0804))
    assert "rsa_pss_rsae_sha256" in show_text(cv) and "rsa_pss_rsae_sha256" in cv.summary()


@pytest.mark.parametrize("level", sorted(registry.ALERT_LEVELS))
def test_every_alert_by_name(level):
    for code, name in registry.ALERT_DESCRIPTIONS.items():
        rec = _dissected(TLSRecord() / TLSAlert(level=level, description=code))
        assert name in show_text(rec) and name in rec.summary()
        assert registry.ALERT_LEVELS[level] in rec.summary()


def test_every_handshake_type_by_name():
    for code, name in registry.HANDSHAKE_TYPES.items():
        rec = _dissected(TLSRecord() / TLSHandshake(msg_type=code))
        assert "msg_type  = %s" % name in show_text(rec), name


def test_every_content_type_and_version_by_name():
    contents = {20: TLSChangeCipherSpec(), 21: TLSAlert(), 22: TLSHandshake() /
                TLSCertificateStatus(), 23: TLSApplicationData(data=b"x")}
    for version, vname in registry.VERSIONS.items():
        for ctype, content in contents.items():
            rec = _dissected(TLSRecord(version=version) / content)
            text = show_text(rec)
            assert "type      = %s" % registry.CONTENT_TYPES[ctype] in text
            assert "version   = %s" % vname in text
            assert rec.summary().startswith(vname)
    sv = _hello(ext=[TLSExtSupportedVersions(versions=sorted(registry.VERSIONS))])
    for vname in registry.VERSIONS.values():
        assert vname in show_text(sv)


def test_small_tables_by_name():
    text = show_text(_hello(comp=sorted(registry.COMPRESSION_METHODS), ext=[
        TLSExtECPointFormats(formats=sorted(registry.EC_POINT_FORMATS)),
        TLSExtPSKKeyExchangeModes(modes=sorted(registry.PSK_KEY_EXCHANGE_MODES)),
        TLSExtMaxFragmentLength(maxlen=3)]))
    for table in (registry.COMPRESSION_METHODS, registry.EC_POINT_FORMATS,
                  registry.PSK_KEY_EXCHANGE_MODES):
        for name in table.values():
            assert name in text, name
    assert "2^11" in text
    cr = show_text(_dissected(TLSRecord() / TLSHandshake() / TLSCertificateRequest(
        ctypes=sorted(registry.CLIENT_CERTIFICATE_TYPES))))
    for name in registry.CLIENT_CERTIFICATE_TYPES.values():
        assert name in cr, name


def test_grease_and_unknown_codes_are_marked():
    text = show_text(_hello(ciphers=[0x3A3A, 0xFEFE], ext=[
        TLSExtension(type=0x5A5A), TLSExtension(type=0x7777),
        TLSExtSupportedGroups(groups=[0x6A6A, 0x0777])]))
    for marked in ("GREASE_0x3A3A", "unknown_0xFEFE", "GREASE_0x5A5A", "unknown_0x7777",
                   "GREASE_0x6A6A", "unknown_0x0777"):
        assert marked in text
    alert = _dissected(TLSRecord() / TLSAlert(level=7, description=222))
    assert "unknown_0xde" in alert.summary().lower()


def test_cipher_suite_names_agree_with_tlslite():
    """An independent table (tlslite-ng's IANA names): every two-byte code point it knows,
    apart from pre-standard drafts, is in the registry under the same name."""
    from tlslite.constants import CipherSuite as Theirs
    checked = 0
    for code, name in Theirs.ietfNames.items():
        if code > 0xFFFF or name.endswith("_draft_00"):
            continue
        assert registry.CIPHER_SUITES[code].upper() == name.upper(), hex(code)
        checked += 1
    assert checked > 100
