"""What the Scapy shell needs beyond the layers: ``explore("tls_hs")``, and a well defined
result when Scapy's own TLS layer is loaded beside this one.

Both define ``TLSClientHello``, ``TLSServerHello`` ... and both bind TCP port 443.  The rule:
while this extension is loaded, the TLS ports (``TLS_PORTS``) dissect with its
``TLSRecord``, whichever was loaded first (its bindings are put first, and Scapy's TLS
appends its own after them); a name in the shell is the one the last ``load_layer`` put
there, as always in Scapy, and a warning names the classes that changed hands.  Only the
names of ``scapy.layers.tls.*`` modules are read: nothing of Scapy's TLS layer is imported.
"""
import builtins
import importlib.abc
import importlib.machinery
import sys

from scapy.error import log_interactive
from scapy.layers.inet import TCP

from .layers import TLS_PORTS, TLSRecord
from .layers.catalogue import MODULE, file_layers

#: The module ``load_layer("tls")`` imports (Scapy's LAYER_ALIASES).
SCAPY_TLS = "scapy.layers.tls.all"
SCAPY_TLS_PREFIX = "scapy.layers.tls."


def announce(module, names):
    """Called by ``scapy.layers.tls_hs`` as it loads: file the layers for ``explore``, put
    our port bindings first, say in the shell what the TLS ports dissect as."""
    file_layers()
    layers = sys.modules.get("scapy.layers")
    if layers is not None and module is not None:
        # explore() and conf.layers.layers() evaluate "scapy.layers.tls_hs".
        setattr(layers, "tls_hs", module)
    bindings_first()
    scapy_tls = sys.modules.get(SCAPY_TLS)
    if scapy_tls is not None:
        log_interactive.warning(
            "scapy-tls-hs loaded after Scapy's TLS layer: %s; load_layer(\"tls_hs\") puts "
            "its %s in the shell in place of Scapy's (those stay in %s)",
            ports_line(), ", ".join(clashes(names, scapy_tls)) or "classes", SCAPY_TLS)
    else:
        log_interactive.info("scapy-tls-hs: %s", ports_line())
        watch_scapy_tls(names)


def ports_line():
    """Which class each TLS port dissects as, in words."""
    owner = first_binding(443)
    what = ("scapy-tls-hs TLSRecord (%s)" % MODULE if owner is TLSRecord
            else "%s.%s" % (getattr(owner, "__module__", "?"), getattr(owner, "__name__", owner)))
    return "TCP ports %s dissect as %s" % (", ".join(map(str, TLS_PORTS)), what)


def first_binding(port):
    """The class Scapy picks above TCP for ``port`` (the first binding that matches)."""
    for fields, cls in TCP.payload_guess:
        if fields.get("sport") == port or fields.get("dport") == port:
            return cls
    return None


def bindings_first():
    """Move the TLS-port bindings of ``TLSRecord`` ahead of every other binding of TCP."""
    ours = [b for b in TCP.payload_guess if b[1] is TLSRecord]
    TCP.payload_guess = ours + [b for b in TCP.payload_guess if b[1] is not TLSRecord]


def clashes(names, scapy_module):
    """Our exported names that Scapy's TLS layer also defines."""
    theirs = vars(scapy_module)
    return sorted(n for n in names if n in theirs and
                  getattr(theirs[n], "__module__", "").startswith(SCAPY_TLS_PREFIX))


def shadowed(names):
    """Our names that the shell (builtins) now holds from Scapy's TLS layer."""
    return sorted(n for n in names if getattr(getattr(builtins, n, None), "__module__",
                                              "").startswith(SCAPY_TLS_PREFIX))


def scapy_tls_loaded(module, names):
    """Scapy's TLS layer has just loaded after ours: ports stay ours, say what changes."""
    bindings_first()
    log_interactive.warning(
        "Scapy's TLS layer loaded beside scapy-tls-hs: %s (split_layers(TCP, TLSRecord, "
        "sport=443) and dport=443 give port 443 to Scapy's TLS); after load_layer(\"tls\") "
        "the shell's %s are Scapy's, scapy-tls-hs's stay in %s and scapy_tls_hs.all",
        ports_line(), ", ".join(clashes(names, module)) or "classes", MODULE)


def watch_scapy_tls(names):
    if not any(isinstance(f, _Watcher) for f in sys.meta_path):
        sys.meta_path.insert(0, _Watcher(lambda module: scapy_tls_loaded(module, names)))


class _Watcher(importlib.abc.MetaPathFinder):
    """Finds nothing itself: when ``SCAPY_TLS`` is imported, it lets the normal finder
    locate it and runs ``then(module)`` once it has executed."""

    def __init__(self, then):
        self.then = then

    def find_spec(self, fullname, path, target=None):
        if fullname != SCAPY_TLS:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _ThenLoader(spec.loader, self.then)
        return spec


class _ThenLoader(importlib.abc.Loader):
    def __init__(self, loader, then):
        self.loader, self.then = loader, then

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        try:
            self.then(module)
        except Exception as exc:           # a message must not break Scapy's import
            log_interactive.debug("scapy-tls-hs: %r", exc)

    def __getattr__(self, name):            # get_source, get_filename ... for inspect
        return getattr(self.loader, name)
