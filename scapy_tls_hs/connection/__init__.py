"""The sans-IO TLS connection: client, server and observer roles.

No sockets, no threads, no Scapy on the hot path: bytes in, events and bytes out. Roles are
imported lazily so that the observer does not pay for the active roles and vice versa.

Active roles, in short (an automaton does exactly this around its socket)::

    conn = ClientConnection(ClientConfig(versions=["1.2"], sni="example.test"))
    conn.start()                                  # queues the ClientHello
    sock.sendall(conn.data_to_send())
    while not conn.handshake_complete:
        events = conn.receive_data(sock.recv(65536))   # AlertError: alert already queued
        sock.sendall(conn.data_to_send())
    conn.send_application_data(b"GET / ...")
    conn.close()                                  # queues close_notify

After (or during) the handshake a connection tells: ``state`` (what it expects next, from
``states.py``), ``messages`` (the CONTRACT ladder: "C:client_hello", ...), ``events`` (every
event sent and received, in order; each ``HandshakeMessage`` has ``.packet``), ``version``,
``suite``, ``resumed``, ``session_id``, ``alpn``, ``sni``, ``client_auth`` (a non-empty client
Certificate in *this* handshake), ``peer_authenticated`` (the peer's certificate is known,
also when resumed),
``extended_master_secret``, ``encrypt_then_mac``, ``peer_certificates`` (DER, leaf first),
``session`` (pass to ``ClientConfig(session=...)`` to resume), ``ticket`` (client: the server
issued one), ``client_random`` / ``master_secret`` / ``keylog_line()`` (NSS key log),
``error`` (the AlertError that closed it), ``peer_closed``, ``closed``. ``tamper`` may be set to
``f(msg_type, body) -> new body or None`` to change outgoing handshake messages.
"""
from ..lazy import lazy_attributes
from .events import (Alert, ApplicationData, ChangeCipherSpec, Event, HandshakeComplete,
                     HandshakeMessage, Undecryptable)

_LAZY = {
    "ClientConnection": "client",
    "ServerConnection": "server",
    "ObserverConnection": "observer",
    "ClientConfig": "config",
    "ServerConfig": "config",
    "Session": "session",
    "SessionCache": "session",
    "ServerContext": "server_context",
}

__all__ = ["Alert", "ApplicationData", "ChangeCipherSpec", "Event", "HandshakeComplete",
           "HandshakeMessage", "Undecryptable"] + sorted(_LAZY)

__getattr__ = lazy_attributes(__name__, _LAZY)
