"""The client role: RFC 5246 section 7.3 seen from the client, plus resumption (section
7.4.1.2 by id, RFC 5077 by ticket), RFC 7627 extended master secret, RFC 7366
encrypt-then-MAC, RFC 5746 renegotiation_info and RFC 7301 ALPN.

Which message may come next is in ``states.CLIENT``; this module only says what to do with each.
"""
import dataclasses
import os

from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa

from ..codec import extensions as X
from ..codec.messages import (HELLO_RETRY_REQUEST_RANDOM, Certificate, CertificateRequest,
                              CertificateVerify, ClientHello,
                              ClientKeyExchange, Extension, NewSessionTicket, ServerHello,
                              ServerKeyExchange)
from ..crypto import signatures
from ..crypto.keyexchange import DHEKey, EphemeralKey, ffdhe_group_of, rsa_encrypt_pre_master
from ..crypto.record import MAX_PLAINTEXT
from ..crypto.suites import CipherSuite
from ..errors import AlertError, DecodeError, TLSError
from ..registry import NAMED_GROUPS
from . import states
from .base import BaseConnection, _parse_certificate
from .renegotiation import SCSV, ClientRenegotiation
from .client13 import Client13, offered_groups13
from .config import ALL_VERSIONS
from .session import Session

__all__ = ["ClientConnection"]

_KEY_TYPES = {"RSA": rsa.RSAPublicKey, "ECDSA": ec.EllipticCurvePublicKey,
              "DSA": dsa.DSAPublicKey}
# ClientCertificateType (RFC 5246 section 7.4.4, RFC 8422 section 5.5): rsa_sign, dss_sign,
# ecdsa_sign.
_CERT_TYPES = {"RSA": 1, "DSA": 2, "ECDSA": 64}


class ClientConnection(Client13, ClientRenegotiation, BaseConnection):
    role = "client"
    peer = "server"
    _table = states.CLIENT

    def __init__(self, config):
        super().__init__(config)
        self._hello = None
        self._offered_session = None
        self._offered_ext = frozenset()
        self._offered_groups = None
        self._offered_schemes = None
        self._offered_alpn = None
        self._expect_ticket = False
        self._server_key = None
        self._ske = None
        self._cert_request = None
        self._ticket = None
        self._ticket_lifetime = 0
        self.sni = config.sni
        # TLS 1.3
        self._offered_tls13 = False
        self._offered_psk = None
        self._psk_schedule = self._early_schedule = None
        self._shares = {}
        self._early_sent = False
        self._ccs_sent = False
        self._hrr_suite = None
        self._cert_request13 = None
        self._offered_groups13 = frozenset()
        self._offered_schemes13 = None
        self._ch_raw = None

    # ---------------------------------------------------------------- ClientHello

    def start(self):
        if self.state != states.START:
            raise TLSError("connection already started")
        cfg = self.config
        if cfg.client_hello is not None:
            hello, body, session = None, _hello_body(cfg.client_hello), cfg.session
            body = self._fill_key_shares(body)
            if session is not None and session.version == 0x0304:
                body, session = self._psk_for_given_hello(body, session), None
        else:
            hello, session = self._build_hello()
            body = hello.encode()
        raw = self._send_handshake(1, body)
        self._flush()
        if hello is None or raw[4:] != body:
            # The user's (or a tampered) ClientHello: learn what it really offers.
            hello = _parse_offered(raw[4:])
            sv = X.find_ext(hello.extensions or [], X.EXT_SUPPORTED_VERSIONS)
            offered = [v for v in ALL_VERSIONS if v <= hello.version]
            if sv is not None:
                try:
                    offered = [v for v in X.parse_supported_versions_client(sv.data)
                               if v in ALL_VERSIONS]
                except DecodeError:
                    pass
            self._offered_versions = frozenset(offered)
            if session is not None and not (hello.session_id and
                                            hello.session_id == session.session_id):
                session = None
            if self._offered_psk is not None and \
                    X.find_ext(hello.extensions or [], X.EXT_PRE_SHARED_KEY) is None:
                self._offered_psk = None
            self._early_sent = self._early_sent and \
                X.find_ext(hello.extensions or [], X.EXT_EARLY_DATA) is not None
        else:
            self._offered_versions = frozenset(cfg.versions)
        self._hello = self.client_hello = hello
        self._offered_session = session
        self.client_random = hello.random
        self._learn_offered_extensions(hello.extensions or ())
        self._offered_tls13 = 0x0304 in self._offered_versions and any(
            0x1301 <= c <= 0x1305 for c in hello.cipher_suites)
        self._offered_groups13 = offered_groups13(hello)
        if self._offered_tls13 and not self._shares and cfg.key_shares:
            self._shares = dict(cfg.key_shares)
        self._after_hello13(raw)
        self._set_state(states.EXPECT_SERVER_HELLO)

    def _psk_for_given_hello(self, body, session):
        """A given ClientHello whose last extension is pre_shared_key offers ``session``:
        its identity and binder are made here (the binder depends on the whole hello)."""
        from ..crypto.prf import Transcript
        from .client13 import _ticket_age
        try:
            hello = ClientHello.parse(body)
        except DecodeError:
            return body
        exts = hello.extensions or []
        if not exts or exts[-1].type != X.EXT_PRE_SHARED_KEY or session.psk is None:
            return body
        exts[-1] = Extension(X.EXT_PRE_SHARED_KEY, X.pre_shared_key_client(
            [(session.ticket, _ticket_age(session))], [bytes(len(session.psk))]))
        self._offered_psk = session
        return self._add_binder(hello, session, Transcript()).encode()

    def _learn_offered_extensions(self, exts):
        self._offered_ext = frozenset(e.type for e in exts)
        for ext in exts:
            try:
                if ext.type == X.EXT_SUPPORTED_GROUPS:
                    self._offered_groups = frozenset(X.parse_supported_groups(ext.data))
                elif ext.type == X.EXT_SIGNATURE_ALGORITHMS:
                    self._offered_schemes = frozenset(X.parse_signature_algorithms(ext.data))
                    self._offered_schemes13 = self._offered_schemes
                elif ext.type == X.EXT_ALPN:
                    self._offered_alpn = X.parse_alpn(ext.data)
                elif ext.type == X.EXT_SERVER_NAME and self.sni is None:
                    self.sni = X.parse_server_name(ext.data)
            except DecodeError:
                pass          # a deliberately malformed offer: nothing to hold the server to

    def _build_hello(self, cfg=None):
        cfg = cfg or self.config
        version = max(cfg.versions)
        offer13 = version == 0x0304 and bool(cfg.suites13)
        suites = cfg.suites if min(cfg.versions) <= 0x0303 else []
        if not suites and not offer13:
            raise TLSError("no cipher suite usable with the configured versions")
        session = cfg.session
        session_id = b""
        ticket = None
        if session is not None and session.version == 0x0304:
            session = None if not offer13 else session
            session13, session = session, None
        else:
            session13 = None
        if session is not None:
            if session.version not in cfg.versions or session.suite not in suites:
                session = None
            else:
                ticket = session.ticket if cfg.tickets else None
                session_id = session.session_id
                if ticket and not session_id:
                    # RFC 5077 section 3.4: a session id lets us see the server accept the ticket.
                    session_id = os.urandom(32)
                    session = dataclasses.replace(session, session_id=session_id)
                if not session_id:
                    session = None
        ecc = offer13 or any(s.key_exchange == "ECDHE" or s.authentication == "ECDSA"
                             for s in suites)
        groups = list(cfg.groups)
        # RFC 7919 section 3: FFDHE groups name what the DHE suites may use.
        dhe = any(s.key_exchange == "DHE" for s in suites) and \
            any(256 <= g < 512 for g in groups)
        if not offer13:     # hybrid (ML-KEM) groups are TLS 1.3's; FFDHE ones only for DHE
            groups = [g for g in groups if g < 256 or (dhe and g < 512)] or groups
        exts = []
        if cfg.sni:
            exts.append(Extension(X.EXT_SERVER_NAME, X.server_name(cfg.sni)))
        if ecc:
            exts.append(Extension(X.EXT_EC_POINT_FORMATS, X.ec_point_formats([0])))
        if ecc or dhe:
            exts.append(Extension(X.EXT_SUPPORTED_GROUPS, X.supported_groups(groups)))
        if cfg.tickets and suites:
            exts.append(Extension(X.EXT_SESSION_TICKET, ticket or b""))
        if cfg.alpn:
            exts.append(Extension(X.EXT_ALPN, X.alpn(cfg.alpn)))
        if cfg.etm and any(not s.aead for s in suites):
            exts.append(Extension(X.EXT_ENCRYPT_THEN_MAC, b""))
        if cfg.ems and suites:
            exts.append(Extension(X.EXT_EXTENDED_MASTER_SECRET, b""))
        if version >= 0x0303:
            schemes = list(cfg.sig_schemes)
            if offer13:
                schemes += [s for s in signatures.DEFAULT_SCHEMES13 if s not in schemes]
            if any(s.authentication == "DSA" for s in suites):    # DHE_DSS named
                schemes += [s for s in signatures.DSA_SCHEMES if s not in schemes]
            exts.append(Extension(X.EXT_SIGNATURE_ALGORITHMS, X.signature_algorithms(schemes)))
        if cfg.record_size_limit is not None:
            exts.append(Extension(X.EXT_RECORD_SIZE_LIMIT,
                                  X.record_size_limit(cfg.record_size_limit)))
        if cfg.secure_renegotiation and suites:
            exts.append(Extension(X.EXT_RENEGOTIATION_INFO,
                                  X.renegotiation_info(self._bound_renegotiation_info(False))))
        if offer13 and not session_id and cfg.middlebox_compat:
            session_id = os.urandom(32)     # RFC 8446 appendix D.4
        cipher_suites = [s.id for s in cfg.suites13] if offer13 else []
        cipher_suites += [s.id for s in suites]
        self._offered_psk = self._tls13_offer(cfg, exts, session13) if offer13 else None
        hello = ClientHello(version=min(version, 0x0303), random=os.urandom(32),
                            session_id=session_id, cipher_suites=cipher_suites,
                            compression_methods=[0], extensions=exts)
        if self._offered_psk is not None:
            from ..crypto.prf import Transcript
            hello = self._add_binder(hello, self._offered_psk, Transcript())
        return hello, session

    # ---------------------------------------------------------------- server flight

    def _on_server_hello(self, body, raw):
        sh = ServerHello.parse(body)
        if sh.random != HELLO_RETRY_REQUEST_RANDOM and not self.renegotiating:
            self.server_hello = sh
        hello = self._hello
        sv = X.find_ext(sh.extensions or [], X.EXT_SUPPORTED_VERSIONS)
        if sv is not None and 0x0304 in self._offered_versions and self._offered_tls13:
            if X.parse_supported_versions_server(sv.data) != 0x0304:
                raise AlertError("illegal_parameter", "supported_versions selects 0x%04x"
                                 % X.parse_supported_versions_server(sv.data))
            self._enter_tls13()
            return self._on13_server_hello(body, raw, sh)
        if sv is not None:
            raise AlertError("unsupported_extension" if X.EXT_SUPPORTED_VERSIONS
                             not in self._offered_ext else "illegal_parameter",
                             "supported_versions in a TLS 1.2 ServerHello")
        if sh.random == HELLO_RETRY_REQUEST_RANDOM:
            raise AlertError("illegal_parameter", "HelloRetryRequest without TLS 1.3")
        self._check_downgrade(sh)
        version = sh.version
        if version not in self._offered_versions:
            raise AlertError("protocol_version", "server chose version 0x%04x" % version)
        if sh.cipher_suite not in hello.cipher_suites:
            raise AlertError("illegal_parameter",
                             "server chose cipher suite 0x%04x, not offered" % sh.cipher_suite)
        suite = CipherSuite.get(sh.cipher_suite)
        if suite is None or suite not in _runnable():
            raise AlertError("handshake_failure",
                             "cannot run cipher suite 0x%04x" % sh.cipher_suite)
        if not suite.usable_in(version):
            raise AlertError("illegal_parameter", "%s cannot be used with %s"
                             % (suite.name, _version_name(version)))
        if sh.compression_method not in hello.compression_methods:
            raise AlertError("illegal_parameter", "compression method not offered")
        if sh.compression_method != 0:
            raise AlertError("handshake_failure", "compression is not supported")
        self.version = self.record_version = version
        self.suite = suite
        self.server_random = sh.random
        self.session_id = sh.session_id
        self._process_server_extensions(sh.extensions or [], hello)

        session = self._offered_session
        if session is not None and sh.session_id == hello.session_id:
            return self._resume(session)
        if session is not None and session.ticket and X.EXT_SESSION_TICKET in self._offered_ext:
            return states.EXPECT_CERTIFICATE_OR_TICKET_RESUMPTION
        return states.EXPECT_CERTIFICATE

    def _process_server_extensions(self, exts, hello):
        seen = set()
        scsv = SCSV in hello.cipher_suites
        ems = etm = False
        for ext in exts:
            t = ext.type
            if t in seen:
                raise AlertError("illegal_parameter", "extension %d twice in ServerHello" % t)
            seen.add(t)
            if t not in self._offered_ext and not (t == X.EXT_RENEGOTIATION_INFO and scsv):
                raise AlertError("unsupported_extension",
                                 "server sent extension %d the client did not offer" % t)
            if t == X.EXT_EXTENDED_MASTER_SECRET:
                ems = X.parse_empty(ext.data, "extended_master_secret")    # RFC 7627 5.1
            elif t == X.EXT_ENCRYPT_THEN_MAC:
                etm = X.parse_empty(ext.data, "encrypt_then_mac")          # RFC 7366 2
            elif t == X.EXT_EC_POINT_FORMATS:
                # RFC 8422 section 5.1.2: uncompressed must be there for an ECC suite.
                ecc = self.suite.key_exchange == "ECDHE" or self.suite.authentication == "ECDSA"
                if 0 not in X.parse_ec_point_formats(ext.data) and ecc:
                    raise AlertError("illegal_parameter", "ec_point_formats without uncompressed")
            elif t == X.EXT_RENEGOTIATION_INFO:
                self._check_server_renegotiation_info(ext.data)
            elif t == X.EXT_ALPN:
                protocols = X.parse_alpn(ext.data)
                if len(protocols) != 1 or protocols[0] not in (self._offered_alpn or ()):
                    raise AlertError("illegal_parameter", "server ALPN not one of ours")
                self.alpn = protocols[0].decode("ascii", "replace")
            elif t == X.EXT_SESSION_TICKET:
                self._expect_ticket = True
        if X.EXT_RENEGOTIATION_INFO not in seen:
            self._check_server_renegotiation_info(None)
        self._peer_record_size_limit(
            next((e.data for e in exts if e.type == X.EXT_RECORD_SIZE_LIMIT), None))
        self._check_renegotiated_ems(ems)
        self.extended_master_secret = ems
        # RFC 7366 section 3: meaningless for AEAD suites, whatever the server says.
        self.encrypt_then_mac = etm and not self.suite.aead

    def _peer_record_size_limit(self, data, tls13=False):
        """RFC 8449: the server's record_size_limit (``data`` None: it sent none) binds our
        protected records, and ours, once answered, the server's. TLS 1.2: from the next
        ChangeCipherSpec on; TLS 1.3 (EncryptedExtensions): at once."""
        peer = X.parse_record_size_limit(data) if data is not None else None
        top = MAX_PLAINTEXT + 1 if tls13 else MAX_PLAINTEXT
        ours = self.config.record_size_limit if peer is not None else None
        self._records.limit_sending(peer, now=tls13)
        self._records.limit_receiving(ours if ours is not None and ours < top else None,
                                      now=tls13)

    def _resume(self, session):
        """Abbreviated handshake (RFC 5246 figure 2): keys from the session's master secret."""
        if session.version != self.version or session.suite.id != self.suite.id:
            raise AlertError("illegal_parameter", "resumed session with other version or suite")
        if session.extended_master_secret != self.extended_master_secret:
            # RFC 7627 section 5.3.
            raise AlertError("handshake_failure", "EMS differs from the resumed session")
        self.resumed = True
        self.master_secret = session.master_secret
        self.peer_certificates = list(session.peer_certificates)
        self._derive_keys()
        if self._expect_ticket:
            return states.EXPECT_NEW_SESSION_TICKET
        return states.EXPECT_CHANGE_CIPHER_SPEC

    def _on_certificate(self, body, raw):
        chain = Certificate.parse(body).certificates
        if not chain:
            raise AlertError("handshake_failure", "server sent no certificate")
        cert, key = _parse_certificate(chain[0])
        if not isinstance(key, _KEY_TYPES[self.suite.authentication]):
            raise AlertError("unsupported_certificate",
                             "%s key does not fit %s" % (type(key).__name__, self.suite.name))
        self._accept_server_chain(chain, cert, key)
        if self.suite.key_exchange in ("DHE", "ECDHE"):
            return states.EXPECT_SERVER_KEY_EXCHANGE
        return states.EXPECT_CERTIFICATE_REQUEST_OR_SERVER_HELLO_DONE

    def _accept_server_chain(self, chain, cert, key):
        """With ``cafile``, the chain must lead to it and name the host (any version)."""
        if self.config.cafile:
            from ..crypto.certs import verify_chain
            verify_chain([cert] + [_parse_certificate(d)[0] for d in chain[1:]],
                         self.config.ca_roots, purpose="server",
                         hostname=self.config.verify_hostname or self.config.sni)
        self.peer_certificates = chain
        self._server_key = key
        self._server_cert = cert

    def _on_server_key_exchange(self, body, raw):
        version = self.version
        ske = ServerKeyExchange.parse(body, self.suite.key_exchange, version)
        if version >= 0x0303 and self._offered_schemes is not None \
                and ske.scheme not in self._offered_schemes:
            raise AlertError("illegal_parameter", "signature scheme 0x%04x not offered"
                             % (ske.scheme or 0))
        signatures.verify(self._server_key,
                          signatures.ske_signed_data(self.client_random, self.server_random,
                                                     ske.params_raw),
                          ske.signature, version, ske.scheme)
        if ske.kind == "ECDHE":
            if ske.params.get("curve_type", 3) != 3:
                raise AlertError("illegal_parameter", "explicit curves are not supported")
            group = ske.params["group"]
            if self._offered_groups is not None and group not in self._offered_groups:
                raise AlertError("illegal_parameter", "group %d not offered" % group)
            self.group = NAMED_GROUPS.get(group, str(group))
        elif ske.kind == "DHE":
            if len(ske.params["p"].lstrip(b"\x00")) < 128:
                raise AlertError("insufficient_security", "DH group smaller than 1024 bits")
            named = ffdhe_group_of(int.from_bytes(ske.params["p"], "big"))
            self.group = NAMED_GROUPS.get(named) if named else None
        self._ske = ske

    def _on_certificate_request(self, body, raw):
        self._cert_request = CertificateRequest.parse(body, self.version)

    def _on_server_hello_done(self, body, raw):
        if body:
            raise DecodeError("ServerHelloDone with a body")
        version = self.version
        identity = scheme = None
        if self._cert_request is not None:
            identity = self.config.identity
            if identity is not None and \
                    _CERT_TYPES[identity.kind] not in self._cert_request.cert_types:
                identity = None         # a kind of key the server does not accept: no cert
            if identity is not None and version >= 0x0303:
                try:
                    scheme = signatures.choose_scheme(identity.private_key,
                                                      self._cert_request.sig_schemes)
                except AlertError:
                    identity = None     # cannot sign anything the server accepts: no cert
            self._send_handshake(11, identity.certificate_body if identity else b"\x00\x00\x00")
            self.client_auth = identity is not None
        pre_master, cke = self._key_exchange()
        self._send_handshake(16, cke)
        self._compute_master(pre_master)
        if identity is not None:
            scheme, sig = signatures.sign(identity.private_key, self.transcript.data,
                                          version, scheme)
            self._send_handshake(15, CertificateVerify(scheme, sig).encode())
        self._derive_keys()
        self._send_ccs()
        self._send_finished()
        self._flush()
        if self._expect_ticket:
            return states.EXPECT_NEW_SESSION_TICKET
        return states.EXPECT_CHANGE_CIPHER_SPEC

    def _key_exchange(self):
        """(pre-master secret, ClientKeyExchange body): RFC 5246 section 7.4.7, RFC 8422
        section 5.7."""
        kx = self.suite.key_exchange
        if kx == "RSA":
            pre_master, encrypted = rsa_encrypt_pre_master(self._server_key, self._hello.version)
            return pre_master, ClientKeyExchange("RSA", encrypted).encode()
        params = self._ske.params
        if kx == "DHE":
            key = DHEKey.generate(int.from_bytes(params["p"], "big"),
                                  int.from_bytes(params["g"], "big"))
            return key.exchange(params["ys"]), ClientKeyExchange("DHE", key.public_bytes()).encode()
        key = EphemeralKey.generate(params["group"])
        return key.exchange(params["point"]), ClientKeyExchange("ECDHE",
                                                                key.public_bytes()).encode()

    # ---------------------------------------------------------------- end of handshake

    def _resume_from_ticket(self):
        # The server accepted our ticket without echoing the session id (RFC 5077 3.4).
        self.session_id = self._hello.session_id
        self._resume(self._offered_session)

    def _on_new_session_ticket(self, body, raw):
        if self.state == states.EXPECT_CERTIFICATE_OR_TICKET_RESUMPTION:
            if not self._expect_ticket:
                raise AlertError("unexpected_message", "NewSessionTicket not announced")
            self._resume_from_ticket()
        elif not self._expect_ticket:
            raise AlertError("unexpected_message", "NewSessionTicket not announced")
        nst = NewSessionTicket.parse(body)
        if nst.ticket:
            self._ticket, self._ticket_lifetime = nst.ticket, nst.lifetime_hint
        self._expect_ticket = False

    def _on_change_cipher_spec(self):
        if self.state == states.EXPECT_CERTIFICATE_OR_TICKET_RESUMPTION:
            if self._expect_ticket:
                raise AlertError("unexpected_message", "ChangeCipherSpec before NewSessionTicket")
            self._resume_from_ticket()
        elif self._expect_ticket:
            raise AlertError("unexpected_message", "ChangeCipherSpec before NewSessionTicket")

    def _on_finished(self, body, raw):
        self._check_finished(body, raw)
        if self.resumed:
            self._send_ccs()
            self._send_finished()
            self._flush()
        self._make_session()
        self._complete()

    def _make_session(self):
        offered = self._offered_session
        if self.resumed:
            session = dataclasses.replace(offered)
            if self._ticket:
                session.ticket, session.ticket_lifetime = self._ticket, self._ticket_lifetime
            session.encrypt_then_mac = self.encrypt_then_mac
            self.session = session
            return
        self.session = Session(
            version=self.version, suite=self.suite, session_id=self.session_id,
            master_secret=self.master_secret, ticket=self._ticket,
            ticket_lifetime=self._ticket_lifetime,
            extended_master_secret=self.extended_master_secret,
            encrypt_then_mac=self.encrypt_then_mac, alpn=self.alpn, sni=self.config.sni,
            peer_certificates=list(self.peer_certificates))

    @property
    def ticket(self):
        """True when the server issued a session ticket on this connection."""
        return self._ticket is not None

    def _handle_handshake(self, msg_type, body, raw, encrypted):
        # RFC 5246 section 7.4.1.1: a HelloRequest while negotiating is ignored.
        if msg_type == 0 and self.state not in (states.CONNECTED, states.START) and not body:
            from .events import HandshakeMessage
            self._log_event(HandshakeMessage(self.peer, 0, body, raw, encrypted))
            return
        super()._handle_handshake(msg_type, body, raw, encrypted)


def _runnable(_cache=[]):
    if not _cache:
        _cache.append(frozenset(CipherSuite.all()))
    return _cache[0]


def _version_name(v):
    from ..registry import version_name
    return version_name(v)


def _parse_offered(body):
    """The ClientHello we sent, parsed; a stub when it does not parse (it was sent anyway,
    and the server's answer will then fail the checks against it)."""
    try:
        return ClientHello.parse(body)
    except DecodeError:
        version = int.from_bytes(body[:2], "big") if len(body) >= 2 else 0x0303
        random = bytes(body[2:34]).ljust(32, b"\x00")
        return ClientHello(version=version, random=random, cipher_suites=[],
                           compression_methods=[0], extensions=None)


def _hello_body(hello):
    """The ClientHello body from a codec ClientHello, a Scapy packet, or bytes (records,
    handshake message or body)."""
    if isinstance(hello, ClientHello):
        return hello.encode()
    data = bytes(hello)
    if data[:1] == b"\x16" and len(data) >= 9:
        from ..codec.records import HandshakeReassembler, RecordReader
        asm = HandshakeReassembler()
        for rec in RecordReader().feed(data):
            for msg_type, body, _ in asm.feed(rec.fragment):
                if msg_type == 1:
                    return body
        raise TLSError("no ClientHello in the given records")
    if data[:1] == b"\x01" and len(data) >= 4 and \
            int.from_bytes(data[1:4], "big") == len(data) - 4:
        return data[4:]
    return data
