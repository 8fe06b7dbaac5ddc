"""scapy-tls-hs: TLS records, handshake messages and extensions (TLS 1.0-1.3), automata.

Loaded by Scapy as ``scapy.layers.tls_hs`` (see ``scapy_tls_hs.scapy_ext``):
``conf.exts.load("scapy-tls-hs")`` then ``load_layer("tls_hs")``; ``explore("tls_hs")``
lists the layers.  TCP ports 443, 465, 636, 853, 993, 995, 8443 and 4433 dissect as
``TLSRecord``, also when Scapy's own TLS layer is loaded beside it.
"""
# Absolute imports only, because Scapy executes this file under its own module name.
import sys as _sys

import scapy_tls_hs.all as _all
from scapy_tls_hs.all import *  # noqa: F401,F403
from scapy_tls_hs.shell import announce as _announce

__all__ = list(_all.__all__)

_announce(_sys.modules.get(__name__), __all__)
