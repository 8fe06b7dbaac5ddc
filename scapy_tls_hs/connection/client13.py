"""The TLS 1.3 client (RFC 8446): what the ClientHello offers for TLS 1.3 and every step after
a ServerHello that selects it.

Which message may come next is in ``states.CLIENT13``; this module only says what to do with
each. ``ClientConnection`` mixes it in; the TLS 1.2 ServerHello handler hands over here when
supported_versions selects TLS 1.3 (``_enter_tls13``).
"""
import time

from ..codec import extensions as X
from ..codec.messages import CertificateVerify, ClientHello, Extension, ServerHello
from ..codec.messages13 import (Certificate13, CertificateRequest13, EncryptedExtensions,
                                NewSessionTicket13)
from ..crypto import signatures
from ..crypto.key_schedule import KeySchedule13
from ..crypto.keyexchange import generate_key_share, key_share_supported
from ..crypto.prf import Transcript
from ..crypto.record import NullProtection
from ..crypto.suites import CipherSuite
from ..errors import AlertError, DecodeError
from ..registry import NAMED_GROUPS
from . import states
from .events import HRR_RANDOM
from .session import Session

DOWNGRADE_TLS12 = b"DOWNGRD\x01"
DOWNGRADE_TLS11 = b"DOWNGRD\x00"
# RFC 8446 section 4.2: where each extension may appear, seen from the client.
_SERVER_HELLO_EXTS = frozenset((X.EXT_SUPPORTED_VERSIONS, X.EXT_KEY_SHARE, X.EXT_PRE_SHARED_KEY))
_HRR_EXTS = frozenset((X.EXT_SUPPORTED_VERSIONS, X.EXT_KEY_SHARE, X.EXT_COOKIE))
_EE_FORBIDDEN = frozenset((X.EXT_SUPPORTED_VERSIONS, X.EXT_KEY_SHARE, X.EXT_PRE_SHARED_KEY,
                           X.EXT_PSK_KEY_EXCHANGE_MODES, X.EXT_COOKIE,
                           X.EXT_SIGNATURE_ALGORITHMS, X.EXT_SIGNATURE_ALGORITHMS_CERT,
                           X.EXT_CERTIFICATE_AUTHORITIES, X.EXT_POST_HANDSHAKE_AUTH,
                           X.EXT_EC_POINT_FORMATS, X.EXT_EXTENDED_MASTER_SECRET,
                           X.EXT_ENCRYPT_THEN_MAC, X.EXT_SESSION_TICKET,
                           X.EXT_RENEGOTIATION_INFO, X.EXT_PADDING))
_MAX_TICKET_LIFETIME = 7 * 24 * 3600
_KEY_SHARE_PLACE = X.EXT_KEY_SHARE


def _ticket_age(session):
    """RFC 8446 section 4.2.11.1: milliseconds since the ticket arrived, plus age_add."""
    age = int((time.time() - session.created) * 1000)
    return (age + session.age_add) & 0xFFFFFFFF


class Client13:
    """TLS 1.3 parts of ``ClientConnection`` (a mixin: it uses the base connection's state)."""

    _handshake_keys_on = False

    # ---------------------------------------------------------------- ClientHello

    def _tls13_offer(self, cfg, exts, session):
        """Add the TLS 1.3 extensions to ``exts``: supported_versions, key_share,
        psk_key_exchange_modes, post_handshake_auth, and, for a TLS 1.3 session,
        early_data and pre_shared_key (last). Returns the session offered or None."""
        versions = sorted((v for v in cfg.versions if v >= 0x0301), reverse=True)
        exts.append(Extension(X.EXT_SUPPORTED_VERSIONS, X.supported_versions_client(versions)))
        self._shares = {}
        if cfg.key_shares:
            self._shares = dict(cfg.key_shares)
        else:
            group = cfg.groups[0]
            self._shares[group] = generate_key_share(group)
        exts.append(Extension(X.EXT_KEY_SHARE, X.key_share_client(
            [(g, k.public_bytes()) for g, k in self._shares.items()])))
        exts.append(Extension(X.EXT_PSK_KEY_EXCHANGE_MODES,
                              X.psk_key_exchange_modes(cfg.psk_modes)))
        if cfg.identity is not None and cfg.post_handshake_auth:
            exts.append(Extension(X.EXT_POST_HANDSHAKE_AUTH, b""))
        if session is None or session.version != 0x0304 or not session.ticket or \
                session.psk is None or session.suite not in self.config.suites13:
            return None
        if cfg.early_data is not None and session.max_early_data > 0:
            exts.append(Extension(X.EXT_EARLY_DATA, b""))
            self._early_sent = True
        hash_size = len(session.psk)
        exts.append(Extension(X.EXT_PRE_SHARED_KEY, X.pre_shared_key_client(
            [(session.ticket, _ticket_age(session))], [bytes(hash_size)])))
        return session

    def _fill_key_shares(self, body):
        """A given ClientHello's key_share entries with an empty key_exchange get a fresh
        key of their group (a hello crafted in the shell cannot hold private keys); entries
        with a value are sent as they are, their private halves taken from
        ``config.key_shares``."""
        self._shares = dict(self.config.key_shares or {})
        try:
            hello = ClientHello.parse(body)
        except DecodeError:
            return body
        exts = hello.extensions or []
        for i, ext in enumerate(exts):
            if ext.type != X.EXT_KEY_SHARE:
                continue
            try:
                shares = X.parse_key_share_client(ext.data, allow_empty=True)
            except DecodeError:
                return body
            if all(key for _, key in shares):
                return body
            filled = []
            for group, key in shares:
                if not key and key_share_supported(group):
                    self._shares[group] = generate_key_share(group)
                    key = self._shares[group].public_bytes()
                filled.append((group, key))
            exts[i] = Extension(X.EXT_KEY_SHARE, X.key_share_client(filled))
            return hello.encode()
        return body

    def _add_binder(self, hello, session, transcript):
        """Fill in the PSK binder (RFC 8446 section 4.2.11.2): a Finished over the
        ClientHello up to the binders list, after whatever ``transcript`` already holds."""
        body = hello.encode()
        binders_len = 2 + 1 + len(session.psk)
        head = b"\x01" + len(body).to_bytes(3, "big") + body[:-binders_len]
        t = transcript.copy()
        t.update(head)
        self._psk_schedule = KeySchedule13(session.suite.prf_hash, session.psk)
        binder = self._psk_schedule.binder(t.hash(session.suite.prf_hash))
        psk_ext = hello.extensions[-1]
        hello.extensions[-1] = Extension(X.EXT_PRE_SHARED_KEY,
                                         psk_ext.data[:-binders_len] + X.binders_block([binder]))
        return hello

    def _after_hello13(self, raw):
        """After the first ClientHello left: 0-RTT under the early traffic secret."""
        self._ch_raw = raw
        if not self._early_sent:
            return
        session = self._offered_psk
        ks = self._psk_schedule
        ks.early(self.transcript.hash(session.suite.prf_hash))
        self._early_schedule = ks
        self.suite = session.suite
        if self.config.middlebox_compat:
            self._send_compat_ccs()
            self._ccs_sent = True
        self._records.set_write13(session.suite, ks.client_early)
        self._records.version = 0x0303
        self._send_app_records(self.config.early_data)
        self.early_data = "rejected"            # until EncryptedExtensions says otherwise

    # ---------------------------------------------------------------- ServerHello / HRR

    def _check_downgrade(self, sh):
        """RFC 8446 section 4.1.3: a TLS 1.3 client that gets TLS 1.2 or lower checks the
        sentinel in the server random; a TLS 1.2 client (SHOULD) the TLS 1.1 one."""
        tail = sh.random[-8:]
        if 0x0304 in self._offered_versions and self._offered_tls13:
            bad = tail == DOWNGRADE_TLS12 or tail == DOWNGRADE_TLS11
        else:
            bad = 0x0303 in self._offered_versions and sh.version < 0x0303 and \
                tail == DOWNGRADE_TLS11
        if bad:
            raise AlertError("illegal_parameter", "downgrade sentinel in the ServerHello random")

    def _on13_server_hello(self, body, raw, sh=None):
        sh = sh or ServerHello.parse(body)
        if sh.random != HRR_RANDOM:
            self.server_hello = sh
        if sh.version != 0x0303:
            raise AlertError("illegal_parameter", "TLS 1.3 legacy_version 0x%04x" % sh.version)
        if sh.session_id != self._hello.session_id:
            raise AlertError("illegal_parameter", "legacy_session_id not echoed")
        if sh.compression_method != 0:
            raise AlertError("illegal_parameter", "compression in a TLS 1.3 ServerHello")
        suite = CipherSuite.get(sh.cipher_suite)
        if suite is None or suite.key_exchange != "TLS13" or \
                sh.cipher_suite not in self._hello.cipher_suites:
            raise AlertError("illegal_parameter",
                             "server chose cipher suite 0x%04x, not offered" % sh.cipher_suite)
        exts = self._server_exts13(sh.extensions or [])
        if sh.random == HRR_RANDOM:
            return self._hello_retry(sh, suite, exts, raw)
        if self._hrr_suite is not None and suite is not self._hrr_suite:
            raise AlertError("illegal_parameter", "suite differs from the HelloRetryRequest's")
        self.version = 0x0304
        self.suite = suite
        self.transcript.narrow(suite.prf_hash)
        self.server_random = sh.random
        self.session_id = sh.session_id
        psk = None
        if X.EXT_PRE_SHARED_KEY in exts:
            selected = X.parse_pre_shared_key_server(exts[X.EXT_PRE_SHARED_KEY])
            session = self._offered_psk
            if session is None or selected != 0:
                raise AlertError("illegal_parameter", "server selected PSK %d, not offered"
                                 % selected)
            if session.suite.prf_hash != suite.prf_hash:
                raise AlertError("illegal_parameter", "PSK hash differs from the suite's")
            psk = session
        shared = None
        if X.EXT_KEY_SHARE in exts:
            group, key = X.parse_key_share_server(exts[X.EXT_KEY_SHARE])
            mine = self._shares.get(group)
            if mine is None:
                raise AlertError("illegal_parameter", "key share for group %d not offered" % group)
            shared = mine.exchange(key)
            self.group = NAMED_GROUPS.get(group, str(group))
        elif psk is None or 0 not in self.config.psk_modes:
            raise AlertError("missing_extension", "ServerHello without key_share")
        if psk is not None:
            self.resumed = True
            self._resumed_session = psk
            self.peer_certificates = list(psk.peer_certificates)
            ks = KeySchedule13(suite.prf_hash, psk.psk)
        else:
            ks = KeySchedule13(suite.prf_hash)
            if self.early_data is not None:
                self.early_data = "rejected"
        if self._early_schedule is not None:
            ks.client_early = self._early_schedule.client_early
            ks.early_exporter = self._early_schedule.early_exporter
        self.schedule = ks
        ks.handshake(shared, self.transcript.hash(suite.prf_hash))
        self._set_read_secret13(ks.server_handshake)
        return states.EXPECT_ENCRYPTED_EXTENSIONS

    def _before_alert(self):
        """RFC 8446 section 6: once the handshake keys exist, even an alert uses them."""
        ks = self.schedule
        if self.tls13 and ks is not None and ks.client_handshake is not None and \
                not self._handshake_keys_on and self._early_schedule is None:
            self._records.set_write13(self.suite, ks.client_handshake)
            self._handshake_keys_on = True

    def _switch_to_handshake_keys(self):
        if self.config.middlebox_compat and not self._ccs_sent:
            self._send_compat_ccs()
            self._ccs_sent = True
        self._set_write_secret13(self.schedule.client_handshake)
        self._handshake_keys_on = True

    def _server_exts13(self, exts):
        out = {}
        for ext in exts:
            if ext.type in out:
                raise AlertError("illegal_parameter", "extension %d twice" % ext.type)
            if ext.type not in self._offered_ext and ext.type != X.EXT_COOKIE:
                raise AlertError("unsupported_extension",
                                 "server sent extension %d the client did not offer" % ext.type)
            out[ext.type] = ext.data
        version = X.parse_supported_versions_server(out.get(X.EXT_SUPPORTED_VERSIONS, b""))
        if version != 0x0304:
            raise AlertError("illegal_parameter", "supported_versions 0x%04x" % version)
        return out

    def _hello_retry(self, sh, suite, exts, raw):
        """RFC 8446 section 4.1.4: one retry, with the group asked for and the cookie."""
        if self.hello_retry:
            raise AlertError("unexpected_message", "second HelloRetryRequest")
        extra = set(exts) - _HRR_EXTS
        if extra:
            raise AlertError("illegal_parameter" if extra & _SERVER_HELLO_EXTS
                             else "unsupported_extension",
                             "extension %d in a HelloRetryRequest" % min(extra))
        group = None
        if X.EXT_KEY_SHARE in exts:
            group = X.parse_key_share_hello_retry(exts[X.EXT_KEY_SHARE])
            if group not in self._offered_groups13 or group in self._shares:
                raise AlertError("illegal_parameter", "HelloRetryRequest for group %d" % group)
        cookie = X.parse_cookie(exts[X.EXT_COOKIE]) if X.EXT_COOKIE in exts else None
        if group is None and cookie is None:
            raise AlertError("illegal_parameter", "HelloRetryRequest that changes nothing")
        self.hello_retry = True
        self._hrr_suite = suite
        # Transcript: message_hash(ClientHello1) + HelloRetryRequest.
        t = Transcript()
        t.update(self._ch_raw)
        t.restart_with_message_hash(suite.prf_hash)
        t.update(raw)
        self.transcript = t
        # Early data is refused by a retry; the second ClientHello travels in clear.
        if self._early_sent:
            self.early_data = "rejected"
            self._records.set_write(NullProtection())
        hello = self._hello
        exts_out = []
        for ext in hello.extensions:
            if ext.type == X.EXT_KEY_SHARE and group is not None:
                self._shares = {group: generate_key_share(group)}
                ext = Extension(X.EXT_KEY_SHARE, X.key_share_client(
                    [(group, self._shares[group].public_bytes())]))
            elif ext.type == X.EXT_EARLY_DATA:
                continue
            elif ext.type == X.EXT_COOKIE:
                continue
            elif ext.type == X.EXT_PRE_SHARED_KEY:
                session = self._offered_psk
                if session is None or session.suite.prf_hash != suite.prf_hash:
                    self._offered_psk = None
                    continue
                ext = Extension(X.EXT_PRE_SHARED_KEY, X.pre_shared_key_client(
                    [(session.ticket, _ticket_age(session))], [bytes(len(session.psk))]))
                if cookie is not None:
                    exts_out.append(Extension(X.EXT_COOKIE, X.cookie(cookie)))
                    cookie = None
            exts_out.append(ext)
        if cookie is not None:
            exts_out.append(Extension(X.EXT_COOKIE, X.cookie(cookie)))
        hello2 = ClientHello(version=hello.version, random=hello.random,
                             session_id=hello.session_id, cipher_suites=hello.cipher_suites,
                             compression_methods=hello.compression_methods,
                             extensions=exts_out)
        if self._offered_psk is not None:
            hello2 = self._add_binder(hello2, self._offered_psk, self.transcript)
        self._early_sent = False
        self._early_schedule = None
        self._hello = hello2
        self._offered_ext = frozenset(e.type for e in exts_out) | {X.EXT_COOKIE}
        if self.config.middlebox_compat and not self._ccs_sent:
            self._send_compat_ccs()
            self._ccs_sent = True
        self._send_handshake(1, hello2.encode())
        self._flush()
        return states.EXPECT_SERVER_HELLO

    # ---------------------------------------------------------------- server's encrypted flight

    def _on13_encrypted_extensions(self, body, raw):
        ee = EncryptedExtensions.parse(body)
        seen = set()
        for ext in ee.extensions:
            t = ext.type
            if t in seen:
                raise AlertError("illegal_parameter", "extension %d twice" % t)
            seen.add(t)
            if t in _EE_FORBIDDEN:
                raise AlertError("illegal_parameter",
                                 "extension %d not allowed in EncryptedExtensions" % t)
            if t not in self._offered_ext:
                raise AlertError("unsupported_extension",
                                 "server sent extension %d the client did not offer" % t)
            if t == X.EXT_ALPN:
                protocols = X.parse_alpn(ext.data)
                if len(protocols) != 1 or protocols[0] not in (self._offered_alpn or ()):
                    raise AlertError("illegal_parameter", "server ALPN not one of ours")
                self.alpn = protocols[0].decode("ascii", "replace")
            elif t == X.EXT_EARLY_DATA:
                if ext.data:
                    raise DecodeError("early_data in EncryptedExtensions with a body")
                if not self.resumed or self._early_schedule is None:
                    raise AlertError("illegal_parameter", "early_data accepted but not sent")
                self.early_data = "accepted"
            elif t == X.EXT_SERVER_NAME and ext.data:
                raise DecodeError("server_name acknowledgement with a body")
            elif t == X.EXT_RECORD_SIZE_LIMIT:
                self._peer_record_size_limit(ext.data, tls13=True)
        if self.resumed:
            return states.EXPECT_FINISHED
        return states.EXPECT_CERTIFICATE_REQUEST_OR_CERTIFICATE

    def _on13_certificate_request(self, body, raw):
        if self.state == states.CONNECTED:
            return self._post_handshake_request(body, raw)
        cr = CertificateRequest13.parse(body)
        if cr.context:
            raise AlertError("illegal_parameter", "CertificateRequest context in the handshake")
        self._cert_request13 = self._read_cert_request(cr)

    def _read_cert_request(self, cr):
        schemes = None
        for ext in cr.extensions:
            if ext.type == X.EXT_SIGNATURE_ALGORITHMS:
                schemes = X.parse_signature_algorithms(ext.data)
        if schemes is None:
            raise AlertError("missing_extension", "CertificateRequest without signature_algorithms")
        return cr.context, schemes

    def _on13_certificate(self, body, raw):
        from .base import _parse_certificate
        cert13 = Certificate13.parse(body)
        if cert13.context:
            raise AlertError("illegal_parameter", "server Certificate with a request context")
        chain = cert13.certificates
        if not chain:
            raise DecodeError("server sent an empty Certificate")
        cert, key = _parse_certificate(chain[0])
        if signatures.key_kind(key) is None:
            raise AlertError("unsupported_certificate", "%s key" % type(key).__name__)
        self._accept_server_chain(chain, cert, key)

    def _on13_certificate_verify(self, body, raw):
        cv = CertificateVerify.parse(body, 0x0304)
        th = self.transcript.hash(self.suite.prf_hash)
        signatures.verify13(self._server_cert, signatures.cv13_content(th, "server"),
                            cv.signature, cv.scheme, self._offered_schemes13)
        self.transcript.update(raw)

    def _on13_finished(self, body, raw):
        ks = self.schedule
        h = self.suite.prf_hash
        if len(body) != ks.size:
            raise DecodeError("Finished of %d bytes" % len(body))
        if not ks.check_finished(ks.server_handshake, self.transcript.hash(h), body):
            raise AlertError("decrypt_error", "bad Finished verify_data from the server")
        self.transcript.update(raw)
        ks.application(self.transcript.hash(h))
        if self.early_data == "accepted":
            self._send_handshake(5, b"")            # EndOfEarlyData, under the early keys
        if not self._handshake_keys_on:
            self._switch_to_handshake_keys()
        if self._cert_request13 is not None:
            self._send_client_auth13(*self._cert_request13)
        self._send_handshake(20, ks.finished(ks.client_handshake, self.transcript.hash(h)))
        self._set_write_secret13(ks.client_application)
        self._set_read_secret13(ks.server_application)
        ks.resumption(self.transcript.hash(h))
        self._complete()

    def _send_client_auth13(self, context, schemes, finished_key=None):
        """Certificate (empty when no key fits), CertificateVerify, for the handshake or a
        post-handshake request (RFC 8446 sections 4.4.2, 4.6.2)."""
        identity = self.config.identity
        if identity is not None and not signatures.can_sign13(identity.private_key, schemes,
                                                              identity.chain[0]):
            identity = None
        entries = [(der, b"") for der in identity.chain_der] if identity else []
        self._send_handshake(11, Certificate13(context, entries).encode())
        if identity is not None:
            self.client_auth = True
            scheme = signatures.choose_scheme13(identity.private_key, schemes,
                                                identity.chain[0])
            th = self.transcript.hash(self.suite.prf_hash)
            sig = signatures.sign13(identity.private_key, signatures.cv13_content(th, "client"),
                                    scheme, identity.chain[0])
            self._send_handshake(15, CertificateVerify(scheme, sig).encode())

    def _post_handshake_request(self, body, raw):
        """RFC 8446 section 4.6.2: answer on the application keys, with a Finished keyed by
        the client application traffic secret over handshake transcript + these messages."""
        cr = CertificateRequest13.parse(body)
        if not cr.context:
            raise AlertError("illegal_parameter",
                             "post-handshake CertificateRequest without context")
        if X.EXT_POST_HANDSHAKE_AUTH not in self._offered_ext:
            raise AlertError("unexpected_message", "post-handshake auth not offered")
        context, schemes = self._read_cert_request(cr)
        saved = self.transcript
        self.transcript = saved.copy()
        self.transcript.update(raw)
        self._send_client_auth13(context, schemes)
        ks = self.schedule
        self._send_handshake(20, ks.finished(self._write_secret,
                                             self.transcript.hash(self.suite.prf_hash)))
        self._flush()
        self.transcript = saved

    def _on13_new_session_ticket(self, body, raw):
        nst = NewSessionTicket13.parse(body)
        if nst.lifetime > _MAX_TICKET_LIFETIME:
            raise AlertError("illegal_parameter", "ticket lifetime over 7 days")
        max_early = 0
        for ext in nst.extensions:
            if ext.type == X.EXT_EARLY_DATA:
                max_early = X.parse_early_data_ticket(ext.data)
        if not nst.ticket:
            raise DecodeError("empty ticket")
        self._ticket = nst.ticket
        self._ticket_lifetime = nst.lifetime
        self.session = Session(
            version=0x0304, suite=self.suite, session_id=b"", master_secret=b"",
            ticket=nst.ticket, ticket_lifetime=nst.lifetime, alpn=self.alpn,
            sni=self.config.sni, peer_certificates=list(self.peer_certificates),
            psk=self.schedule.ticket_psk(nst.nonce), age_add=nst.age_add,
            max_early_data=max_early)
        self.tickets_received = getattr(self, "tickets_received", 0) + 1


def offered_groups13(hello):
    """The supported_groups of a ClientHello (for HelloRetryRequest checks)."""
    ext = X.find_ext(hello.extensions or [], X.EXT_SUPPORTED_GROUPS)
    try:
        return frozenset(X.parse_supported_groups(ext.data)) if ext else frozenset()
    except DecodeError:
        return frozenset()

