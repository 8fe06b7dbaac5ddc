"""SSL 3.0 (RFC 6101) secrets and record protection, for reading old captures.

SSL 3.0 differs from TLS in every derivation: the master secret and the key block come from
MD5 and SHA-1 concatenations (RFC 6101 section 6.1 and 6.2.2), the record MAC is the
pre-HMAC construction with 0x36 / 0x5C pads (section 5.2.3.1), the Finished message is MD5
|| SHA-1 over the handshake, the sender and the master secret (section 5.6.9), and the
CBC padding bytes are arbitrary. Only reading is provided (the roles do not speak SSL 3.0);
CBC suites with SHA-1 MAC.
"""
import hmac as _hmac

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ..errors import AlertError
from .prf import digest
from .record import TripleDES      # cryptography's decrepit home of 3DES, where it has one

__all__ = ["master_secret", "key_block", "finished", "SSL3Protection"]

_PAD = {"md5": 48, "sha1": 40}
_SENDER = {"client": b"CLNT", "server": b"SRVR"}


def _ladder(secret, seed, length):
    """MD5(secret + SHA1('A' + secret + seed)) + MD5(secret + SHA1('BB' + ...)) + ..."""
    out = b""
    i = 0
    while len(out) < length:
        label = bytes([0x41 + i]) * (i + 1)
        out += digest("md5", secret + digest("sha1", label + secret + seed))
        i += 1
    return out[:length]


def master_secret(pre_master, client_random, server_random):
    return _ladder(bytes(pre_master), bytes(client_random) + bytes(server_random), 48)


class KeyBlock:
    """The key block cut as RFC 6101 section 6.2.2 says: MAC secrets, keys, IVs."""

    def __init__(self, master, client_random, server_random, suite):
        mac, key, iv = suite.mac_len, suite.key_len, suite.block_size
        block = _ladder(bytes(master), bytes(server_random) + bytes(client_random),
                        2 * (mac + key + iv))
        parts = []
        pos = 0
        for n in (mac, mac, key, key, iv, iv):
            parts.append(block[pos:pos + n])
            pos += n
        (self.client_mac_key, self.server_mac_key, self.client_key, self.server_key,
         self.client_iv, self.server_iv) = parts


def key_block(master, client_random, server_random, suite):
    return KeyBlock(master, client_random, server_random, suite)


def finished(master, handshake, sender):
    """The 36-byte verify data of ``sender`` ("client"/"server") over ``handshake``."""
    tail = _SENDER[sender] + bytes(master)
    out = b""
    for name in ("md5", "sha1"):
        n = _PAD[name]
        inner = digest(name, bytes(handshake) + tail + b"\x36" * n)
        out += digest(name, bytes(master) + b"\x5c" * n + inner)
    return out


def _mac(name, secret, seq, content_type, data):
    n = _PAD[name]
    inner = digest(name, secret + b"\x36" * n + seq.to_bytes(8, "big")
                   + bytes((content_type,)) + len(data).to_bytes(2, "big") + data)
    return digest(name, secret + b"\x5c" * n + inner)


class SSL3Protection:
    """One direction's SSL 3.0 CBC protection (reading): ``open(type, version, fragment)``;
    ``seq`` counts records, also one that failed (``bad_record_mac``)."""

    def __init__(self, suite, key, mac_key, iv):
        if suite.aead or suite.mac != "SHA1" or suite.cipher not in (
                "AES_128_CBC", "AES_256_CBC", "3DES_EDE_CBC"):
            raise ValueError("%s cannot run in SSL 3.0" % suite.name)
        algorithm = (algorithms.AES(key) if suite.cipher.startswith("AES")
                     else TripleDES(key))
        self._cipher = Cipher(algorithm, modes.CBC(iv)).decryptor()
        self._block = suite.block_size
        self._mac_key = bytes(mac_key)
        self._mac_len = 20
        self.seq = 0

    @classmethod
    def for_direction(cls, suite, key_block, sender):
        if sender == "client":
            return cls(suite, key_block.client_key, key_block.client_mac_key,
                       key_block.client_iv)
        return cls(suite, key_block.server_key, key_block.server_mac_key, key_block.server_iv)

    def open(self, content_type, version, fragment):
        seq = self.seq
        self.seq += 1
        fragment = bytes(fragment)
        if not fragment or len(fragment) % self._block:
            raise AlertError("bad_record_mac")
        # The IV chains on: the previous record's last ciphertext block.
        plain = self._cipher.update(fragment)
        pad = plain[-1]
        if pad >= self._block or pad + 1 + self._mac_len > len(plain):
            raise AlertError("bad_record_mac")
        body = plain[:len(plain) - pad - 1]
        data, tag = body[:-self._mac_len], body[-self._mac_len:]
        if not _hmac.compare_digest(_mac("sha1", self._mac_key, seq, content_type, data), tag):
            raise AlertError("bad_record_mac")
        return data
