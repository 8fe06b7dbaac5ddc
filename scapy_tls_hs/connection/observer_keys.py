"""Where the observer's keys come from (the key half of ``observer.py``).

TLS 1.2 (RFC 5246 section 8.1, RFC 7627): the master secret, from the first source that has
it: the key log's ``CLIENT_RANDOM`` line; its ``RSA`` line (the pre-master by encrypted
pre-master); the server's RSA key decrypting the ClientKeyExchange (RFC 5246 section
7.4.7.1); for an abbreviated handshake, the ``SessionTable`` of earlier connections of the
same capture. TLS 1.3 (RFC 8446 section 7.1): the key log's traffic secrets, and
``traffic upd`` for KeyUpdate.
"""
import hmac

from ..crypto import prf as P
from ..crypto.record import RecordProtection
from ..errors import AlertError
from .events import HandshakeComplete

__all__ = ["SessionTable", "ObserverKeys", "TLS13"]

TLS13 = 0x0304


class SessionTable:
    """Master secrets learnt from earlier connections of one capture.

    Keyed by session id and by ticket, so an abbreviated handshake (RFC 5246 section 7.3,
    RFC 5077 section 3.1) can be decrypted without a key log entry of its own.
    """

    def __init__(self):
        self.by_id = {}
        self.by_ticket = {}

    def add(self, entry, session_id=b"", ticket=b""):
        """``entry``: ``(version, suite_id, master_secret, extended_master_secret)``."""
        if session_id:
            self.by_id[bytes(session_id)] = entry
        if ticket:
            self.by_ticket[bytes(ticket)] = entry

    def find(self, session_id=b"", ticket=b""):
        if ticket and bytes(ticket) in self.by_ticket:
            return self.by_ticket[bytes(ticket)]
        if session_id:
            return self.by_id.get(bytes(session_id))
        return None

    def __len__(self):
        return len(self.by_id) + len(self.by_ticket)


class ObserverKeys:
    """Mixin of ``ObserverConnection``: the key schedule as seen from outside."""

    def _blame(self):
        if self.key_source == "server_key":
            return "wrong server key?"
        if self.key_source == "keylog":
            return "wrong key log?"
        if self.key_source == "session":
            return "the earlier session's key does not fit"
        return "wrong keys?"

    def _first_finished_missing(self, d):
        """The Finished sent second covers the first one (full TLS 1.2 handshake: the
        client's comes first; resumed and TLS 1.3: the server's). Not seen: lost bytes."""
        client_first = not (self.tls13 or self.resumed)
        first = self.client_side if client_first else self.server_side
        return d is not first and not first.finished

    def _complete(self, events):
        """Both Finished verified: the connection is decrypted (TLS 1.3: if the key log has
        the application traffic secrets too, else ``app_data`` would claim to be the
        plaintext without it); remember its session."""
        self.completed = True
        self.decrypted = not self.tls13 or bool(self.client_side.app_secret
                                                and self.server_side.app_secret)
        session = None
        if not self.tls13 and self.master_secret is not None:
            entry = (self.version, self.suite_id, self.master_secret,
                     self.extended_master_secret)
            self.sessions.add(entry, bytes.fromhex(self.session_id or ""), self.ticket)
            from .session import Session
            session = Session(version=self.version, suite=self.suite,
                              session_id=bytes.fromhex(self.session_id or ""),
                              master_secret=self.master_secret, ticket=self.ticket or None,
                              extended_master_secret=self.extended_master_secret,
                              encrypt_then_mac=self.encrypt_then_mac, alpn=self.alpn,
                              sni=self.sni)
        events.append(HandshakeComplete(session, self.resumed))

    # -- TLS 1.2 ---------------------------------------------------------------------------

    def _keylog_master(self):
        if self.keylog is None or self.client_random is None:
            return None
        return self.keylog.master_secret(self.client_random)

    def _master(self):
        """The master secret, from the first source that has it (module docstring)."""
        if self.master_secret is not None or self._keys_tried:
            return self.master_secret
        if self.server_random is None or self.client_random is None:
            return None  # a hello is missing (lost or damaged): nothing to derive from
        suite = self.suite
        master = self._keylog_master()
        if master is not None:
            self.key_source = "keylog"
        elif self._rsa is not None and suite is not None:
            encrypted, session_hash = self._rsa
            pre = self.keylog.pre_master(encrypted) if self.keylog is not None else None
            if pre is not None:
                self.key_source = "keylog"
            elif self.server_key is not None:
                from ..crypto.keyexchange import rsa_decrypt_pre_master
                pre = rsa_decrypt_pre_master(self.server_key, encrypted, self.client_version)
                self.key_source = "server_key"
            if pre is None:
                pass
            elif session_hash is not None:
                master = P.extended_master_secret(pre, session_hash, self.version,
                                                  suite.prf_hash)
            else:
                master = P.master_secret(pre, self.client_random, self.server_random,
                                         self.version, suite.prf_hash)
        elif self.resumed or self.full_handshake is False:
            entry = self.sessions.find(self.client_session_id, self.client_ticket)
            if entry is not None:
                master = entry[2]
                self.key_source = "session"
        self._keys_tried = True
        self.master_secret = master
        if master is None:
            self._missing_keys()
        return master

    def _missing_keys(self):
        if self._key_error_given or (self.keylog is None and self.server_key is None):
            return
        self._key_error_given = True
        why = []
        if self.keylog is not None:
            why.append("no key log entry for client random %s"
                       % (self.client_random or b"").hex()[:16] + "...")
        if self.server_key is not None:
            if self.resumed:
                why.append("resumed session not seen earlier in the capture")
            elif self.suite is not None and self.suite.key_exchange != "RSA":
                why.append("the server key only helps RSA key exchange, not %s"
                           % self.suite.key_exchange)
        self._error("no keys for this connection: " + "; ".join(why or ["unknown reason"]))

    def _protection12(self, d):
        if self._key_block is False:
            return None
        if self._key_block is None:
            master = self._master()
            if master is None:
                return None
            if self.suite is None or self.version < 0x0301:
                self._error("%s is not supported for decryption" % (
                    "cipher suite " + (self.cipher_suite or "?") if self.suite is None
                    else "SSL 3.0"))
                self._key_block = False
                return None
            self._key_block = P.key_block(master, self.client_random, self.server_random,
                                          self.suite, self.version)
        return RecordProtection.for_direction(self.suite, self.version, self._key_block,
                                              d.name, encrypt_then_mac=self.encrypt_then_mac)

    def _verify12(self, d, body):
        master = self._master()
        if master is None or self.suite is None:
            return None
        digest = self.transcript.digest(self.version, self.suite.prf_hash)
        want = P.verify_data(master, d.name, digest, self.version, self.suite.prf_hash)
        return hmac.compare_digest(want, bytes(body))


    # -- TLS 1.3 ---------------------------------------------------------------------------

    def _secret(self, label):
        if self.keylog is None or self.client_random is None:
            return None
        return self.keylog.secret(label, self.client_random)

    def _start13(self):
        """After the ServerHello: both directions switch to the handshake traffic keys."""
        cs, ss = self.client_side, self.server_side
        cs.encrypted = ss.encrypted = True
        if self.suite is None:
            if self.keylog is not None:
                self._error("cipher suite %s is not supported for decryption"
                            % self.cipher_suite)
            return
        for side, label in ((cs, "CLIENT_HANDSHAKE_TRAFFIC_SECRET"),
                            (ss, "SERVER_HANDSHAKE_TRAFFIC_SECRET")):
            secret = self._secret(label)
            side.hs_secret = secret
            self._set_read13(side, secret)
        if cs.hs_secret or ss.hs_secret:
            self.key_source = "keylog"
        elif (self.keylog is not None or self.server_key is not None) \
                and not self._key_error_given:
            self._key_error_given = True
            why = []
            if self.keylog is not None:
                why.append("no TLS 1.3 secrets in the key log for client random %s..."
                           % (self.client_random or b"").hex()[:16])
            if self.server_key is not None:
                why.append("the server key only helps RSA key exchange, not TLS 1.3")
            self._error("no keys for this connection: " + "; ".join(why))

    def _early_candidate(self, d, ct):
        """A client record that may be 0-RTT data (RFC 8446 section 4.2.10)."""
        return (ct == 23 and self.offered_early_data and d is self.client_side
                and not d.finished and (self.version is None or self.tls13))

    def _open_early(self, fragment):
        early = self._early
        if early is None:
            early = self._early = self._early_protection() or False
        if early is False:
            return None
        seq = early.seq
        try:
            return early.open(fragment)
        except AlertError:
            early.seq = seq
            return None

    def _early_protection(self):
        """The client's 0-RTT protection from CLIENT_EARLY_TRAFFIC_SECRET, or None.

        Before the ServerHello the suite is the resumed session's, which only the client
        knows: a 48-byte secret means SHA-384 (TLS_AES_256_GCM_SHA384), else the client's
        first offered SHA-256 suite."""
        secret = self._secret("CLIENT_EARLY_TRAFFIC_SECRET")
        if secret is None:
            return None
        from ..crypto.suites import CipherSuite
        from ..crypto.tls13 import TLS13Protection
        suite = self.suite
        if suite is None:
            wanted = (0x1302,) if len(secret) == 48 else (0x1301, 0x1303)
            first = next((s for s in self.client_suites if s in wanted), wanted[0])
            suite = CipherSuite.get(first)
        return TLS13Protection(suite, secret) if suite is not None else None

    def _verify13(self, d, body):
        if d.hs_secret is None or self.suite is None:
            return None
        from ..crypto.tls13 import verify_data13
        digest = self.transcript.digest(TLS13, self.suite.prf_hash)
        return hmac.compare_digest(verify_data13(d.hs_secret, digest, self.suite.prf_hash),
                                   bytes(body))

    def _after_finished13(self, d):
        """RFC 8446 section 7.1: after its Finished a side sends with application keys."""
        if self.suite is None:
            return
        label = ("CLIENT_TRAFFIC_SECRET_0" if d is self.client_side
                 else "SERVER_TRAFFIC_SECRET_0")
        secret = self._secret(label)
        if secret is None and d.hs_secret is not None:
            self._error("%s: the key log has no %s: application data not decrypted"
                        % (d.arrow, label))
        d.app_secret = secret
        self._set_read13(d, secret)
        d.failed = False

    def _next_traffic_secret(self, d):
        """KeyUpdate (RFC 8446 section 7.2): the sender's next application traffic secret."""
        if d.app_secret is None or self.suite is None:
            return
        from ..crypto.tls13 import next_traffic_secret
        d.app_secret = next_traffic_secret(self.suite, d.app_secret)
        self._set_read13(d, d.app_secret)

    def _set_read13(self, d, secret):
        """A new TLS 1.3 epoch of ``d``'s records (RFC 8446 section 7.3): under ``secret``,
        or not decryptable (None: not in the key log)."""
        if secret is not None:
            d.layer.set_read13(self.suite, secret)
        d.keys = secret is not None
        d.opened = 0
