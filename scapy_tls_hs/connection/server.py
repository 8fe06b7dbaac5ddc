"""The server role: RFC 5246 section 7.3 seen from the server, with the session cache
(section 7.4.1.2), session tickets (RFC 5077), extended master secret (RFC 7627),
encrypt-then-MAC (RFC 7366), secure renegotiation signalling (RFC 5746), ALPN (RFC 7301) and
client authentication (section 7.4.4, 7.4.6, 7.4.8).

Which message may come next is in ``states.SERVER``; this module only says what to do with each.
"""
import os
import struct
import time

from ..codec import extensions as X
from ..codec.messages import Certificate, CertificateVerify, ClientHello, ClientKeyExchange
from ..crypto import signatures
from ..crypto.keyexchange import DHEKey, EphemeralKey, rsa_decrypt_pre_master
from ..errors import AlertError, DecodeError
from . import states
from .base import BaseConnection, _parse_certificate
from .session import Session

__all__ = ["ServerConnection"]

_SCSV_RENEGOTIATION = 0x00FF
_SCSV_FALLBACK = 0x5600
# RFC 5246 section 7.4.4 / RFC 8422 section 5.4: rsa_sign, ecdsa_sign.
_CLIENT_CERT_TYPES = b"\x02\x01\x40"


def _vec8(b):
    return bytes((len(b),)) + b


def _vec16(b):
    return struct.pack("!H", len(b)) + b


def _int_bytes(n):
    return n.to_bytes((n.bit_length() + 7) // 8 or 1, "big")


class ServerConnection(BaseConnection):
    role = "server"
    peer = "client"
    _table = states.SERVER

    def __init__(self, config):
        super().__init__(config)
        self._hello = None
        self._identity = None
        self._kx_key = None
        self._client_key = None
        self._issue_ticket = False
        self._client_schemes = None
        self.state = states.EXPECT_CLIENT_HELLO

    def start(self):
        """Nothing to send first: the server waits for the ClientHello."""

    # ---------------------------------------------------------------- ClientHello

    def _on_client_hello(self, body, raw):
        if self.state == states.CONNECTED:
            self._refuse_renegotiation()
            return None
        ch = ClientHello.parse(body)
        self._hello = ch
        self.client_random = ch.random
        self.version = self.record_version = self._choose_version(ch)
        if 0 not in ch.compression_methods:
            raise AlertError("illegal_parameter", "no null compression offered")
        exts = self._read_client_extensions(ch)
        session, group = self._negotiate(ch, exts)
        self.server_random = os.urandom(32)
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
            self.sni = X.parse_server_name(exts[X.EXT_SERVER_NAME])
        schemes = exts.get(X.EXT_SIGNATURE_ALGORITHMS)
        if schemes is not None and self.version >= 0x0303:
            self._client_schemes = X.parse_signature_algorithms(schemes)
        reneg = exts.get(X.EXT_RENEGOTIATION_INFO)
        if reneg is not None and reneg != b"\x00":
            raise AlertError("handshake_failure", "non-empty renegotiation_info")
        self._select_alpn(exts.get(X.EXT_ALPN))
        return exts

    def _negotiate(self, ch, exts):
        """Resume a session when one fits, else pick suite and group: returns
        ``(session or None, group or None)``."""
        cfg = self.config
        client_ems = X.EXT_EXTENDED_MASTER_SECRET in exts and cfg.ems
        ticket = exts.get(X.EXT_SESSION_TICKET)
        wants_tickets = ticket is not None and cfg.ticket_keys is not None
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
            if cfg.session_cache is not None or self._issue_ticket:
                self.session_id = os.urandom(32)
        self.encrypt_then_mac = (X.EXT_ENCRYPT_THEN_MAC in exts and cfg.etm
                                 and not self.suite.aead)
        return session, group

    def _server_extensions(self, exts):
        """Answer only what the client offered (RFC 5246 section 7.4.1.4)."""
        out = []
        if X.EXT_RENEGOTIATION_INFO in exts or _SCSV_RENEGOTIATION in self._hello.cipher_suites:
            out.append((X.EXT_RENEGOTIATION_INFO, b"\x00"))
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
        return out

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
        """Highest version both support (RFC 5246 appendix E.1)."""
        versions = self.config.versions
        cv = ch.version
        if cv < versions[0]:
            raise AlertError("protocol_version", "client offers at most 0x%04x" % cv)
        version = max(v for v in versions if v <= cv)
        if _SCSV_FALLBACK in ch.cipher_suites and version < versions[-1]:
            raise AlertError("inappropriate_fallback", "RFC 7507 fallback signalled")
        return version

    def _select_alpn(self, data):
        """RFC 7301 section 3.2: server preference; no overlap is fatal."""
        if data is None or not self.config.alpn:
            return
        offered = X.parse_alpn(data)
        for proto in self.config.alpn:
            if proto in offered:
                self.alpn = proto.decode("ascii", "replace")
                return
        raise AlertError("no_application_protocol", "no common application protocol")

    def _find_session(self, ch, version, ticket, ems):
        """A session to resume, and whether it came from a ticket. Anything unusable (unknown
        id, undecryptable or expired ticket, other version, suite, EMS or SNI) means a full
        handshake, never an error."""
        cfg = self.config
        if ticket and cfg.ticket_keys is not None:
            state = cfg.ticket_keys.open(ticket)
            if state is not None:
                try:
                    session = Session.from_bytes(state, session_id=ch.session_id)
                except DecodeError:
                    session = None
                if session is not None and \
                        not session.expired(cfg.ticket_keys.lifetime) and \
                        self._resumable(session, ch, version, ems):
                    return session, True
        if ch.session_id and cfg.session_cache is not None:
            session = cfg.session_cache.get(ch.session_id)
            if session is not None and self._resumable(session, ch, version, ems):
                return session, False
        return None, False

    def _resumable(self, session, ch, version, ems):
        # RFC 7627 section 5.3: never resume across a change of EMS.
        return (session.version == version and session.suite.id in ch.cipher_suites
                and session.suite in self.config.suites
                and session.extended_master_secret == ems
                and (session.sni or None) == (self.sni or None))

    def _choose_suite(self, ch, version, groups):
        """Server preference order among the client's suites (RFC 5246 section 7.4.1.3)."""
        offered = set(ch.cipher_suites)
        cfg = self.config
        for suite in cfg.suites:
            if suite.id not in offered or not suite.usable_in(version):
                continue
            group = None
            if suite.key_exchange == "ECDHE":
                group = self._choose_group(groups)
                if group is None:
                    continue
            if version >= 0x0303 and suite.key_exchange != "RSA":
                identity = cfg.identities[suite.authentication]
                try:
                    signatures.choose_scheme(identity.private_key, self._client_schemes)
                except AlertError:
                    continue
            return suite, group
        raise AlertError("handshake_failure", "no common cipher suite")

    def _choose_group(self, groups):
        if groups is None:
            return 23          # RFC 4492 section 4: no extension, any curve; P-256 is safe
        for g in self.config.groups:
            if g in groups:
                return g
        return None

    def _send_server_hello(self, exts):
        ext_bytes = b"".join(struct.pack("!HH", t, len(d)) + d for t, d in exts)
        body = b"".join((struct.pack("!H", self.version), self.server_random,
                         _vec8(self.session_id), struct.pack("!HB", self.suite.id, 0),
                         _vec16(ext_bytes) if exts else b""))
        self._send_handshake(2, body)

    def _send_server_key_exchange(self, identity, group):
        """RFC 5246 section 7.4.3 (DHE), RFC 8422 section 5.4 (ECDHE)."""
        if self.suite.key_exchange == "ECDHE":
            key = EphemeralKey.generate(group)
            params = struct.pack("!BH", 3, group) + _vec8(key.public_bytes())
        else:
            p, g = self.config.dhe_params
            key = DHEKey.generate(p, g)
            params = _vec16(_int_bytes(p)) + _vec16(_int_bytes(g)) + _vec16(key.public_bytes())
        self._kx_key = key
        version = self.version
        scheme = None
        if version >= 0x0303:
            scheme = signatures.choose_scheme(identity.private_key, self._client_schemes)
        scheme, sig = signatures.sign(
            identity.private_key,
            signatures.ske_signed_data(self.client_random, self.server_random, params),
            version, scheme)
        body = params + (struct.pack("!H", scheme) if version >= 0x0303 else b"") + _vec16(sig)
        self._send_handshake(12, body)

    def _send_certificate_request(self):
        body = _CLIENT_CERT_TYPES
        if self.version >= 0x0303:
            body += _vec16(b"".join(struct.pack("!H", s) for s in self.config.sig_schemes))
        body += _vec16(b"".join(_vec16(n) for n in _ca_names(self.config)))
        self._send_handshake(13, body)

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
            # RFC 5246 section 7.4.7.1: crypto substitutes a random secret on any failure.
            pre_master = rsa_decrypt_pre_master(self._identity.private_key, cke.data,
                                                self._hello.version)
        else:
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
            if self.config.session_cache is not None and session.session_id:
                self.config.session_cache.put(session)
        self._complete()

    def _send_ticket(self, session):
        """RFC 5077 section 3.3: sent after the client's Finished (full handshake) or right
        after ServerHello (resumption), always before our ChangeCipherSpec."""
        keys = self.config.ticket_keys
        ticket = keys.seal(session.to_bytes())
        hint = max(0, min(int(keys.lifetime), 0xFFFFFFFF))
        self._send_handshake(4, struct.pack("!I", hint) + _vec16(ticket))


def _ca_names(config):
    """Distinguished names of the CAs in ``cafile`` for CertificateRequest (loaded once)."""
    names = config._ca_names
    if names is None:
        names = []
        if config.ca_roots:
            names = [c.subject.public_bytes() for c in config.ca_roots]
        config._ca_names = names
    return names
