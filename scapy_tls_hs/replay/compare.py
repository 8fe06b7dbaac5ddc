"""Side by side: the captured and the replayed server view, and what differs."""
from ..registry import CIPHER_SUITES, EXTENSION_TYPES, name, version_name
from .view import server_view

__all__ = ["ReplayResult", "COMPARED"]

COMPARED = ("version", "cipher_suite", "group", "hello_retry", "session_id_kind", "resumed",
            "server_extensions", "alpn", "extended_master_secret", "certificate",
            "server_messages", "server_alerts")
# Compared only when the replay saw the server's whole flight (or the server ended it).
_FLIGHT_FIELDS = frozenset(("certificate", "server_messages"))

class ReplayResult:
    """One replayed connection: ``captured`` and ``replayed`` (dicts of the dissect / client
    fields plus the server view), ``differences`` (names from ``COMPARED``), ``notes``,
    ``result`` (the ``ClientResult``, None when not replayed) and ``reached`` (the server
    answered with TLS)."""

    def __init__(self, captured, to, result=None, notes=(), hello=None):
        self.number = captured.number
        self.client = captured.report.client
        self.server = captured.report.server
        self.to = to
        self.hello = captured.hello         # what the capture's client offered
        self.sent_hello = hello             # what the replay sent in its stead
        self.result = result
        self.notes = list(notes)
        self.captured = captured.fields()
        self.replayed = None
        self.differences = []
        self.reached = False
        if result is not None:
            self.replayed = _replayed_fields(result, hello)
            self.reached = bool(self.replayed["server_messages"] or
                                self.replayed["server_alerts"])
            self.differences = _differences(self.captured, self.replayed, result, self.notes)

    def to_dict(self):
        return {"connection": self.number, "client": self.client, "server": self.server,
                "to": self.to, "offered": offered(self.hello),
                "captured": self.captured, "replayed": self.replayed,
                "differences": list(self.differences), "notes": list(self.notes)}

    def __repr__(self):
        return "<ReplayResult #%d %s>" % (self.number, ", ".join(self.differences) or
                                          ("same" if self.replayed else "not replayed"))


def offered_version(hello):
    """The highest version a ClientHello offers: supported_versions when present."""
    from ..codec import extensions as X
    from ..errors import DecodeError
    ext = X.find_ext(hello.extensions or [], X.EXT_SUPPORTED_VERSIONS)
    if ext is not None:
        try:
            known = [v for v in X.parse_supported_versions_client(ext.data)
                     if 0x0300 <= v <= 0x0304]
            if known:
                return max(known)
        except DecodeError:
            pass
    return hello.version


def offered(hello):
    """The captured ClientHello's parameters, by name (None when there was none)."""
    if hello is None:
        return None
    return {"version": version_name(offered_version(hello)),
            "cipher_suites": [name(CIPHER_SUITES, s) for s in hello.cipher_suites],
            "compression_methods": list(hello.compression_methods),
            "extensions": None if hello.extensions is None else
            [name(EXTENSION_TYPES, e.type) for e in hello.extensions]}


def _replayed_fields(result, hello):
    from ..connection.events import ChangeCipherSpec, HandshakeMessage
    items = []
    for ev in result.events:
        if isinstance(ev, HandshakeMessage) and not ev.encrypted:
            items.append(("hs", ev.direction, ev.msg_type, ev.body))
        elif isinstance(ev, ChangeCipherSpec):
            items.append(("ccs", ev.direction))
    out = result.to_dict()
    out.update(server_view(items, result.messages, resumed=result.resumed, hello=hello))
    out["session_id"] = result.session_id
    return out


def completed(fields):
    """Did the captured handshake complete? Finished seen, or application data after it
    (a TLS 1.3 capture without keys shows only that)."""
    messages = fields.get("messages") or ()
    return fields.get("decrypted") is True or any(
        m.endswith(":application_data") for m in messages) or "C:finished" in messages


def _differences(captured, replayed, result, notes):
    failed = completed(captured) and not result.handshake_complete
    flight_whole = result.handshake_complete or replayed["server_alerts"] or \
        not replayed["server_messages"]
    fields = COMPARED
    if not flight_whole:
        notes.append("the replayed handshake did not complete (%s): the server's "
                     "certificate and flight are not compared"
                     % "; ".join(result.errors or ["no reason given"]))
        fields = [f for f in COMPARED if f not in _FLIGHT_FIELDS]
    out = []
    for key in fields:
        a, b = captured.get(key), replayed.get(key)
        if key == "server_extensions":
            a, b = sorted(a or ()), sorted(b or ())
        if a != b:
            out.append(key)
    if failed:
        # The capture's handshake completed; the replay's did not: the one difference that
        # matters most, whatever the fields say (issue: exit status 1).
        out.insert(0, "handshake")
    return out
