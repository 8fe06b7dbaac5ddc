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


def _shell(lines, tmp_path):
    """Run ``lines`` as a shell user would (names land in builtins); return the JSON the
    last line prints and what went to stderr (Scapy's log)."""
    script = "import builtins, json, sys\nfrom scapy.all import *\n" + lines
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


_LOAD_OURS = 'conf.exts.load("scapy-tls-hs")\nload_layer("tls_hs")\n'
_LOAD_SCAPY_TLS = 'load_layer("tls")\n'
_REPORT = r"""
from scapy.layers.inet import IP, TCP
pkt = IP(raw(IP() / TCP(sport=40000, dport=443) / bytes.fromhex("160303000a0e000000")))
print(json.dumps({
    "port443": type(pkt[TCP].payload).__module__,
    "TLSClientHello": builtins.TLSClientHello.__module__,
    "TLSRecord": getattr(builtins, "TLSRecord", None) is not None,
}))
"""


def test_explore_lists_the_layers_with_their_names(tmp_path):
    out, err = _shell(_LOAD_OURS + r"""
import contextlib, io
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    explore("tls_hs")
modules = dict(conf.layers.layers())     # Scapy's explore() GUI reads this: must not fail
print(json.dumps({"explore": buf.getvalue(), "doc": modules.get("scapy.layers.tls_hs"),
                  "ours_elsewhere": [m for m in modules if m.startswith("scapy_tls_hs")]}))
""", tmp_path)
    lines = out["explore"].splitlines()
    assert lines[0] == "Packets contained in scapy.layers.tls_hs:"
    rows = {line.split("|")[0].strip(): line.split("|")[1].strip()
            for line in lines[3:] if "|" in line}
    assert rows["TLSClientHello"] == "TLS ClientHello"
    assert rows["TLSRecord"] == "TLS Record"
    assert rows["TLSExtServerName"] == "TLS Extension - server_name"
    assert "TLSPacket" not in rows          # the abstract base is no layer
    assert out["doc"].startswith("scapy-tls-hs: TLS records, handshake messages")
    assert out["ours_elsewhere"] == []
    assert "TCP ports 443, 465" in err and "TLSRecord" in err


def test_ls_shows_what_a_fresh_instance_has(tmp_path):
    out, _ = _shell(_LOAD_OURS + r"""
import contextlib, io
def text(obj):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        ls(obj)
    return buf.getvalue()
print(json.dumps({"ch": text(TLSClientHello), "sh": text(TLSServerHello),
                  "cv": text(TLSCertificateVerify), "cr": text(TLSCertificateRequest),
                  "fresh": {"ciphers": TLSClientHello().ciphers,
                            "ext": [e.type for e in TLSClientHello().ext],
                            "cv": TLSCertificateVerify().sig_alg,
                            "cr": TLSCertificateRequest().sig_algs}}))
""", tmp_path)

    def default(text, field):
        line = next(x for x in text.splitlines() if x.split(":")[0].strip() == field)
        return line.split("=", 1)[1].strip()

    fresh = out["fresh"]
    assert default(out["ch"], "ciphers") == "('%s')" % fresh["ciphers"]
    assert len(fresh["ciphers"]) == 14
    assert default(out["ch"], "random") == "('<RandBin>')"       # drawn for each packet
    ext = default(out["ch"], "ext")
    assert ext.count("<TLSExt") == len(fresh["ext"]) == 7
    assert "TLSExtSupportedGroups" in ext and "TLSExtSessionTicket" in ext
    assert default(out["sh"], "random") == "('<RandBin>')"
    assert default(out["cv"], "sig_alg") == "('%d')" % fresh["cv"] == "('1025')"
    assert default(out["cr"], "sig_algs") == "('%s')" % fresh["cr"]
    # Lengths and types computed when built stay None, as in Scapy's own layers.
    assert default(out["ch"], "ciphers_len") == "('None')"


def test_scapy_tls_loaded_first_then_ours(tmp_path):
    """Ours loaded last: its names in the shell, the TLS ports dissect with it, and the
    warning names what it replaced."""
    out, err = _shell(_LOAD_SCAPY_TLS + _LOAD_OURS + _REPORT, tmp_path)
    assert out == {"port443": "scapy_tls_hs.layers.record",
                   "TLSClientHello": "scapy_tls_hs.layers.hello", "TLSRecord": True}
    assert "scapy-tls-hs loaded after Scapy's TLS layer" in err
    assert "TLSClientHello" in err and "TLSServerHello" in err
    assert "TCP ports 443, 465, 636, 853, 993, 995, 8443, 4433 dissect as scapy-tls-hs " \
           "TLSRecord" in err


def test_ours_first_then_scapy_tls(tmp_path):
    """Scapy's TLS loaded last: its names in the shell (Scapy's rule), the TLS ports still
    dissect with ours, and a warning says both when it happens."""
    out, err = _shell(_LOAD_OURS + _LOAD_SCAPY_TLS + _REPORT, tmp_path)
    assert out == {"port443": "scapy_tls_hs.layers.record",
                   "TLSClientHello": "scapy.layers.tls.handshake", "TLSRecord": True}
    assert "Scapy's TLS layer loaded beside scapy-tls-hs" in err
    assert "TLSClientHello" in err and "split_layers(TCP, TLSRecord" in err


def test_side_by_side_as_the_readme_says(tmp_path):
    """Both layers in one session: Scapy's by its names, ours through scapy_tls_hs.all;
    port 443 handed to Scapy's TLS with split_layers."""
    out, _ = _shell(_LOAD_OURS + _LOAD_SCAPY_TLS + r"""
import scapy_tls_hs.all as hs
from scapy.layers.inet import IP, TCP
data = raw(hs.TLSRecord() / hs.TLSHandshake() / hs.TLSClientHello(ciphers=[0xC02F]))
ours = IP(raw(IP() / TCP(sport=40000, dport=443) / data))
for port in hs.TLS_PORTS:
    split_layers(TCP, hs.TLSRecord, sport=port)
    split_layers(TCP, hs.TLSRecord, dport=port)
theirs = IP(raw(IP() / TCP(sport=40000, dport=443) / data))
print(json.dumps({"ours": type(ours[TCP].payload).__name__,
                  "ours_ciphers": ours[hs.TLSClientHello].ciphers,
                  "theirs": type(theirs[TCP].payload).__module__,
                  "theirs_hello": TLSClientHello in theirs}))
""", tmp_path)
    assert out == {"ours": "TLSRecord", "ours_ciphers": [0xC02F],
                   "theirs": "scapy.layers.tls.record", "theirs_hello": True}
