"""Record-layer plumbing shared by the client and server roles.

Rules of this module:
- ``BaseConnection`` reads records, opens them with the current read protection, reassembles
  handshake messages, keeps the transcript and the ``messages`` ladder, checks every incoming
  message against the role's table in ``states.py``, and dispatches it to the role's
  ``_on_<message name>`` handler. The handler returns the next state when the table offers a
  choice. It never decides the handshake order itself.
- Framing and protection are ``record_layer.RecordLayer``'s; TLS 1.3 switches the role's
  table (``states.CLIENT13`` / ``SERVER13``) and its handlers (``_on13_<name>``) once the
  version is known, and keys per epoch with ``_set_read_secret13`` / ``_set_write_secret13``.
- Outgoing handshake messages are collected into a flight and written as few records as
  possible when the flight is flushed (before a ChangeCipherSpec, at the end of a handler).
- Any ``AlertError`` raised while processing input queues the alert in ``data_to_send()``
  (unless it was received), closes the connection and propagates, carrying the events seen so
  far in ``exc.events``.
"""
import hmac
import logging

from ..codec.records import HandshakeReassembler, handshake
from ..crypto.key_schedule import KeySchedule12
from ..crypto.prf import Transcript
from ..crypto.record import RecordProtection
from ..errors import AlertError, DecodeError, TLSError
from ..registry import ALERT_CODES, ALERT_DESCRIPTIONS, HANDSHAKE_TYPES, VERSIONS
from . import states
from .events import Alert, ApplicationData, ChangeCipherSpec, HandshakeComplete, HandshakeMessage
from .record_layer import RecordLayer

log = logging.getLogger("scapy_tls_hs.connection")

MAX_PLAINTEXT = 16384
# Messages hashed by their handler because it needs the hash of what came *before* them.
_HASHED_BY_HANDLER = frozenset(("finished", "certificate_verify", "hello_request"))
# TLS 1.3 post-handshake messages are outside the handshake transcript (RFC 8446 4.4.1, 4.6).
_NOT_HASHED13 = frozenset(("new_session_ticket", "key_update"))
# RFC 8446 section 6: in TLS 1.3 only these alerts are not fatal, whatever their level.
_CLOSURE13 = frozenset((0, 90))      # close_notify, user_canceled
_PREFIX = {"client": "C:", "server": "S:"}


def _parse_certificate(der, _cache={}):
    """x509 certificate and its public key, parsed once per distinct DER (a client that
    connects to the same server again does not parse its certificate again)."""
    hit = _cache.get(der)
    if hit is None:
        from cryptography import x509
        try:
            cert = x509.load_der_x509_certificate(der)
            hit = (cert, cert.public_key())
        except ValueError as exc:
            raise AlertError("bad_certificate", "cannot parse certificate: %s" % exc) from None
        except Exception as exc:      # unsupported key algorithm and the like
            raise AlertError("unsupported_certificate", str(exc)) from None
        if len(_cache) > 256:
            _cache.clear()
        _cache[der] = hit
    return hit


class BaseConnection:
    role = None            # "client" or "server"
    peer = None
    _table = None          # states.CLIENT or states.SERVER

    def __init__(self, config):
        self.config = config
        self.state = states.START
        self._records = RecordLayer()
        self._reassembler = HandshakeReassembler()
        self._next_read = self._next_write = None
        self._out = bytearray()
        self._flight = []
        self.record_version = 0x0301
        self.version = None
        self.suite = None
        self.transcript = Transcript()
        self.messages = []
        self.events = []              # everything sent and received, in order
        self.handshake_complete = False
        self.resumed = False
        self.session = None
        self.client_random = self.server_random = None
        self.master_secret = None
        self.extended_master_secret = False
        self.encrypt_then_mac = False
        self.alpn = None
        self.sni = None
        self.client_auth = False
        self.peer_certificates = []
        self.session_id = b""
        self.error = None
        self.peer_closed = False
        self._close_sent = False
        # tamper(msg_type, body) -> body or None: lets a user change an outgoing handshake
        # message (the changed bytes are what is hashed and sent).
        self.tamper = None
        self._prefix = "_on_"
        # TLS 1.3
        self.tls13 = False
        self.schedule = None              # crypto.key_schedule.KeySchedule13
        self.group = None                 # IANA name of the key exchange group
        self.hello_retry = False
        # The first ClientHello and the ServerHello (codec objects) the fingerprints are of.
        self.client_hello = self.server_hello = None
        self.early_data = None            # "accepted" | "rejected" | None
        self.key_updates = 0
        self._read_secret = self._write_secret = None
        self._read_key_changed = False
        # RFC 5746 (``renegotiation.py``): the peer signalled it, a new handshake is running,
        # how many completed, the last Finished of each side.
        self.secure_renegotiation = False
        self.renegotiating = False
        self.renegotiations = 0
        self._verify_data = {"client": b"", "server": b""}

    # ---------------------------------------------------------------- public API

    def data_to_send(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def receive_data(self, data: bytes) -> list:
        """Feed bytes from the peer; returns the events they complete. Raises ``AlertError``
        (after queueing our alert, unless the peer's alert is what is raised)."""
        if self.state == states.CLOSED:
            return []
        events = self._new_events = []
        try:
            try:
                records, bad = self._records.feed(data), None
            except DecodeError as exc:      # the records before the bad header still count
                records, bad = getattr(exc, "records", []), exc
            for record in records:
                self._process_record(record)
                if self.state == states.CLOSED:
                    break
            if bad is not None and self.state != states.CLOSED:
                raise bad
        except AlertError as exc:
            self._fail(exc)
            exc.events = events
            raise
        except Exception as exc:   # a bug must not leave the peer hanging without an alert
            log.debug("internal error", exc_info=True)
            err = AlertError("internal_error", "%s: %s" % (type(exc).__name__, exc))
            self._fail(err)
            err.events = events
            raise err from exc
        return events

    @property
    def record_version(self):
        return self._records.version

    @record_version.setter
    def record_version(self, version):
        self._records.version = version

    def send_application_data(self, data: bytes) -> None:
        if not (self.state == states.CONNECTED or self.renegotiating) or self._close_sent:
            raise TLSError("cannot send application data in state %s" % self.state)
        self._send_app_records(data)

    def _send_app_records(self, data):
        view = memoryview(data)
        split = self.version == 0x0301 and self.suite is not None and not self.suite.aead \
            and self._records.write_encrypted and not self.tls13
        for i in range(0, max(len(view), 1), MAX_PLAINTEXT):
            chunk = bytes(view[i:i + MAX_PLAINTEXT])
            # 1/n-1 record splitting (as OpenSSL and browsers do): a TLS 1.0 CBC record's IV
            # is the previous record's last block, so the first byte goes alone (BEAST).
            for part in ((chunk[:1], chunk[1:]) if split and len(chunk) > 1 else (chunk,)):
                self._write_record(23, part)
                self._log_event(ApplicationData(self.role, part), sent=True)

    def send_key_update(self, request=True):
        """RFC 8446 section 4.6.3: send a KeyUpdate and move our write keys on;
        ``request`` asks the peer to update its own."""
        if not self.tls13 or self.state != states.CONNECTED or self._close_sent:
            raise TLSError("KeyUpdate needs an established TLS 1.3 connection")
        self._send_key_update(request)

    def _send_key_update(self, request):
        from ..crypto.tls13 import next_traffic_secret
        self._send_handshake(24, b"\x01" if request else b"\x00")
        self._flush()
        self.key_updates += 1
        self._set_write_secret13(next_traffic_secret(self.suite, self._write_secret))

    def close(self) -> None:
        """Queue close_notify (once). The connection may still receive the peer's."""
        if self._close_sent or self.error is not None:
            return
        self._flush()
        self._send_alert(1, "close_notify")
        self._close_sent = True
        if self.peer_closed:
            self._set_state(states.CLOSED)

    @property
    def peer_authenticated(self):
        """The peer's certificate is known for this session: sent in this handshake or
        carried by the resumed session (``client_auth`` is only the former, as CONTRACT's
        "the client sent a non-empty Certificate")."""
        return bool(self.peer_certificates)

    @property
    def closed(self):
        return self.state == states.CLOSED

    @property
    def version_name(self):
        return VERSIONS.get(self.version) if self.version else None

    @property
    def cipher_suite(self):
        return self.suite.name if self.suite else None

    def keylog_line(self):
        """The NSS key log line for this connection (None before the master secret exists)."""
        if self.master_secret is None or self.client_random is None or self.tls13:
            return None
        return "CLIENT_RANDOM %s %s" % (self.client_random.hex(), self.master_secret.hex())

    def keylog_lines(self):
        """Every NSS key log line for this connection: the TLS 1.2 ``CLIENT_RANDOM`` line,
        or the TLS 1.3 traffic and exporter secrets derived so far."""
        if self.tls13:
            if self.schedule is None or self.client_random is None:
                return []
            return self.schedule.keylog_lines(self.client_random)
        line = self.keylog_line()
        return [line] if line else []

    # ---------------------------------------------------------------- input

    def _process_record(self, record):
        if record.content_type not in (20, 21, 22, 23):
            raise AlertError("unexpected_message",
                             "record of content type %d" % record.content_type)
        if (record.content_type == 21 and self.tls13 and not self.handshake_complete
                and self._records.read13 and len(record.fragment) == 2
                and not self._reassembler.pending):
            # A peer that fails on our first flight has no keys yet and alerts in clear
            # (RFC 8446 section 5: alerts may be unprotected before the keys are known);
            # take it as its alert rather than as an unexpected plaintext record.
            return self._handle_alert(record.fragment)
        opened = self._records.open(record)
        if opened is None:              # refused early data, skipped
            return
        ct, fragment = opened
        if ct == 22:
            encrypted = self._records.read_encrypted
            if not fragment:
                raise AlertError("unexpected_message", "empty handshake record")
            messages = self._reassembler.feed(fragment)
            last = len(messages) - 1
            for i, (msg_type, body, raw) in enumerate(messages):
                self._read_key_changed = False
                self._handle_handshake(msg_type, body, raw, encrypted)
                if self.state == states.CLOSED:
                    return
                if self._read_key_changed and (i < last or self._reassembler.pending):
                    # RFC 8446 section 5.1: handshake messages must not span a key change.
                    raise AlertError("unexpected_message",
                                     "handshake data after a key change in the same record")
        elif ct == 23:
            if (states.APP not in self._table[self.state] or self._reassembler.pending) \
                    and not self._app_data_allowed_in_handshake():
                raise AlertError("unexpected_message",
                                 "application data in state %s" % self.state)
            self._log_event(ApplicationData(self.peer, fragment))
            self._on_application_data(fragment)
        elif ct == 21:
            if self._reassembler.pending and self.tls13:
                raise AlertError("unexpected_message", "alert inside a handshake message")
            self._handle_alert(fragment)
        elif ct == 20:
            self._handle_ccs(fragment)
        else:                           # a TLS 1.3 inner type outside 20..23
            raise AlertError("unexpected_message", "record of content type %d" % ct)

    def _before_alert(self):
        """Hook: a role that must change its write keys before a fatal alert."""

    def _on_application_data(self, data):
        """Hook for roles that count what they receive (0-RTT limits)."""

    def _expect(self, name):
        nxt = self._table[self.state].get(name)
        if nxt is None:
            raise AlertError("unexpected_message", "%s in state %s" % (name, self.state))
        return nxt

    def _handle_handshake(self, msg_type, body, raw, encrypted):
        name = HANDSHAKE_TYPES.get(msg_type, "unknown_%d" % msg_type)
        nxt = self._expect(name)
        self._log_event(HandshakeMessage(self.peer, msg_type, body, raw, encrypted))
        if msg_type == 1:
            self._transcript_before = self.transcript.copy()     # for PSK binders
        if name not in _HASHED_BY_HANDLER and not (
                self.tls13 and (name in _NOT_HASHED13 or self.state == states.CONNECTED)):
            self.transcript.update(raw)
        table = self._table
        chosen = getattr(self, self._prefix + name)(body, raw)
        if self._table is not table:    # the handler chose TLS 1.3: its table decides
            nxt = self._expect(name)
        self._flush()
        self._move(nxt, chosen)

    def _enter_tls13(self):
        self.tls13 = True
        self._table = states.CLIENT13 if self.role == "client" else states.SERVER13
        self._prefix = "_on13_"
        self.record_version = 0x0303

    def _set_read_secret13(self, secret):
        self._read_secret = secret
        self._records.set_read13(self.suite, secret)
        self._read_key_changed = True

    def _set_write_secret13(self, secret):
        self._flush()
        self._write_secret = secret
        self._records.set_write13(self.suite, secret)

    def _on13_key_update(self, body, raw):
        """RFC 8446 section 4.6.3."""
        from ..crypto.tls13 import next_traffic_secret
        if len(body) != 1:
            raise DecodeError("KeyUpdate of %d bytes" % len(body))
        if body[0] not in (0, 1):
            raise AlertError("illegal_parameter", "KeyUpdate request_update %d" % body[0])
        self.key_updates += 1
        self._set_read_secret13(next_traffic_secret(self.suite, self._read_secret))
        if body[0] == 1 and not self._close_sent:
            self._send_key_update(False)

    def _handle_ccs(self, fragment):
        if self.tls13:
            # RFC 8446 section 5: a middlebox-compatibility CCS is dropped until the peer's
            # Finished; any other value, or one after, is unexpected_message.
            if fragment != b"\x01" or self.state == states.CONNECTED:
                raise AlertError("unexpected_message", "ChangeCipherSpec in TLS 1.3")
            if self._reassembler.pending:
                raise AlertError("unexpected_message",
                                 "ChangeCipherSpec inside a handshake message")
            self._log_event(ChangeCipherSpec(self.peer))
            return
        if fragment != b"\x01":
            raise DecodeError("ChangeCipherSpec must be the single byte 1")
        if self._reassembler.pending:
            raise AlertError("unexpected_message", "ChangeCipherSpec inside a handshake message")
        nxt = self._expect(states.CCS)
        self._log_event(ChangeCipherSpec(self.peer))
        chosen = self._on_change_cipher_spec()
        if self._next_read is None:
            raise AlertError("unexpected_message", "ChangeCipherSpec before the keys are known")
        self._records.set_read(self._next_read)
        self._next_read = None
        self._flush()
        self._move(nxt, chosen)

    def _on_change_cipher_spec(self):
        return None

    # CVE-2016-8610 ("SSL death alert"): warnings cost nothing to send and are ignored, so a
    # peer could keep a handshake busy with them forever; like OpenSSL, the fifth is fatal.
    _MAX_HANDSHAKE_WARNINGS = 4
    _handshake_warnings = 0

    def _handle_alert(self, fragment):
        if len(fragment) != 2:
            raise DecodeError("alert of %d bytes" % len(fragment))
        level, code = fragment[0], fragment[1]
        if self.tls13 and code not in _CLOSURE13:
            level = 2
        description = ALERT_DESCRIPTIONS.get(code, "unknown_%d" % code)
        self._log_event(Alert(self.peer, level, description))
        if code == 0:
            self.peer_closed = True
            if not self._close_sent and self.error is None:
                self._flush()
                self._send_alert(1, "close_notify")
                self._close_sent = True
            self._set_state(states.CLOSED)
        elif level != 1:
            self._set_state(states.CLOSED)
            raise AlertError(code, "from the %s" % self.peer, received=True)
        elif description == "no_renegotiation" and self._peer_refused_renegotiation():
            pass                # the new handshake is off; the connection goes on as it was
        elif self.state == states.CONNECTED:
            self._handshake_warnings = 0
        else:
            self._handshake_warnings += 1
            if self._handshake_warnings > self._MAX_HANDSHAKE_WARNINGS:
                raise AlertError("unexpected_message", "too many warning alerts in a handshake")
        # Other warnings (no_renegotiation, user_canceled ...) are reported and ignored.

    # ---------------------------------------------------------------- output

    def _send_handshake(self, msg_type, body, hashed=True):
        if self.tamper is not None:
            changed = self.tamper(msg_type, body)
            if changed is not None:
                body = changed
        raw = handshake(msg_type, body)
        if msg_type != 0 and hashed and not (self.tls13 and msg_type in (4, 24)):
            self.transcript.update(raw)
        self._flight.append(raw)
        self._log_event(HandshakeMessage(self.role, msg_type, body, raw,
                                         self._records.write_encrypted), sent=True)
        return raw

    def _flush(self):
        if self._flight:
            payload = b"".join(self._flight)
            self._flight.clear()
            self._write_record(22, payload)

    def _write_record(self, content_type, payload):
        self._out += self._records.seal(content_type, payload)

    def _send_compat_ccs(self):
        """TLS 1.3 middlebox compatibility (RFC 8446 appendix D.4): a CCS that changes nothing."""
        self._flush()
        self._out += self._records.seal_plain(20, b"\x01")
        self._log_event(ChangeCipherSpec(self.role), sent=True)

    def _send_ccs(self):
        if self.tls13:
            return self._send_compat_ccs()
        self._flush()
        self._write_record(20, b"\x01")
        self._log_event(ChangeCipherSpec(self.role), sent=True)
        if self._next_write is None:
            raise AlertError("internal_error", "ChangeCipherSpec before the keys are known")
        self._records.set_write(self._next_write)
        self._next_write = None

    def _send_alert(self, level, description):
        self._write_record(21, bytes((level, ALERT_CODES[description])))
        self._log_event(Alert(self.role, level, description), sent=True)

    def _fail(self, exc):
        self.error = exc
        self._flight.clear()
        if not exc.received and self.state != states.CLOSED:
            try:
                self._before_alert()
                self._send_alert(2, exc.description)
            except Exception:            # never let the alert hide the original error
                log.debug("cannot send alert", exc_info=True)
        self._set_state(states.CLOSED)

    # ---------------------------------------------------------------- state and events

    def _move(self, nxt, chosen):
        if isinstance(nxt, tuple):
            if chosen not in nxt:
                raise AlertError("internal_error", "handler chose %s, table allows %s"
                                 % (chosen, ", ".join(nxt)))
            nxt = chosen
        if self.state != states.CLOSED:
            self._set_state(nxt)

    def _set_state(self, state):
        if state != self.state:
            log.debug("TLS %s -> %s", self.state, state)
            self.state = state

    def _log_event(self, event, sent=False):
        self.events.append(event)
        self.messages.append(_PREFIX[event.direction] + event.name)
        if not sent:
            self._new_events.append(event)

    # ---------------------------------------------------------------- key schedule

    def _compute_master(self, pre_master):
        """RFC 5246 section 8.1, or RFC 7627 section 4 when EMS was negotiated (the session
        hash covers the handshake up to and including ClientKeyExchange)."""
        self.schedule = ks = KeySchedule12(self.suite, self.version, self.client_random,
                                           self.server_random)
        session_hash = None
        if self.extended_master_secret:
            session_hash = self.transcript.digest(self.version, self.suite.prf_hash)
        self.master_secret = ks.master(pre_master, session_hash)
        return self.master_secret

    def _derive_keys(self):
        if self.schedule is None or getattr(self.schedule, "master_secret", None) != \
                self.master_secret:
            # Resumption: the schedule starts from the session's master secret.
            self.schedule = KeySchedule12(self.suite, self.version, self.client_random,
                                          self.server_random)
            self.schedule.master_secret = self.master_secret
        kb = self.schedule.key_block()
        etm = self.encrypt_then_mac
        self._next_write = RecordProtection.for_direction(self.suite, self.version, kb,
                                                          self.role, encrypt_then_mac=etm)
        self._next_read = RecordProtection.for_direction(self.suite, self.version, kb,
                                                         self.peer, encrypt_then_mac=etm)

    def _finished_data(self, sender):
        return self.schedule.finished(sender, self.transcript.digest(self.version,
                                                                     self.suite.prf_hash))

    def _send_finished(self):
        data = self._finished_data(self.role)
        self._verify_data[self.role] = data      # RFC 5746: binds a renegotiation to us
        self._send_handshake(20, data)

    def _check_finished(self, body, raw):
        """RFC 5246 section 7.4.9: a wrong verify_data is a decrypt_error."""
        if len(body) != 12:
            raise DecodeError("Finished of %d bytes" % len(body))
        if not hmac.compare_digest(self._finished_data(self.peer), body):
            raise AlertError("decrypt_error", "bad Finished verify_data from the %s" % self.peer)
        self._verify_data[self.peer] = bytes(body)
        self.transcript.update(raw)

    def _complete(self):
        self.handshake_complete = True
        self._renegotiation_done()
        event = HandshakeComplete(self.session, self.resumed)
        self.events.append(event)
        self._new_events.append(event)

    def _refuse_renegotiation(self):
        """RFC 5746 section 4.2/4.4: we do not renegotiate (legacy peer, TLS 1.3 or turned
        off); say so with a warning."""
        self._send_alert(1, "no_renegotiation")

    # Renegotiation hooks, overridden by ``renegotiation.py``'s role mixins.
    def _app_data_allowed_in_handshake(self):
        return False

    def _peer_refused_renegotiation(self):
        return False

    def _renegotiation_done(self):
        pass
