"""Live capture: ``dissect --interface IFACE``, each TLS connection reported as it ends.

``capture_live(iface, ...)`` opens a Scapy listening socket (``conf.L2listen``; on a
loopback interface ``conf.L2socket``, see ``open_socket``; the BPF filter compiled by
Scapy) and reads it with ``sniff`` in slices of at most ``SLICE`` seconds, so
that every wait is bounded and ``--duration`` / ``--count`` / Ctrl-C stop it promptly. The
packets go, as bytes with their link type, into the same ``TCPReassembler`` and observer as
a capture file's. It yields ``ConnectionReport`` objects:

- as soon as a connection ends: reset, or a FIN seen each way;
- a connection with a FIN one way only, after ``LINGER`` seconds without a packet;
- when the capture stops, every connection still open (each with the error
  "the capture stopped while this connection was open").

``GrowingKeylog`` is the key log of a running browser: ``SSLKEYLOGFILE`` grows while the
capture runs, so a secret that is not there yet is looked for again in the lines added
since the last read (a last line without its newline waits for the rest).

Errors that stop the capture before it starts (no such interface, no permission, a BPF
expression that does not compile) raise ``CaptureError`` with one readable line.
"""
import os
import time

from ..crypto.keylog import Keylog
from ..errors import CaptureError
from .dissect import load_server_key

__all__ = ["capture_live", "GrowingKeylog", "LiveDissector", "LINGER", "SLICE"]

LINGER = 2.0    # seconds a half-closed connection may stay quiet before it is reported
SLICE = 0.5     # longest single wait for packets
IDLE_EMPTY = 60.0  # a connection that never carried a byte is forgotten after this

STOPPED_OPEN = "the capture stopped while this connection was open"

# Link types by the first Scapy layer of a sniffed packet when ``conf.l2types`` has none.
_RAW_IP = {"IP": 228, "IPv6": 229}


class GrowingKeylog(Keylog):
    """An NSS key log file that is read again, from where it was left, when a secret is
    missing (``master_secret``, ``secret``, ``pre_master`` return None)."""

    def __init__(self, path):
        super().__init__()
        self.path = os.fspath(path)
        self._offset = 0
        self._partial = b""
        self.refresh()

    def refresh(self):
        """Read the lines added since the last read; True when a key was added."""
        try:
            with open(self.path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size < self._offset:         # truncated or replaced: read it all again
                    self._offset, self._partial = 0, b""
                if size == self._offset:
                    return False
                f.seek(self._offset)
                data = f.read(size - self._offset)
        except OSError:
            return False        # not there yet (the browser creates it): nothing new
        self._offset += len(data)
        data = self._partial + data
        cut = data.rfind(b"\n") + 1
        self._partial = data[cut:]
        if not cut:
            return False
        before = len(self)
        parsed = Keylog.parse(data[:cut])
        for label, client_random, secret in parsed:
            self.add(label, client_random, secret)
        self.skipped += parsed.skipped
        return len(self) > before

    def master_secret(self, client_random):
        found = super().master_secret(client_random)
        if found is None and client_random is not None and self.refresh():
            found = super().master_secret(client_random)
        return found

    def secret(self, label, client_random):
        found = super().secret(label, client_random)
        if found is None and client_random is not None and self.refresh():
            found = super().secret(label, client_random)
        return found

    def pre_master(self, encrypted_pre_master):
        found = super().pre_master(encrypted_pre_master)
        if found is None and self.refresh():
            found = super().pre_master(encrypted_pre_master)
        return found


class LiveDissector:
    """Packets in (``add``), reports out as connections end (``due``) and at the end
    (``rest``). The sans-sniff half of the live capture: tests feed it packets directly.
    The streaming core is the capture files' (``stream.StreamDissector``); what differs is
    when a quiet connection is over: here by the wall clock, for half-closed and empty ones
    only."""

    def __init__(self, keylog=None, server_key=None, ports=(), linger=LINGER):
        from .stream import StreamDissector
        self.keylog = keylog
        self.server_key = server_key
        self.linger = linger
        self.core = StreamDissector(keylog, server_key, ports, idle_timeout=None,
                                    early=False)
        self.reassembler = self.core.reassembler
        self.packets = 0
        self.skipped = 0        # packets that could not be read at all

    @property
    def reported(self):
        return self.core.reported

    def add(self, ts, linktype, data):
        """One captured packet; the reports of the connections it ended (usually none)."""
        self.packets += 1
        return _reports(self.core.add(ts, linktype, data))

    def due(self, now):
        """Reports of connections half-closed and quiet for ``linger`` seconds (wall clock
        ``now``, against the packets' capture times); forgets long-idle empty ones."""
        out = []
        for conn in self.reassembler.connections:
            idle = now - conn.end_time
            empty = not (conn.delivered("client") or conn.delivered("server"))
            if conn.ended or (conn.closed and idle >= self.linger) or (
                    empty and idle >= (self.linger if not conn.syn_seen else IDLE_EMPTY)):
                out.extend(self.core.release(conn))  # empty: stray ACKs, scans, ...
        self.reassembler.forget_gone(now - IDLE_EMPTY)
        return _reports(out)

    def rest(self):
        """The capture stopped: the reports of the connections still open."""
        return _reports(self.core.finish(STOPPED_OPEN))


def _reports(released):
    return [report for _seq, report in released if report is not None]


def open_socket(iface, bpf=None):
    """Scapy's listening socket on ``iface`` (BPF ``bpf``), or ``CaptureError``."""
    from scapy.config import conf
    from scapy.error import Scapy_Exception
    # The link layers register their link types (lo: ARPHRD_LOOPBACK is Ethernet) on import.
    import scapy.layers.l2  # noqa: F401
    import scapy.layers.inet  # noqa: F401
    import scapy.layers.inet6  # noqa: F401
    # On a loopback interface Linux shows every packet twice, as sent and as received;
    # Scapy's L2socket drops the "sent" copy (libpcap does the same), its L2listen does not.
    # Elsewhere the sent copy is the only one of what this host sends: L2listen keeps it.
    opener = conf.L2socket if _is_loopback(iface) else conf.L2listen
    try:
        return opener(iface=iface, filter=bpf)
    except PermissionError:
        raise CaptureError("cannot capture on %s: permission denied (live capture needs root "
                           "or CAP_NET_RAW)" % iface) from None
    except Scapy_Exception as exc:
        if bpf and "filter" in str(exc).lower():
            raise CaptureError("--bpf %r: not a valid capture filter" % bpf) from None
        raise CaptureError("cannot capture on %s: %s" % (iface, exc)) from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno == 19:     # ENODEV
            reason = "no such interface"
        raise CaptureError("cannot capture on %s: %s" % (iface, reason.lower())) from None
    except ValueError as exc:   # Scapy: "Interface 'x' not found !"
        reason = "no such interface" if "not found" in str(exc) else str(exc)
        raise CaptureError("cannot capture on %s: %s" % (iface, reason)) from None


def _is_loopback(iface):
    try:
        with open("/sys/class/net/%s/flags" % os.path.basename(str(iface))) as f:
            return bool(int(f.read(), 16) & 0x8)       # IFF_LOOPBACK
    except (OSError, ValueError):
        return str(iface) == "lo"


def linktype_of(pkt):
    """The pcap link type of a packet Scapy sniffed (its first layer)."""
    from scapy.config import conf
    lt = conf.l2types.layer2num.get(type(pkt))
    if lt is None:
        lt = _RAW_IP.get(type(pkt).__name__)
    if lt is None:
        raw = bytes(pkt)[:1]
        lt = 228 if raw and raw[0] >> 4 == 4 else 229 if raw and raw[0] >> 4 == 6 else -1
    return lt


def capture_live(iface, keylog=None, server_key=None, bpf=None, count=None, duration=None,
                 ports=(), linger=LINGER, stop=None, stats=None, started=None,
                 clock=time.monotonic):
    """Sniff ``iface`` and yield a ``ConnectionReport`` as each TLS connection ends, then
    the ones still open (module docstring). ``keylog``: a path (read again as it grows) or
    a ``Keylog``; ``count``: stop after this many packets; ``duration``: seconds; ``stop``:
    a callable, true when the capture should end (the CLI's Ctrl-C handler sets it; a
    ``KeyboardInterrupt`` during the sniff does the same). ``started``: called once the
    socket is open (packets are being captured). ``stats``: a dict given ``packets``,
    ``reported`` and ``skipped`` at the end."""
    from scapy.sendrecv import sniff
    if keylog is not None and not isinstance(keylog, Keylog):
        keylog = GrowingKeylog(keylog)
    live = LiveDissector(keylog, load_server_key(server_key), ports, linger)
    sock = open_socket(iface, bpf)
    if started is not None:
        started()
    ready = []

    def on_packet(pkt):
        # An exception here would make Scapy drop the socket: a packet that cannot be
        # rebuilt or read is skipped instead (the reassembler itself never raises).
        try:
            ready.extend(live.add(float(pkt.time), linktype_of(pkt), bytes(pkt)))
        except Exception:
            live.skipped += 1

    deadline = clock() + duration if duration is not None else None
    try:
        interrupted = False
        while not interrupted and not (stop is not None and stop()):
            wait = SLICE if deadline is None else min(SLICE, deadline - clock())
            left = None if count is None else count - live.packets
            if wait <= 0 or (left is not None and left <= 0):
                break
            try:
                sniff(opened_socket=sock, prn=on_packet, store=False, timeout=wait,
                      count=left or 0, chainCC=True)
            except KeyboardInterrupt:
                interrupted = True
            ready.extend(live.due(time.time()))
            while ready:
                yield ready.pop(0)
    finally:
        try:
            sock.close()
        except Exception:  # closing a socket that failed must not hide the reports
            pass
    yield from live.rest()
    if stats is not None:
        stats.update(packets=live.packets, reported=live.reported, skipped=live.skipped)
