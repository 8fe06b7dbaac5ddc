"""The observer role of the sans-IO core: watch both directions of one TLS connection.

Rules of this module:
- Bytes go in per direction, in the order they were complete on the wire (``receive``);
  events come out in that order. Nothing is ever sent and nothing is refused: a message out
  of order is reported, not answered.
- The observer never raises on bad bytes. A malformed record header stops that direction
  (record framing is lost) until the stream looks like TLS again after a gap; a malformed
  message is reported and skipped. A first record that does not decrypt means wrong keys:
  reported once, the direction goes on as undecryptable; a later one is a damaged record:
  reported, and the next ones are tried. After lost bytes the sequence number is guessed.
- Records are framed and opened by the roles' ``record_layer.RecordLayer``, one per
  direction, switched to new keys at each ChangeCipherSpec, TLS 1.3 epoch and KeyUpdate (RFC
  8446 section 7.2: the observer derives the next traffic secret itself). What is the
  observer's own: keys that may be unknown (the direction is then listed, not decrypted),
  the sequence number given back or guessed, and 0-RTT data (RFC 8446 section 4.2.10), tried
  with CLIENT_EARLY_TRAFFIC_SECRET before the handshake keys since the client's records do
  not say which they are.
- TLS 1.0-1.2 renegotiation (RFC 5746) is followed: the new handshake (and its
  ChangeCipherSpec) is read under the keys in use, its own keys take over at each side's
  ChangeCipherSpec; the report keeps the first handshake's parameters. Not followed: 0-RTT
  data without CLIENT_EARLY_TRAFFIC_SECRET (listed as application_data, not decrypted).
- Damage and loss: a TLS 1.3 record is authenticated with its header as received; a
  plaintext handshake record after the TLS 1.3 keys changed is an error, not read; after
  lost bytes, a record that cannot be plaintext (application data, an alert longer than two
  bytes, a handshake record that does not read as messages) means the ChangeCipherSpec was
  lost: the keys are switched and the sequence number guessed.
- Also read: an SSL 2.0-format ClientHello first (RFC 5246 appendix E.2), SSL 3.0 (RFC
  6101, ``crypto/ssl3.py``), the PSK suite families (``observer_suites.py``), TLS 1.3
  drafts (the draft 18-21 ServerHello layout; drafts 20-28 decrypted as TLS 1.3, before
  draft 25 with records that authenticate no header; drafts 18-19, whose key labels
  differed, reported as not supported for decryption).
- Keys, in this order: the NSS key log by client random (TLS 1.2 master secret, TLS 1.3
  traffic secrets); the server's RSA key (RSA key exchange: RFC 5246 section 7.4.7.1
  pre-master secret, RFC 7627 extended master secret); for a resumed TLS 1.2 session, an
  earlier connection of the same capture (``SessionTable``, by session id or RFC 5077 ticket).
- The report fields follow CONTRACT.md and come out of one ``HandshakeSummary``
  (``summary.py``, where ``group`` and ``early_data`` are defined): ``messages`` names,
  ``resumed`` (TLS 1.2: an abbreviated handshake; TLS 1.3: the ServerHello carries
  pre_shared_key), ``hello_retry`` (a ServerHello with the RFC 8446 section 4.1.3 random),
  ``key_updates`` (KeyUpdate messages of both directions; only decrypted ones can be
  counted), and the observer's own ``decrypted`` (keys known and both Finished verified) and
  ``app_data`` hashes of the plaintext.
"""

import copy

from ..codec.messages import (Certificate, Certificate13, CertificateRequest, ClientHello,
                              ClientKeyExchange, EncryptedExtensions, KeyUpdate,
                              NewSessionTicket, ServerHello, ServerKeyExchange, find_ext)
from ..codec.records import HandshakeReassembler, looks_like_tls
from ..codec import extensions as X
from ..crypto import prf as P
from ..errors import AlertError, DecodeError
from ..registry import (ALERT_DESCRIPTIONS, CIPHER_SUITES, CONTENT_TYPES, HANDSHAKE_TYPES,
                        NAMED_GROUPS, VERSIONS, name as _name)
from .events import Alert, ApplicationData, ChangeCipherSpec, HandshakeMessage, Undecryptable
from .observer_keys import SEQ_WINDOW, TLS13, ObserverKeys, SessionTable, _Side
from .observer_suites import observed_suite
from .summary import HandshakeSummary

__all__ = ["ObserverConnection", "SessionTable"]

# RFC 8446 section 4.1.3: a ServerHello with this random is a HelloRetryRequest.
from ..codec.messages import HELLO_RETRY_REQUEST_RANDOM as HRR_RANDOM  # noqa: E402
_UNDECRYPTED = {22: "encrypted_handshake", 21: "encrypted_alert", 23: "application_data"}


class ObserverConnection(ObserverKeys):
    """Watch one TLS connection; see the module docstring.

    ``keylog``: a ``crypto.keylog.Keylog`` (or None); ``server_key``: an RSA private key
    object from ``cryptography`` (or None); ``sessions``: a ``SessionTable`` shared by the
    connections of one capture. ``receive(direction, data)`` returns the events;
    ``app_events = False``: without ``ApplicationData`` ones (a caller that only reads the
    report spares making one per record).
    """

    app_events = True

    def __init__(self, keylog=None, server_key=None, sessions=None):
        self.keylog = keylog
        self.server_key = server_key
        self.sessions = sessions if sessions is not None else SessionTable()
        self.client_side = _Side("client")
        self.server_side = _Side("server")
        self.transcript = P.Transcript()
        self.hashing = True
        self.transcript_broken = False  # a handshake message was lost or not decrypted
        self.time = None
        # What the records are, for ``ConnectionReport.packets``: (time, direction,
        # content type, version, payload, decrypted).
        self.records = []
        # The ladder: (time, direction, name, detail).
        self.ladder = []
        # CONTRACT report fields
        self.version = self.cipher_suite = self.session_id = self.sni = self.alpn = None
        self.resumed = self.client_auth = self.extended_master_secret = False
        self.group = None            # IANA name of the (EC)DHE group (summary.py's rule)
        self.hello_retry = False
        self.early_data = None       # "accepted" | "rejected" | None
        self.key_updates = 0
        self.client_hello = None     # the first ClientHello and the ServerHello (codec)
        self.server_hello = None
        self.decrypted = False
        self.messages = []
        self.errors = []
        # handshake state
        self.client_random = None
        self.server_random = None
        self.client_version = None
        self.client_session_id = b""
        self.client_ticket = b""
        self.client_exts = frozenset()
        self.offered_early_data = False
        self.client_suites = []
        self._early = None           # 0-RTT protection: None not tried, False unavailable
        self._early_record = False   # the record just opened was 0-RTT data
        self.suite_id = None
        self.suite = None
        self.encrypt_then_mac = False
        self.full_handshake = None   # TLS 1.2: True after Certificate/SKE/CKE, False after CCS
        self.ticket = b""            # NewSessionTicket (TLS 1.2) issued on this connection
        self.master_secret = None
        self.schedule = None         # KeySchedule12 / KeySchedule13, once keys are known
        self.key_source = None
        self._keys_tried = False
        self._key_block = None
        self._rsa = None             # (encrypted pre-master, session hash or None)
        self._key_error_given = False
        self.completed = False
        self.record_count = 0
        self.renegotiations = 0
        self._v2 = b""               # the client's first bytes while they may be an SSLv2
        #                              hello; False once decided
        self._first_summary = None   # the report's parameters once a renegotiation began

    # -- input -----------------------------------------------------------------------------

    @property
    def tls13(self):
        return self.version == TLS13

    def receive(self, direction, data, time=None, gap=0):
        """Feed ``data`` sent by ``direction`` ("client"/"server"); ``gap``: bytes the
        capture lost right before it. Returns the events, in wire order."""
        d = self.client_side if direction == "client" else self.server_side
        self.time = time
        events = []
        if gap:
            self._lost(d, gap)
        if d.resync:
            if not looks_like_tls(data[:5]):
                return events
            d.resync = False
            d.dead = False
        if d.dead or not data:
            return events
        if self._v2 is not False and d is self.client_side:
            data = self._sslv2_hello(d, data, events)
            if not data:
                return events
        try:
            records = d.layer.feed(data)
        except DecodeError as exc:
            records = getattr(exc, "records", None) or []
            self._error("%s: %s; the rest of this direction is not TLS records"
                        % (d.arrow, exc.message or exc))
            d.dead = True
        for rec in records:
            try:
                self._record(d, rec, events)
            except DecodeError as exc:
                self._error("%s: %s" % (d.arrow, exc.message or exc))
        return events

    def _sslv2_hello(self, d, data, events):
        """An SSL 2.0-format ClientHello first (RFC 5246 appendix E.2): read as the
        ClientHello it stands for, its record body hashed. Returns the bytes after it."""
        from ..codec.sslv2 import looks_like_sslv2_client_hello, parse_sslv2_client_hello
        buf = self._v2 + data
        # Detection reads the 2-byte header, msg_type and version: wait for 5 bytes.
        if len(buf) < 5 or not looks_like_sslv2_client_hello(buf):
            if len(buf) < 5 and buf[:1] and buf[0] & 0x80:
                self._v2 = buf
                return b""
            self._v2 = False
            return buf
        try:
            found = parse_sslv2_client_hello(buf)
        except DecodeError as exc:
            self._v2 = False
            self._error("%s: SSL 2.0 client_hello: %s" % (d.arrow, exc.message or exc))
            return buf
        if found is None:
            self._v2 = buf
            return b""
        self._v2 = False
        hello, raw, size = found
        body = hello.encode()
        self.record_count += 1
        self._keep(d, 22, hello.version, b"\x01" + len(body).to_bytes(3, "big") + body, False)
        self._handshake(d, 1, body, raw, False, events)
        self.ladder[-1] = self.ladder[-1][:3] + ("SSL 2.0 format, " + self.ladder[-1][3],)
        return buf[size:]

    def _lost(self, d, gap):
        # The reassembler that found the hole reports it; here we only pick up after it.
        d.lost += gap
        if self.hashing:
            self.transcript_broken = True
        d.layer.restart_framing()
        d.hs = HandshakeReassembler()
        d.resync = True
        d.seq_unknown = True

    def finish(self):
        """End of the capture: report what was left half-way."""
        for d in (self.client_side, self.server_side):
            if d.dead or d.resync:
                continue
            pending = d.layer.pending
            if pending:
                self._error("%s: the stream ends inside a record (%d bytes left over)"
                            % (d.arrow, pending))
            elif d.hs.pending:
                self._error("%s: the stream ends inside a handshake message" % d.arrow)

    # -- records ---------------------------------------------------------------------------

    def _record(self, d, rec, events):
        ct, version, fragment = rec
        self.record_count += 1
        decrypted = zero_rtt = False
        if ct == 20:
            if d.encrypted and not self.tls13:
                # TLS 1.0-1.2: a renegotiation's ChangeCipherSpec is protected by the keys
                # in use (never in TLS 1.3: RFC 8446 appendix D.4).
                opened = self._open(d, rec) if d.keys and not d.failed else None
                plain = opened[1] if opened is not None else None
                self._keep(d, ct, version, fragment if plain is None else plain,
                           plain is not None)
                return self._ccs(d, plain, events)
            self._keep(d, ct, version, fragment, False)
            return self._ccs(d, fragment, events)
        opened = None
        if d.lost and not d.encrypted and self._ccs_lost(d, ct, fragment):
            if ct == 22:
                # Maybe a protected Finished, maybe a record cut by the loss: only the keys
                # can tell.
                opened = self._lost_ccs_handshake(d, rec)
                if opened is None:
                    return self._undecryptable(d, ct, version, fragment, events)
            else:
                self._lost_ccs_error(d)
                self._protect12(d)
                d.seq_unknown = True
        early = self.offered_early_data and self._early_candidate(d, ct)
        if opened is not None:
            ct, plain = opened
            decrypted = True
        elif early or d.encrypted and (ct == 23 or not self.tls13):
            d.protected_records += 1
            opened = self._open(d, rec, early)
            if opened is None:
                return self._undecryptable(d, ct, version, fragment, events)
            ct, plain = opened      # TLS 1.3 (0-RTT too): the inner content type
            decrypted = True
            if early:
                zero_rtt = self._early_record
                self._early_record = False
        elif ct == 22 and d.encrypted and self.tls13:
            # RFC 8446 section 5: once a side's keys changed every handshake message is
            # protected; a plaintext one here is forged or damaged, not a message of the peer.
            self._keep(d, ct, version, fragment, False)
            self._error("%s: unprotected handshake record after the TLS 1.3 keys took effect "
                        "(unexpected_message): not read" % d.arrow)
            self._entry(d, "handshake", "%d bytes, unprotected: not read" % len(fragment))
            return
        elif ct == 21 and len(fragment) != 2 and (d.lost or self.client_random is None
                                                  and self.server_random is None):
            # No hello seen (caught mid-connection), or bytes lost before: a longer alert
            # is a protected one.
            return self._undecryptable(d, ct, version, fragment, events)
        else:
            plain = fragment
        self.records.append((self.time, d.name, ct, version, plain, decrypted))   # _keep
        if ct == 22:
            try:
                msgs = d.hs.feed(plain)
            except DecodeError as exc:
                d.hs = HandshakeReassembler()
                if d.lost:
                    raise DecodeError("a handshake message was cut by the lost bytes") from None
                raise DecodeError("bad handshake framing: %s" % (exc.message or exc)) from None
            for msg_type, body, raw in msgs:
                self._handshake(d, msg_type, body, raw, decrypted, events)
        elif ct == 21:
            self._alert(d, plain, events)
        elif ct == 23:
            if decrypted:
                d.app_bytes += len(plain)
                d.app_hash.update(plain)
            self._entry(d, "application_data",
                        "%d bytes, 0-RTT" % len(plain) if zero_rtt else "%d bytes" % len(plain))
            if self.app_events:
                events.append(ApplicationData(d.name, plain))
        else:
            self._entry(d, _name(CONTENT_TYPES, ct, 2), "%d bytes" % len(plain))

    def _keep(self, d, ct, version, payload, decrypted):
        self.records.append((self.time, d.name, ct, version, payload, decrypted))

    def _undecryptable(self, d, ct, version, fragment, events):
        self._keep(d, ct, version, fragment, False)
        if self.hashing and (ct == 22 or self.tls13):
            self.transcript_broken = True  # a Finished after this cannot be checked
        name = _UNDECRYPTED.get(ct, _name(CONTENT_TYPES, ct, 2))
        if self.tls13 and ct == 23:
            # Without keys a TLS 1.3 record hides its type. The server's records before the
            # client's first protected one are its handshake flight; the client's first
            # protected record is its Finished flight.
            if d is self.client_side:
                first = d.protected_records == 1
            else:
                first = self.client_side.protected_records == 0
            name = "encrypted_handshake" if first else "application_data"
        self._entry(d, name, "%d bytes, not decrypted" % len(fragment))
        events.append(Undecryptable(d.name, ct, len(fragment)))

    def _ccs(self, d, fragment, events):
        """``fragment``: the plaintext, None for a protected one that did not open."""
        self._entry(d, "change_cipher_spec", "" if fragment is not None else "not decrypted")
        events.append(ChangeCipherSpec(d.name))
        if fragment is not None and fragment != b"\x01":
            self._error("%s: malformed change_cipher_spec" % d.arrow)
        # No ServerHello seen (lost): only a client that cannot speak TLS 1.3 has surely
        # switched to protected records.
        if self.tls13 or self.version is None and (
                self.client_random is None or X.EXT_SUPPORTED_VERSIONS in self.client_exts):
            return
        if d.encrypted:
            # A renegotiation's keys take over (RFC 5246 section 7.1), when its handshake
            # was read under the old ones.
            if fragment is not None and self.renegotiations:
                if self.full_handshake is None and d is self.server_side:
                    self._set_resumed(True)
                if self._protect12(d):
                    return
            if d.keys:
                self._error("%s: renegotiation: the records after it are not decrypted"
                            % d.arrow)
            d.keys = False
            return
        if self.full_handshake is None and d is self.server_side:
            self._set_resumed(True)
        self._protect12(d)

    def _protect12(self, d):
        """``d`` sends protected records from now on, under the current handshake's keys
        when they are known (True then)."""
        d.encrypted = True
        d.opened = 0
        d.failed = False
        protection = self._protection12(d)
        d.keys = protection is not None
        if d.keys:
            d.layer.set_read(protection)
        return d.keys

    def _lost_ccs_error(self, d):
        self._error("%s: protected records after the lost bytes: the ChangeCipherSpec was "
                    "among them" % d.arrow)

    def _lost_ccs_handshake(self, d, rec):
        """A handshake record after lost bytes that is not plaintext: if the current keys
        open it under one of the first sequence numbers, the ChangeCipherSpec was lost and
        they take over from here; ``(content type, plaintext)``, else None."""
        for seq in range(SEQ_WINDOW):
            protection = self._protection12(d)
            if protection is None:
                return None
            protection.seq = seq
            try:
                plain = protection.open(*rec)
            except AlertError:
                continue
            self._lost_ccs_error(d)
            d.encrypted = d.keys = True
            d.failed = d.seq_unknown = False
            d.opened = 1
            d.layer.set_read(protection)
            return rec[0], plain
        return None

    def _ccs_lost(self, d, ct, fragment):
        """After lost bytes: is this TLS 1.0-1.2 record protected, though no
        ChangeCipherSpec was seen? Application data and alerts longer than two bytes are;
        a handshake record is when it does not read as whole plaintext messages."""
        if self.tls13 or self.server_random is None or self.version is None:
            return False
        if ct == 23 or ct == 21 and len(fragment) != 2:
            return True
        return ct == 22 and not _plausible_handshake(fragment)

    def _alert(self, d, plain, events):
        if len(plain) < 2 or len(plain) % 2:
            self._error("%s: malformed alert (%d bytes)" % (d.arrow, len(plain)))
            self._entry(d, "alert:malformed", "")
            return
        for i in range(0, len(plain), 2):
            level, code = plain[i], plain[i + 1]
            desc = ALERT_DESCRIPTIONS.get(code, "unknown_%d" % code)
            self._entry(d, "alert:" + desc, "fatal" if level == 2 else "warning")
            events.append(Alert(d.name, level, desc))

    def preamble(self, time, detail):
        """The plaintext that came before TLS on this connection (STARTTLS, a proxy
        request): one ladder line, no message."""
        self.ladder.append((time, "client", "preamble", detail))

    def _entry(self, d, name, detail):
        self.messages.append(d.tag + name)
        self.ladder.append((self.time, d.name, name, detail))

    def _error(self, text):
        if text not in self.errors:
            self.errors.append(text)

    # -- handshake messages ----------------------------------------------------------------

    def _handshake(self, d, msg_type, body, raw, decrypted, events):
        name = HANDSHAKE_TYPES.get(msg_type) or "unknown_%d" % msg_type
        if msg_type == 2 and body[2:34] == HRR_RANDOM:
            name = "hello_retry_request"
        detail = ""
        hashed = self.hashing and msg_type != 0 and not (
            self.tls13 and msg_type in (4, 24))
        if hashed and msg_type != 20 and name != "hello_retry_request":
            self.transcript.update(raw)
        handler = _HANDLERS.get(name)
        if handler is not None:
            try:
                detail = handler(self, d, body, raw) or ""
            except DecodeError as exc:
                self._error("%s %s: %s" % (d.arrow, name, exc.message or exc))
            except AlertError as exc:
                self._error("%s %s: %s" % (d.arrow, name, exc))
            except (ValueError, TypeError, KeyError, IndexError) as exc:
                # A codec gap must not cost the rest of the connection.
                self._error("%s %s: cannot parse: %s" % (d.arrow, name, exc))
        self._entry(d, name, detail)
        events.append(HandshakeMessage(d.name, msg_type, body, raw, decrypted))
        if d.finished_ok and self.client_side.finished_ok and self.server_side.finished_ok:
            if not self.completed:
                self._complete(events)
            elif self._renegotiation_open:
                # A later connection may resume the renegotiated session (tshark follows
                # it too: Wireshark's rsasnakeoil2.pcap).
                self._renegotiation_open = False
                self._remember_session()

    def _client_hello(self, d, body, raw):
        ch = ClientHello.parse(body)
        if self.client_random is not None and not self.hello_retry:
            if self.tls13 or not (d.encrypted and self.completed):
                return "again (renegotiation?)"
            self._renegotiate(raw)
        if self.client_hello is None:
            self.client_hello = ch
        self.client_random = ch.random
        self.client_version = ch.version
        self.client_session_id = ch.session_id
        exts = ch.extensions or []
        self.client_exts = frozenset(e.type for e in exts)
        ext = find_ext(exts, X.EXT_SESSION_TICKET)
        self.client_ticket = ext.data if ext is not None else b""
        self.offered_early_data = 42 in self.client_exts
        self.client_suites = ch.cipher_suites
        ext = find_ext(exts, X.EXT_SERVER_NAME)
        if ext is not None:  # last: a malformed name must not hide the fields above
            self.sni = X.parse_server_name(ext.data)
        parts = ["%d suites" % len(ch.cipher_suites)]
        if self.sni:
            parts.append("sni " + self.sni)
        if self.client_ticket:
            parts.append("ticket")
        elif X.EXT_PRE_SHARED_KEY in self.client_exts:
            parts.append("psk")
        return ", ".join(parts)

    def _server_hello(self, d, body, raw):
        if self.server_random is not None:
            return "again (renegotiation?)"
        if len(body) >= 2 and _draft(body[0] << 8 | body[1]) in range(1, 22):
            sh = _draft_server_hello(body)
        else:
            sh = ServerHello.parse(body)
        exts = sh.extensions or []
        self.server_hello = sh
        self.server_random = sh.random
        self.version = sh.selected_version()
        draft = _draft(self.version)
        if draft is not None:
            self.version = TLS13
        self.suite_id = sh.cipher_suite
        self.cipher_suite = _name(CIPHER_SUITES, sh.cipher_suite)
        self.suite = observed_suite(sh.cipher_suite)
        self.session_id = sh.session_id.hex()
        types = frozenset(e.type for e in exts)
        detail = "%s, suite 0x%04X" % (_name_version(self.version), sh.cipher_suite)
        if draft is not None:
            detail = "TLS 1.3 draft %d, suite 0x%04X" % (draft, sh.cipher_suite)
        if self.tls13:
            self.extended_master_secret = False
            self.resumed = X.EXT_PRE_SHARED_KEY in types
            # RFC 8446 section 4.2.10: early data needs the first PSK accepted; whether the
            # server took it is said in the (encrypted) EncryptedExtensions.
            if self.offered_early_data and not self.resumed:
                self.early_data = "rejected"
            ext = find_ext(exts, X.EXT_KEY_SHARE)
            if draft is not None and draft < 20:
                # Before draft 20 the key labels differed: listed, not decrypted.
                self._error("TLS 1.3 draft %d: not supported for decryption" % draft)
                self.client_side.encrypted = self.server_side.encrypted = True
            else:
                # Before draft 25 the records' additional data was empty.
                self._draft_aad = draft is not None and draft < 25
                self._start13()
            if ext is not None:
                self.group = _name(NAMED_GROUPS, X.parse_key_share_server(ext.data)[0])
                detail += ", " + self.group
            return detail
        if self.offered_early_data:
            self.early_data = "rejected"
        self.extended_master_secret = (X.EXT_EXTENDED_MASTER_SECRET in types
                                       and X.EXT_EXTENDED_MASTER_SECRET in self.client_exts)
        self.encrypt_then_mac = (X.EXT_ENCRYPT_THEN_MAC in types
                                 and X.EXT_ENCRYPT_THEN_MAC in self.client_exts
                                 and self.suite is not None and not self.suite.aead)
        ext = find_ext(exts, X.EXT_ALPN)
        if ext is not None:
            protos = X.parse_alpn(ext.data)
            if protos:
                self.alpn = protos[0].decode("utf-8", "replace")
        # Echoing the client's session id means resumption (RFC 5246 section 7.4.1.3); the
        # next server message confirms it either way (RFC 5077: a ticket may resume too).
        self.resumed = bool(sh.session_id) and sh.session_id == self.client_session_id
        return detail

    def _hello_retry_request(self, d, body, raw):
        sh = ServerHello.parse(body)
        self.hello_retry = True
        if self.offered_early_data:
            self.early_data = "rejected"   # RFC 8446 section 4.2.10
        self.version = sh.selected_version()
        self.suite_id = sh.cipher_suite
        self.suite = observed_suite(sh.cipher_suite)
        # RFC 8446 section 4.4.1: ClientHello1 is replaced by a message_hash message.
        self.transcript.restart_with_message_hash(
            self.suite.prf_hash if self.suite is not None else "sha256")
        self.transcript.update(raw)
        ext = find_ext(sh.extensions or [], X.EXT_KEY_SHARE)
        if ext is not None:
            self.group = _name(NAMED_GROUPS, X.parse_key_share_hello_retry(ext.data))
            return "group " + self.group
        return ""

    def _renegotiate(self, raw):
        """A ClientHello under the keys of a completed TLS 1.0-1.2 handshake: a new
        handshake, read under the old keys; its own take over at its ChangeCipherSpecs. The
        report keeps the first handshake's parameters."""
        if self._first_summary is None:
            self._first_summary = HandshakeSummary.from_connection(self)
        self.renegotiations += 1
        self._renegotiation_open = True
        self.server_random = None
        self.master_secret = self.schedule = self._rsa = None
        self._keys_tried = False
        self._key_block = None
        self.full_handshake = None
        self.ticket = b""
        self.transcript = P.Transcript()
        self.transcript.update(raw)
        self.hashing = True
        self.transcript_broken = False
        for side in (self.client_side, self.server_side):
            side.finished = side.finished_ok = False

    def _set_resumed(self, resumed):
        self.full_handshake = not resumed
        self.resumed = resumed

    def _certificate(self, d, body, raw):
        if self.tls13:
            count = len(Certificate13.parse(body).entries)
        else:
            count = len(Certificate.parse(body).certificates)
            if d is self.server_side:
                self._set_resumed(False)
        if d is self.client_side and count:
            self.client_auth = True
        return "%d certificate%s" % (count, "" if count == 1 else "s")

    def _server_key_exchange(self, d, body, raw):
        self._set_resumed(False)
        kx = self.suite.key_exchange if self.suite is not None else None
        if kx in ("DHE_PSK", "ECDHE_PSK"):
            return self._psk_key_exchange(kx, bytes(body))
        if kx in ("DHE", "ECDHE"):
            ske = ServerKeyExchange.parse(body, kx, self.version)
            if ske.kind == "ECDHE":
                self.group = _name(NAMED_GROUPS, ske.params["group"])
                return "group " + self.group
            p = ske.params["p"].lstrip(b"\0")
            self.group = _ffdhe_name(p)
            return "DH %d bits%s" % (len(p) * 8, ", " + self.group if self.group else "")
        return ""

    def _psk_key_exchange(self, kx, body):
        """RFC 4279 section 3 / RFC 5489 section 2: the identity hint, then the (EC)DH
        parameters, unsigned."""
        if len(body) < 2:
            raise DecodeError("truncated server_key_exchange")
        pos = 2 + (body[0] << 8 | body[1])
        if kx == "ECDHE_PSK":
            if len(body) < pos + 3 or body[pos] != 3:
                raise DecodeError("server_key_exchange without a named curve")
            self.group = _name(NAMED_GROUPS, body[pos + 1] << 8 | body[pos + 2])
            return "group " + self.group
        if len(body) < pos + 2:
            raise DecodeError("truncated server_key_exchange")
        p = body[pos + 2:pos + 2 + (body[pos] << 8 | body[pos + 1])].lstrip(b"\0")
        self.group = _ffdhe_name(p)
        return "DH %d bits%s" % (len(p) * 8, ", " + self.group if self.group else "")

    def _server_hello_done(self, d, body, raw):
        self._set_resumed(False)

    def _certificate_request(self, d, body, raw):
        if not self.tls13:
            self._set_resumed(False)
            CertificateRequest.parse(body, self.version or 0x0303)

    def _client_key_exchange(self, d, body, raw):
        self._set_resumed(False)
        suite = self.suite
        if (suite is None or suite.key_exchange != "RSA"
                or (self.server_key is None and self.keylog is None)
                or self._keylog_master() is not None):
            return ""
        cke = ClientKeyExchange.parse(body, "RSA")
        session_hash = None
        if self.extended_master_secret:
            # RFC 7627 section 3: the session hash covers the messages through this one.
            session_hash = self.transcript.copy().digest(self.version, suite.prf_hash)
        self._rsa = (cke.data, session_hash)
        return "RSA, %d-byte encrypted pre-master" % len(cke.data)

    def _new_session_ticket(self, d, body, raw):
        if self.tls13:
            return ""
        nst = NewSessionTicket.parse(body)
        self.ticket = nst.ticket
        if self.full_handshake is None:
            self._set_resumed(True)
        return "lifetime %ds, %d-byte ticket" % (nst.lifetime_hint, len(nst.ticket))

    def _encrypted_extensions(self, d, body, raw):
        ee = EncryptedExtensions.parse(body)
        if self.offered_early_data and not self.hello_retry:
            accepted = find_ext(ee.extensions, X.EXT_EARLY_DATA) is not None
            self.early_data = "accepted" if accepted else "rejected"
        ext = find_ext(ee.extensions, X.EXT_ALPN)
        if ext is not None:
            protos = X.parse_alpn(ext.data)
            if protos:
                self.alpn = protos[0].decode("utf-8", "replace")
                return "alpn " + self.alpn
        return ""

    def _key_update(self, d, body, raw):
        ku = KeyUpdate.parse(body)
        self.key_updates += 1
        self._next_traffic_secret(d)
        return "update_requested" if ku.request_update else ""

    def _finished(self, d, body, raw):
        d.finished = True
        try:
            if self.transcript_broken or self._first_finished_missing(d):
                self.transcript_broken = True
                ok = None
            elif self.tls13:
                ok = self._verify13(d, body)
            else:
                ok = self._verify12(d, body)
        finally:
            if self.hashing:
                self.transcript.update(raw)
        if ok is None:
            detail = ("not verified (handshake not all seen)" if self.transcript_broken
                      else "not verified (no keys)")
        elif ok:
            d.finished_ok = True
            detail = "verify_data ok"
        else:
            self._error("%s: Finished verify_data does not match: %s" % (d.arrow, self._blame()))
            detail = "verify_data MISMATCH"
        if self.tls13:
            self._after_finished13(d)
        if self.client_side.finished and self.server_side.finished:
            self.hashing = False
        return detail

    # -- report ----------------------------------------------------------------------------

    @property
    def app_data(self):
        """CONTRACT ``app_data``: present only when decrypted."""
        if not self.decrypted:
            return None
        c, s = self.client_side, self.server_side
        # copy(): a hash object finalizes once, and a report may be asked again
        return {"client_bytes": c.app_bytes,
                "client_sha256": c.app_hash.copy().finalize().hex(),
                "server_bytes": s.app_bytes,
                "server_sha256": s.app_hash.copy().finalize().hex()}

    def summary(self):
        """The ``HandshakeSummary`` of what was seen so far."""
        summary = HandshakeSummary.from_connection(self)
        first = self._first_summary
        if first is None:
            return summary
        first = copy.copy(first)
        first.messages = summary.messages
        first.key_updates = summary.key_updates
        return first

    def fields(self):
        """The CONTRACT report fields this connection knows (all but client/server): the
        summary's, then ``decrypted``, ``app_data`` (when decrypted) and ``errors``."""
        out = self.summary().fields()
        out["decrypted"] = self.decrypted
        app = self.app_data
        if app is not None:
            out["app_data"] = app
        out["errors"] = list(self.errors)
        return out


def _draft(version):
    """The TLS 1.3 draft number of a version code point (0x7f12: draft 18), else None."""
    return version & 0xFF if version >> 8 == 0x7F else None


def _draft_server_hello(body):
    """A ServerHello of TLS 1.3 drafts 18-21 (draft-ietf-tls-tls13-21 section 4.1.3):
    version, random, cipher suite, extensions; no session id or compression method."""
    if len(body) < 38:
        raise DecodeError("truncated server_hello")
    return ServerHello(body[0] << 8 | body[1], bytes(body[2:34]), b"",
                       body[34] << 8 | body[35], 0,
                       X.parse_extensions(bytes(body[36:]), "server_hello extensions"))


def _plausible_handshake(fragment):
    """Does a record start with plaintext handshake messages (whole ones, the last one
    perhaps going on in the next record)?"""
    pos, size = 0, len(fragment)
    while pos < size:
        if size - pos < 4:
            return False
        msg_type = fragment[pos]
        length = int.from_bytes(fragment[pos + 1:pos + 4], "big")
        if msg_type not in HANDSHAKE_TYPES or msg_type == 0 and length:
            return False
        pos += 4 + length
        if pos > size:
            return length <= 1 << 17
    return True


def _name_version(v):
    return VERSIONS.get(v, "unknown_0x%04X" % v)


def _ffdhe_name(p):
    """The RFC 7919 name of the DHE prime ``p`` (big-endian bytes), or None (summary.py)."""
    if len(p) not in (256, 384, 512, 768, 1024):
        return None
    from ..crypto.keyexchange import ffdhe_group_of
    group = ffdhe_group_of(int.from_bytes(p, "big"))
    return _name(NAMED_GROUPS, group) if group is not None else None


_HANDLERS = {
    "client_hello": ObserverConnection._client_hello,
    "server_hello": ObserverConnection._server_hello,
    "hello_retry_request": ObserverConnection._hello_retry_request,
    "certificate": ObserverConnection._certificate,
    "server_key_exchange": ObserverConnection._server_key_exchange,
    "server_hello_done": ObserverConnection._server_hello_done,
    "certificate_request": ObserverConnection._certificate_request,
    "client_key_exchange": ObserverConnection._client_key_exchange,
    "new_session_ticket": ObserverConnection._new_session_ticket,
    "encrypted_extensions": ObserverConnection._encrypted_extensions,
    "key_update": ObserverConnection._key_update,
    "finished": ObserverConnection._finished,
}
