"""What one run of the client automaton returns: the ``client --json`` fields, the session
to resume, and every message exchanged (as core events and as Scapy packets)."""

from ..connection.summary import FIELDS as SHARED_FIELDS, HandshakeSummary
from ..crypto.prf import digest

__all__ = ["ClientResult"]


class ClientResult:
    """What one client connection did: the ``client --json`` fields as attributes (and
    ``to_dict()``), plus ``session`` (pass it as ``session=`` to resume), ``events`` (every
    record sent and received, in order; bounded: the handshake and the first application
    data records, ``messages_dropped`` counting the records ``messages`` no longer lists)
    and ``packets`` (the same as Scapy packets).

    The fields shared with every other report come from the connection's one
    ``HandshakeSummary`` (``summary``); only ``client``, ``server``, ``handshake_complete``,
    ``received``, ``ticket`` and ``errors`` are the client's own."""

    FIELDS = ("client", "server") + SHARED_FIELDS + (
        "handshake_complete", "received", "ticket", "errors")

    def __init__(self, conn, client=None, server=None, received=b"", errors=(), elapsed=None):
        self.connection = conn
        self.client, self.server = client, server
        self.received_bytes = bytes(received)
        self.errors = list(errors)
        self.elapsed = elapsed
        self.messages_dropped = 0
        self.summary = HandshakeSummary.from_connection(conn)
        for key, value in self.summary.fields().items():
            setattr(self, key, value)
        if self.session_id is None:
            self.session_id = ""
        self.session = getattr(conn, "session", None)
        self.events = list(getattr(conn, "events", []) or [])
        self.encrypt_then_mac = bool(getattr(conn, "encrypt_then_mac", False))
        self.handshake_complete = bool(getattr(conn, "handshake_complete", False))
        self.ticket = bool(getattr(conn, "ticket", False))
        self.peer_certificates = list(getattr(conn, "peer_certificates", []) or []) or \
            self._certificates_seen()

    def _certificates_seen(self):
        """The server's chain as it came, when the core did not keep it (it was rejected)."""
        from ..codec.messages import Certificate
        from ..codec.messages13 import Certificate13
        from ..errors import DecodeError
        tls13 = getattr(self.connection, "version", None) == 0x0304
        for ev in self.events:
            if getattr(ev, "direction", None) == "server" and \
                    getattr(ev, "msg_type", None) == 11:
                try:
                    if tls13:
                        return list(Certificate13.parse(ev.body).certificates)
                    return list(Certificate.parse(ev.body).certificates)
                except DecodeError:
                    return []
        return []

    @property
    def received(self):
        return self.received_bytes.decode("utf-8", "replace")

    @property
    def ok(self):
        """The handshake completed and nothing but warnings went wrong after it."""
        return self.handshake_complete and all(e.startswith("received warning alert")
                                               for e in self.errors)

    @property
    def packets(self):
        """Every message sent and received as Scapy packets (built now, on demand). Handshake
        messages are read in the negotiated version's form: a TLS 1.3 Certificate,
        CertificateRequest or NewSessionTicket is its TLS 1.3 layer."""
        from ..layers import TLSContext, TLSHandshake
        conn = self.connection
        version = getattr(conn, "version", None)
        suite = getattr(conn, "suite", None)
        ctx = TLSContext(version, getattr(suite, "key_exchange", None)) if version else None
        out = []
        for ev in self.events:
            if not hasattr(type(ev), "packet"):
                continue
            if ctx is not None and hasattr(ev, "msg_type") and hasattr(ev, "raw"):
                out.append(TLSHandshake(ev.raw, ctx=ctx.copy()))
            else:
                out.append(ev.packet)
        return out

    def certificates(self):
        """The server's chain, leaf first: subject, issuer, SHA-256 fingerprint, validity."""
        from cryptography import x509
        out = []
        for der in self.peer_certificates:
            info = {"sha256": digest("sha256", der).hex()}
            try:
                cert = x509.load_der_x509_certificate(der)
                info.update(subject=cert.subject.rfc4514_string(),
                            issuer=cert.issuer.rfc4514_string(),
                            not_after=cert.not_valid_after_utc.isoformat())
            except ValueError as exc:
                info["error"] = str(exc)
            out.append(info)
        return out

    def to_dict(self):
        return {k: getattr(self, k) for k in self.FIELDS}

    def __getitem__(self, key):
        if key not in self.FIELDS:
            raise KeyError(key)
        return getattr(self, key)

    def __repr__(self):
        if self.handshake_complete:
            what = "%s %s%s" % (self.version, self.cipher_suite,
                                " resumed" if self.resumed else "")
        else:
            what = "failed: %s" % "; ".join(self.errors or ["no handshake"])
        return "<ClientResult %s>" % what
