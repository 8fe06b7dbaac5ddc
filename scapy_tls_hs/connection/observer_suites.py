"""Cipher suites the dissector decrypts though the roles do not run them.

The PSK families (RFC 4279, RFC 5487, RFC 5489, RFC 6655, RFC 7905): the pre-shared key
only changes the pre-master secret (RFC 4279 section 2), so with the master secret from a
key log their records are opened like those of the suites with the same cipher and MAC.
``observed_suite(id)`` is ``CipherSuite.get`` plus these.
"""
from ..crypto.suites import CipherSuite, define_suite

__all__ = ["observed_suite"]

_PSK = [
    (0x008C, "PSK-AES128-CBC-SHA", "PSK", "AES_128_CBC", "SHA1"),
    (0x008D, "PSK-AES256-CBC-SHA", "PSK", "AES_256_CBC", "SHA1"),
    (0x0090, "DHE-PSK-AES128-CBC-SHA", "DHE_PSK", "AES_128_CBC", "SHA1"),
    (0x0091, "DHE-PSK-AES256-CBC-SHA", "DHE_PSK", "AES_256_CBC", "SHA1"),
    (0x0094, "RSA-PSK-AES128-CBC-SHA", "RSA_PSK", "AES_128_CBC", "SHA1"),
    (0x0095, "RSA-PSK-AES256-CBC-SHA", "RSA_PSK", "AES_256_CBC", "SHA1"),
    (0x00A8, "PSK-AES128-GCM-SHA256", "PSK", "AES_128_GCM", "SHA256"),
    (0x00A9, "PSK-AES256-GCM-SHA384", "PSK", "AES_256_GCM", "SHA384"),
    (0x00AA, "DHE-PSK-AES128-GCM-SHA256", "DHE_PSK", "AES_128_GCM", "SHA256"),
    (0x00AB, "DHE-PSK-AES256-GCM-SHA384", "DHE_PSK", "AES_256_GCM", "SHA384"),
    (0x00AC, "RSA-PSK-AES128-GCM-SHA256", "RSA_PSK", "AES_128_GCM", "SHA256"),
    (0x00AD, "RSA-PSK-AES256-GCM-SHA384", "RSA_PSK", "AES_256_GCM", "SHA384"),
    (0x00AE, "PSK-AES128-CBC-SHA256", "PSK", "AES_128_CBC", "SHA256"),
    (0x00AF, "PSK-AES256-CBC-SHA384", "PSK", "AES_256_CBC", "SHA384"),
    (0x00B2, "DHE-PSK-AES128-CBC-SHA256", "DHE_PSK", "AES_128_CBC", "SHA256"),
    (0x00B3, "DHE-PSK-AES256-CBC-SHA384", "DHE_PSK", "AES_256_CBC", "SHA384"),
    (0x00B6, "RSA-PSK-AES128-CBC-SHA256", "RSA_PSK", "AES_128_CBC", "SHA256"),
    (0x00B7, "RSA-PSK-AES256-CBC-SHA384", "RSA_PSK", "AES_256_CBC", "SHA384"),
    (0xC035, "ECDHE-PSK-AES128-CBC-SHA", "ECDHE_PSK", "AES_128_CBC", "SHA1"),
    (0xC036, "ECDHE-PSK-AES256-CBC-SHA", "ECDHE_PSK", "AES_256_CBC", "SHA1"),
    (0xC037, "ECDHE-PSK-AES128-CBC-SHA256", "ECDHE_PSK", "AES_128_CBC", "SHA256"),
    (0xC038, "ECDHE-PSK-AES256-CBC-SHA384", "ECDHE_PSK", "AES_256_CBC", "SHA384"),
    (0xCCAB, "PSK-CHACHA20-POLY1305", "PSK", "CHACHA20_POLY1305", "SHA256"),
    (0xCCAC, "ECDHE-PSK-CHACHA20-POLY1305", "ECDHE_PSK", "CHACHA20_POLY1305", "SHA256"),
    (0xCCAD, "DHE-PSK-CHACHA20-POLY1305", "DHE_PSK", "CHACHA20_POLY1305", "SHA256"),
    (0xCCAE, "RSA-PSK-CHACHA20-POLY1305", "RSA_PSK", "CHACHA20_POLY1305", "SHA256"),
    (0xC0A4, "PSK-AES128-CCM", "PSK", "AES_128_CCM", "SHA256"),
    (0xC0A5, "PSK-AES256-CCM", "PSK", "AES_256_CCM", "SHA256"),
    (0xC0A6, "DHE-PSK-AES128-CCM", "DHE_PSK", "AES_128_CCM", "SHA256"),
    (0xC0A7, "DHE-PSK-AES256-CCM", "DHE_PSK", "AES_256_CCM", "SHA256"),
    (0xC0A8, "PSK-AES128-CCM8", "PSK", "AES_128_CCM_8", "SHA256"),
    (0xC0A9, "PSK-AES256-CCM8", "PSK", "AES_256_CCM_8", "SHA256"),
    (0xC0AA, "DHE-PSK-AES128-CCM8", "DHE_PSK", "AES_128_CCM_8", "SHA256"),
    (0xC0AB, "DHE-PSK-AES256-CCM8", "DHE_PSK", "AES_256_CCM_8", "SHA256"),
]
_OBSERVED = {}
for _id, _openssl, _kx, _cipher, _mac in _PSK:
    _OBSERVED[_id] = define_suite(_id, _openssl, _kx, "RSA" if _kx == "RSA_PSK" else "PSK",
                            _cipher, _mac)
del _id, _openssl, _kx, _cipher, _mac


def observed_suite(suite_id):
    """The ``CipherSuite`` to read a connection of ``suite_id`` with, or None."""
    return CipherSuite.get(suite_id) or _OBSERVED.get(suite_id)
