"""What the client and server automata share: the TCP byte stream as a Scapy
``SuperSocket``, per-instance timers, the key log writer, and the way queued bytes leave.

An automaton that mixes in ``ConnectionIO`` has ``self.conn`` (a sans-IO connection),
``self.errors`` (a list) and Scapy's ``send``; a send that fails is an error that ends the
automaton in its ERROR state.
"""
import select
import socket
import threading
import time

from scapy.automaton import Timer, _TimerList
from scapy.supersocket import SuperSocket

__all__ = ["Chunk", "TCPStream", "ConnectionIO", "own_timers", "poll_in", "append_keylog",
           "KeylogWriter", "GROUP_NAMES", "group_list", "Deadline", "EventBound"]

# A closing server waits this long for the client's close_notify (or FIN) before closing, so
# unread client bytes never turn the close into a RST that would destroy our last records.
LINGER_SECONDS = 1.0
RECV_SIZE = 65536

# One lock for every automaton of the process: clients and servers may share a key log.
_keylog_lock = threading.Lock()

# The named groups both automata can run (``--group NAME``), in the default preference order.
GROUP_NAMES = ("x25519", "secp256r1", "secp384r1", "secp521r1", "x448",
               "ffdhe2048", "ffdhe3072", "ffdhe4096", "ffdhe6144", "ffdhe8192",
               # TLS 1.3 hybrids (crypto/hybrid.py), where cryptography has ML-KEM
               "X25519MLKEM768", "SecP256r1MLKEM768", "SecP384r1MLKEM1024")


def group_list(groups):
    """``groups`` option -> a tuple for the config (names or code points; the config checks
    them); None stays None (the config's default)."""
    if groups is None:
        return None
    if isinstance(groups, (str, int)):
        groups = (groups,)
    return tuple(groups)


class Chunk(bytes):
    """Bytes read from the TCP stream, as Scapy's automaton wants a ``summary()``."""

    __slots__ = ()

    def summary(self):
        return "TCP data (%d bytes)" % len(self)

    def copy(self):
        return self


class TCPStream(SuperSocket):
    """A connected TCP socket as a Scapy ``SuperSocket``: ``recv()`` returns the next chunk of
    the byte stream, never blocking (the automaton only reads after ``select`` said so) and
    raising ``EOFError`` when the peer closed or reset the connection."""

    desc = "TCP byte stream"

    def __init__(self, sock=None, timeout=10.0):
        self.ins = self.outs = sock
        self.timeout = timeout
        self.peer = None
        self.local = None
        if sock is not None:
            self.attach(sock)

    def attach(self, sock):
        self.ins = self.outs = sock
        # A send that cannot progress (client not reading) fails after ``timeout``.
        sock.settimeout(self.timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        try:
            self.peer = "%s:%d" % sock.getpeername()[:2]
            self.local = "%s:%d" % sock.getsockname()[:2]
        except (OSError, TypeError):      # not an IP socket (a socketpair in tests)
            pass

    def recv(self, x=RECV_SIZE, **kwargs):
        try:
            data = self.ins.recv(x)
        except OSError:                   # reset, or a timeout set by attach()
            raise EOFError("connection reset") from None
        if not data:
            raise EOFError("connection closed")
        return Chunk(data)

    def send(self, data):
        data = bytes(data)
        if data:
            self.outs.sendall(data)
        return len(data)

    def fileno(self):
        return self.ins.fileno()

    def shutdown_write(self):
        try:
            self.ins.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def linger(self, seconds=LINGER_SECONDS):
        """Half-close, then read (and drop) until the peer closes or ``seconds`` pass."""
        sock = self.ins
        if sock is None or self.closed:
            return
        try:
            sock.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + seconds
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not poll_in(sock, left):
                    return
                if not sock.recv(RECV_SIZE):
                    return
        except OSError:
            return

    def close(self):
        if self.closed:
            return
        self.closed = True
        if self.ins is not None:
            try:
                self.ins.close()
            except OSError:
                pass

    @staticmethod
    def select(sockets, remain=None):
        """Like Scapy's, but with ``poll`` so descriptors above 1024 work too."""
        poller = select.poll()
        by_fd = {}
        for s in sockets:
            fd = s.fileno()
            by_fd[fd] = s
            poller.register(fd, select.POLLIN)
        ms = None if remain is None else max(0, int(remain * 1000))
        try:
            ready = poller.poll(ms)
        except InterruptedError:
            return []
        return [by_fd[fd] for fd, _ in ready if fd in by_fd]


def poll_in(sock, seconds):
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    return bool(poller.poll(int(seconds * 1000)))


# A timer cut short by a deadline that has passed still waits this long: Scapy takes a
# timer of 0 for one that is not running (and would block without a limit).
MIN_WAIT = 0.01


class Deadline:
    """The moment (``time.monotonic()``) no timer of an automaton may run past; None: none.
    Shared by the automaton and its timers (a plain holder, so the timers keep no
    reference to the automaton)."""

    __slots__ = ("at",)

    def __init__(self, at=None):
        self.at = at

    def left(self):
        return None if self.at is None else self.at - time.monotonic()

    def passed(self):
        return self.at is not None and time.monotonic() >= self.at


class DeadlineTimer(Timer):
    """A state's timer that never runs past its automaton's ``Deadline``: each state keeps
    its own wait (an idle time, a linger), and the whole run stays within one bound, however
    often a state is entered again."""

    def _reset(self):
        Timer._reset(self)
        left = self.deadline.left()
        if left is not None and left < self._time:
            self._time = max(left, MIN_WAIT)


def own_timers(class_timeouts, deadline=None):
    """Scapy keeps ``Timer`` objects on the class; each instance needs its own values (and
    instances may run in parallel threads). A plain attribute copy: ``copy.copy`` costs
    more than the whole rest of setting an automaton up. With ``deadline`` (a
    ``Deadline``), no timer runs past it."""
    own = {}
    new = object.__new__
    kind = Timer if deadline is None else DeadlineTimer
    for state, timers in class_timeouts.items():
        copied = _TimerList()
        for t in timers.timers:
            clone = new(kind)
            clone.__dict__.update(t.__dict__)
            if deadline is not None:
                clone.deadline = deadline
            copied.timers.append(clone)
        own[state] = copied
    return own


class EventBound:
    """Keeps a connection's ``events`` and ``messages`` lists bounded, whatever its traffic:
    the core logs every record, and a connection that streams for hours must not keep them
    all. Kept: the first ``max_data`` application data records, and up to ``max_other``
    other entries (handshake messages, alerts), in order; the rest is counted in
    ``dropped`` (application data records and other entries no longer listed).
    ``trim(conn)`` after each exchange looks only at what is new since the last call."""

    __slots__ = ("max_data", "max_other", "dropped", "_lists")

    def __init__(self, max_data=32, max_other=256):
        self.max_data, self.max_other = max_data, max_other
        self.dropped = 0
        # name -> [entries looked at, data kept, others kept]
        self._lists = {"events": [0, 0, 0], "messages": [0, 0, 0]}

    def trim(self, conn):
        if conn is None:
            return
        for name, count in self._lists.items():
            entries = getattr(conn, name, None)
            # Up to that many entries nothing can be dropped: no need to look (a handshake's
            # worth of entries costs nothing per exchange).
            if entries is None or len(entries) <= count[0] or \
                    len(entries) <= min(self.max_data, self.max_other):
                continue
            is_data = _is_data_event if name == "events" else _is_data_message
            kept = []
            for entry in entries[count[0]:]:
                slot = 1 if is_data(entry) else 2
                if count[slot] < (self.max_data if slot == 1 else self.max_other):
                    count[slot] += 1
                    kept.append(entry)
                elif name == "messages":     # each record has one message (not one event)
                    self.dropped += 1
            entries[count[0]:] = kept
            count[0] = len(entries)


def _is_data_event(event):
    return type(event).__name__ == "ApplicationData"


def _is_data_message(entry):
    return entry.endswith(":application_data")


def append_keylog(target, line):
    """Append one NSS key log line to ``target`` (a path, or an open text file)."""
    with _keylog_lock:
        if hasattr(target, "write"):
            target.write(line + "\n")
            target.flush()
        else:
            with open(target, "a", encoding="ascii") as f:
                f.write(line + "\n")


class KeylogWriter:
    """Writes a connection's NSS key log lines as its secrets come into being: TLS 1.2 has
    one ``CLIENT_RANDOM`` line, TLS 1.3 several (early, handshake, application, exporter
    secrets), so a handshake that fails half-way still leaves what it had."""

    __slots__ = ("target", "written")

    def __init__(self, target):
        self.target = target
        self.written = set()

    def update(self, conn):
        """Append the lines of ``conn`` not written yet; returns how many were."""
        if not self.target or conn is None:
            return 0
        lines = conn.keylog_lines() if hasattr(conn, "keylog_lines") else [conn.keylog_line()]
        new = [line for line in lines if line and line not in self.written]
        for line in new:
            append_keylog(self.target, line)
            self.written.add(line)
        return len(new)


class ConnectionIO:
    """Error list and output of an automaton driving ``self.conn``; ``last_io`` is the
    ``time.monotonic()`` of the last bytes sent or received (the listener's idle measure)."""

    last_io = 0.0

    def _error(self, text):
        if text not in self.errors:
            self.errors.append(text)

    def _flush(self):
        """Send whatever the connection queued (flight, alert, data, close_notify)."""
        data = self.conn.data_to_send()
        if data:
            self.last_io = time.monotonic()
            try:
                self.send(Chunk(data))
            except OSError as exc:
                self._error("send failed: %s" % (exc.strerror or exc))
                raise self.ERROR()

    def _flush_quietly(self):
        """The same when the peer may be gone already: nothing sent is no failure."""
        try:
            data = self.conn.data_to_send()
            if data:
                self.send(Chunk(data))
        except Exception:
            pass
