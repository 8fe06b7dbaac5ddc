"""The Scapy extension: ``conf.exts.load("scapy-tls-hs")`` in a fresh interpreter, and
``from scapy_tls_hs.all import *``, without Scapy's own TLS layer."""
import json
import subprocess
import sys

FORBIDDEN = ("record", "handshake", "extensions", "keyexchange", "session", "automaton",
             "all", "basefields", "record_tls13", "handshake_sslv2")

_SCRIPT = r"""
import json, sys
from scapy.all import conf, raw
%s
from scapy.layers.inet import IP, TCP
pkt = IP(raw(IP(dst="127.0.0.1") / TCP(sport=40000, dport=443) /
             TLSRecord() / TLSHandshake() / TLSClientHello(ciphers=[0xC02F])))
print(json.dumps({
    "cls": type(pkt[TCP].payload).__module__ + "." + type(pkt[TCP].payload).__name__,
    "ciphers": pkt[TLSClientHello].ciphers,
    "summary": pkt.summary(),
    "show": pkt.show(dump=True),
    "tls_modules": sorted(m for m in sys.modules if m.startswith("scapy.layers.tls")),
    "bound": sorted({c.__module__ + "." + c.__name__ for f, c in TCP.payload_guess
                     if 443 in f.values() or 4433 in f.values()}),
}))
"""


def _run(import_lines, tmp_path):
    proc = subprocess.run([sys.executable, "-c", _SCRIPT % import_lines], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _check(out):
    assert out["cls"] == "scapy_tls_hs.layers.record.TLSRecord"
    assert out["ciphers"] == [0xC02F]
    assert "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" in out["show"]
    assert "ClientHello" in out["summary"]
    for mod in out["tls_modules"]:
        parts = mod.split(".")
        if len(parts) > 3 and parts[2] == "tls":
            assert parts[3] not in FORBIDDEN, mod
    assert out["bound"] == ["scapy_tls_hs.layers.record.TLSRecord"]


def test_conf_exts_load_in_fresh_interpreter(tmp_path):
    out = _run('conf.exts.load("scapy-tls-hs")\n'
               "from scapy.layers.tls_hs import TLSRecord, TLSHandshake, TLSClientHello",
               tmp_path)
    _check(out)
    assert "scapy.layers.tls_hs" in out["tls_modules"]


def test_star_import(tmp_path):
    _check(_run("from scapy_tls_hs.all import *", tmp_path))
