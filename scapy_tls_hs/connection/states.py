"""The TLS 1.0-1.2 handshake order, as data.

Rules of this module:
- It is the only place that says which message may come next. The client and server modules
  look their current state up here for every record they receive; a message that has no entry
  is answered with an ``unexpected_message`` alert, whatever the role.
- A state is named after what it expects next (``EXPECT_SERVER_HELLO``), as aioquic does.
- Keys are message names from ``registry.HANDSHAKE_TYPES`` plus ``"change_cipher_spec"`` and
  ``"application_data"``. A value is the next state, or a tuple of the states the handler may
  choose between where the protocol branches (resumed or full handshake, key exchange with or
  without ServerKeyExchange, client certificate or not). The handler returns its choice; the
  table says which choices are legal.
- Alerts are allowed in every state and are handled outside the tables.
- Nothing here knows about keys, bytes or sockets.
"""

# The states. The same names serve both roles where the meaning is the same.
START = "START"                      # nothing sent or received yet
CONNECTED = "CONNECTED"              # handshake done: application data either way
CLOSED = "CLOSED"                    # fatal alert sent or received, or both close_notify seen

EXPECT_CLIENT_HELLO = "EXPECT_CLIENT_HELLO"
EXPECT_SERVER_HELLO = "EXPECT_SERVER_HELLO"
EXPECT_CERTIFICATE = "EXPECT_CERTIFICATE"
# Client, after a ServerHello that did not echo the session id while a ticket was offered:
# RFC 5077 section 3.4 lets the server resume anyway, so CCS (or NewSessionTicket) may come
# instead of the Certificate.
EXPECT_CERTIFICATE_OR_TICKET_RESUMPTION = "EXPECT_CERTIFICATE_OR_TICKET_RESUMPTION"
EXPECT_SERVER_KEY_EXCHANGE = "EXPECT_SERVER_KEY_EXCHANGE"
EXPECT_CERTIFICATE_REQUEST_OR_SERVER_HELLO_DONE = "EXPECT_CERTIFICATE_REQUEST_OR_SERVER_HELLO_DONE"
EXPECT_SERVER_HELLO_DONE = "EXPECT_SERVER_HELLO_DONE"
EXPECT_CLIENT_KEY_EXCHANGE = "EXPECT_CLIENT_KEY_EXCHANGE"
EXPECT_CERTIFICATE_VERIFY = "EXPECT_CERTIFICATE_VERIFY"
EXPECT_NEW_SESSION_TICKET = "EXPECT_NEW_SESSION_TICKET"
EXPECT_CHANGE_CIPHER_SPEC = "EXPECT_CHANGE_CIPHER_SPEC"
EXPECT_FINISHED = "EXPECT_FINISHED"

CCS = "change_cipher_spec"
APP = "application_data"

# RFC 5246 section 7.3 (full handshake) and figure 2 (abbreviated); RFC 5077 section 3.1
# (NewSessionTicket right before the server's ChangeCipherSpec).
CLIENT = {
    START: {},
    EXPECT_SERVER_HELLO: {
        "server_hello": (EXPECT_CERTIFICATE,                       # full handshake
                         EXPECT_CERTIFICATE_OR_TICKET_RESUMPTION,  # ticket offered, id not echoed
                         EXPECT_NEW_SESSION_TICKET,                # resumed, new ticket announced
                         EXPECT_CHANGE_CIPHER_SPEC),               # resumed
    },
    EXPECT_CERTIFICATE: {
        "certificate": (EXPECT_SERVER_KEY_EXCHANGE,                # DHE, ECDHE
                        EXPECT_CERTIFICATE_REQUEST_OR_SERVER_HELLO_DONE),   # RSA
    },
    EXPECT_CERTIFICATE_OR_TICKET_RESUMPTION: {
        "certificate": (EXPECT_SERVER_KEY_EXCHANGE,
                        EXPECT_CERTIFICATE_REQUEST_OR_SERVER_HELLO_DONE),
        "new_session_ticket": EXPECT_CHANGE_CIPHER_SPEC,
        CCS: EXPECT_FINISHED,
    },
    EXPECT_SERVER_KEY_EXCHANGE: {
        "server_key_exchange": EXPECT_CERTIFICATE_REQUEST_OR_SERVER_HELLO_DONE,
    },
    EXPECT_CERTIFICATE_REQUEST_OR_SERVER_HELLO_DONE: {
        "certificate_request": EXPECT_SERVER_HELLO_DONE,
        "server_hello_done": (EXPECT_NEW_SESSION_TICKET, EXPECT_CHANGE_CIPHER_SPEC),
    },
    EXPECT_SERVER_HELLO_DONE: {
        "server_hello_done": (EXPECT_NEW_SESSION_TICKET, EXPECT_CHANGE_CIPHER_SPEC),
    },
    EXPECT_NEW_SESSION_TICKET: {
        "new_session_ticket": EXPECT_CHANGE_CIPHER_SPEC,
    },
    EXPECT_CHANGE_CIPHER_SPEC: {
        CCS: EXPECT_FINISHED,
    },
    EXPECT_FINISHED: {
        "finished": CONNECTED,
    },
    CONNECTED: {
        APP: CONNECTED,
        # RFC 5746: a HelloRequest is refused with a warning, or renegotiated
        "hello_request": (CONNECTED, EXPECT_SERVER_HELLO),
    },
    CLOSED: {},
}

SERVER = {
    START: {},
    EXPECT_CLIENT_HELLO: {
        "client_hello": (EXPECT_CERTIFICATE,               # full, client auth asked
                         EXPECT_CLIENT_KEY_EXCHANGE,       # full
                         EXPECT_CHANGE_CIPHER_SPEC),       # resumed
    },
    EXPECT_CERTIFICATE: {
        "certificate": EXPECT_CLIENT_KEY_EXCHANGE,
    },
    EXPECT_CLIENT_KEY_EXCHANGE: {
        "client_key_exchange": (EXPECT_CERTIFICATE_VERIFY,  # client sent a certificate
                                EXPECT_CHANGE_CIPHER_SPEC),
    },
    EXPECT_CERTIFICATE_VERIFY: {
        "certificate_verify": EXPECT_CHANGE_CIPHER_SPEC,
    },
    EXPECT_CHANGE_CIPHER_SPEC: {
        CCS: EXPECT_FINISHED,
    },
    EXPECT_FINISHED: {
        "finished": CONNECTED,
    },
    CONNECTED: {
        APP: CONNECTED,
        # RFC 5746: a renegotiating ClientHello is refused with a warning, or answered as
        # a first one is
        "client_hello": (CONNECTED, EXPECT_CERTIFICATE, EXPECT_CLIENT_KEY_EXCHANGE,
                         EXPECT_CHANGE_CIPHER_SPEC),
    },
    CLOSED: {},
}

# ---------------------------------------------------------------- TLS 1.3 (RFC 8446 2, A.1, A.2)
# A role starts in its TLS 1.2 table; the hello that selects TLS 1.3 switches it to these,
# whose entry for that hello is what its handler may choose.

EXPECT_ENCRYPTED_EXTENSIONS = "EXPECT_ENCRYPTED_EXTENSIONS"
EXPECT_CERTIFICATE_REQUEST_OR_CERTIFICATE = "EXPECT_CERTIFICATE_REQUEST_OR_CERTIFICATE"
EXPECT_END_OF_EARLY_DATA = "EXPECT_END_OF_EARLY_DATA"
EXPECT_SECOND_CLIENT_HELLO = "EXPECT_SECOND_CLIENT_HELLO"

CLIENT13 = {
    START: {},
    EXPECT_SERVER_HELLO: {
        "server_hello": (EXPECT_ENCRYPTED_EXTENSIONS,
                         EXPECT_SERVER_HELLO),           # HelloRetryRequest: hello again
    },
    EXPECT_ENCRYPTED_EXTENSIONS: {
        "encrypted_extensions": (EXPECT_CERTIFICATE_REQUEST_OR_CERTIFICATE,
                                 EXPECT_FINISHED),      # PSK: no certificate
    },
    EXPECT_CERTIFICATE_REQUEST_OR_CERTIFICATE: {
        "certificate_request": EXPECT_CERTIFICATE,
        "certificate": EXPECT_CERTIFICATE_VERIFY,
    },
    EXPECT_CERTIFICATE: {
        "certificate": EXPECT_CERTIFICATE_VERIFY,
    },
    EXPECT_CERTIFICATE_VERIFY: {
        "certificate_verify": EXPECT_FINISHED,
    },
    EXPECT_FINISHED: {
        "finished": CONNECTED,
    },
    CONNECTED: {
        APP: CONNECTED,
        "new_session_ticket": CONNECTED,
        "key_update": CONNECTED,
        "certificate_request": CONNECTED,           # post-handshake authentication
    },
    CLOSED: {},
}

SERVER13 = {
    START: {},
    EXPECT_CLIENT_HELLO: {
        "client_hello": (EXPECT_SECOND_CLIENT_HELLO,    # HelloRetryRequest sent
                         EXPECT_END_OF_EARLY_DATA,      # 0-RTT accepted
                         EXPECT_CERTIFICATE,            # client authentication asked
                         EXPECT_FINISHED),
    },
    EXPECT_SECOND_CLIENT_HELLO: {
        "client_hello": (EXPECT_CERTIFICATE, EXPECT_FINISHED),
    },
    EXPECT_END_OF_EARLY_DATA: {
        APP: EXPECT_END_OF_EARLY_DATA,
        "end_of_early_data": (EXPECT_CERTIFICATE, EXPECT_FINISHED),
    },
    EXPECT_CERTIFICATE: {
        "certificate": (EXPECT_CERTIFICATE_VERIFY, EXPECT_FINISHED),   # empty: no verify
    },
    EXPECT_CERTIFICATE_VERIFY: {
        "certificate_verify": EXPECT_FINISHED,
    },
    EXPECT_FINISHED: {
        "finished": CONNECTED,
    },
    CONNECTED: {
        APP: CONNECTED,
        "key_update": CONNECTED,
        "certificate": CONNECTED,                   # post-handshake authentication answer
        "certificate_verify": CONNECTED,
        "finished": CONNECTED,
    },
    CLOSED: {},
}

TABLES = {"client": CLIENT, "server": SERVER, "client13": CLIENT13, "server13": SERVER13}


def allowed(role, state):
    """Names of what may come next for ``role`` in ``state`` (for errors and diagrams)."""
    return sorted(TABLES[role].get(state, {}))


def edges(role):
    """``(state, message, next_state)`` for every transition: what a diagram is drawn from."""
    for state, moves in TABLES[role].items():
        for message, nxt in moves.items():
            for target in (nxt if isinstance(nxt, tuple) else (nxt,)):
                yield state, message, target


def mermaid(role):
    """A Mermaid ``stateDiagram-v2`` of the role's table, for the docs."""
    lines = ["stateDiagram-v2"]
    for state, message, target in edges(role):
        lines.append("    %s --> %s: %s" % (state, target, message))
    return "\n".join(lines)
