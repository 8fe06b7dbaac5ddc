"""Accept TCP connections and serve each with its own ``TLSServerAutomaton``, concurrently.

Rules of this module:
- Worker threads take turns at ``accept()`` on the one listening socket (leader/followers):
  the thread that accepts a connection serves it, with a fresh automaton run to its end in
  that thread (``run_inline``: Scapy's state engine without a second thread), after making
  sure another thread is ready to accept. A slow, silent or hostile client only ever holds
  its own automaton and thread, and only until its automaton's timeout.
- At most ``max_workers`` connections are served at once; beyond that, new clients wait in the
  kernel's accept queue (never an unbounded queue of ours). Threads are started on demand
  and kept for the next connections.
- Slow clients cannot lock new ones out: when every worker is busy, the serving thread
  watches the accept queue itself, and when a client waits there it ends the connection
  idle the longest (no bytes either way for at least ``EVICT_IDLE`` seconds) to make room
  (``TLSServerAutomaton.evict``; its report says so). Each automaton also bounds its own
  connection in time (lifetime, request head due, minimum rate).
- What connections share is built once here: the ``ServerConfig`` (certificates and keys
  loaded once) and one ``ServerContext`` (session cache, ticket keys, the tickets already
  used for 0-RTT, the HelloRetryRequest cookie key, CA names), so any connection can resume
  a session made by another and a 0-RTT ticket is accepted once, server-wide.
- Nothing polls: workers block in ``accept()`` or on a condition, the serving thread on the
  condition or (every worker busy) on the listening socket and a wake-up socket; ``stop()``
  shuts the listening socket down, which wakes them.
- A client that connects and closes without sending a byte (a port probe, e.g. a test
  waiting for the port) is not a served connection: it is neither reported nor counted
  against ``max_connections``. With ``max_connections``, a connection is accepted only while
  served + in progress < max_connections, so never more are served.
"""
import select
import signal
import socket
import threading

from .server import TLSServerAutomaton, server_config

__all__ = ["TLSListener", "serve", "EVICT_IDLE"]

# A connection idle this long (seconds, no bytes either way) may be ended to make room for a
# new client when every worker is busy: far above a good client's pause between flights.
EVICT_IDLE = 1.0
# After ending one, how long to wait for its worker to come back before ending another.
EVICT_GRACE = 1.0

_CONFIG_OPTIONS = ("cert", "key", "version", "versions", "min_version", "ciphers",
                   "client_auth", "cafile", "alpn", "tickets", "session_cache", "ticket_keys",
                   "identities", "ems", "etm", "groups", "early_data", "renegotiation",
                   "record_size_limit")


class TLSListener:
    """``TLSListener(cert=..., key=..., port=0).start()`` serves in the background (``.port``
    is the port bound, ``.results`` the reports); ``serve()`` serves in the calling thread
    until ``max_connections`` were served or ``stop()`` is called.

    ``on_result(report)`` is called (serialised by a lock) for every served connection.
    Other options are the automaton's (``echo``, ``keylog``, ``timeout``, ``response``).
    """

    def __init__(self, host="127.0.0.1", port=4433, *, max_connections=None, max_workers=64,
                 backlog=128, on_result=None, keep_results=True, config=None, context=None,
                 psks=(), **options):
        self.host = host
        self.port = port
        self.max_connections = max_connections
        self.max_workers = max(1, int(max_workers))
        self.backlog = backlog
        self.on_result = on_result
        self.keep_results = keep_results
        self.results = []
        conf_opts = {k: options.pop(k) for k in _CONFIG_OPTIONS if k in options}
        if config is None:
            cert, key = conf_opts.pop("cert", None), conf_opts.pop("key", None)
            config = server_config(cert, key, **conf_opts)
        self.config = config
        # One runtime state for every connection: a ticket or session one connection
        # issues resumes on any other, and a ticket's 0-RTT is accepted once server-wide.
        self.context = context if context is not None else _context(config)
        for psk in psks:           # (identity, secret[, hash]): TLS 1.3 external PSKs
            self.context.add_external_psk(*psk)
        self.options = options
        self.served = 0
        self.pending = 0          # connections claimed (accepting or being served)
        self._workers = 0
        self._accepting = 0       # workers waiting in accept() or for a claim
        # Reentrant: stop() may run in a signal handler while the serving thread holds it.
        self._cond = threading.Condition(threading.RLock())
        self._result_lock = threading.Condition()
        self._stopping = False
        self._sock = None
        self._thread = None
        self._active = set()      # the automata being served (for making room)
        self._watching = False    # the serving thread waits on the listening socket
        self._wake = None         # (reader, writer): wakes it from there
        self.evicted = 0          # connections ended early to make room

    # -- lifecycle -----------------------------------------------------------------------

    def bind(self):
        """Bind and listen now (so ``.port`` is known, also when 0 was asked)."""
        if self._sock is None:
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((self.host, self.port))
                sock.listen(self.backlog)
            except OSError:
                sock.close()
                raise
            self._sock = sock
            self.port = sock.getsockname()[1]
        return self

    def start(self):
        """Serve in a background thread; returns self (a context manager stops it)."""
        self.bind()
        self._thread = threading.Thread(target=self.serve, name="tls-listener", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout=5.0):
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            self._wake_up()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def wait(self, timeout=None):
        """Block until the background ``serve()`` returned (max_connections reached)."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def wait_for_results(self, count, timeout=10.0):
        """Block until at least ``count`` reports were collected; False on timeout."""
        with self._result_lock:
            return self._result_lock.wait_for(lambda: len(self.results) >= count, timeout)

    def __enter__(self):
        return self.start() if self._thread is None else self

    def __exit__(self, *exc):
        self.stop()

    # -- serving -------------------------------------------------------------------------

    def _done(self):
        return self._stopping or (self.max_connections is not None
                                  and self.served >= self.max_connections)

    def serve(self):
        """Serve until done; returns the number of connections served."""
        self.bind()
        self._wake = socket.socketpair()
        self._wake[1].setblocking(False)
        try:
            with self._cond:
                self._spawn()
            while self._watch():
                pass
        finally:
            with self._cond:
                self._stopping = True
                self._cond.notify_all()
            try:      # wakes every worker blocked in accept() (EINVAL on Linux)
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._sock.close()
            with self._cond:
                wake, self._wake = self._wake, None
            for s in wake:
                s.close()
        return self.served

    def _full(self):
        """Every worker busy and none may be added: nobody is in accept()."""
        return self._accepting == 0 and self._workers >= self.max_workers

    def _wake_up(self):
        """Wake the serving thread from its wait on the listening socket (lock held)."""
        if self._wake is not None:
            try:
                self._wake[1].send(b"w")
            except OSError:           # full: it is being woken already
                pass

    def _watch(self):
        """One round of the serving thread: wait until every worker is busy, then until a
        client waits in the accept queue, and make room for it. False once serving is over."""
        with self._cond:
            while not self._done() and not self._full():
                self._cond.wait()
            if self._done():
                return False
            self._watching = True
        try:
            poller = select.poll()
            poller.register(self._sock.fileno(), select.POLLIN)
            poller.register(self._wake[0].fileno(), select.POLLIN)
            ready = {fd for fd, _ in poller.poll()}
        finally:
            with self._cond:
                self._watching = False
        if self._wake[0].fileno() in ready:
            try:
                self._wake[0].recv(4096)
            except OSError:
                pass
        if self._sock.fileno() not in ready:
            return True
        with self._cond:
            if self._full() and not self._done():
                wait = self._make_room()
                self._cond.wait_for(lambda: self._done() or not self._full(), wait)
        return True

    def _make_room(self):
        """End the connection idle the longest, when it has been idle ``EVICT_IDLE``
        seconds; returns how long to wait before looking again (lock held)."""
        idlest, idle = None, -1.0
        for atmt in self._active:
            if atmt.evicted is None:
                seconds = atmt.idle_seconds()
                if seconds > idle:
                    idlest, idle = atmt, seconds
        if idlest is None or idle < EVICT_IDLE:
            return EVICT_IDLE - max(idle, 0.0)
        idlest.evict("idle for %.1fs while all %d workers were busy and a new client waited"
                     % (idle, self.max_workers))
        self.evicted += 1
        return EVICT_GRACE

    def _spawn(self):
        """Start one more worker (caller holds the lock)."""
        self._workers += 1
        self._accepting += 1
        threading.Thread(target=self._worker, name="tls-worker-%d" % self._workers,
                         daemon=True).start()

    def _claim(self):
        """Wait until a connection may be accepted; False when serving is over. A worker
        holding a claim counts in ``pending`` (caller holds the lock)."""
        while True:
            if self._done():
                return False
            if self.max_connections is None or \
                    self.served + self.pending < self.max_connections:
                self.pending += 1
                return True
            self._cond.wait()       # in-flight connections may turn out to be probes

    def _worker(self):
        """Accept, make sure someone else accepts next, serve; again until done."""
        # Ctrl-C and SIGTERM must reach the thread waiting in serve() (Python runs handlers
        # there only, and a signal delivered to a worker would not wake it).
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        while True:
            with self._cond:
                if not self._claim():
                    self._accepting -= 1
                    self._workers -= 1
                    return
            try:
                sock, addr = self._sock.accept()
            except OSError:          # shut down by serve(), or a connection aborted early
                with self._cond:
                    self.pending -= 1
                    self._cond.notify_all()
                    if not self._stopping:
                        # e.g. out of file descriptors: back off instead of spinning
                        self._cond.wait(0.05)
                continue
            with self._cond:
                self._accepting -= 1
                if self._accepting == 0:
                    if self._workers < self.max_workers:
                        self._spawn()
                    else:           # full: the serving thread watches the accept queue
                        self._cond.notify_all()
            report = None
            try:
                report = run_automaton(sock, addr, self.config, self.options,
                                       self.context, self._track)
            finally:
                self._finish(report)
                with self._cond:
                    self._accepting += 1
                    if self._accepting == 1 and self._workers >= self.max_workers:
                        # The pool was full: the serving thread may be waiting on it.
                        self._cond.notify_all()
                        if self._watching:
                            self._wake_up()

    def _track(self, atmt, serving):
        """``run_automaton`` says when an automaton starts and stops serving."""
        with self._cond:
            if serving:
                self._active.add(atmt)
            else:
                self._active.discard(atmt)

    def _finish(self, report):
        probe = report is None or (not report.get("bytes_received")
                                   and not report.get("errors"))
        if not probe:
            with self._result_lock:
                if self.keep_results:
                    self.results.append(report)
                if self.on_result is not None:
                    try:
                        self.on_result(report)
                    except Exception:
                        pass
                self._result_lock.notify_all()
        with self._cond:
            self.pending -= 1
            if not probe:
                self.served += 1
            # Only a max_connections budget makes anyone wait on this (serve() for the end,
            # _claim() for room); waking them for nothing would cost a thread switch each time.
            if self.max_connections is not None:
                self._cond.notify_all()


def _context(config):
    """A new ``ServerContext`` holding the config's session cache, ticket keys and CAs."""
    from ..connection.server_context import ServerContext
    return ServerContext.from_config(config)


def run_automaton(sock, addr, config, options, context=None, track=None):
    """Serve one accepted connection with a fresh automaton; always returns a report.
    ``track(atmt, serving)`` is told when the automaton starts and stops serving."""
    atmt = None
    try:
        atmt = TLSServerAutomaton(sock=sock, config=config, inline=True, context=context,
                                  **options)
        if track is not None:
            track(atmt, True)
        report = atmt.run_inline()
        if report is None:
            raise RuntimeError("automaton stopped without a report")
        return report
    except Exception as exc:      # a bug in one connection must not stop the others
        try:
            sock.close()
        except OSError:
            pass
        report = {}
        if atmt is not None and getattr(atmt, "conn", None) is not None:
            try:
                report = atmt.report()
            except Exception:
                pass
        report.setdefault("client", "%s:%d" % addr[:2])
        report.setdefault("errors", []).append("internal error: %s: %s"
                                               % (type(exc).__name__, exc))
        return report
    finally:
        if atmt is not None:
            if track is not None:
                track(atmt, False)
            with atmt.started:       # the control thread has finished
                pass
            atmt.destroy()


def serve(**options):
    """Serve in the calling thread (what ``scapy-tls-hs server`` does); see ``TLSListener``."""
    return TLSListener(**options).serve()
