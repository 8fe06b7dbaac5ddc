"""A server's runtime state, shared by every connection it serves.

``ServerConfig`` says what the server may do and is built once; this context is what changes
while it runs: the session cache (RFC 5246 section 7.4.1.2), the ticket keys (RFC 5077, RFC
8446 section 4.6.1), the set of tickets already used for 0-RTT (RFC 8446 section 8.1, single
use), the key that authenticates HelloRetryRequest cookies (RFC 8446 section 4.2.2) and the CA
names sent in CertificateRequest. A listener builds one context and passes it to every
``ServerConnection(config, context)``; a connection made without one uses the context cached
on its config, so connections sharing a config also share resumption state, as before.
"""
import hmac
import os
import threading
import time
from collections import OrderedDict

from ..crypto.prf import hmac_digest
from ..crypto.suites import CipherSuite
from ..crypto.tickets import TicketState13
from ..errors import DecodeError

__all__ = ["ServerContext", "UsedTickets"]

_OF_CONFIG = threading.Lock()
_MAX_TICKET_LIFETIME = 604800           # RFC 8446 section 4.6.1: seven days at most
_EARLY_AGE_WINDOW_MS = 10000            # 0-RTT only for a ticket age this close to ours


class UsedTickets:
    """A bounded set of ticket ids seen with early data (oldest forgotten first).

    Forgetting is safe because ``max_age`` also bounds when 0-RTT is accepted: a ticket old
    enough to have fallen out is refused for early data anyway when the set is sized for the
    accept window (RFC 8446 section 8.2)."""

    def __init__(self, max_entries=65536):
        self.max_entries = max_entries
        self._ids = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self):
        return len(self._ids)

    def first_use(self, ticket_id) -> bool:
        """True the first time ``ticket_id`` is seen, False after (atomic)."""
        with self._lock:
            if ticket_id in self._ids:
                return False
            self._ids[ticket_id] = True
            while len(self._ids) > self.max_entries:
                self._ids.popitem(last=False)
            return True


class ServerContext:
    """``session_cache``: a ``SessionCache`` or None (no resumption by session id);
    ``ticket_keys``: a ``TicketKeys`` or None (no tickets); ``ca_roots``: CA certificates
    whose names go in CertificateRequest (default: the config's ``cafile``);
    ``external_psks``: TLS 1.3 external PSKs (RFC 8446 section 4.2.11) as
    ``{identity: secret}`` or ``{identity: (secret, "sha256" | "sha384")}``."""

    def __init__(self, session_cache=None, ticket_keys=None, ca_roots=None,
                 used_tickets=None, cookie_key=None, external_psks=None):
        self.session_cache = session_cache
        self.ticket_keys = ticket_keys
        self.external_psks = {
            bytes(ident.encode() if isinstance(ident, str) else ident):
                (value if isinstance(value, tuple) else (value, "sha256"))
            for ident, value in (external_psks or {}).items()}
        self.ca_roots = ca_roots
        self.used_tickets = used_tickets if used_tickets is not None else UsedTickets()
        self._cookie_key = cookie_key or os.urandom(32)
        self._ca_names = None

    def add_external_psk(self, identity, secret, hash="sha256"):
        """An out-of-band PSK (RFC 8446 section 4.2.11) the server accepts for ``identity``."""
        if hash not in ("sha256", "sha384"):
            raise ValueError("an external PSK hash is sha256 or sha384, not %r" % (hash,))
        ident = identity.encode() if isinstance(identity, str) else bytes(identity)
        self.external_psks[ident] = (bytes(secret), hash)

    @classmethod
    def from_config(cls, config):
        """A context holding what ``config`` was given (``session_cache=``,
        ``ticket_keys=``, ``cafile=``)."""
        return cls(session_cache=config.session_cache, ticket_keys=config.ticket_keys,
                   ca_roots=config.ca_roots)

    @classmethod
    def of_config(cls, config):
        """The context shared by connections built on ``config`` without one. It follows the
        config's ``session_cache`` / ``ticket_keys`` attributes when a caller replaces them
        (older code and tests do)."""
        ctx = config.__dict__.get("_server_context")
        if ctx is None:
            with _OF_CONFIG:        # connections of one config start in many threads
                ctx = config.__dict__.get("_server_context")
                if ctx is None:
                    ctx = config.__dict__["_server_context"] = cls.from_config(config)
        else:
            if ctx.session_cache is not config.session_cache:
                ctx.session_cache = config.session_cache
            if ctx.ticket_keys is not config.ticket_keys:
                ctx.ticket_keys = config.ticket_keys
        return ctx

    @property
    def ca_names(self):
        """DER distinguished names of the CA certificates (computed once)."""
        names = self._ca_names
        if names is None:
            names = self._ca_names = [c.subject.public_bytes() for c in self.ca_roots or ()]
        return names

    # ---------------------------------------------------------------- HRR cookies

    def cookie(self, payload: bytes) -> bytes:
        """``payload || HMAC-SHA256(key, payload)``: what the server needs to remember
        across a HelloRetryRequest, bound to this server."""
        return payload + hmac_digest("sha256", self._cookie_key, payload)

    def open_cookie(self, cookie: bytes):
        """The payload of a cookie this context made, or None."""
        if len(cookie) < 32:
            return None
        payload, tag = cookie[:-32], cookie[-32:]
        good = hmac_digest("sha256", self._cookie_key, payload)
        return payload if hmac.compare_digest(good, tag) else None

    # ---------------------------------------------------------------- TLS 1.3 PSKs

    def find_psk(self, identities, suite, sni, now=None):
        """RFC 8446 section 4.2.11: the first offered identity this server can use with
        ``suite`` (same hash) and ``sni``, as ``(index, TicketState13, external,
        age_ok)``, or None. An unknown, expired or foreign ticket is skipped, never an
        error. ``age_ok``: the client's ticket age (de-obfuscated with ``age_add``) agrees
        with ours, which 0-RTT needs (section 8.3)."""
        keys = self.ticket_keys
        if keys is None and not self.external_psks:
            return None
        now = time.time() if now is None else now
        lifetime = min(keys.lifetime, _MAX_TICKET_LIFETIME) if keys is not None else 0
        for index, (identity, obfuscated_age) in enumerate(identities):
            external = self.external_psks.get(identity)
            if external is not None:
                secret, hash_name = external
                if hash_name == suite.prf_hash:
                    return index, TicketState13(suite.id, secret, 0, sni=sni), True, False
                continue
            plain = keys.open(identity) if keys is not None else None
            if plain is None:
                continue
            try:
                state = TicketState13.from_bytes(plain)
            except DecodeError:
                continue
            issued_with = CipherSuite.get(state.suite_id)
            if issued_with is None or issued_with.prf_hash != suite.prf_hash:
                continue
            if now - state.created > lifetime or (state.sni or None) != (sni or None):
                continue
            age_ms = (obfuscated_age - state.age_add) & 0xFFFFFFFF
            age_ok = abs(age_ms - (now - state.created) * 1000) <= _EARLY_AGE_WINDOW_MS
            return index, state, False, age_ok
        return None
