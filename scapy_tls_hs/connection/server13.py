"""The TLS 1.3 server role (RFC 8446), as a mixin of ``ServerConnection``.

``ServerConnection._on_client_hello`` reads the ClientHello, sees TLS 1.3 chosen by
supported_versions and hands over to ``_start13``; from then on ``states.SERVER13`` says what
may come next and the ``_on13_*`` handlers here say what to do with it:

- ClientHello: suite (server preference), group (server preference among the client's
  shares; a HelloRetryRequest with a cookie when none fits but a common group exists), PSK
  (stateless tickets or the context's external PSKs; binder checked; psk_dhe_ke or psk_ke),
  0-RTT (first identity, first use of the ticket, same suite and ALPN), then ServerHello,
  EncryptedExtensions, [CertificateRequest, Certificate, CertificateVerify], Finished in one
  flight.
- EndOfEarlyData, client Certificate / CertificateVerify, Finished; then NewSessionTickets.
- After the handshake: the answer to a post-handshake CertificateRequest (``ServerConnection.
  request_client_certificate``); KeyUpdate is the base class's (both roles answer it alike).

Rules: every malformed or misplaced field raises the RFC 8446 alert named in section 4 / 9.2;
nothing here touches sockets.
"""
import hmac
import os
import struct
import time

from ..codec import extensions as X
from ..codec.messages import (HELLO_RETRY_REQUEST_RANDOM, Certificate13, CertificateRequest13,
                              CertificateVerify, ClientHello, EncryptedExtensions, Extension,
                              NewSessionTicket13, ServerHello)
from ..crypto import signatures
from ..crypto.key_schedule import KeySchedule13
from ..crypto.keyexchange import key_share_supported, respond_key_share
from ..crypto.tickets import TicketState13
from ..errors import AlertError, DecodeError
from ..registry import NAMED_GROUPS
from . import states
from .base import _parse_certificate
from .config import DEFAULT_SIG_SCHEMES, SERVER_SIG_SCHEMES
from .session import Session

__all__ = ["Server13Mixin"]

_PSK_KE, _PSK_DHE_KE = 0, 1
_SV13 = X.supported_versions_server(0x0304)
_MAX_TICKET_LIFETIME = 604800           # RFC 8446 section 4.6.1: seven days at most
_SKIP_EARLY_DEFAULT = 16384             # refused 0-RTT skipped up to this much (RFC 8446 4.2.10)
# RFC 8446 section 4.1.2: what a second ClientHello may change.
_MAY_CHANGE_IN_CH2 = frozenset((X.EXT_KEY_SHARE, X.EXT_COOKIE, X.EXT_EARLY_DATA,
                                X.EXT_PRE_SHARED_KEY, X.EXT_PADDING))
# RFC 8446 section 4.2: extensions a server does not expect in a ClientHello are ignored, but
# these are TLS 1.2-only and harmless to ignore too; nothing to check.


# RFC 8446 appendix B.3.1.4: code points of groups TLS 1.3 does not use. Listed beside real
# groups they serve TLS 1.2 and are ignored; a TLS 1.3 hello offering nothing else is
# illegal_parameter (as tlsfuzzer's obsolete-curves probes expect).
_OBSOLETE_GROUPS = frozenset(list(range(0x0001, 0x0017)) + [0x001A, 0x001B, 0x001C,
                                                             0xFF01, 0xFF02])


def _scheme13(ident, offered):
    """The client's first scheme our identity can make in TLS 1.3 (an RSASSA-PSS
    certificate key only rsa_pss_pss_*), or None."""
    try:
        return signatures.choose_scheme13(ident.private_key, offered, ident.chain[0])
    except AlertError:
        return None


class Server13Mixin:
    """TLS 1.3 handlers for ``ServerConnection`` (which supplies config, context, the ALPN
    and SNI readers)."""

    # ------------------------------------------------------------ ClientHello

    def _start13(self, ch, raw):
        """The first ClientHello chose TLS 1.3: switch tables and answer it."""
        self._enter_tls13()
        self.version = 0x0304
        self._ch1 = None
        self._hrr_group = None
        self._cookie = None
        self._early_limit = 0
        self._early_received = 0
        self._ccs_sent = False
        self._peer_ccs = False
        self._psk_age_ok = False
        self._middlebox = getattr(self.config, "middlebox_compat", True)
        self._pha = None
        return self._client_hello13(ch, raw)

    def _on13_client_hello(self, body, raw):
        """The second ClientHello, after our HelloRetryRequest."""
        ch = ClientHello.parse(body)
        versions = ch.ext(X.EXT_SUPPORTED_VERSIONS)
        if versions is None or 0x0304 not in X.parse_supported_versions_client(versions[1]):
            raise AlertError("illegal_parameter", "second ClientHello dropped TLS 1.3")
        self._records.stop_skipping()
        self._check_second_hello(self._ch1, ch)
        return self._client_hello13(ch, raw)

    def _client_hello13(self, ch, raw):
        second = self._ch1 is not None
        self.client_random = ch.random
        if ch.compression_methods != [0]:
            raise AlertError("illegal_parameter", "TLS 1.3 needs exactly null compression")
        exts = self._extensions13(ch)
        self._offered13 = frozenset(exts)
        suite = self._choose_suite13(ch)
        if second and suite is not self.suite:
            raise AlertError("illegal_parameter", "second ClientHello changed the suite")
        self.suite = suite
        self.transcript.narrow(suite.prf_hash)
        if X.EXT_SERVER_NAME in exts:
            self.sni = X.parse_client_server_name(exts[X.EXT_SERVER_NAME])
        self.alpn = None
        self._select_alpn(exts.get(X.EXT_ALPN))
        self._record_size_limit(exts, tls13=True)
        schemes = exts.get(X.EXT_SIGNATURE_ALGORITHMS)
        self._client_schemes = (X.parse_signature_algorithms(schemes)
                                if schemes is not None else None)
        groups, shares = self._read_groups13(exts)
        if second:
            if X.EXT_EARLY_DATA in exts:
                raise AlertError("illegal_parameter", "early_data after HelloRetryRequest")
            self._check_cookie(exts.get(X.EXT_COOKIE))
            if not shares or len(shares) != 1 or shares[0][0] != self._hrr_group:
                raise AlertError("illegal_parameter",
                                 "second ClientHello must share only the group asked for")
        elif X.EXT_COOKIE in exts:
            raise AlertError("illegal_parameter", "cookie we never sent")
        if X.EXT_EARLY_DATA in exts:
            X.parse_empty(exts[X.EXT_EARLY_DATA], "early_data")

        psk = self._choose_psk(exts, raw)       # (index, state) or None; binder checked
        modes = self._psk_modes
        share = self._choose_share(groups, shares)
        if psk is not None and (share is None or _PSK_DHE_KE not in modes):
            if _PSK_KE in modes:
                share = False           # psk_ke: no (EC)DHE at all
            elif share is None and not second and self._hrr_group_for(groups) is None:
                psk = None
        if psk is None:
            if schemes is None:
                raise AlertError("missing_extension", "no signature_algorithms")
            if groups is None or shares is None:
                raise AlertError("missing_extension", "no supported_groups / key_share")
            self._identity = self._choose_identity13()
        if share is None:
            group = self._hrr_group_for(groups)
            if group is None:
                if groups and all(g in _OBSOLETE_GROUPS for g in groups):
                    raise AlertError("illegal_parameter", "only groups TLS 1.3 does not use")
                raise AlertError("handshake_failure", "no common key exchange group")
            if second:
                raise AlertError("illegal_parameter", "second ClientHello has no usable share")
            return self._send_hello_retry(ch, exts, group)
        return self._send_first_flight(ch, exts, psk, share)

    def _extensions13(self, ch):
        """The ClientHello extensions by type: no duplicates, pre_shared_key last (RFC 8446
        section 4.2, 4.2.11)."""
        exts = {}
        items = ch.extensions or []
        for i, (etype, data) in enumerate(items):
            if etype in exts:
                raise AlertError("illegal_parameter", "extension %d twice" % etype)
            if etype == X.EXT_PRE_SHARED_KEY and i != len(items) - 1:
                raise AlertError("illegal_parameter", "pre_shared_key is not the last extension")
            exts[etype] = data
        return exts

    def _choose_suite13(self, ch):
        offered = set(ch.cipher_suites)
        for suite in self._suites13():
            if suite.id in offered:
                return suite
        raise AlertError("handshake_failure", "no common TLS 1.3 cipher suite")

    def _suites13(self):
        return self.config.suites13

    def _read_groups13(self, exts):
        """``(supported_groups or None, key shares or None)``, checked: no group shared twice,
        every share in supported_groups (RFC 8446 section 4.2.8)."""
        groups = exts.get(X.EXT_SUPPORTED_GROUPS)
        groups = X.parse_supported_groups(groups) if groups is not None else None
        shares = exts.get(X.EXT_KEY_SHARE)
        if shares is None:
            return groups, None
        shares = X.parse_key_share_client(shares, allow_empty=True)
        seen = set()
        for group, key in shares:
            if not key:
                raise AlertError("illegal_parameter", "empty key share for group %d" % group)
            if group in seen:
                raise AlertError("illegal_parameter", "two key shares for group %d" % group)
            seen.add(group)
            if groups is not None and group not in groups:
                raise AlertError("illegal_parameter", "key share for a group not offered")
        return groups, shares

    def _server_groups(self):
        return [g for g in self.config.groups if key_share_supported(g)]

    def _choose_share(self, groups, shares):
        """``(group, client key)`` for our most preferred group the client sent a share of."""
        if not shares:
            return None
        by_group = dict(shares)
        for g in self._server_groups():
            if g in by_group:
                return g, by_group[g]
        return None

    def _hrr_group_for(self, groups):
        for g in self._server_groups():
            if groups and g in groups:
                return g
        return None

    def _choose_identity13(self):
        for ident in self.config.identities.values():
            if _scheme13(ident, self._client_schemes) is not None:
                return ident
        raise AlertError("handshake_failure", "no signature scheme fits our certificates")

    # ------------------------------------------------------------ HelloRetryRequest

    def _send_hello_retry(self, ch, exts, group):
        """RFC 8446 section 4.1.4; the cookie binds the retry to this ClientHello."""
        self._ch1 = ch
        self._hrr_group = group
        self.hello_retry = True
        ch1_hash = self.transcript.hash(self.suite.prf_hash)
        self._cookie = self._context.cookie(struct.pack("!HH", self.suite.id, group)
                                            + ch1_hash)
        self.transcript.restart_with_message_hash(self.suite.prf_hash)
        hrr = ServerHello(0x0303, HELLO_RETRY_REQUEST_RANDOM, ch.session_id, self.suite.id, 0,
                          [Extension(X.EXT_SUPPORTED_VERSIONS, _SV13),
                           Extension(X.EXT_KEY_SHARE, X.key_share_hello_retry(group)),
                           Extension(X.EXT_COOKIE, X.cookie(self._cookie))])
        self._send_handshake(2, hrr.encode())
        if ch.session_id and self._middlebox:
            self._send_ccs()            # middlebox compatibility (RFC 8446 appendix D.4)
            self._ccs_sent = True
        if X.EXT_EARLY_DATA in exts:    # RFC 8446 section 4.2.10: skip the refused 0-RTT
            self.early_data = "rejected"
            self._records.skip_early_data(self._skip_budget())
        return states.EXPECT_SECOND_CLIENT_HELLO

    def _check_cookie(self, data):
        if data is None:
            raise AlertError("missing_extension", "second ClientHello without our cookie")
        cookie = X.parse_cookie(data)
        if cookie != self._cookie or self._context.open_cookie(cookie) is None:
            raise AlertError("illegal_parameter", "cookie changed")

    def _check_second_hello(self, ch1, ch2):
        """RFC 8446 section 4.1.2: only key_share, cookie, early_data (removed),
        pre_shared_key and padding may change."""
        if (ch1.version, ch1.random, ch1.session_id, ch1.cipher_suites,
                ch1.compression_methods) != (ch2.version, ch2.random, ch2.session_id,
                                             ch2.cipher_suites, ch2.compression_methods):
            raise AlertError("illegal_parameter", "second ClientHello changed its fields")

        def kept(ch):
            return [e for e in ch.extensions or () if e[0] not in _MAY_CHANGE_IN_CH2]
        if kept(ch1) != kept(ch2):
            raise AlertError("illegal_parameter", "second ClientHello changed its extensions")

    def _skip_budget(self):
        return max(getattr(self.config, "early_data_max", 0) or 0, _SKIP_EARLY_DEFAULT)

    # ------------------------------------------------------------ PSK (RFC 8446 4.2.9-4.2.11)

    def _choose_psk(self, exts, raw):
        """``(index, TicketState13)`` of the PSK to resume, or None. A ticket we cannot use
        (unknown, expired, other hash) just means a full handshake; a bad binder on the one
        we pick is decrypt_error."""
        self._psk_modes = ()
        data = exts.get(X.EXT_PRE_SHARED_KEY)
        modes = exts.get(X.EXT_PSK_KEY_EXCHANGE_MODES)
        if modes is not None:
            self._psk_modes = X.parse_psk_key_exchange_modes(modes)
        if data is None:
            return None
        if modes is None:
            raise AlertError("missing_extension", "pre_shared_key without psk_key_exchange_modes")
        identities, binders = X.parse_pre_shared_key_client(data)
        binders_len = len(X.binders_block(binders))
        if len(identities) != len(binders):
            raise AlertError("illegal_parameter", "PSK identities and binders differ in number")
        allowed = getattr(self.config, "psk_modes", (_PSK_DHE_KE, _PSK_KE))
        self._psk_modes = [m for m in self._psk_modes if m in allowed]
        if not self._psk_modes:
            return None
        found = self._context.find_psk(identities, self.suite, self.sni)
        if found is None:
            return None
        index, state, external, self._psk_age_ok = found
        self._check_binder(state, binders[index], raw[:len(raw) - binders_len],
                           resumption=not external)
        return index, state

    def _check_binder(self, state, binder, truncated, resumption=True):
        transcript = self._transcript_before.copy()
        transcript.update(truncated)
        schedule = KeySchedule13(self.suite.prf_hash, state.psk)
        good = schedule.binder(transcript.hash(self.suite.prf_hash), resumption)
        if not hmac.compare_digest(good, bytes(binder)):
            raise AlertError("decrypt_error", "PSK binder does not verify")

    def _accept_early_data(self, exts, psk):
        """RFC 8446 section 4.2.10: only on the first identity, once per ticket, with the
        same suite and ALPN, within our limit and a plausible ticket age."""
        limit = getattr(self.config, "early_data_max", 0) or 0
        index, state = psk
        if not (index == 0 and limit > 0 and state.max_early_data > 0 and self._psk_age_ok
                and state.suite_id == self.suite.id and state.alpn == self.alpn
                and not self.hello_retry):
            return False
        return self._context.used_tickets.first_use(state.ticket_id)

    # ------------------------------------------------------------ ServerHello .. Finished

    def _send_first_flight(self, ch, exts, psk, share):
        cfg = self.config
        self.session_id = ch.session_id
        self.server_random = os.urandom(32)
        shared = None
        sh_exts = [Extension(X.EXT_SUPPORTED_VERSIONS, _SV13)]
        if share:
            group, client_key = share
            ours, shared = respond_key_share(group, client_key)
            self.group = NAMED_GROUPS.get(group, str(group))
            sh_exts.append(Extension(X.EXT_KEY_SHARE, X.key_share_server(group, ours)))
        state = None
        if psk is not None:
            index, state = psk
            sh_exts.append(Extension(X.EXT_PRE_SHARED_KEY, X.pre_shared_key_server(index)))
            self.resumed = True
            self.peer_certificates = list(state.peer_certificates)
        hash_name = self.suite.prf_hash
        self.schedule = KeySchedule13(hash_name, state.psk if state else None)
        wants_early = X.EXT_EARLY_DATA in exts
        accepted = wants_early and psk is not None and self._accept_early_data(exts, psk)
        if wants_early:
            self.early_data = "accepted" if accepted else "rejected"
        if accepted:
            self.schedule.early(self.transcript.hash(hash_name))
            self._early_limit = min(cfg.early_data_max, state.max_early_data)
        sh = self.server_hello = ServerHello(0x0303, self.server_random, ch.session_id,
                                             self.suite.id, 0, sh_exts)
        self._send_handshake(2, sh.encode())
        self.schedule.handshake(shared, self.transcript.hash(hash_name))
        if ch.session_id and self._middlebox and not self._ccs_sent:
            self._send_ccs()
        self._set_write_secret13(self.schedule.server_handshake)
        self._send_encrypted_extensions(exts, accepted)
        ask_cert = psk is None and cfg.client_auth != "none"
        if psk is None:
            if ask_cert:
                self._send_certificate_request13()
            self._send_certificate13()
        self._send_handshake(20, self.schedule.finished(self.schedule.server_handshake,
                                                        self.transcript.hash(hash_name)))
        self.schedule.application(self.transcript.hash(hash_name))
        self._set_write_secret13(self.schedule.server_application)
        self._expect_client_cert = ask_cert
        if accepted:
            self._set_read_secret13(self.schedule.client_early)
            return states.EXPECT_END_OF_EARLY_DATA
        self._set_read_secret13(self.schedule.client_handshake)
        if wants_early:
            self._records.skip_early_data(self._skip_budget())
        return states.EXPECT_CERTIFICATE if ask_cert else states.EXPECT_FINISHED

    def _send_encrypted_extensions(self, exts, accepted):
        out = []
        if self.alpn is not None:
            out.append(Extension(X.EXT_ALPN, X.alpn([self.alpn.encode()])))
        if self.sni is not None and not self.resumed:
            out.append(Extension(X.EXT_SERVER_NAME, b""))      # RFC 6066 section 3
        if accepted:
            out.append(Extension(X.EXT_EARLY_DATA, b""))
        if self._record_limit_reply is not None:
            out.append(Extension(X.EXT_RECORD_SIZE_LIMIT,
                                 X.record_size_limit(self._record_limit_reply)))
        self._send_handshake(8, EncryptedExtensions(out).encode())

    def _request_schemes13(self):
        """What a client may sign with: the configured schemes TLS 1.3 allows, or by
        default all of them (EdDSA and RSASSA-PSS keys included)."""
        schemes = tuple(self.config.sig_schemes)
        if schemes in (DEFAULT_SIG_SCHEMES, SERVER_SIG_SCHEMES):
            return list(signatures.DEFAULT_SCHEMES13)
        return [s for s in schemes if s in signatures.SCHEMES13]

    def _certificate_request13(self, context=b""):
        """RFC 8446 section 4.3.2: the context (empty in the handshake), signature_algorithms
        and the CA names."""
        exts = [Extension(X.EXT_SIGNATURE_ALGORITHMS,
                          X.signature_algorithms(self._request_schemes13()))]
        names = self._context.ca_names
        if names:
            exts.append(Extension(X.EXT_CERTIFICATE_AUTHORITIES,
                                  X.certificate_authorities(names)))
        return CertificateRequest13(context, exts).encode()

    def _send_certificate_request13(self):
        self._send_handshake(13, self._certificate_request13())

    def _send_certificate13(self):
        ident = self._identity
        self._send_handshake(11, Certificate13(b"", [(d, b"") for d in ident.chain_der]).encode())
        scheme = _scheme13(ident, self._client_schemes)
        content = signatures.cv13_content(self.transcript.hash(self.suite.prf_hash), "server")
        sig = signatures.sign13(ident.private_key, content, scheme, ident.chain[0])
        self._send_handshake(15, CertificateVerify(scheme, sig).encode())

    # ------------------------------------------------------------ the client's flight

    def _handle_ccs(self, fragment):
        """Middlebox compatibility allows the client one CCS (RFC 8446 appendix D.4); a
        second is unexpected_message, as OpenSSL and tlsfuzzer have it (and so is a CCS
        record that is not one byte long, in any version)."""
        if len(fragment) != 1:
            raise AlertError("unexpected_message", "ChangeCipherSpec of %d bytes" % len(fragment))
        if self.tls13 and fragment == b"\x01" and self.state != states.CONNECTED:
            if self._peer_ccs:
                raise AlertError("unexpected_message", "second ChangeCipherSpec")
            self._peer_ccs = True
        return super()._handle_ccs(fragment)

    def _handle_alert(self, fragment):
        if self.tls13 and not fragment:
            # RFC 8446 section 5.1: an alert is never empty (nor fragmented).
            raise AlertError("unexpected_message", "empty alert record")
        return super()._handle_alert(fragment)

    def _on_application_data(self, data):
        """0-RTT data counts against the limit we announced (RFC 8446 section 4.2.10)."""
        if self.tls13 and self.state == states.EXPECT_END_OF_EARLY_DATA:
            self._early_received += len(data)
            if self._early_received > self._early_limit:
                raise AlertError("unexpected_message", "more early data than max_early_data")

    def _on13_end_of_early_data(self, body, raw):
        if body:
            raise DecodeError("end_of_early_data with a body")
        self._set_read_secret13(self.schedule.client_handshake)
        return states.EXPECT_CERTIFICATE if self._expect_client_cert else states.EXPECT_FINISHED

    def _on13_certificate(self, body, raw):
        if self.state == states.CONNECTED:
            return self._pha_certificate(body, raw)
        self._records.stop_skipping()
        msg = Certificate13.parse(body)
        if msg.context:
            raise AlertError("illegal_parameter", "certificate_request_context not ours")
        chain = msg.certificates
        if not chain:
            if self.config.client_auth == "required":
                raise AlertError("certificate_required", "client sent no certificate")
            return states.EXPECT_FINISHED
        cert, key = _parse_certificate(chain[0])
        if self.config.cafile:
            from ..crypto.certs import verify_chain
            verify_chain([cert] + [_parse_certificate(d)[0] for d in chain[1:]],
                         self.config.ca_roots, purpose="client")
        self.peer_certificates = list(chain)
        self._client_key = key
        self._client_cert = cert
        self.client_auth = True
        return states.EXPECT_CERTIFICATE_VERIFY

    def _on13_certificate_verify(self, body, raw):
        if self.state == states.CONNECTED:
            return self._pha_certificate_verify(body, raw)
        cv = CertificateVerify.parse(body, 0x0304)
        content = signatures.cv13_content(self.transcript.hash(self.suite.prf_hash), "client")
        # Given the certificate, verify13 also refuses rsa_pss_pss_* for an rsaEncryption
        # key and rsa_pss_rsae_* for an RSASSA-PSS one (illegal_parameter).
        signatures.verify13(self._client_cert, content, cv.signature, cv.scheme,
                            offered=self._request_schemes13())
        self.transcript.update(raw)
        return None

    def _on13_finished(self, body, raw):
        if self.state == states.CONNECTED:
            return self._pha_finished(body, raw)
        self._records.stop_skipping()
        hash_name = self.suite.prf_hash
        expected = self.schedule.finished(self.schedule.client_handshake,
                                          self.transcript.hash(hash_name))
        if len(body) != len(expected):
            raise DecodeError("finished of %d bytes" % len(body))
        if not hmac.compare_digest(expected, bytes(body)):
            raise AlertError("decrypt_error", "bad Finished verify_data from the client")
        self.transcript.update(raw)
        self._handshake_transcript = self.transcript.copy()     # for post-handshake auth
        self._set_read_secret13(self.schedule.client_application)
        self.schedule.resumption(self.transcript.hash(hash_name))
        self.master_secret = self.schedule.master_secret
        self.session = Session(version=0x0304, suite=self.suite, session_id=self.session_id,
                               master_secret=self.schedule.resumption_master, alpn=self.alpn,
                               sni=self.sni, peer_certificates=list(self.peer_certificates),
                               created=time.time())
        self._send_tickets13()
        self._complete()
        return None

    # ------------------------------------------------------------ tickets (RFC 8446 4.6.1)

    def _send_tickets13(self):
        keys = self._context.ticket_keys
        count = getattr(self.config, "tickets13", 2)
        if keys is None or not count or not self.config.tickets:
            return
        lifetime = int(min(keys.lifetime, _MAX_TICKET_LIFETIME))
        early_max = getattr(self.config, "early_data_max", 0) or 0
        for i in range(count):
            nonce = struct.pack("!Q", i)
            age_add = int.from_bytes(os.urandom(4), "big")
            state = TicketState13(self.suite.id, self.schedule.ticket_psk(nonce), age_add,
                                  max_early_data=early_max, alpn=self.alpn, sni=self.sni,
                                  peer_certificates=list(self.peer_certificates))
            exts = []
            if early_max:
                exts.append(Extension(X.EXT_EARLY_DATA, X.early_data_ticket(early_max)))
            nst = NewSessionTicket13(lifetime, age_add, nonce, keys.seal(state.to_bytes()), exts)
            self._send_handshake(4, nst.encode())
        self._flush()
