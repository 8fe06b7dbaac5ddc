"""Dissect a capture: every TCP connection that carries TLS, fed to an observer, reported.

``iter_connections(path, keylog=None, server_key=None, ports=())`` reads the file
(``pcapfile``), reassembles TCP (``streams``) and feeds one ``ObserverConnection`` per TLS
connection as its bytes arrive (``stream.py``; a resumed session finds the master secret
of an earlier connection in the shared ``SessionTable``), yielding a ``ConnectionReport``
as each connection ends; ``dissect_capture`` returns them all, in the order the
connections started. ``to_dict()`` is exactly the CONTRACT ``dissect --json``
object; ``packets`` builds the Scapy records on first use (Scapy is never imported on the
dissect path itself). A key log embedded in a pcapng (Decryption Secrets Block, as
``editcap --inject-secrets`` writes it) is used as well as the one given.

Errors: a file that is not a capture, or a key file that cannot be read, raises
``CaptureError`` (the CLI prints one line and exits non-zero). Everything found inside a
readable capture goes into the reports' ``errors``; capture-level problems (truncated file)
are on the returned list's ``warnings`` too.
"""
import os
import struct

from ..connection.summary import FIELDS as SUMMARY_FIELDS
from ..errors import CaptureError, TLSError
from ..codec.sslv2 import looks_like_sslv2_client_hello
from . import preamble as _preamble
from .certinfo import CertificateChain
from .reasons import why_not
from .streams import looks_like_tls

__all__ = ["dissect_capture", "iter_connections", "ConnectionReport", "DissectResult",
           "load_keylog", "load_server_key", "report_connection", "is_tls", "keylog_warning",
           "Feeder"]

# client/server, the handshake summary's fields (connection/summary.py), then the observer's.
FIELDS = ("client", "server") + SUMMARY_FIELDS + ("decrypted", "app_data", "errors")

_HEADER = struct.Struct("!BHH")


class DissectResult(list):
    """The reports, in connection start order, plus ``warnings``: capture-level problems
    (one readable line each) and ``records``: how many TLS records were dissected."""

    def __init__(self, reports=(), warnings=(), records=0):
        super().__init__(reports)
        self.warnings = list(warnings)
        self.records = records


class ConnectionReport:
    """What one TLS connection showed. Attributes are the CONTRACT fields; ``summary`` the
    ``HandshakeSummary`` they come from (with the parsed ``client_hello`` and
    ``server_hello``); ``ladder`` is ``(time, direction, name, detail)`` per message;
    ``packets`` the Scapy records."""

    def __init__(self, tcp, observer):
        self.client = tcp.client
        self.server = tcp.server
        self.start_time = tcp.start_time
        self.end_time = tcp.end_time
        self.summary = observer.summary()
        self.__dict__.update(self.summary.fields())
        self.decrypted = observer.decrypted
        self.app_data = observer.app_data
        self.errors = list(tcp.errors) + list(observer.errors)
        self.ladder = observer.ladder
        self.records = observer.record_count
        self.key_source = observer.key_source
        # Why not decrypted, when keys were given (reasons.py); the certificate chains in
        # the order of the ladder's certificate lines (certinfo.py, filled by ``_feed``).
        self.key_problem = why_not(observer)
        self.certificates = list(getattr(observer, "chains", ()))
        self._records = observer.records
        self._packets = None

    def to_dict(self):
        """The CONTRACT ``dissect --json`` object (``app_data`` only when decrypted)."""
        out = {}
        for key in FIELDS:
            if key == "app_data" and self.app_data is None:
                continue
            value = getattr(self, key)
            out[key] = list(value) if isinstance(value, list) else (
                dict(value) if isinstance(value, dict) else value)
        return out

    @property
    def raw_records(self):
        """``(time, direction, content_type, version, payload, decrypted)`` per record, in
        wire order: ``payload`` is the plaintext when ``decrypted``, else the fragment as
        it was sent (ciphertext after ChangeCipherSpec). What ``packets`` are built from."""
        return self._records

    def application_data(self, limit=None):
        """``{"client": bytes, "server": bytes}``: the decrypted application data of each
        direction, joined, at most ``limit`` bytes each, and ``{"client": total, ...}``."""
        parts = {"client": [], "server": []}
        totals = {"client": 0, "server": 0}
        for _time, direction, ct, _version, payload, decrypted in self._records:
            if ct != 23 or not decrypted or direction not in parts:
                continue
            room = len(payload) if limit is None else max(limit - totals[direction], 0)
            if room:
                parts[direction].append(payload[:room])
            totals[direction] += len(payload)
        return {d: b"".join(p) for d, p in parts.items()}, totals

    @property
    def packets(self):
        """The connection's records as Scapy ``TLSRecord`` packets, in wire order.

        Decrypted records carry their plaintext (TLS 1.3: under the inner content type);
        each packet has ``time``, ``sent_by`` ("client"/"server") and ``decrypted``.
        """
        if self._packets is None:
            from scapy.plist import PacketList
            from ..layers import TLSRecord
            out = []
            for time, direction, ct, version, payload, decrypted in self._records:
                pkt = TLSRecord(_HEADER.pack(ct, version, len(payload)) + payload)
                if time is not None:
                    pkt.time = time
                pkt.sent_by = direction
                pkt.decrypted = decrypted
                out.append(pkt)
            self._packets = PacketList(out, name="TLS %s -> %s" % (self.client, self.server))
        return self._packets

    def __repr__(self):
        return "<ConnectionReport %s -> %s %s %s, %d messages%s>" % (
            self.client, self.server, self.version, self.cipher_suite, len(self.messages),
            ", decrypted" if self.decrypted else "")


def load_keylog(keylog):
    """A ``Keylog`` from a path (or one given as is); ``CaptureError`` when unreadable."""
    if keylog is None:
        return None
    from ..crypto.keylog import Keylog
    if isinstance(keylog, Keylog):
        return keylog
    try:
        return Keylog.load(keylog)
    except OSError as exc:
        raise CaptureError("cannot read key log %s: %s" % (keylog, exc.strerror or exc)) from None
    except (TLSError, ValueError, UnicodeDecodeError) as exc:
        raise CaptureError("cannot read key log %s: %s" % (keylog, exc)) from None


def load_server_key(server_key):
    """An RSA private key from a PEM/DER path (or a key object given as is)."""
    if server_key is None:
        return None
    if not isinstance(server_key, (str, bytes, os.PathLike)):
        key = server_key
    else:
        from cryptography.hazmat.primitives.serialization import (load_der_private_key,
                                                                  load_pem_private_key)
        try:
            with open(server_key, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise CaptureError("cannot read server key %s: %s"
                               % (server_key, exc.strerror or exc)) from None
        try:
            if b"-----BEGIN" in data:
                key = load_pem_private_key(data, password=None)
            else:
                key = load_der_private_key(data, password=None)
        except (ValueError, TypeError):
            raise CaptureError("cannot read server key %s: not an unencrypted PEM or DER "
                               "private key" % (server_key,)) from None
    from cryptography.hazmat.primitives.asymmetric import rsa
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CaptureError("server key %s is not an RSA key (only RSA key exchange can be "
                           "decrypted with a server key)" % (server_key,))
    return key


def dissect_capture(path, keylog=None, server_key=None, ports=(), progress=None,
                    idle_timeout=None):
    """Dissect every TLS connection of a pcap/pcapng file; see the module docstring. The
    reports come in start order (``iter_connections`` gives them as connections end)."""
    from .stream import IDLE_TIMEOUT
    stream = iter_connections(path, keylog, server_key, ports, progress,
                              IDLE_TIMEOUT if idle_timeout is None else idle_timeout,
                              ordered=True)
    reports = list(stream)
    return DissectResult(reports, stream.warnings, stream.records)


def iter_connections(path, keylog=None, server_key=None, ports=(), progress=None,
                     idle_timeout=None, ordered=False):
    """The reports of a capture's TLS connections, each as soon as its connection ends
    (a FIN each way, a reset, ``idle_timeout`` seconds of capture time without a packet:
    default 120), then those open at the end of the capture; with ``ordered``, in the
    order the connections started. Memory depends on the connections open at a time, not
    on the size of the capture. The returned iterator has ``warnings`` (capture-level
    problems, complete once it is exhausted) and ``records``. A file that is not a
    capture, or an unreadable key file, raises ``CaptureError`` at once."""
    from .stream import IDLE_TIMEOUT, CaptureStream
    return CaptureStream(path, keylog, server_key, ports, progress,
                         IDLE_TIMEOUT if idle_timeout is None else idle_timeout, ordered)


def keylog_warning(keylog, name=None):
    """The one warning line about key log lines that did not parse, or None."""
    skipped = getattr(keylog, "skipped", 0) if keylog is not None else 0
    if not skipped:
        return None
    name = name if isinstance(name, (str, os.PathLike)) else "given"
    if len(keylog) == 0:
        return "key log %s holds no key (%d lines not understood)" % (name, skipped)
    return "key log %s: %d line%s not understood (skipped)" % (
        name, skipped, "" if skipped == 1 else "s")


def report_connection(conn, keylog, server_key, sessions):
    """The ``ConnectionReport`` of one reassembled TLS connection (``_is_tls`` said so)."""
    from ..connection.observer import ObserverConnection
    feed = Feeder(ObserverConnection(keylog, server_key, sessions), conn)
    for chunk in conn.chunks:
        feed.chunk(chunk)
    return feed.report()


def is_tls(conn, ports=()):
    """Does this reassembled connection carry TLS (``dissect_capture``'s test)?"""
    return bool(conn.chunks) and _is_tls(conn, frozenset(ports or ()))


def _with_embedded(keylog, blocks):
    """The key log a pcapng carries in Decryption Secrets Blocks (``editcap
    --inject-secrets``), with the given key log's lines on top (they win)."""
    from ..crypto.keylog import Keylog
    merged = Keylog.parse(b"\n".join(bytes(b) for b in blocks))
    for label, client_random, secret in keylog or ():
        merged.add(label, client_random, secret)
    merged.skipped += getattr(keylog, "skipped", 0) if keylog is not None else 0
    return merged


def _is_tls(conn, ports):
    """TLS from the first byte, an SSL 2.0-format ClientHello, TLS after a plaintext
    preamble (``preamble.py``: kept on the connection as ``preamble``), or else a hinted
    port."""
    conn.preamble = None
    if conn.looks_like_tls():
        return True
    if looks_like_sslv2_client_hello(conn.first_bytes("client", 8)):
        return True
    conn.preamble = _preamble.find(conn.first_bytes("client", _preamble.SEARCH),
                                   conn.first_bytes("server", _preamble.SEARCH))
    return conn.preamble is not None or conn.looks_like_tls(ports)


class Feeder:
    """A connection's chunks, in capture order, into its observer, one at a time (``chunk``,
    or ``data`` with a chunk's fields) as they are delivered; ``report()`` at the end. A
    direction of a connection caught mid-way (no SYN) that starts inside a record is fed as
    if bytes were lost before it: the observer picks up at the first record header. A
    plaintext preamble is skipped, and shown as one ladder line. Made once the connection
    is known to be TLS (``is_tls``), from the chunks held so far."""

    def __init__(self, observer, conn):
        self.observer = observer
        observer.app_events = False     # only the certificates are read from the events
        self.conn = conn
        self.chains = observer.chains = []
        self.started = set()
        self.broken = False
        found = self.found = getattr(conn, "preamble", None)
        self.skip = {"client": found[0], "server": found[1]} if found else {}
        # The first bytes of each direction decide whether the capture starts inside it.
        self.heads = {d: conn.first_bytes(d, 8) for d in ("client", "server")}
        if found:
            first = next((c.time for c in conn.chunks), None)
            # client + server bytes, so that the line fits the ladder's 80 columns
            observer.preamble(first, "%s: %d + %d bytes" % (found[2], found[0], found[1]))

    def _receive(self, direction, data, time, gap):
        observer = self.observer
        for event in observer.receive(direction, data, time, gap):
            if getattr(event, "msg_type", None) == 11:
                self.chains.append(CertificateChain.from_message(event.direction, event.body,
                                                                 observer.tls13))

    def chunk(self, chunk):
        self.data(chunk[0], chunk[1], chunk.time, chunk.gap)

    def data(self, direction, data, time, gap):
        """The bytes of one chunk (``TCPConnection.sink``: no ``Chunk`` made for them)."""
        if self.broken:
            return
        try:
            if self.skip or direction not in self.started:
                self._first(direction, data, time, gap)
            else:
                self._receive(direction, data, time, gap)
        except Exception as exc:  # a bug must not cost the other connections their report
            self._broke(exc)

    def _first(self, direction, data, time, gap):
        """A direction's first bytes, or a preamble's."""
        skip = self.skip
        if skip.get(direction):
            cut = min(skip[direction], len(data))
            skip[direction] -= cut
            if cut < len(data):
                self._receive(direction, data[cut:], time, gap)
            return
        if direction not in self.started and not self.found:
            self.started.add(direction)
            # The first segment may be shorter than a record header: the direction's
            # first five bytes decide.
            head = self.heads.get(direction) or data[:8]
            if not self.conn.syn_seen and not looks_like_tls(head) and not (
                    direction == "client" and looks_like_sslv2_client_hello(head)):
                self.observer.errors.append(
                    "%s: the capture starts inside this stream; the bytes before the first "
                    "record header are skipped"
                    % ("client->server" if direction == "client" else "server->client"))
                gap = gap or 1
        self._receive(direction, data, time, gap)

    def _broke(self, exc):
        self.broken = True
        self.observer.errors.append("internal error while dissecting: %s: %s"
                                    % (type(exc).__name__, exc))

    def report(self):
        """The connection is over (its last chunks fed): its ``ConnectionReport``."""
        if not self.broken:
            try:
                self.observer.finish()
            except Exception as exc:
                self._broke(exc)
        return ConnectionReport(self.conn, self.observer)


