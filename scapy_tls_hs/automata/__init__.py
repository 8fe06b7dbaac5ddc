"""Scapy ``Automaton``s over TCP sockets: the client and the server roles of the core.

``TLSClientAutomaton(server, dport, **options).run()`` and
``TLSServerAutomaton(**options).run()``; ``TLSListener`` serves many clients. Imported lazily:
loading one role does not load the other.
"""

_LAZY = {
    "TLSClientAutomaton": "client",
    "ClientResult": "client_result",
    "TLSServerAutomaton": "server",
    "TLSListener": "listener",
}

__all__ = sorted(_LAZY)


def __getattr__(attr):
    try:
        module = _LAZY[attr]
    except KeyError:
        raise AttributeError("module %r has no attribute %r" % (__name__, attr)) from None
    import importlib
    value = getattr(importlib.import_module("." + module, __name__), attr)
    globals()[attr] = value
    return value
