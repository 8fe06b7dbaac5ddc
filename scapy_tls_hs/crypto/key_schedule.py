"""Key schedules as objects: TLS 1.3 (RFC 8446 section 7.1) and TLS 1.0-1.2 (RFC 5246
section 8.1, RFC 7627).

One object per handshake. Endpoints feed it the (EC)DHE shared secret and transcript hashes;
the observer feeds it the secrets a key log gives (``from_secrets``). Every secret derived is
kept as an attribute, so a key log writer and the record layer read the same values.

TLS 1.3 chain, as in the RFC's figure::

    PSK -> Early Secret -> binder_key, client_early_traffic_secret, early_exporter
    (EC)DHE -> Handshake Secret -> client/server_handshake_traffic_secret
    0 -> Master Secret -> client/server_application_traffic_secret_0,
                          exporter_master_secret, resumption_master_secret
"""
import hmac as _hmac


from .prf import digest as hash_digest
from .prf import (extended_master_secret, hash_algorithm, hmac_digest, key_block,
                  master_secret, verify_data)
from .tls13 import derive_secret, hkdf_expand_label, hkdf_extract

__all__ = ["KeySchedule13", "KeySchedule12"]


def _empty_hash(name, _cache={}):
    digest = _cache.get(name)
    if digest is None:
        digest = _cache[name] = hash_digest(name, b"")
    return digest


class KeySchedule13:
    """RFC 8446 section 7.1 for one handshake. ``psk`` None means no PSK (zeros)."""

    def __init__(self, hash="sha256", psk=None):
        self.hash = hash
        self.size = hash_algorithm(hash).digest_size
        self.psk = psk
        self.early_secret = hkdf_extract(b"", psk or bytes(self.size), hash)
        self.client_early = self.early_exporter = None
        self.handshake_secret = self.client_handshake = self.server_handshake = None
        self.master_secret = self.client_application = self.server_application = None
        self.exporter_master = self.resumption_master = None

    # ------------------------------------------------------------ early secret

    def binder_key(self, resumption=True):
        label = b"res binder" if resumption else b"ext binder"
        return derive_secret(self.early_secret, label, _empty_hash(self.hash), self.hash)

    def binder(self, transcript_hash, resumption=True):
        """RFC 8446 section 4.2.11.2: a Finished computed with the binder key over the
        truncated ClientHello's transcript hash."""
        return self.finished(self.binder_key(resumption), transcript_hash)

    def early(self, transcript_hash):
        """``client_early_traffic_secret`` from the hash of the ClientHello."""
        self.client_early = derive_secret(self.early_secret, b"c e traffic", transcript_hash,
                                          self.hash)
        self.early_exporter = derive_secret(self.early_secret, b"e exp master", transcript_hash,
                                            self.hash)
        return self.client_early

    # ------------------------------------------------------------ handshake and master

    def handshake(self, shared_secret, transcript_hash):
        """From the (EC)DHE shared secret (None for psk_ke) and the hash through ServerHello."""
        derived = derive_secret(self.early_secret, b"derived", _empty_hash(self.hash), self.hash)
        self.handshake_secret = hkdf_extract(derived, shared_secret or bytes(self.size),
                                             self.hash)
        self.client_handshake = derive_secret(self.handshake_secret, b"c hs traffic",
                                              transcript_hash, self.hash)
        self.server_handshake = derive_secret(self.handshake_secret, b"s hs traffic",
                                              transcript_hash, self.hash)

    def application(self, transcript_hash):
        """From the hash through the server Finished."""
        derived = derive_secret(self.handshake_secret, b"derived", _empty_hash(self.hash),
                                self.hash)
        self.master_secret = hkdf_extract(derived, bytes(self.size), self.hash)
        self.client_application = derive_secret(self.master_secret, b"c ap traffic",
                                                transcript_hash, self.hash)
        self.server_application = derive_secret(self.master_secret, b"s ap traffic",
                                                transcript_hash, self.hash)
        self.exporter_master = derive_secret(self.master_secret, b"exp master",
                                             transcript_hash, self.hash)

    def resumption(self, transcript_hash):
        """From the hash through the client Finished."""
        self.resumption_master = derive_secret(self.master_secret, b"res master",
                                               transcript_hash, self.hash)
        return self.resumption_master

    def ticket_psk(self, nonce):
        """RFC 8446 section 4.6.1: the PSK a NewSessionTicket with ``nonce`` stands for."""
        return hkdf_expand_label(self.resumption_master, b"resumption", nonce, self.size,
                                 self.hash)

    # ------------------------------------------------------------ Finished and exporter

    def finished(self, base_key, transcript_hash):
        """RFC 8446 section 4.4.4 verify_data."""
        key = hkdf_expand_label(base_key, b"finished", b"", self.size, self.hash)
        return hmac_digest(self.hash, key, bytes(transcript_hash))

    def check_finished(self, base_key, transcript_hash, verify):
        return _hmac.compare_digest(self.finished(base_key, transcript_hash), bytes(verify))

    def exporter(self, label, context, length, early=False):
        """RFC 8446 section 7.5 TLS-Exporter."""
        secret = self.early_exporter if early else self.exporter_master
        if secret is None:
            raise ValueError("exporter secret not derived yet")
        if isinstance(label, str):
            label = label.encode()
        inner = derive_secret(secret, label, _empty_hash(self.hash), self.hash)
        return hkdf_expand_label(inner, b"exporter", hash_digest(self.hash, bytes(context)),
                                 length, self.hash)

    # ------------------------------------------------------------ key log

    _KEYLOG = (("CLIENT_EARLY_TRAFFIC_SECRET", "client_early"),
               ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", "client_handshake"),
               ("SERVER_HANDSHAKE_TRAFFIC_SECRET", "server_handshake"),
               ("CLIENT_TRAFFIC_SECRET_0", "client_application"),
               ("SERVER_TRAFFIC_SECRET_0", "server_application"),
               ("EXPORTER_SECRET", "exporter_master"),
               ("EARLY_EXPORTER_SECRET", "early_exporter"))

    def keylog_lines(self, client_random):
        """NSS key log lines for every secret derived so far."""
        cr = bytes(client_random).hex()
        return ["%s %s %s" % (label, cr, getattr(self, attr).hex())
                for label, attr in self._KEYLOG if getattr(self, attr) is not None]

    @classmethod
    def from_secrets(cls, hash, **secrets):
        """A schedule holding secrets taken from a key log (the observer's side)."""
        ks = cls.__new__(cls)
        ks.hash = hash
        ks.size = hash_algorithm(hash).digest_size
        ks.psk = ks.early_secret = ks.handshake_secret = ks.master_secret = None
        for _, attr in cls._KEYLOG:
            setattr(ks, attr, secrets.get(attr))
        ks.resumption_master = secrets.get("resumption_master")
        return ks


class KeySchedule12:
    """RFC 5246 section 8.1 / RFC 7627: the master secret, key block and Finished."""

    def __init__(self, suite, version, client_random, server_random):
        self.suite = suite
        self.version = version
        self.client_random = client_random
        self.server_random = server_random
        self.master_secret = None

    def master(self, pre_master, session_hash=None):
        """``session_hash`` set: extended master secret (RFC 7627 section 4)."""
        if session_hash is not None:
            self.master_secret = extended_master_secret(pre_master, session_hash, self.version,
                                                        self.suite.prf_hash)
        else:
            self.master_secret = master_secret(pre_master, self.client_random,
                                               self.server_random, self.version,
                                               self.suite.prf_hash)
        return self.master_secret

    def key_block(self):
        return key_block(self.master_secret, self.client_random, self.server_random,
                         self.suite, self.version)

    def finished(self, sender, handshake_hash):
        return verify_data(self.master_secret, sender, handshake_hash, self.version,
                           self.suite.prf_hash)

    def keylog_lines(self):
        if self.master_secret is None:
            return []
        return ["CLIENT_RANDOM %s %s" % (bytes(self.client_random).hex(),
                                         self.master_secret.hex())]
