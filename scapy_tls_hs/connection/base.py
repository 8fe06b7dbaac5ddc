"""Record-layer plumbing shared by the client and server roles.

Rules of this module:
- ``BaseConnection`` reads records, opens them with the current read protection, reassembles
  handshake messages, keeps the transcript and the ``messages`` ladder, checks every incoming
  message against the role's table in ``states.py``, and dispatches it to the role's
  ``_on_<message name>`` handler. The handler returns the next state when the table offers a
  choice. It never decides the handshake order itself.
- Outgoing handshake messages are collected into a flight and written as few records as
  possible when the flight is flushed (before a ChangeCipherSpec, at the end of a handler).
- Any ``AlertError`` raised while processing input queues the alert in ``data_to_send()``
  (unless it was received), closes the connection and propagates, carrying the events seen so
  far in ``exc.events``.
"""
import hmac
import logging

from ..codec.records import HandshakeReassembler, RecordReader, encode_record, handshake
from ..crypto.prf import (Transcript, extended_master_secret, key_block, master_secret,
                          verify_data)
from ..crypto.record import NullProtection, RecordProtection
from ..errors import AlertError, DecodeError, TLSError
from ..registry import ALERT_CODES, ALERT_DESCRIPTIONS, HANDSHAKE_TYPES, VERSIONS
from . import states
from .events import Alert, ApplicationData, ChangeCipherSpec, HandshakeComplete, HandshakeMessage

log = logging.getLogger("scapy_tls_hs.connection")

MAX_PLAINTEXT = 16384
# Messages hashed by their handler because it needs the hash of what came *before* them.
_HASHED_BY_HANDLER = frozenset(("finished", "certificate_verify", "hello_request"))
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
        self._reader = RecordReader()
        self._reassembler = HandshakeReassembler()
        self._read = self._write = NullProtection()
        self._next_read = self._next_write = None
        self._encrypted_read = self._encrypted_write = False
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
        self._handlers = {}

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
                records, bad = self._reader.feed(data), None
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

    def send_application_data(self, data: bytes) -> None:
        if self.state != states.CONNECTED or self._close_sent:
            raise TLSError("cannot send application data in state %s" % self.state)
        view = memoryview(data)
        for i in range(0, max(len(view), 1), MAX_PLAINTEXT):
            chunk = bytes(view[i:i + MAX_PLAINTEXT])
            self._write_record(23, chunk)
            self._log_event(ApplicationData(self.role, chunk), sent=True)

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
        if self.master_secret is None or self.client_random is None:
            return None
        return "CLIENT_RANDOM %s %s" % (self.client_random.hex(), self.master_secret.hex())

    # ---------------------------------------------------------------- input

    def _process_record(self, record):
        ct = record.content_type
        if ct == 22:
            fragment = self._open(record)
            encrypted = self._encrypted_read
            if not fragment:
                raise AlertError("unexpected_message", "empty handshake record")
            for msg_type, body, raw in self._reassembler.feed(fragment):
                self._handle_handshake(msg_type, body, raw, encrypted)
                if self.state == states.CLOSED:
                    return
        elif ct == 23:
            if states.APP not in self._table[self.state] or self._reassembler.pending:
                raise AlertError("unexpected_message",
                                 "application data in state %s" % self.state)
            data = self._open(record)
            self._log_event(ApplicationData(self.peer, data))
        elif ct == 21:
            self._handle_alert(self._open(record))
        elif ct == 20:
            self._handle_ccs(self._open(record))
        else:
            raise AlertError("unexpected_message", "record of content type %d" % ct)

    def _open(self, record):
        fragment = self._read.open(record.content_type, record.version, record.fragment)
        if len(fragment) > MAX_PLAINTEXT:
            raise AlertError("record_overflow", "%d bytes of plaintext" % len(fragment))
        return fragment

    def _expect(self, name):
        nxt = self._table[self.state].get(name)
        if nxt is None:
            raise AlertError("unexpected_message", "%s in state %s" % (name, self.state))
        return nxt

    def _handle_handshake(self, msg_type, body, raw, encrypted):
        name = HANDSHAKE_TYPES.get(msg_type, "unknown_%d" % msg_type)
        nxt = self._expect(name)
        self._log_event(HandshakeMessage(self.peer, msg_type, body, raw, encrypted))
        if name not in _HASHED_BY_HANDLER:
            self.transcript.update(raw)
        chosen = getattr(self, "_on_" + name)(body, raw)
        self._flush()
        self._move(nxt, chosen)

    def _handle_ccs(self, fragment):
        if fragment != b"\x01":
            raise DecodeError("ChangeCipherSpec must be the single byte 1")
        if self._reassembler.pending:
            raise AlertError("unexpected_message", "ChangeCipherSpec inside a handshake message")
        nxt = self._expect(states.CCS)
        self._log_event(ChangeCipherSpec(self.peer))
        chosen = self._on_change_cipher_spec()
        if self._next_read is None:
            raise AlertError("unexpected_message", "ChangeCipherSpec before the keys are known")
        self._read, self._next_read = self._next_read, None
        self._encrypted_read = True
        self._flush()
        self._move(nxt, chosen)

    def _on_change_cipher_spec(self):
        return None

    def _handle_alert(self, fragment):
        if len(fragment) != 2:
            raise DecodeError("alert of %d bytes" % len(fragment))
        level, code = fragment[0], fragment[1]
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
        # Other warnings (no_renegotiation, user_canceled ...) are reported and ignored.

    # ---------------------------------------------------------------- output

    def _send_handshake(self, msg_type, body):
        if self.tamper is not None:
            changed = self.tamper(msg_type, body)
            if changed is not None:
                body = changed
        raw = handshake(msg_type, body)
        if msg_type != 0:
            self.transcript.update(raw)
        self._flight.append(raw)
        self._log_event(HandshakeMessage(self.role, msg_type, body, raw, self._encrypted_write),
                        sent=True)
        return raw

    def _flush(self):
        if self._flight:
            payload = b"".join(self._flight)
            self._flight.clear()
            self._write_record(22, payload)

    def _write_record(self, content_type, payload):
        version = self.record_version
        seal = self._write.seal
        if len(payload) <= MAX_PLAINTEXT:
            self._out += encode_record(content_type, version, seal(content_type, version, payload))
            return
        for i in range(0, len(payload), MAX_PLAINTEXT):
            chunk = payload[i:i + MAX_PLAINTEXT]
            self._out += encode_record(content_type, version, seal(content_type, version, chunk))

    def _send_ccs(self):
        self._flush()
        self._write_record(20, b"\x01")
        self._log_event(ChangeCipherSpec(self.role), sent=True)
        if self._next_write is None:
            raise AlertError("internal_error", "ChangeCipherSpec before the keys are known")
        self._write, self._next_write = self._next_write, None
        self._encrypted_write = True

    def _send_alert(self, level, description):
        self._write_record(21, bytes((level, ALERT_CODES[description])))
        self._log_event(Alert(self.role, level, description), sent=True)

    def _fail(self, exc):
        self.error = exc
        self._flight.clear()
        if not exc.received and self.state != states.CLOSED:
            try:
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
        suite = self.suite
        if self.extended_master_secret:
            session_hash = self.transcript.digest(self.version, suite.prf_hash)
            self.master_secret = extended_master_secret(pre_master, session_hash, self.version,
                                                        suite.prf_hash)
        else:
            self.master_secret = master_secret(pre_master, self.client_random,
                                               self.server_random, self.version, suite.prf_hash)
        return self.master_secret

    def _derive_keys(self):
        kb = key_block(self.master_secret, self.client_random, self.server_random, self.suite,
                       self.version)
        etm = self.encrypt_then_mac
        self._next_write = RecordProtection.for_direction(self.suite, self.version, kb,
                                                          self.role, encrypt_then_mac=etm)
        self._next_read = RecordProtection.for_direction(self.suite, self.version, kb,
                                                         self.peer, encrypt_then_mac=etm)

    def _finished_data(self, sender):
        suite = self.suite
        return verify_data(self.master_secret, sender,
                           self.transcript.digest(self.version, suite.prf_hash), self.version,
                           suite.prf_hash)

    def _send_finished(self):
        self._send_handshake(20, self._finished_data(self.role))

    def _check_finished(self, body, raw):
        """RFC 5246 section 7.4.9: a wrong verify_data is a decrypt_error."""
        if len(body) != 12:
            raise DecodeError("Finished of %d bytes" % len(body))
        if not hmac.compare_digest(self._finished_data(self.peer), body):
            raise AlertError("decrypt_error", "bad Finished verify_data from the %s" % self.peer)
        self.transcript.update(raw)

    def _complete(self):
        self.handshake_complete = True
        event = HandshakeComplete(self.session, self.resumed)
        self.events.append(event)
        self._new_events.append(event)

    def _refuse_renegotiation(self):
        """RFC 5746 section 4.2/4.4: we do not renegotiate; say so with a warning."""
        self._send_alert(1, "no_renegotiation")
