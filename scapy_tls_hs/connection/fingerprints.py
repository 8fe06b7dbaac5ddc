"""TLS fingerprints of a handshake's hellos: JA3 and JA3S (Salesforce; the MD5 digests that
tshark gives as ``tls.handshake.ja3`` / ``ja3s``) and JA4 with its raw form (FoxIO, BSD-3-Clause
technical description; JA4S and the other JA4+ methods are not open source and not here).

Rules of this module:
- Pure functions of the parsed hellos (``codec.messages.ClientHello`` / ``ServerHello``); None
  when the hello was not seen.
- GREASE values (RFC 8701: 0x?A?A) are left out wherever a list holds code points: cipher
  suites, extension types, groups, supported versions, signature algorithms.
- A malformed extension body counts as an empty list: a fingerprint describes what was sent,
  it does not judge it.
"""

from ..codec import extensions as X
from ..crypto.prf import digest
from ..errors import AlertError

__all__ = ["ja3", "ja3s", "ja4", "is_grease", "client_fingerprints"]

_SNI, _GROUPS, _POINT_FORMATS, _SIG_ALGS, _ALPN, _VERSIONS = 0, 10, 11, 13, 16, 43
_JA4_VERSIONS = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3",
                 0x0002: "s2", 0xFEFF: "d1", 0xFEFD: "d2", 0xFEFC: "d3"}
_EMPTY_HASH = "000000000000"


_GREASE = frozenset(0x0A0A + 0x1010 * i for i in range(16))


def is_grease(value):
    return value in _GREASE


def _clean(values):
    return [v for v in values if v not in _GREASE]


def _read(parser, data):
    """What the codec's ``parser`` reads of an extension body; [] when absent or malformed
    (a fingerprint describes what was sent, it does not judge it)."""
    if data is None:
        return []
    try:
        return parser(data)
    except AlertError:          # DecodeError included
        return []


def _extensions(hello):
    return [(e[0], e[1]) for e in (hello.extensions or ())]


def _ext(exts, kind):
    for t, data in exts:
        if t == kind:
            return data
    return None


def _md5(text):
    return digest("md5", text.encode("ascii")).hex()


def ja3(client_hello):
    """(JA3 string, its MD5): version, suites, extensions, groups, point formats."""
    if client_hello is None:
        return None
    exts = _extensions(client_hello)
    fields = [str(client_hello.version),
              "-".join(map(str, _clean(client_hello.cipher_suites))),
              "-".join(str(t) for t in _clean([t for t, _ in exts])),
              "-".join(map(str, _clean(_read(X.parse_supported_groups, _ext(exts, _GROUPS))))),
              "-".join(map(str, _read(X.parse_ec_point_formats, _ext(exts, _POINT_FORMATS))))]
    text = ",".join(fields)
    return text, _md5(text)


def ja3s(server_hello):
    """(JA3S string, its MD5): version, suite, extensions of the ServerHello."""
    if server_hello is None:
        return None
    exts = tuple(_clean([t for t, _ in _extensions(server_hello)]))
    key = (server_hello.version, server_hello.cipher_suite, exts)
    hit = _SERVER_CACHE.get(key)
    if hit is None:
        # A server answers with a few ServerHello shapes: the MD5 is made once per shape.
        text = "%d,%d,%s" % (key[0], key[1], "-".join(map(str, exts)))
        hit = (text, _md5(text))
        if len(_SERVER_CACHE) >= _CACHE_MAX:
            _SERVER_CACHE.clear()
        _SERVER_CACHE[key] = hit
    return hit


def _alpn_chars(value):
    if not value:
        return "00"
    first, last = value[0], value[-1]
    if _alnum(first) and _alnum(last):
        return chr(first) + chr(last)
    text = value.hex()
    return text[0] + text[-1]


def _alnum(byte):
    return 0x30 <= byte <= 0x39 or 0x41 <= byte <= 0x5A or 0x61 <= byte <= 0x7A


_HEX4 = "{:04x}".format


def _sha12(text):
    return digest("sha256", text.encode("ascii")).hex()[:12] if text else _EMPTY_HASH


def ja4(client_hello, transport="t"):
    """(JA4, JA4_r) of a ClientHello sent over ``transport`` ("t" TCP, "q" QUIC, "d" DTLS)."""
    if client_hello is None:
        return None
    exts = _extensions(client_hello)
    types = _clean([t for t, _ in exts])
    suites = _clean(client_hello.cipher_suites)
    versions = _clean(_read(X.parse_supported_versions_client, _ext(exts, _VERSIONS)))
    version = max(versions) if versions else client_hello.version
    head = "%s%s%s%02d%02d%s" % (
        transport, _JA4_VERSIONS.get(version, "00"), "d" if _SNI in types else "i",
        min(len(suites), 99), min(len(types), 99), _alpn_chars(
            (_read(X.parse_alpn, _ext(exts, _ALPN)) or [b""])[0]))
    suite_list = ",".join(map(_HEX4, sorted(suites)))
    ext_list = ",".join(map(_HEX4, sorted(t for t in types if t not in (_SNI, _ALPN))))
    sigs = ",".join(map(_HEX4, _clean(_read(X.parse_signature_algorithms,
                                              _ext(exts, _SIG_ALGS)))))
    ext_part = ext_list + ("_" + sigs if sigs else "")
    fingerprint = "%s_%s_%s" % (head, _sha12(suite_list),
                                _sha12(ext_part) if ext_list else _EMPTY_HASH)
    raw = "%s_%s_%s" % (head, suite_list, ext_part)
    return fingerprint, raw


# What JA3 and JA4 read of a ClientHello -> (ja3 md5, ja4, ja4_r). A server sees the same few
# client builds again and again (only randoms and key shares change), so each shape is
# computed once; bounded, cleared when full.
_CLIENT_CACHE = {}
_SERVER_CACHE = {}
_CACHE_MAX = 512
_READ = frozenset((_GROUPS, _POINT_FORMATS, _SIG_ALGS, _ALPN, _VERSIONS))


def client_fingerprints(client_hello, transport="t"):
    """``(ja3 MD5, ja4, ja4_r)`` of a ClientHello, or None."""
    if client_hello is None:
        return None
    key = (transport, client_hello.version, tuple(client_hello.cipher_suites),
           tuple((e[0], e[1] if e[0] in _READ else None)
                 for e in (client_hello.extensions or ())))
    hit = _CLIENT_CACHE.get(key)
    if hit is None:
        four = ja4(client_hello, transport)
        hit = (ja3(client_hello)[1], four[0], four[1])
        if len(_CLIENT_CACHE) >= _CACHE_MAX:
            _CLIENT_CACHE.clear()
        _CLIENT_CACHE[key] = hit
    return hit
