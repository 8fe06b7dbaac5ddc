"""``from scapy_tls_hs.all import *``: every layer and the automata.

Never imports Scapy's own TLS layer (``scapy.layers.tls``).
"""
from .layers import *  # noqa: F401,F403
from .layers import __all__ as _layers_all

from .automata.client import TLSClientAutomaton  # noqa: E402
from .automata.server import TLSServerAutomaton  # noqa: E402

__all__ = list(_layers_all) + ["TLSClientAutomaton", "TLSServerAutomaton"]
