"""One handshake summary: what every report (dissect, client, server, replay) is made from.

A field is written once, here, and appears in every report the same way. The roles only keep
their attributes up to date; the reports read them through ``HandshakeSummary``:

    from scapy_tls_hs.connection.summary import HandshakeSummary

    summary = HandshakeSummary.from_connection(conn)   # client, server or observer
    report = summary.fields()        # the shared CONTRACT fields, in CONTRACT order
    report.update(role_specific)     # dissect: decrypted, app_data, errors; client: received...

``from_connection(conn)`` reads these attributes (missing ones count as "not seen"):

- ``version``: int (0x0303) or None; reported by name ("TLS 1.2").
- ``cipher_suite`` (str, IANA name) or else ``suite`` (a ``CipherSuite``).
- ``session_id``: bytes (reported as lowercase hex, "" if empty) or a hex str as is; None
  stays None (the observer: no ServerHello seen).
- ``resumed``, ``client_auth``, ``extended_master_secret``, ``hello_retry``: bools.
- ``sni`` (str), ``alpn`` (str or bytes, reported as str): None when absent.
- ``messages``: the ``"C:client_hello"`` list (CONTRACT naming; a HelloRetryRequest is
  ``hello_retry_request``).
- ``group``: the IANA name of the named group of the (EC)DHE exchange, or None (an int code
  is named through the registry). The rule every role follows:
  TLS 1.3: the group of the ServerHello key_share (after a HelloRetryRequest that is the
  group the HRR selected); a PSK-only (psk_ke) handshake has none. TLS 1.2 and lower: ECDHE:
  the ServerKeyExchange named curve; DHE: the RFC 7919 name ("ffdhe2048", ...) when p is an
  RFC 7919 prime, else None (an unnamed group); RSA key exchange and abbreviated (resumed)
  handshakes: None.
- ``early_data``: "accepted" (the server's EncryptedExtensions had early_data), "rejected"
  (the client offered it and the server did not accept), None (not offered, or it cannot be
  told: an observer without the keys to read the EncryptedExtensions of a handshake whose
  ServerHello accepted the PSK).
- ``key_updates``: int, KeyUpdate messages sent and received (both directions).
- ``client_hello`` / ``server_hello``: the parsed first ClientHello and the ServerHello (not
  the HelloRetryRequest) as ``codec.messages`` objects, or None. Not in ``fields()``: they
  are what JA3 / JA4 (and the replay) compute from, as pure functions of the summary.
- ``ja3``, ``ja3s``, ``ja4``, ``ja4_r`` (in ``fields()``): computed from those two hellos by
  ``fingerprints.py`` (None without the hello), once per summary.

The summary is plain data (a dataclass of str, int, bool, list and codec objects): it
pickles, so reports can cross process boundaries.
"""
from dataclasses import dataclass, field

from ..registry import NAMED_GROUPS, VERSIONS, name as _name

__all__ = ["HandshakeSummary", "FIELDS", "FINGERPRINTS", "EARLY_DATA_STATES"]

# The CONTRACT fields shared by every report, in CONTRACT order (the first block of the
# dissect object, then the TLS 1.3 block).
_STORED = ("version", "cipher_suite", "session_id", "resumed", "sni", "alpn", "client_auth",
           "extended_master_secret", "messages", "group", "hello_retry", "early_data",
           "key_updates")
FINGERPRINTS = ("ja3", "ja3s", "ja4", "ja4_r")
FIELDS = _STORED + FINGERPRINTS

EARLY_DATA_STATES = ("accepted", "rejected", None)


@dataclass
class HandshakeSummary:
    """The negotiated parameters of one handshake, as reported; see the module docstring."""

    version: str = None
    cipher_suite: str = None
    session_id: str = None
    resumed: bool = False
    sni: str = None
    alpn: str = None
    client_auth: bool = False
    extended_master_secret: bool = False
    messages: list = field(default_factory=list)
    group: str = None
    hello_retry: bool = False
    early_data: str = None
    key_updates: int = 0
    client_hello: object = field(default=None, repr=False, compare=False)
    server_hello: object = field(default=None, repr=False, compare=False)
    _fingerprints: dict = field(default=None, repr=False, compare=False)

    @classmethod
    def from_connection(cls, conn):
        """The summary of a client, server or observer connection (None: an empty one)."""
        if conn is None:
            return cls(session_id="")
        get = getattr
        version = get(conn, "version", None)
        suite_name = get(conn, "cipher_suite", None)
        if not isinstance(suite_name, str):
            suite = get(conn, "suite", None)
            suite_name = get(suite, "name", None) if suite is not None else None
        early = get(conn, "early_data", None)
        # Positional, in field order: this runs once per connection of a capture.
        return cls(
            _version(version),
            suite_name,
            _hex(get(conn, "session_id", None)),
            bool(get(conn, "resumed", False)),
            _text(get(conn, "sni", None)),
            _text(get(conn, "alpn", None)),
            bool(get(conn, "client_auth", False)),
            bool(get(conn, "extended_master_secret", False)),
            list(get(conn, "messages", None) or ()),
            _group(get(conn, "group", None)),
            bool(get(conn, "hello_retry", False)),
            early if early in EARLY_DATA_STATES else None,
            int(get(conn, "key_updates", 0) or 0),
            get(conn, "client_hello", None),
            get(conn, "server_hello", None),
        )

    def fields(self):
        """The shared CONTRACT fields as a new dict, in CONTRACT order (JSON-ready)."""
        out = {key: getattr(self, key) for key in _STORED}
        out["messages"] = list(self.messages)
        out.update(self.fingerprints())
        return out

    def fingerprints(self):
        """``{"ja3", "ja3s", "ja4", "ja4_r"}``: MD5 / JA4 strings or None."""
        if self._fingerprints is None:
            from . import fingerprints as fp
            ja3, ja4, ja4_r = fp.client_fingerprints(self.client_hello) or (None,) * 3
            ja3s = fp.ja3s(self.server_hello)
            self._fingerprints = {"ja3": ja3, "ja3s": ja3s and ja3s[1], "ja4": ja4,
                                  "ja4_r": ja4_r}
        return dict(self._fingerprints)


def _version(version):
    if version is None or isinstance(version, str):
        return version
    name = VERSIONS.get(version)
    return name if name is not None else "unknown_0x%04X" % version


def _hex(value):
    if value is None or isinstance(value, str):
        return value
    return bytes(value).hex()


def _text(value):
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return value


def _group(value):
    if isinstance(value, int) and not isinstance(value, bool):
        return _name(NAMED_GROUPS, value)
    return value or None
