"""Secure renegotiation (RFC 5746) for TLS 1.0-1.2, both roles.

Rules of this module:
- A renegotiation is a new handshake inside the connection: its messages travel under the
  current keys until its ChangeCipherSpec, its transcript starts at its ClientHello, and the
  state tables (``states.CLIENT`` / ``SERVER``, entry ``CONNECTED``) let the hello start it.
- It is done only when both sides signalled RFC 5746 in the first handshake (extension or
  SCSV); a legacy (insecure) peer, TLS 1.3, or a role configured without renegotiation gets
  the no_renegotiation warning and the connection goes on.
- renegotiation_info binds the new handshake to the old one: the client sends its last
  verify_data, the server both; anything else is handshake_failure (RFC 5746 sections 3.5,
  3.7). The negotiated version may not change (OpenSSL: protocol_version).
- Application data may interleave with the new handshake (RFC 5246 section 6.2.1), except
  between a ChangeCipherSpec and its Finished.
"""
import copy

from ..codec import extensions as X
from ..crypto.prf import Transcript
from ..errors import AlertError, DecodeError, TLSError
from . import states

SCSV = 0x00FF
# What a new handshake replaces, kept until it completes (a client whose renegotiation the
# server refuses goes on with the connection as it was).
_KEPT = ("transcript", "resumed", "session", "client_auth", "peer_certificates", "alpn",
         "schedule", "client_random", "server_random", "_hello", "extended_master_secret",
         "encrypt_then_mac")

__all__ = ["ClientRenegotiation", "ServerRenegotiation", "SCSV"]


class _Renegotiation:
    """What both roles do; the state (``secure_renegotiation``, ``renegotiating``,
    ``renegotiations``, ``_verify_data``) is set up by ``BaseConnection``."""

    def _renegotiation_possible(self):
        return (not self.tls13 and self.secure_renegotiation and self.handshake_complete
                and getattr(self.config, "renegotiation", True) and not self._close_sent
                and self.error is None)

    def _app_data_allowed_in_handshake(self):
        return self.renegotiating and self.state != states.EXPECT_FINISHED

    def _restart_transcript(self):
        self._before_renegotiation = {name: getattr(self, name) for name in _KEPT}
        self.renegotiating = True
        self.transcript = Transcript()
        self._transcript_before = Transcript()
        self.resumed = False
        self.session = None
        self.schedule = None        # keys come from the new randoms, even for the same session
        self.client_auth = False
        self.peer_certificates = []
        self.alpn = None

    def _renegotiation_done(self):
        if self.renegotiating:
            self.renegotiating = False
            self.renegotiations += 1
            self._before_renegotiation = None

    def _check_renegotiated_ems(self, offered):
        """RFC 7627 section 5.4: a connection that used extended_master_secret keeps it in
        every renegotiation."""
        if self.renegotiating and not offered and \
                self._before_renegotiation["extended_master_secret"]:
            raise AlertError("handshake_failure", "renegotiation without "
                             "extended_master_secret after a handshake that used it")

    def _bound_renegotiation_info(self, from_server):
        """What renegotiation_info carries now (RFC 5746 sections 3.4-3.7): nothing in the
        first handshake; then the client's last verify_data, and the server's after it when
        the server sends it."""
        if not self.renegotiating:
            return b""
        vd = self._verify_data
        return vd["client"] + vd["server"] if from_server else vd["client"]


class ServerRenegotiation(_Renegotiation):

    def renegotiate(self):
        """Ask the client for a new handshake (HelloRequest, RFC 5246 section 7.4.1.1). The
        client may refuse with a no_renegotiation warning; the connection then goes on."""
        if not self._renegotiation_possible() or self.state != states.CONNECTED:
            raise TLSError("renegotiation needs an established TLS 1.0-1.2 connection with a "
                           "client that signalled RFC 5746 secure renegotiation")
        self._send_handshake(0, b"")
        self._flush()

    def _start_renegotiation(self, raw):
        """A ClientHello arrived on an established connection: True when it starts a new
        handshake, False after refusing it."""
        if not self._renegotiation_possible():
            self._refuse_renegotiation()
            return False
        self._restart_transcript()
        self.transcript.update(raw)
        return True

    def _check_client_renegotiation_info(self, data, cipher_suites):
        if not self.renegotiating:
            if data is not None and data != b"\x00":
                raise AlertError("handshake_failure", "non-empty renegotiation_info")
            self.secure_renegotiation = data is not None or SCSV in cipher_suites
            return
        if SCSV in cipher_suites:
            raise AlertError("handshake_failure", "renegotiation SCSV when renegotiating")
        if data is None:
            raise AlertError("handshake_failure", "renegotiating without renegotiation_info")
        if X.parse_renegotiation_info(data) != self._bound_renegotiation_info(False):
            raise AlertError("handshake_failure",
                             "renegotiation_info does not match the previous handshake")

    def _check_renegotiated_version(self, version):
        if self.renegotiating and version != self.version:
            raise AlertError("protocol_version", "renegotiation may not change the version "
                             "(0x%04x to 0x%04x)" % (self.version, version))

    def _renegotiation_info_out(self):
        return X.renegotiation_info(self._bound_renegotiation_info(True))


class ClientRenegotiation(_Renegotiation):

    def renegotiate(self, resume=False):
        """Start a new handshake on this established connection, same version: a full one,
        or with ``resume`` an abbreviated one offering this connection's session (by id)."""
        if not self._renegotiation_possible() or self.state != states.CONNECTED:
            raise TLSError("renegotiation needs an established TLS 1.0-1.2 connection with a "
                           "server that signalled RFC 5746 secure renegotiation")
        self._send_renegotiating_hello(self.session if resume else None)
        self._set_state(states.EXPECT_SERVER_HELLO)

    def _on_hello_request(self, body, raw):
        if body:
            raise DecodeError("HelloRequest with a body")
        if not self._renegotiation_possible():
            self._refuse_renegotiation()
            return states.CONNECTED
        self._send_renegotiating_hello(None)
        return states.EXPECT_SERVER_HELLO

    def _send_renegotiating_hello(self, session):
        self._restart_transcript()
        self._expect_ticket = False
        self._server_key = self._ske = self._cert_request = None
        # A shallow copy keeps the loaded certificates and CA roots (dataclasses.replace
        # would read their files again); only the offer changes: this version, no TLS 1.3.
        cfg = copy.copy(self.config)
        cfg.versions, cfg.suites13, cfg.session = (self.version,), [], session
        cfg.suites = [s for s in cfg.suites if s.usable_in(self.version)]
        cfg.client_hello = cfg.early_data = cfg.key_shares = None
        cfg.tickets = False
        hello, self._offered_session = self._build_hello(cfg)
        self._send_handshake(1, hello.encode())
        self._flush()
        self._hello = hello
        self.client_random = hello.random
        self._offered_versions = frozenset((self.version,))
        self._offered_tls13 = False
        self._learn_offered_extensions(hello.extensions or ())

    def _peer_refused_renegotiation(self):
        """A no_renegotiation warning answering our ClientHello (RFC 5746 section 4.2 lets
        the server refuse): back to the connection as it was."""
        if not self.renegotiating or self.state != states.EXPECT_SERVER_HELLO:
            return False
        for name, value in self._before_renegotiation.items():
            setattr(self, name, value)
        self.renegotiating = False
        self._before_renegotiation = None
        self._set_state(states.CONNECTED)
        return True

    def _check_server_renegotiation_info(self, data):
        if self.renegotiating:
            if data is None:
                raise AlertError("handshake_failure",
                                 "renegotiated ServerHello without renegotiation_info")
            if X.parse_renegotiation_info(data) != self._bound_renegotiation_info(True):
                raise AlertError("handshake_failure",
                                 "renegotiation_info does not match the previous handshake")
            return
        if data is None:
            return
        if data != b"\x00":
            raise AlertError("handshake_failure", "non-empty renegotiation_info")
        self.secure_renegotiation = True
