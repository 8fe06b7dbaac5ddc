"""The Scapy extension: ``conf.exts.load("scapy-tls-hs")`` in a fresh interpreter, and
``from scapy_tls_hs.all import *``, without Scapy's own TLS layer."""
import json
import subprocess
import sys

FORBIDDEN = ("record", "handshake", "extensions", "keyexchange", "session", "automaton",
             "all", "basefields", "record_tls13", "handshake_sslv2")

PORTS = (443, 465, 636, 853, 993, 995, 8443, 4433)     # CONTRACT.md

_SCRIPT = r"""
import json, sys
PORTS = %r
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
    "bound": {str(port): sorted({c.__module__ + "." + c.__name__
                                 for f, c in TCP.payload_guess if port in f.values()})
              for port in PORTS},
    "bound_tls": sorted({c.__module__ + "." + c.__name__ for f, c in TCP.payload_guess
                         if c.__module__.startswith("scapy.layers.tls.")}),
}))
"""


def _run(import_lines, tmp_path):
    proc = subprocess.run([sys.executable, "-c", _SCRIPT % (PORTS, import_lines)], cwd=tmp_path,
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
    # Every TLS port of the CONTRACT dissects with our record layer, and no class of
    # Scapy's own TLS layer is bound to any port.
    assert out["bound"] == {str(p): ["scapy_tls_hs.layers.record.TLSRecord"] for p in PORTS}
    assert out["bound_tls"] == []


def test_conf_exts_load_in_fresh_interpreter(tmp_path):
    out = _run('conf.exts.load("scapy-tls-hs")\n'
               "from scapy.layers.tls_hs import TLSRecord, TLSHandshake, TLSClientHello",
               tmp_path)
    _check(out)
    assert "scapy.layers.tls_hs" in out["tls_modules"]


def test_star_import(tmp_path):
    _check(_run("from scapy_tls_hs.all import *", tmp_path))


def test_load_layer_in_the_shell_namespace(tmp_path):
    """What a Scapy shell user types: load the extension, then ``load_layer("tls_hs")``
    puts the layers in the interactive namespace (here: builtins)."""
    out = _run('conf.exts.load("scapy-tls-hs")\n'
               "from scapy.all import load_layer\n"
               'load_layer("tls_hs")\n'
               "import builtins\n"
               "TLSRecord, TLSHandshake, TLSClientHello = (builtins.TLSRecord,\n"
               "    builtins.TLSHandshake, builtins.TLSClientHello)", tmp_path)
    _check(out)


_EVERY_MODULE = r"""
import importlib, json, pkgutil, sys
import scapy_tls_hs
failed = {}
for info in pkgutil.walk_packages(scapy_tls_hs.__path__, "scapy_tls_hs."):
    if info.name.endswith("__main__"):
        continue
    try:
        importlib.import_module(info.name)
    except Exception as e:          # reported, not hidden: see the assertion below
        failed[info.name] = repr(e)
print(json.dumps({"failed": failed,
                  "tls_modules": sorted(m for m in sys.modules
                                        if m.startswith("scapy.layers.tls"))}))
"""


def test_no_module_of_the_package_imports_scapys_tls_layer(tmp_path):
    """Not only what ``all`` pulls in: every module of the package, imported in a fresh
    interpreter, leaves Scapy's TLS record/handshake/... modules unloaded."""
    proc = subprocess.run([sys.executable, "-c", _EVERY_MODULE], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["failed"] == {}
    for mod in out["tls_modules"]:
        parts = mod.split(".")
        assert len(parts) <= 3 or parts[3] not in FORBIDDEN, mod
    import pathlib
    import re
    pattern = re.compile(r"^\s*(from|import)\s+scapy\.layers\.tls(\.|\s|$)", re.M)
    package = pathlib.Path(__file__).resolve().parents[1] / "scapy_tls_hs"
    offenders = [str(p) for p in package.rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []
