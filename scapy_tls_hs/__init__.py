"""scapy-tls-hs: the TLS 1.0-1.2 handshake as Scapy layers.

The public API (CONTRACT.md) is imported lazily so that ``scapy-tls-hs dissect`` does not pay
for the automata, and the automata do not pay for the capture reader.
"""

__version__ = "0.1.0"

from .lazy import lazy_attributes  # noqa: E402

_API = {
    "prf": ("crypto.prf", "prf"),
    "CipherSuite": ("crypto.suites", "CipherSuite"),
    "Keylog": ("crypto.keylog", "Keylog"),
    "dissect_capture": ("capture.dissect", "dissect_capture"),
    "iter_connections": ("capture.dissect", "iter_connections"),
    "dissect_many": ("capture.many", "dissect_many"),
    "ConnectionReport": ("capture.dissect", "ConnectionReport"),
    "TLSClientAutomaton": ("automata.client", "TLSClientAutomaton"),
    "TLSServerAutomaton": ("automata.server", "TLSServerAutomaton"),
    "TLSListener": ("automata.listener", "TLSListener"),
    "replay_capture": ("replay", "replay_capture"),
    "TLSError": ("errors", "TLSError"),
    "AlertError": ("errors", "AlertError"),
    "DecodeError": ("errors", "DecodeError"),
    "CaptureError": ("errors", "CaptureError"),
}

__all__ = sorted(_API) + ["scapy_ext"]

__getattr__ = lazy_attributes(__name__, _API)


def scapy_ext(ext):
    """Entry point for ``conf.exts.load("scapy-tls-hs")``: registers ``scapy.layers.tls_hs``."""
    import pathlib
    from scapy.config import ScapyExt
    ext.config("scapy-tls-hs", __version__)
    ext.register("tls_hs", ScapyExt.MODE.LAYERS,
                 pathlib.Path(__file__).with_name("scapy_layer.py"), default=True)
