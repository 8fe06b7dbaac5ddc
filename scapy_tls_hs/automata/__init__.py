"""Scapy ``Automaton``s over TCP sockets: the client and the server roles of the core.

``TLSClientAutomaton(server, dport, **options).run()`` and
``TLSServerAutomaton(**options).run()``; ``TLSListener`` serves many clients. Imported lazily:
loading one role does not load the other.
"""
from ..lazy import lazy_attributes

_LAZY = {
    "TLSClientAutomaton": "client",
    "ClientResult": "client_result",
    "TLSServerAutomaton": "server",
    "TLSListener": "listener",
}

__all__ = sorted(_LAZY)

__getattr__ = lazy_attributes(__name__, _LAZY)
