"""Where the observer's keys come from, and how its records are opened (the key half of
``observer.py``).

TLS 1.2 (RFC 5246 section 8.1, RFC 7627): the master secret, from the first source that has
it: the key log's ``CLIENT_RANDOM`` line; its ``RSA`` line (the pre-master by encrypted
pre-master); the server's RSA key decrypting the ClientKeyExchange (RFC 5246 section
7.4.7.1); for an abbreviated handshake, the ``SessionTable`` of earlier connections of the
same capture. TLS 1.3 (RFC 8446 section 7.1): the key log's traffic secrets, and
``traffic upd`` for KeyUpdate. Either way the secrets go into the same key schedule object
the endpoints use (``crypto/key_schedule.py``, ``self.schedule``), which derives the key
block and checks the Finished messages.

Each direction (``_Side``) frames and opens its records with the roles' ``RecordLayer``;
``ObserverKeys._open`` adds what only an observer does: keys that may be unknown or wrong,
a damaged record reported and skipped, the sequence number guessed after lost bytes, and
0-RTT data tried with the early traffic secret first.
"""
import hmac

from cryptography.hazmat.primitives import hashes

from ..codec.records import HandshakeReassembler, RecordReader
from ..crypto import ssl3
from ..crypto.key_schedule import KeySchedule12, KeySchedule13
from ..crypto.prf import hash_algorithm
from ..crypto.record import RecordProtection
from ..errors import AlertError
from ..registry import CONTENT_TYPES, name as _name
from .events import HandshakeComplete
from .record_layer import RecordLayer

__all__ = ["SessionTable", "ObserverKeys", "TLS13"]

TLS13 = 0x0304
SSL3 = 0x0300

# Key log labels (NSS) of the TLS 1.3 secrets, and their KeySchedule13 attributes.
SECRETS13 = (("CLIENT_EARLY_TRAFFIC_SECRET", "client_early"),
             ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", "client_handshake"),
             ("SERVER_HANDSHAKE_TRAFFIC_SECRET", "server_handshake"),
             ("CLIENT_TRAFFIC_SECRET_0", "client_application"),
             ("SERVER_TRAFFIC_SECRET_0", "server_application"),
             ("EXPORTER_SECRET", "exporter_master"))

# After lost bytes, how many records may have gone missing before we give up guessing the
# sequence number (each guess is one failed AEAD/MAC check).
SEQ_WINDOW = 64


class _Layer(RecordLayer):
    """The roles' record layer (framing, protection, TLS 1.3 epochs), plus what only an
    observer needs: the read sequence number, to give back the number of a record that did
    not open (a damaged record, or 0-RTT data tried with the wrong key) and to guess it after
    lost bytes; and new framing after a gap, keeping the keys."""

    def __init__(self):
        super().__init__()
        # ``feed`` only hands the bytes to the reader: on the dissect hot path, skip the
        # extra call.
        self.feed = self.reader.feed

    @property
    def read_seq(self):
        return self._read.seq

    @read_seq.setter
    def read_seq(self, seq):
        self._read.seq = seq

    def restart_framing(self):
        self.reader = RecordReader()
        self.feed = self.reader.feed


class _Side:
    """One direction: its record layer, reassembly, and what it has shown so far."""

    __slots__ = ("name", "tag", "arrow", "layer", "hs", "encrypted", "keys",
                 "failed", "dead", "resync", "seq_unknown", "app_bytes", "app_hash",
                 "finished", "finished_ok", "hs_secret", "app_secret", "protected_records",
                 "lost", "opened")

    def __init__(self, name):
        self.name = name
        self.tag = "C:" if name == "client" else "S:"
        self.arrow = "client->server" if name == "client" else "server->client"
        self.layer = _Layer()
        self.hs = HandshakeReassembler()
        self.encrypted = False      # records are protected from now on
        self.keys = False           # ... and the layer has their keys
        self.failed = False         # a record did not decrypt: the keys are wrong
        self.dead = False           # record framing lost
        self.resync = False         # after a gap: wait for something that looks like TLS
        self.seq_unknown = False    # after a gap: records may be missing, guess the seq
        self.app_bytes = 0
        self.app_hash = hashes.Hash(hash_algorithm("sha256"))
        self.finished = False       # a Finished was seen (encrypted or not)
        self.finished_ok = False    # ... and its verify_data checked
        self.hs_secret = None       # TLS 1.3 handshake traffic secret (Finished key)
        self.app_secret = None      # TLS 1.3 current application traffic secret
        self.protected_records = 0
        self.lost = 0
        self.opened = 0             # records that decrypted with the current keys


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

    # -- records ---------------------------------------------------------------------------

    def _open(self, d, rec, early=False):
        """``(content type, plaintext)`` (TLS 1.3: the inner type), or None when the record
        cannot be decrypted; ``early``: it may be 0-RTT data (``_early_candidate``)."""
        ct = rec[0]
        if early:
            out = self._open_early(rec[2], rec[1])
            if out is not None:
                self._early_record = True
                return out
            if not d.encrypted:
                return None
        if not d.keys or d.failed:
            return None
        layer = d.layer
        try:
            out = layer.open(rec)
        except AlertError as exc:
            # Both protections count a record that failed to open (crypto/record.py,
            # crypto/tls13.py): the number it was tried with is one less.
            seq = layer.read_seq - 1
            if d.seq_unknown:
                out = self._guess_seq(d, rec, seq)
                if out is not None:
                    return out
            if early:
                layer.read_seq = seq
                return None  # 0-RTT data without its key: not a handshake record
            layer.read_seq = seq + 1  # the sender used this sequence number either way
            what = _name(CONTENT_TYPES, ct, 2)
            if d.opened:
                # The keys worked before: this one record is damaged.
                self._error("%s: %s record #%d does not decrypt (%s)"
                            % (d.arrow, what, seq, exc.description))
            else:
                d.failed = True
                self._error("%s: cannot decrypt the first %s record (%s): %s"
                            % (d.arrow, what, exc.description, self._blame()))
            return None
        d.opened += 1
        return out

    def _guess_seq(self, d, rec, seq):
        """After lost bytes, records may be missing: try the next sequence numbers."""
        layer = d.layer
        for guess in range(seq + 1, seq + SEQ_WINDOW):
            layer.read_seq = guess
            try:
                out = layer.open(rec)
            except AlertError:
                continue
            d.seq_unknown = False
            d.opened += 1
            return out
        layer.read_seq = seq
        return None

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

    _renegotiation_open = False
    _draft_aad = False          # TLS 1.3 drafts 20-24: records authenticate no header

    def _remember_session(self):
        """Put this handshake's session in the table later connections resume from; True
        when there was one (TLS 1.0-1.2 with its master secret)."""
        if self.tls13 or self.master_secret is None:
            return False
        entry = (self.version, self.suite_id, self.master_secret, self.extended_master_secret)
        self.sessions.add(entry, bytes.fromhex(self.session_id or ""), self.ticket)
        return True

    def _complete(self, events):
        """Both Finished verified: the connection is decrypted (TLS 1.3: if the key log has
        the application traffic secrets too, else ``app_data`` would claim to be the
        plaintext without it); remember its session."""
        self.completed = True
        self.decrypted = not self.tls13 or bool(self.client_side.app_secret
                                                and self.server_side.app_secret)
        session = None
        if self._remember_session():
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
            if pre is not None and self.version == SSL3:
                master = ssl3.master_secret(pre, self.client_random, self.server_random)
            elif pre is not None:
                # RFC 7627 section 4 when the session hash was taken, else RFC 5246 8.1.
                schedule = KeySchedule12(suite, self.version, self.client_random,
                                         self.server_random)
                master = schedule.master(pre, session_hash)
                self.schedule = schedule
        elif self.resumed or self.full_handshake is False:
            entry = self.sessions.find(self.client_session_id, self.client_ticket)
            if entry is not None:
                master = entry[2]
                self.key_source = "session"
        self._keys_tried = True
        self.master_secret = master
        if master is None:
            self._missing_keys()
        elif self.schedule is None:
            self.schedule = KeySchedule12(suite, self.version, self.client_random,
                                          self.server_random)
            self.schedule.master_secret = master
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
            if self.suite is None or self.version < SSL3 or self.version == SSL3 and (
                    self.suite.aead or self.suite.mac != "SHA1"):
                self._error("%s is not supported for decryption" % (
                    "cipher suite " + (self.cipher_suite or "?") if self.suite is None
                    else "%s in SSL 3.0" % self.cipher_suite))
                self._key_block = False
                return None
            if self.version == SSL3:
                self._key_block = ssl3.key_block(master, self.client_random,
                                                 self.server_random, self.suite)
            else:
                self._key_block = self.schedule.key_block()
        if self.version == SSL3:
            return ssl3.SSL3Protection.for_direction(self.suite, self._key_block, d.name)
        return RecordProtection.for_direction(self.suite, self.version, self._key_block,
                                              d.name, encrypt_then_mac=self.encrypt_then_mac)

    def _verify12(self, d, body):
        master = self._master()
        if master is None or self.suite is None:
            return None
        if self.version == SSL3:
            mine = ssl3.finished(master, self.transcript.data, d.name)
        else:
            digest = self.transcript.digest(self.version, self.suite.prf_hash)
            mine = self.schedule.finished(d.name, digest)
        return hmac.compare_digest(mine, bytes(body))


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
        schedule = self.schedule = KeySchedule13.from_secrets(
            self.suite.prf_hash, **{attr: self._secret(label) for label, attr in SECRETS13})
        cs.hs_secret = schedule.client_handshake
        ss.hs_secret = schedule.server_handshake
        self._set_read13(cs, cs.hs_secret)
        self._set_read13(ss, ss.hs_secret)
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

    def _open_early(self, fragment, version=0x0303):
        early = self._early
        if early is None:
            early = self._early = self._early_protection() or False
        if early is False:
            return None
        seq = early.seq
        try:
            return early.open(fragment, version)
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
        digest = self.transcript.digest(TLS13, self.suite.prf_hash)
        return self.schedule.check_finished(d.hs_secret, digest, body)

    def _after_finished13(self, d):
        """RFC 8446 section 7.1: after its Finished a side sends with application keys."""
        if self.suite is None or self.schedule is None:
            return  # no ServerHello seen (lost), or a suite we cannot run
        if d is self.client_side:
            label, secret = "CLIENT_TRAFFIC_SECRET_0", self.schedule.client_application
        else:
            label, secret = "SERVER_TRAFFIC_SECRET_0", self.schedule.server_application
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
            d.layer.set_read13(self.suite, secret, empty_aad=self._draft_aad)
        d.keys = secret is not None
        d.opened = 0
