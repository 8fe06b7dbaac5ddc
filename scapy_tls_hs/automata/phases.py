"""Which automaton state goes with which state of the core: one table, made from data.

The core's transition tables (``connection/states.py``: ``CLIENT`` for TLS 1.0-1.2,
``CLIENT13`` for TLS 1.3) say, for each core state, which messages may come next. The client
automaton waits in one of a few states named after the server's flights; ``PHASE_RULES``
says which one by what the core expects next (first rule that matches wins). So the
automaton keeps no copy of the core's state names, and a state the core adds (as TLS 1.3
did) needs no entry here.

The server automaton needs no table: it waits (WAIT) until the core says the handshake is
complete, whatever the version, then serves (APP_DATA).
"""

__all__ = ["ORDER", "PHASE_RULES", "CLIENT_STATES", "core_state_map"]

# The client automaton's waiting states, in handshake order.
ORDER = ("WAIT_SERVER_HELLO", "WAIT_SERVER_HELLO_DONE", "WAIT_SERVER_FINISHED", "APP_DATA")

PHASE_RULES = (
    # (the core state expects "any" of these / "only" these, the automaton state)
    ("any", frozenset(("server_hello",)), "WAIT_SERVER_HELLO"),
    # TLS 1.2: NewSessionTicket, ChangeCipherSpec, Finished; TLS 1.3: the server Finished.
    ("only", frozenset(("change_cipher_spec", "new_session_ticket", "finished")),
     "WAIT_SERVER_FINISHED"),
    # The rest of the server's flight: Certificate ... ServerHelloDone (TLS 1.2),
    # EncryptedExtensions ... CertificateVerify (TLS 1.3).
    ("any", frozenset(), "WAIT_SERVER_HELLO_DONE"),
)


def _phase(expected):
    expected = frozenset(expected)
    for kind, names, state in PHASE_RULES:
        if (kind == "any" and (not names or expected & names)) or \
                (kind == "only" and expected <= names):
            return state
    return None


def core_state_map():
    """{core state: client automaton state} for every state of the core's client tables.
    The core's CONNECTED is the handshake done (APP_DATA; the automaton then moves on to
    RECEIVING / CLOSING by itself), CLOSED is CLOSED; a state that expects nothing (START)
    has no entry."""
    from ..connection import states
    out = {}
    for table in (states.CLIENT, getattr(states, "CLIENT13", {})):
        for core, moves in table.items():
            if core in (states.CONNECTED, states.CLOSED) or not moves:
                continue
            out.setdefault(core, _phase(moves))
    out[states.CONNECTED] = "APP_DATA"
    out[states.CLOSED] = "CLOSED"
    return out


# Computed once: the client automaton looks it up after every record.
CLIENT_STATES = core_state_map()
