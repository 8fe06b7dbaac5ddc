"""The TLS PRF, master secrets, the key block, the handshake transcript, Finished.

The PRF is TLS glue (``cryptography`` declined to ship it): P_hash over ``cryptography``'s
HMAC. ``digest``, ``hmac_digest`` and ``hmac_of`` are the hashes and HMACs every other module
uses, so that all of them come from ``cryptography``. TLS 1.0/1.1 (RFC 2246
section 5, RFC 4346 section 5): P_MD5(S1) xor P_SHA-1(S2) on the two (overlapping when odd)
halves of the secret. TLS 1.2 (RFC 5246 section 5): P_<hash> with the suite's PRF hash
(SHA-256 unless the suite says SHA-384).
"""
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, hmac

from ..registry import VERSION_CODES

_HASHES = {"md5": hashes.MD5, "sha1": hashes.SHA1, "sha224": hashes.SHA224,
           "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}


def hash_algorithm(name, _instances={}):
    """A ``cryptography`` hash instance from a name such as ``"sha256"`` (any case, or an
    instance passed through). Instances are stateless, so one per name is shared: the key
    schedule asks for one on every derivation."""
    if type(name) is not str:
        # An instance passes through (first: from cryptography 50 on, instances are not
        # hashable, so they cannot be looked up as names).
        if isinstance(name, hashes.HashAlgorithm):
            return name
        raise ValueError("unknown hash %r" % (name,))
    algorithm = _instances.get(name)
    if algorithm is not None:
        return algorithm
    try:
        algorithm = _HASHES[name.lower().replace("-", "")]()
    except (KeyError, AttributeError):
        raise ValueError("unknown hash %r" % (name,)) from None
    _instances[name] = algorithm
    return algorithm


def normalize_version(version):
    """``0x0303``, ``"TLS 1.2"``, ``"1.2"`` or ``"TLSv1.2"`` -> ``0x0303``."""
    if isinstance(version, int):
        return version
    text = str(version).strip()
    if text in VERSION_CODES:
        return VERSION_CODES[text]
    short = text.upper().replace("TLSV", "").replace("TLS", "").strip()
    for code, wanted in ((0x0301, "1.0"), (0x0302, "1.1"), (0x0303, "1.2"), (0x0304, "1.3")):
        if short == wanted:
            return code
    raise ValueError("unknown TLS version %r" % (version,))


def _p_hash(algorithm, secret, seed, length):
    """RFC 5246 section 5: A(i) = HMAC(secret, A(i-1)); output HMAC(secret, A(i) + seed)."""
    mac = hmac_of(algorithm, secret)
    out = []
    produced = 0
    a = seed
    while produced < length:
        a = mac(a)
        block = mac(a + seed)
        out.append(block)
        produced += len(block)
    return b"".join(out)[:length]


def digest(name, data):
    """Hash of ``data`` with the hash named ``name``."""
    h = hashes.Hash(hash_algorithm(name))
    h.update(data)
    return h.finalize()


def hmac_digest(name, key, data):
    """HMAC-<name>(key, data) in one call."""
    h = hmac.HMAC(bytes(key), hash_algorithm(name))
    h.update(data)
    return h.finalize()


def hmac_of(name, key):
    """``mac(data)``: HMAC(key, data) for many ``data`` under one key; the keyed state is
    made once and copied (the PRF computes a dozen HMACs under one secret)."""
    base = hmac.HMAC(bytes(key), hash_algorithm(name))

    def mac(data):
        h = base.copy()
        h.update(data)
        return h.finalize()
    return mac


def _xor(a, b):
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


def prf(secret, label, seed, length, version="TLS 1.2", hash="sha256"):
    """The TLS PRF: ``length`` bytes from ``secret``, ``label`` (str or bytes) and ``seed``.

    ``version`` below TLS 1.2 selects the MD5 xor SHA-1 construction and ignores ``hash``.
    """
    if isinstance(label, str):
        label = label.encode("ascii")
    seed = label + bytes(seed)
    secret = bytes(secret)
    if normalize_version(version) < 0x0303:
        half = (len(secret) + 1) // 2
        s1, s2 = secret[:half], secret[len(secret) - half:]
        if length == 0:
            return b""
        return _xor(_p_hash(hashes.MD5(), s1, seed, length),
                    _p_hash(hashes.SHA1(), s2, seed, length))
    return _p_hash(hash_algorithm(hash), secret, seed, length)


def master_secret(pre_master, client_random, server_random, version, prf_hash="sha256"):
    """RFC 5246 section 8.1."""
    return prf(pre_master, b"master secret", client_random + server_random, 48, version,
               prf_hash)


def extended_master_secret(pre_master, session_hash, version, prf_hash="sha256"):
    """RFC 7627 section 4: ``session_hash`` is the transcript hash through the
    ClientKeyExchange (``Transcript.digest`` at that point)."""
    return prf(pre_master, b"extended master secret", session_hash, 48, version, prf_hash)


@dataclass(frozen=True)
class KeyBlock:
    client_mac_key: bytes
    server_mac_key: bytes
    client_key: bytes
    server_key: bytes
    client_iv: bytes
    server_iv: bytes


def key_block(master, client_random, server_random, suite, version):
    """RFC 5246 section 6.3: the key block split into MAC keys, write keys and IVs.

    The IVs are always derived (``suite.fixed_iv_len`` bytes each). TLS 1.1+ CBC ignores them
    (explicit per-record IV); since they come last in the block this changes nothing else.
    """
    version = normalize_version(version)
    m, k, i = suite.mac_len, suite.key_len, suite.fixed_iv_len
    block = prf(master, b"key expansion", server_random + client_random, 2 * (m + k + i),
                version, suite.prf_hash)
    parts = []
    pos = 0
    for size in (m, m, k, k, i, i):
        parts.append(block[pos:pos + size])
        pos += size
    return KeyBlock(*parts)


def verify_data(master, sender, handshake_hash, version, prf_hash="sha256"):
    """RFC 5246 section 7.4.9: the 12-byte Finished verify_data of ``sender``
    (``"client"`` or ``"server"``) over ``handshake_hash`` (``Transcript.digest``)."""
    if sender not in ("client", "server"):
        raise ValueError("sender must be 'client' or 'server'")
    label = b"client finished" if sender == "client" else b"server finished"
    return prf(master, label, handshake_hash, 12, version, prf_hash)


class Transcript:
    """Running hash of the handshake messages (4-byte header included), usable before the
    cipher suite is known: the raw bytes are kept (signatures over the whole transcript,
    CertificateVerify), and a hash runs from the first time it is asked for on: a
    connection pays for the one or two hashes its version and suite use, not for every
    hash it might have needed.

    ``digest(version, prf_hash)``: TLS 1.0/1.1 MD5||SHA-1 (36 bytes, RFC 2246 section 7.4.9);
    TLS 1.2 and 1.3 the suite hash. Taking a digest does not end the transcript.
    """

    def __init__(self, _from=None):
        if _from is None:
            self._hashes = {}
            self._parts = []
        else:
            self._hashes = {n: h.copy() for n, h in _from._hashes.items()}
            self._parts = list(_from._parts)

    def update(self, data):
        data = bytes(data)
        for h in self._hashes.values():
            h.update(data)
        self._parts.append(data)

    @property
    def data(self):
        """Every handshake byte so far (for CertificateVerify signatures)."""
        return b"".join(self._parts)

    def hash(self, name):
        """The transcript hash with one named hash (``"sha256"``, ``"sha512"``, ...); that
        hash runs from now on."""
        h = self._hashes.get(name)
        if h is None:
            name = name.lower().replace("-", "")
            h = self._hashes.get(name)
            if h is None:
                h = hashes.Hash(hash_algorithm(name))
                h.update(self.data)
                self._hashes[name] = h
        return h.copy().finalize()

    def narrow(self, name):
        """Run only the hash ``name`` from now on (the suite's, once it is chosen): another
        one asked for later starts again from the kept bytes."""
        name = name.lower().replace("-", "")
        if len(self._hashes) > 1 and name in self._hashes:
            self._hashes = {name: self._hashes[name]}

    def digest(self, version, prf_hash="sha256"):
        if normalize_version(version) < 0x0303:
            return self.hash("md5") + self.hash("sha1")
        return self.hash(prf_hash)

    def copy(self):
        return Transcript(self)


    def restart_with_message_hash(self, hash_name):
        """RFC 8446 section 4.4.1: after a HelloRetryRequest the first ClientHello is replaced
        by a synthetic ``message_hash`` message holding its hash."""
        digest = self.hash(hash_name)
        fresh = Transcript()
        fresh.update(b"\xfe\x00\x00" + bytes((len(digest),)) + digest)
        self._hashes, self._parts = fresh._hashes, fresh._parts
