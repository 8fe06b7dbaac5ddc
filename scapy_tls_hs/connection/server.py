"""The server role: RFC 5246 section 7.3 seen from the server, with the session cache
(section 7.4.1.2), session tickets (RFC 5077), extended master secret (RFC 7627),
encrypt-then-MAC (RFC 7366), secure renegotiation signalling (RFC 5746), ALPN (RFC 7301) and
client authentication (section 7.4.4, 7.4.6, 7.4.8).

Which message may come next is in ``states.SERVER``; this module only says what to do with each.
A ClientHello whose supported_versions selects TLS 1.3 (RFC 8446 section 4.2.1) is handed to
``server13.Server13Mixin``; a TLS 1.3 server that negotiates TLS 1.2 or lower marks its random
(RFC 8446 section 4.1.3). Runtime state shared between connections (session cache, ticket keys,
used 0-RTT tickets) lives in ``server_context.ServerContext``.
"""
import hmac
import os
import time

from ..codec import extensions as X
from ..codec.messages import (Certificate, Certificate13, CertificateRequest, CertificateVerify,
                              ClientHello, ClientKeyExchange, Extension, NewSessionTicket,
                              ServerHello, ServerKeyExchange)
from ..codec.records import encode_records, handshake
from ..codec.sslv2 import is_sslv2_header, parse_sslv2_client_hello
from ..crypto.record import MAX_PLAINTEXT
from ..crypto import signatures
from ..crypto.keyexchange import (FFDHE_GROUPS, DHEKey, EphemeralKey, ffdhe_group_of,
                                  ffdhe_prime, rsa_decrypt_pre_master)
from ..crypto.prf import Transcript
from ..errors import AlertError, DecodeError, TLSError
from ..registry import NAMED_GROUPS
from . import states
from .base import BaseConnection, _parse_certificate
from .renegotiation import ServerRenegotiation
from .server13 import Server13Mixin
from .server_context import ServerContext
from .session import Session

__all__ = ["ServerConnection"]

_SCSV_FALLBACK = 0x5600
# RFC 5246 section 7.4.4 / RFC 8422 section 5.4: rsa_sign, dss_sign, ecdsa_sign.
_CLIENT_CERT_TYPES = (1, 2, 0x40)
# RFC 8446 section 4.1.3: the end of ServerHello.random of a TLS 1.3 server that negotiates
# TLS 1.2 (01) or below (00), and (a SHOULD) of a TLS 1.2 server that negotiates below.
_DOWNGRADE = b"DOWNGRD"


def _int_bytes(n):
    return n.to_bytes((n.bit_length() + 7) // 8 or 1, "big")


class ServerConnection(Server13Mixin, ServerRenegotiation, BaseConnection):
    """``context``: the runtime state shared with the server's other connections (session
    cache, ticket keys, used 0-RTT tickets, cookie key); None uses the one kept with
    ``config`` (``ServerContext.of_config``)."""

    role = "server"
    peer = "client"
    _table = states.SERVER
    _record_limit_reply = None          # our record_size_limit, when the client sent one

    def __init__(self, config, context=None):
        super().__init__(config)
        self._context = context if context is not None else ServerContext.of_config(config)
        self._hello = None
        self._identity = None
        self._kx_key = None
        self._client_key = None
        self._issue_ticket = False
        self._client_schemes = None
        self.state = states.EXPECT_CLIENT_HELLO

    def start(self):
        """Nothing to send first: the server waits for the ClientHello."""

    # ---------------------------------------------------------------- SSL 2.0-format hello

    # The stream may still open with an SSL 2.0-format ClientHello (until its first byte is
    # known); the body of one being read.
    _sslv2_open = True
    _sslv2_buf = None
    _sslv2_raw = None       # the body of the one received, for the transcript

    def receive_data(self, data):
        """RFC 5246 appendix E.2: a first byte with the high bit set starts an SSL 2.0-format
        ClientHello; it is handed on as the same hello in a TLS record, the rest of the
        stream as it came."""
        if self._sslv2_open and data:
            if self._sslv2_buf is not None or is_sslv2_header(data):
                return self._receive_sslv2(data)
            self._sslv2_open = False
        return super().receive_data(data)

    def _receive_sslv2(self, data):
        buf = self._sslv2_buf = (self._sslv2_buf or b"") + bytes(data)
        try:
            parsed = parse_sslv2_client_hello(buf)
        except DecodeError as exc:
            self._sslv2_open, self._sslv2_buf = False, None
            self._new_events = []
            self._fail(exc)
            exc.events = []
            raise exc from None
        if parsed is None:
            return []
        hello, self._sslv2_raw, used = parsed
        self._sslv2_open, self._sslv2_buf = False, None
        record = encode_records(22, 0x0301, handshake(1, hello.encode()))
        return super().receive_data(record + buf[used:])

    # ---------------------------------------------------------------- ClientHello

    def _on_client_hello(self, body, raw):
        if self.state == states.CONNECTED:
            if not self._start_renegotiation(raw):
                return states.CONNECTED
            self._client_key = self._kx_key = self._identity = None
            self._client_schemes = None
            self.sni = None
        ch = ClientHello.parse(body)
        if self.client_hello is None:
            self.client_hello = ch
        if self._sslv2_raw is not None:
            # RFC 5246 appendix E.2: the handshake hash covers the SSL 2.0 body as sent.
            self.transcript = Transcript()
            self.transcript.update(self._sslv2_raw)
            self._sslv2_raw = None
        self._hello = ch
        self.client_random = ch.random
        version = self._choose_version(ch)
        self._check_renegotiated_version(version)
        if version == 0x0304:
            return self._start13(ch, raw)
        self.version = self.record_version = version
        if 0 not in ch.compression_methods:
            raise AlertError("illegal_parameter", "no null compression offered")
        exts = self._read_client_extensions(ch)
        session, group = self._negotiate(ch, exts)
        if session is None and version >= 0x0303 and X.EXT_SIGNATURE_ALGORITHMS not in exts \
                and X.EXT_SIGNATURE_ALGORITHMS_CERT in exts:
            # A full handshake with a client that lists the certificate signatures it takes
            # but no handshake ones (the implied SHA-1 default is for clients that list
            # neither): handshake_failure, as OpenSSL answers. A resumption signs nothing.
            raise AlertError("handshake_failure",
                             "signature_algorithms_cert without signature_algorithms")
        self.server_random = os.urandom(32)
        top = max(self.config.versions)
        if top == 0x0304 and not self._can_serve13():
            top = 0x0303            # a TLS 1.2 server in effect: no TLS 1.3 downgrade to mark
        if version < top:
            self.server_random = (self.server_random[:24] + _DOWNGRADE
                                  + (b"\x01" if version == 0x0303 else b"\x00"))
        self._send_server_hello(self._server_extensions(exts))
        if session is not None:
            return self._send_resumed_flight(session)
        return self._send_full_flight(group)

    def _read_client_extensions(self, ch):
        """The ClientHello extensions by type; reads SNI, signature schemes, ALPN and checks
        renegotiation_info (RFC 5746 section 3.6)."""
        exts = {}
        for ext in ch.extensions or ():
            if ext.type in exts:
                raise AlertError("illegal_parameter", "extension %d twice" % ext.type)
            exts[ext.type] = ext.data
        if X.EXT_SERVER_NAME in exts:
            self.sni = X.parse_client_server_name(exts[X.EXT_SERVER_NAME])
        schemes = exts.get(X.EXT_SIGNATURE_ALGORITHMS)
        if schemes is not None and self.version >= 0x0303:
            self._client_schemes = X.parse_signature_algorithms(schemes)
        for flag in (X.EXT_EXTENDED_MASTER_SECRET, X.EXT_ENCRYPT_THEN_MAC):
            if exts.get(flag):
                X.parse_empty(exts[flag])       # RFC 7627 5.1, RFC 7366 2: empty bodies
        formats = exts.get(X.EXT_EC_POINT_FORMATS)
        if formats is not None and 0 not in X.parse_ec_point_formats(formats):
            groups = exts.get(X.EXT_SUPPORTED_GROUPS)
            if groups is None or any(not 0x100 <= g < 0x200
                                     for g in X.parse_supported_groups(groups)):
                # RFC 8422 section 5.1.2: a client of elliptic curves that cannot take
                # uncompressed points.
                raise AlertError("illegal_parameter", "ec_point_formats without uncompressed")
        self._check_client_renegotiation_info(exts.get(X.EXT_RENEGOTIATION_INFO),
                                              ch.cipher_suites)
        self._select_alpn(exts.get(X.EXT_ALPN))
        return exts

    def _negotiate(self, ch, exts):
        """Resume a session when one fits, else pick suite and group: returns
        ``(session or None, group or None)``."""
        cfg = self.config
        client_ems = X.EXT_EXTENDED_MASTER_SECRET in exts and cfg.ems
        self._check_renegotiated_ems(X.EXT_EXTENDED_MASTER_SECRET in exts)
        ctx = self._context
        ticket = exts.get(X.EXT_SESSION_TICKET)
        wants_tickets = ticket is not None and ctx.ticket_keys is not None
        session, by_ticket = self._find_session(ch, self.version, ticket, client_ems)
        group = None
        if session is not None:
            self.resumed = True
            self.suite = session.suite
            self.extended_master_secret = session.extended_master_secret
            self._issue_ticket = by_ticket and wants_tickets     # a fresh ticket for the next time
            self.session_id = ch.session_id
            self.session = session
        else:
            groups = exts.get(X.EXT_SUPPORTED_GROUPS)
            groups = X.parse_supported_groups(groups) if groups is not None else None
            self.suite, group = self._choose_suite(ch, self.version, groups)
            self.extended_master_secret = client_ems
            self._issue_ticket = wants_tickets
            if ctx.session_cache is not None or self._issue_ticket:
                self.session_id = os.urandom(32)
        self.encrypt_then_mac = (X.EXT_ENCRYPT_THEN_MAC in exts and cfg.etm
                                 and not self.suite.aead)
        return session, group

    def _server_extensions(self, exts):
        """Answer only what the client offered (RFC 5246 section 7.4.1.4)."""
        out = []
        if self.secure_renegotiation:
            out.append((X.EXT_RENEGOTIATION_INFO, self._renegotiation_info_out()))
        if self.extended_master_secret:
            out.append((X.EXT_EXTENDED_MASTER_SECRET, b""))
        if self.encrypt_then_mac:
            out.append((X.EXT_ENCRYPT_THEN_MAC, b""))
        if self._issue_ticket:
            out.append((X.EXT_SESSION_TICKET, b""))
        if self.alpn is not None:
            out.append((X.EXT_ALPN, X.alpn([self.alpn.encode()])))
        if X.EXT_EC_POINT_FORMATS in exts and (self.suite.key_exchange == "ECDHE" or
                                               self.suite.authentication == "ECDSA"):
            out.append((X.EXT_EC_POINT_FORMATS, X.ec_point_formats([0])))
        if self._record_size_limit(exts) is not None:
            out.append((X.EXT_RECORD_SIZE_LIMIT, X.record_size_limit(self._record_limit_reply)))
        return out

    def _record_size_limit(self, exts, tls13=False):
        """RFC 8449: the client's record_size_limit binds our protected records; ours (the
        protocol's maximum, 2^14 or 2^14 + 1 with TLS 1.3's content type byte, unless
        configured lower) is the answer. Returns it, None when the client sent none."""
        data = exts.get(X.EXT_RECORD_SIZE_LIMIT)
        peer = X.parse_record_size_limit(data) if data is not None else None
        top = MAX_PLAINTEXT + 1 if tls13 else MAX_PLAINTEXT
        ours = None if peer is None else min(self.config.record_size_limit or top, top)
        self._records.limit_sending(peer)
        self._records.limit_receiving(ours if ours is not None and ours < top else None)
        self._record_limit_reply = ours
        return ours

    def _send_resumed_flight(self, session):
        """RFC 5246 figure 2 (RFC 5077 figure 2 with a new ticket)."""
        self.master_secret = session.master_secret
        self.peer_certificates = list(session.peer_certificates)
        if self._issue_ticket:
            self._send_ticket(session)
        self._derive_keys()
        self._send_ccs()
        self._send_finished()
        return states.EXPECT_CHANGE_CIPHER_SPEC

    def _send_full_flight(self, group):
        cfg = self.config
        identity = self._identity = cfg.identities[self.suite.authentication]
        self._send_handshake(11, identity.certificate_body)
        if self.suite.key_exchange in ("DHE", "ECDHE"):
            self._send_server_key_exchange(identity, group)
        if cfg.client_auth != "none":
            self._send_certificate_request()
        self._send_handshake(14, b"")
        if cfg.client_auth != "none":
            return states.EXPECT_CERTIFICATE
        return states.EXPECT_CLIENT_KEY_EXCHANGE

    def _choose_version(self, ch):
        """Highest version both support: from supported_versions when the client sends it
        and we run TLS 1.3 (RFC 8446 section 4.2.1), else from legacy_version (RFC 5246
        appendix E.1, capped at TLS 1.2)."""
        versions = self.config.versions
        cv = ch.version
        sv = ch.ext(X.EXT_SUPPORTED_VERSIONS) if 0x0304 in versions else None
        if sv is not None:
            common = [v for v in X.parse_supported_versions_client(sv[1]) if v in versions]
            if cv < 0x0301 or not common:
                raise AlertError("protocol_version", "no common version in supported_versions")
            if 0x0304 in common and len(common) > 1 and not self._can_serve13():
                common.remove(0x0304)
            version = max(common)
            if version == 0x0304:
                return version
        else:
            cv = min(cv, 0x0303)
            if cv < versions[0]:
                raise AlertError("protocol_version", "client offers at most 0x%04x" % cv)
            version = max(v for v in versions if v <= cv)
        if _SCSV_FALLBACK in ch.cipher_suites and version < versions[-1]:
            raise AlertError("inappropriate_fallback", "RFC 7507 fallback signalled")
        return version

    def _can_serve13(self):
        """TLS 1.3 needs a certificate that signs a CertificateVerify (a DSA one cannot) or
        an external PSK; OpenSSL then negotiates TLS 1.2 instead, so do we."""
        return any(kind != "DSA" for kind in self.config.identities) or \
            bool(self._context.external_psks)

    def _select_alpn(self, data):
        """RFC 7301 section 3.2: server preference; no overlap is fatal."""
        if data is None:
            return
        offered = X.parse_alpn(data)        # malformed is decode_error, configured or not
        if not self.config.alpn:
            return
        for proto in self.config.alpn:
            if proto in offered:
                self.alpn = proto.decode("ascii", "replace")
                return
        raise AlertError("no_application_protocol", "no common application protocol")

    def _find_session(self, ch, version, ticket, ems):
        """A session to resume, and whether it came from a ticket. Anything unusable (unknown
        id, undecryptable or expired ticket, other version, EMS or SNI, a suite we no longer
        run) means a full handshake; a client that drops the session's suite or EMS from its
        offer is refused (``_resumable``)."""
        ctx = self._context
        if ticket and ctx.ticket_keys is not None:
            state = ctx.ticket_keys.open(ticket)
            if state is not None:
                try:
                    session = Session.from_bytes(state, session_id=ch.session_id)
                except DecodeError:
                    session = None
                if session is not None and \
                        not session.expired(ctx.ticket_keys.lifetime) and \
                        self._resumable(session, ch, version, ems):
                    return session, True
        if ch.session_id and ctx.session_cache is not None:
            session = ctx.session_cache.get(ch.session_id)
            if session is not None and self._resumable(session, ch, version, ems):
                return session, False
        return None, False

    def _resumable(self, session, ch, version, ems):
        # RFC 7627 section 5.3: never resume across a change of EMS; a session made with EMS
        # offered again without it is an attack or a broken client: abort.
        if session.extended_master_secret and not ems and session.version == version:
            raise AlertError("handshake_failure", "resuming an EMS session without EMS")
        usable = (session.version == version and session.suite in self.config.suites
                  and session.extended_master_secret == ems
                  and (session.sni or None) == (self.sni or None))
        if usable and session.suite.id not in ch.cipher_suites:
            # RFC 5246 section 7.4.1.2: a resumption request MUST offer the session's suite
            # (OpenSSL: illegal_parameter).
            raise AlertError("illegal_parameter", "resumption without the session's suite")
        return usable

    def _choose_suite(self, ch, version, groups):
        """Server preference order among the client's suites (RFC 5246 section 7.4.1.3).
        A DHE suite needs one of the client's FFDHE groups when it names any (RFC 7919
        section 4); when that alone rules out every suite, the alert is insufficient_security."""
        offered = set(ch.cipher_suites)
        cfg = self.config
        no_ffdhe = False
        for suite in cfg.suites:
            if suite.id not in offered or not suite.usable_in(version):
                continue
            group = None
            if suite.key_exchange == "ECDHE":
                group = self._choose_group(groups)
                if group is None:
                    continue
            elif suite.key_exchange == "DHE":
                group = self._choose_ffdhe(groups)
                if group is False:
                    no_ffdhe = True
                    continue
            if version >= 0x0303 and suite.key_exchange != "RSA":
                identity = cfg.identities[suite.authentication]
                try:
                    signatures.choose_scheme(identity.private_key, self._client_schemes)
                except AlertError:
                    continue
            return suite, group
        if no_ffdhe:
            raise AlertError("insufficient_security", "none of the client's FFDHE groups")
        raise AlertError("handshake_failure", "no common cipher suite")

    def _choose_group(self, groups):
        if groups is None:
            return 23          # RFC 4492 section 4: no extension, any curve; P-256 is safe
        for g in self.config.groups:
            if g in groups and g < 256:      # ffdhe ids are no ECDHE curves
                return g
        return None

    def _choose_ffdhe(self, groups):
        """RFC 7919 section 4: the FFDHE group for a DHE suite; None when the client names
        no FFDHE group (any code point 256-511, known or not: the configured parameters
        then), False when it names some but none we accept."""
        if not groups or not any(256 <= g <= 511 for g in groups):
            return None
        return next((g for g in self.config.groups if g in groups and g in FFDHE_GROUPS),
                    False)

    def _send_server_hello(self, exts):
        sh = ServerHello(self.version, self.server_random, self.session_id, self.suite.id, 0,
                         [Extension(t, d) for t, d in exts] or None)
        if not self.renegotiating:
            self.server_hello = sh
        self._send_handshake(2, sh.encode())

    def _send_server_key_exchange(self, identity, group):
        """RFC 5246 section 7.4.3 (DHE), RFC 8422 section 5.4 (ECDHE)."""
        if self.suite.key_exchange == "ECDHE":
            key = EphemeralKey.generate(group)
            self.group = NAMED_GROUPS.get(group)
            params = ServerKeyExchange.encode_params(
                "ECDHE", {"curve_type": 3, "group": group, "point": key.public_bytes()})
        else:
            if group is None:
                p, g = self.config.dhe_params
                group = ffdhe_group_of(p) if g == 2 else None
            else:
                p, g = ffdhe_prime(group), 2
            key = DHEKey.generate(p, g)
            self.group = NAMED_GROUPS.get(group) if group else None
            params = ServerKeyExchange.encode_params(
                "DHE", {"p": _int_bytes(p), "g": _int_bytes(g), "ys": key.public_bytes()})
        self._kx_key = key
        version = self.version
        scheme = None
        if version >= 0x0303:
            scheme = signatures.choose_scheme(identity.private_key, self._client_schemes)
        scheme, sig = signatures.sign(
            identity.private_key,
            signatures.ske_signed_data(self.client_random, self.server_random, params),
            version, scheme)
        kind = "ECDHE" if self.suite.key_exchange == "ECDHE" else "DHE"
        ske = ServerKeyExchange(kind, {}, params, scheme if version >= 0x0303 else None, sig)
        self._send_handshake(12, ske.encode())

    def _send_certificate_request(self):
        schemes = list(self.config.sig_schemes) if self.version >= 0x0303 else None
        cr = CertificateRequest(list(_CLIENT_CERT_TYPES), schemes, self._context.ca_names)
        self._send_handshake(13, cr.encode())

    # ---------------------------------------------------------------- client flight

    def _on_certificate(self, body, raw):
        chain = Certificate.parse(body).certificates
        cfg = self.config
        if not chain:
            if cfg.client_auth == "required":
                # RFC 5246 section 7.4.6: the server may answer with a fatal handshake_failure.
                raise AlertError("handshake_failure", "client sent no certificate")
            return None
        cert, key = _parse_certificate(chain[0])
        if cfg.cafile:
            from ..crypto.certs import verify_chain
            verify_chain([cert] + [_parse_certificate(d)[0] for d in chain[1:]], cfg.ca_roots,
                         purpose="client")
        self.peer_certificates = chain
        self._client_key = key
        self.client_auth = True
        return None

    def _on_client_key_exchange(self, body, raw):
        kx = self.suite.key_exchange
        cke = ClientKeyExchange.parse(body, kx)
        if kx == "RSA":
            if not cke.prefixed:
                # TLS (unlike SSL 3.0) prefixes the encrypted pre-master with its length
                # (RFC 5246 section 7.4.7.1); one that does not fit is a framing error, told
                # apart from a bad decryption before any private key operation.
                raise DecodeError("RSA client_key_exchange length does not match its body")
            # RFC 5246 section 7.4.7.1: crypto substitutes a random secret on any failure.
            pre_master = rsa_decrypt_pre_master(self._identity.private_key, cke.data,
                                                self._hello.version)
        else:
            if not cke.data:
                raise DecodeError("empty key exchange value in client_key_exchange")
            pre_master = self._kx_key.exchange(cke.data)
        self._kx_key = None
        self._compute_master(pre_master)
        self._derive_keys()
        if self._client_key is not None:
            return states.EXPECT_CERTIFICATE_VERIFY
        return states.EXPECT_CHANGE_CIPHER_SPEC

    def _on_certificate_verify(self, body, raw):
        """RFC 5246 section 7.4.8: a signature over every handshake message so far."""
        cv = CertificateVerify.parse(body, self.version)
        if self.version >= 0x0303 and cv.scheme not in self.config.sig_schemes:
            raise AlertError("illegal_parameter", "signature scheme 0x%04x not requested"
                             % (cv.scheme or 0))
        if self.version >= 0x0303 and signatures.SCHEMES.get(cv.scheme, ("",))[0] != \
                signatures.key_kind(self._client_key):
            # A scheme of another key type is a wrong parameter, not a bad signature (as
            # OpenSSL and GnuTLS answer; tlsfuzzer test-eddsa-in-certificate-verify).
            raise AlertError("illegal_parameter", "signature scheme 0x%04x does not fit the "
                             "client's key" % cv.scheme)
        signatures.verify(self._client_key, self.transcript.data, cv.signature,
                          self.version, cv.scheme)
        self.transcript.update(raw)

    def _on_finished(self, body, raw):
        self._check_finished(body, raw)
        if not self.resumed:
            session = Session(
                version=self.version, suite=self.suite, session_id=self.session_id,
                master_secret=self.master_secret,
                extended_master_secret=self.extended_master_secret,
                encrypt_then_mac=self.encrypt_then_mac, alpn=self.alpn, sni=self.sni,
                peer_certificates=list(self.peer_certificates), created=time.time())
            self.session = session
            if self._issue_ticket:
                self._send_ticket(session)
            self._send_ccs()
            self._send_finished()
            cache = self._context.session_cache
            if cache is not None and session.session_id:
                cache.put(session)
        self._complete()

    def _send_ticket(self, session):
        """RFC 5077 section 3.3: sent after the client's Finished (full handshake) or right
        after ServerHello (resumption), always before our ChangeCipherSpec."""
        keys = self._context.ticket_keys
        ticket = keys.seal(session.to_bytes())
        hint = max(0, min(int(keys.lifetime), 0xFFFFFFFF))
        self._send_handshake(4, NewSessionTicket(hint, ticket).encode())

    # ---------------------------------------------------------------- TLS 1.3 post-handshake auth

    def request_client_certificate(self, required=False):
        """RFC 8446 section 4.6.2: ask a TLS 1.3 client that offered post_handshake_auth for
        its certificate now. The answer comes through ``receive_data``; once its Finished
        verifies, ``client_auth`` and ``peer_certificates`` say who the client is
        (``required``: an empty answer is certificate_required)."""
        if not self.tls13 or self.state != states.CONNECTED or self._close_sent:
            raise TLSError("post-handshake authentication needs an established TLS 1.3 "
                           "connection")
        if X.EXT_POST_HANDSHAKE_AUTH not in self._offered13:
            raise TLSError("the client did not offer post_handshake_auth")
        if self._pha is not None:
            raise TLSError("a post-handshake authentication is already running")
        context = os.urandom(8)
        raw = self._send_handshake(13, self._certificate_request13(context), hashed=False)
        self._flush()
        transcript = self._handshake_transcript.copy()
        transcript.update(raw)
        # [context, transcript, next message, required, chain, key]
        self._pha = [context, transcript, "certificate", required, [], None]

    def _pha_expect(self, name):
        if self._pha is None or self._pha[2] != name:
            raise AlertError("unexpected_message", "%s after the handshake, not asked for" % name)
        return self._pha

    def _pha_certificate(self, body, raw):
        pha = self._pha_expect("certificate")
        msg = Certificate13.parse(body)
        if msg.context != pha[0]:
            raise AlertError("illegal_parameter", "certificate_request_context not ours")
        pha[1].update(raw)
        chain = msg.certificates
        if not chain:
            if pha[3]:
                raise AlertError("certificate_required", "client sent no certificate")
            pha[2] = "finished"
            return None
        cert, key = _parse_certificate(chain[0])
        if self.config.cafile:
            from ..crypto.certs import verify_chain
            verify_chain([cert] + [_parse_certificate(d)[0] for d in chain[1:]],
                         self.config.ca_roots, purpose="client")
        pha[2], pha[4], pha[5] = "certificate_verify", list(chain), (cert, key)
        return None

    def _pha_certificate_verify(self, body, raw):
        pha = self._pha_expect("certificate_verify")
        cv = CertificateVerify.parse(body, 0x0304)
        cert, _ = pha[5]
        content = signatures.cv13_content(pha[1].hash(self.suite.prf_hash), "client")
        signatures.verify13(cert, content, cv.signature, cv.scheme,
                            offered=self._request_schemes13())
        pha[1].update(raw)
        pha[2] = "finished"
        return None

    def _pha_finished(self, body, raw):
        """Keyed by the current client_application_traffic_secret (RFC 8446 4.4.4)."""
        pha = self._pha_expect("finished")
        expected = self.schedule.finished(self._read_secret, pha[1].hash(self.suite.prf_hash))
        if len(body) != len(expected):
            raise DecodeError("finished of %d bytes" % len(body))
        if not hmac.compare_digest(expected, bytes(body)):
            raise AlertError("decrypt_error", "bad post-handshake Finished from the client")
        if pha[4]:
            self.peer_certificates = pha[4]
            self.client_auth = True
        self._pha = None
        return None
