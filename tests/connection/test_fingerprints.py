"""JA3, JA3S and JA4: checked against tshark (JA3/JA3S of every bundled capture, and a JA4
recomputed here from tshark's own dissection of the hellos), FoxIO's published example, and
properties (GREASE anywhere changes nothing; JA4 ignores extension order, JA3 does not)."""
import glob
import hashlib
import os
import shutil
import subprocess

import pytest
from hypothesis import given, settings, strategies as st

from scapy_tls_hs.capture.dissect import dissect_capture
from scapy_tls_hs.codec.messages import ClientHello, Extension, ServerHello
from scapy_tls_hs.connection import fingerprints as fp

PCAPS = os.path.join(os.path.dirname(__file__), "..", "..", "pcaps")
CAPTURES = sorted(glob.glob(os.path.join(PCAPS, "*.pcap*")))
GREASE = [0x0A0A + 0x1010 * i for i in range(16)]

# FoxIO's technical description of JA4 (its "Example" and "Raw Output" sections).
FOXIO_SUITES = [0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC013,
                0xC014, 0x009C, 0x009D, 0x002F, 0x0035]
FOXIO_EXTS = [0x001B, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002D, 0x000D, 0x0005, 0x0023,
              0x0012, 0x002B, 0xFF01, 0x000B, 0x000A, 0x0015]
FOXIO_SIGS = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601]


def _u16s(values, length_bytes=2):
    body = b"".join(v.to_bytes(2, "big") for v in values)
    return len(body).to_bytes(length_bytes, "big") + body


def _body(t, alpn=b"h2", sigs=FOXIO_SIGS, versions=(0x0304, 0x0303)):
    if t == 0x0010:
        return (len(alpn) + 1).to_bytes(2, "big") + bytes([len(alpn)]) + alpn
    if t == 0x000D:
        return _u16s(sigs)
    if t == 0x002B:
        return _u16s(list(versions), 1)
    if t == 0x000A:
        return _u16s([29, 23, 24])
    if t == 0x000B:
        return b"\x01\x00"
    return b""


def _hello(suites=FOXIO_SUITES, exts=FOXIO_EXTS, **kw):
    return ClientHello(version=0x0303, random=bytes(32), session_id=b"",
                       cipher_suites=list(suites), compression_methods=[0],
                       extensions=[Extension(t, _body(t, **kw)) for t in exts])


def test_foxio_example():
    ja4, raw = fp.ja4(_hello())
    assert ja4 == "t13d1516h2_8daaf6152771_e5627efa2ab1"
    assert raw == ("t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,"
                   "c030,cca8,cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,"
                   "0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601")


@pytest.mark.parametrize("alpn,chars", [(b"h2", "h2"), (b"http/1.1", "h1"), (b"x", "xx"),
                                        (b"\xab", "ab"), (b"\xab\xcd", "ad"), (b"0\xab", "3b"),
                                        (b"01\xab\xcd", "3d"), (b"0\xab\xcd1", "01")])
def test_alpn_characters(alpn, chars):
    assert fp.ja4(_hello(alpn=alpn))[0][8:10] == chars      # FoxIO's examples


def test_no_sni_no_alpn_no_sigs_no_exts():
    ja4, raw = fp.ja4(_hello(exts=[0x000A, 0x000B]))
    assert ja4.startswith("t12i1502" + "00_") and raw.endswith("_000a,000b")
    bare = ClientHello(version=0x0301, random=bytes(32), cipher_suites=[],
                       compression_methods=[0], extensions=None)
    assert fp.ja4(bare)[0] == "t10i000000_000000000000_000000000000"
    assert fp.ja3(bare)[0] == "769,,,,"
    assert fp.ja3(None) is None and fp.ja3s(None) is None and fp.ja4(None) is None


def test_ja3_string():
    text, digest = fp.ja3(_hello(exts=[0x0000, 0x000A, 0x000B, 0x0023]))
    assert text == "771,%s,0-10-11-35,29-23-24,0" % "-".join(map(str, FOXIO_SUITES))
    assert digest == hashlib.md5(text.encode()).hexdigest()
    sh = ServerHello(0x0303, bytes(32), b"", 0xC02F, 0, [Extension(0xFF01, b"\x00"),
                                                         Extension(0x0B, b"\x01\x00")])
    assert fp.ja3s(sh)[0] == "771,49199,65281-11"


@settings(max_examples=60, deadline=None)
@given(st.permutations(FOXIO_EXTS), st.lists(st.sampled_from(GREASE), max_size=4),
       st.lists(st.sampled_from(GREASE), max_size=3), st.randoms())
def test_grease_and_extension_order(order, grease_exts, grease_suites, rnd):
    base = _hello()
    suites = list(FOXIO_SUITES)
    for g in grease_suites:
        suites.insert(rnd.randrange(len(suites) + 1), g)
    exts = list(order)
    for g in grease_exts:
        if g not in exts:
            exts.insert(rnd.randrange(len(exts) + 1), g)
    greased = _hello(suites=suites, exts=exts, sigs=[GREASE[0]] + FOXIO_SIGS,
                     versions=(GREASE[3], 0x0304, 0x0303))
    assert fp.ja4(greased) == fp.ja4(base)
    for hello in (greased, base):       # the cached form agrees with the direct one
        assert fp.client_fingerprints(hello) == (fp.ja3(hello)[1],) + fp.ja4(hello)
    # JA3 keeps the order of what was sent, without the GREASE values.
    same_order = _hello(suites=FOXIO_SUITES, exts=[e for e in exts if e not in GREASE])
    assert fp.ja3(greased) == fp.ja3(same_order)
    assert (fp.ja3(same_order) == fp.ja3(base)) == (list(order) == FOXIO_EXTS)


def test_signature_algorithm_order_counts():
    assert fp.ja4(_hello(sigs=FOXIO_SIGS[::-1]))[0] != fp.ja4(_hello())[0]


# -- the bundled captures against tshark ---------------------------------------------------

def _tshark_hellos(path, ports):
    decode = []
    for port in ports:
        decode += ["-d", "tcp.port==%d,tls" % port]
    fields = ["tcp.stream", "tcp.srcport", "tcp.dstport", "tls.handshake.type",
              "tls.handshake.ja3", "tls.handshake.ja3s", "tls.handshake.version",
              "tls.handshake.ciphersuite", "tls.handshake.extension.type",
              "tls.handshake.sig_hash_alg", "tls.handshake.extensions_alpn_str",
              "tls.handshake.extensions.supported_version", "tls.handshake.extensions_server_name"]
    argv = ["tshark", "-n", "-r", path, *decode, "-Y", "tls.handshake.type==1 or "
            "tls.handshake.type==2", "-T", "fields", "-E", "separator=|", "-E",
            "occurrence=a", "-E", "aggregator=,"] + [a for f in fields for a in ("-e", f)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60).stdout
    return [dict(zip(fields, line.split("|"))) for line in out.splitlines() if line]


def _ints(text):
    return [int(v, 0) for v in text.split(",") if v] if text else []


def _ja4_from_tshark(row):
    """JA4 recomputed from tshark's dissection of a ClientHello (not from our parser)."""
    suites = [s for s in _ints(row["tls.handshake.ciphersuite"]) if s not in GREASE]
    exts = [e for e in _ints(row["tls.handshake.extension.type"]) if e not in GREASE]
    versions = [v for v in _ints(row["tls.handshake.extensions.supported_version"])
                if v not in GREASE]
    version = max(versions) if versions else int(row["tls.handshake.version"], 0)
    alpn = row["tls.handshake.extensions_alpn_str"].split(",")[0]
    names = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10"}
    head = "t%s%s%02d%02d%s" % (names[version], "d" if 0 in exts else "i", len(suites),
                                len(exts), (alpn[0] + alpn[-1]) if alpn else "00")
    sigs = [s for s in _ints(row["tls.handshake.sig_hash_alg"]) if s not in GREASE]
    ext_text = ",".join("%04x" % e for e in sorted(e for e in exts if e not in (0, 16)))
    if sigs:
        ext_text += "_" + ",".join("%04x" % s for s in sigs)
    sha = lambda t: hashlib.sha256(t.encode()).hexdigest()[:12]
    return "%s_%s_%s" % (head, sha(",".join("%04x" % s for s in sorted(suites))), sha(ext_text))


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
@pytest.mark.parametrize("path", CAPTURES, ids=os.path.basename)
def test_captures_match_tshark(path):
    keylog = os.path.splitext(path)[0] + ".keylog"
    reports = dissect_capture(path, keylog=keylog if os.path.exists(keylog) else None)
    assert reports
    ports = {int(r.server.rsplit(":", 1)[1]) for r in reports}
    rows = _tshark_hellos(path, ports)
    checked = 0
    for r in reports:
        cport = int(r.client.rsplit(":", 1)[1])
        sport = int(r.server.rsplit(":", 1)[1])
        hellos = [x for x in rows if x["tcp.srcport"] == str(cport)
                  and x["tcp.dstport"] == str(sport) and x["tls.handshake.type"] == "1"]
        servers = [x for x in rows if x["tcp.srcport"] == str(sport)
                   and x["tcp.dstport"] == str(cport) and x["tls.handshake.type"] == "2"]
        if not hellos:
            continue
        assert r.ja3 == hellos[0]["tls.handshake.ja3"]
        assert r.ja4 == _ja4_from_tshark(hellos[0])
        assert r.ja4_r.split("_")[0] == r.ja4.split("_")[0]
        if servers:       # the last ServerHello: after a HelloRetryRequest, the real one
            assert r.ja3s == servers[-1]["tls.handshake.ja3s"]
        checked += 1
    assert checked


# -- the endpoints report the same fingerprints as the dissector ---------------------------

def test_client_and_server_fingerprints_agree(pki):
    """Our client and server wired in memory (TLS 1.3 with a HelloRetryRequest, so the first
    ClientHello and the real ServerHello are the ones that count)."""
    from scapy_tls_hs.connection import ClientConfig, ServerConfig
    from scapy_tls_hs.connection.summary import HandshakeSummary
    from tests.connection.pump import assert_ok, run
    client, server, link = run(ClientConfig(groups=["x25519", "secp384r1"], alpn=["h2"],
                                            sni="server.test"),
                               ServerConfig(pki.rsa_chain, pki.rsa_key, groups=["secp384r1"]))
    assert_ok(link)
    assert client.hello_retry
    mine = HandshakeSummary.from_connection(client).fingerprints()
    theirs = HandshakeSummary.from_connection(server).fingerprints()
    assert mine == theirs and all(mine.values())
    assert mine["ja4"].startswith("t13d") and mine["ja4"][8:10] == "h2"
    assert mine["ja3"] == fp.ja3(client.client_hello)[1]
    assert client.server_hello.random != server.client_hello.random


def test_dissect_text_shows_them():
    import subprocess
    import sys
    cap = os.path.join(PCAPS, "tls12_ecdhe_rsa_aes128gcm_openssl.pcap")
    out = subprocess.run([sys.executable, "-m", "scapy_tls_hs", "dissect", cap],
                         capture_output=True, text=True, timeout=60).stdout
    report = dissect_capture(cap)[0]
    assert "    JA4 %s\n" % report.ja4 in out
    assert "    JA3 %s  JA3S %s\n" % (report.ja3, report.ja3s) in out
