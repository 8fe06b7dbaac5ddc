"""The TLS server automaton: one instance per TCP connection, IDLE -> WAIT -> APP_DATA.

Rules of this module:
- Every protocol decision belongs to ``connection.server.ServerConnection``. The automaton only
  moves bytes (socket -> ``receive_data()``, ``data_to_send()`` -> socket), reacts to the
  events it gets back, and keeps time.
- Reads block on the socket (Scapy's select, here ``poll``) with a timeout: the whole handshake
  must end within ``timeout`` seconds (WAIT), and once it is done the client may stay silent
  at most ``timeout`` seconds between two records (APP_DATA). No busy polling anywhere.
- What a connection may take is bounded, whatever the client does: the whole connection
  lasts at most ``lifetime`` seconds; after the handshake an HTTP request head must be
  complete within ``timeout`` seconds and at most ``MAX_REQUEST_HEAD`` bytes (scanned once:
  each arrival only), and the client must send at least ``min_rate`` bytes/s of data over
  each ``timeout``-long window; the core's record and message lists are trimmed (``EventBound``)
  and at most ``MAX_REPORTED`` bytes of the client's data are kept for the report. The
  listener may end an idle connection early to make room for a new one (``evict()``).
- Whatever goes wrong ends in a final state (CLOSED or ERROR) that returns the report: a
  failing client never raises out of ``run()``; the alert the core queued is sent first.
- Nothing here is shared between connections except the read-only ``ServerConfig`` and the
  ``ServerContext`` (thread-safe session cache, ticket keys, used 0-RTT tickets) the listener
  gives every connection; Scapy's timers, which are class attributes, are copied per
  instance for that reason.
- TLS 1.3 needs no state of its own here: WAIT lasts until the core says the handshake is
  complete, whatever the version; 0-RTT data is kept and answered once it is.

States::

    IDLE  --(TCP connection)-->  WAIT  --(both Finished)-->  APP_DATA
    APP_DATA  --(HTTP answer sent, or client idle for ``timeout``)-->  CLOSING
    APP_DATA  --(client's close_notify or EOF)-->  CLOSED
    CLOSING  --(client's close_notify, EOF or a short linger timeout)-->  CLOSED
    WAIT/APP_DATA  --(alert, bad bytes, handshake timeout, EOF in the handshake)-->  ERROR
"""
import socket
import time

from scapy.automaton import ATMT, Automaton

from ..errors import AlertError, TLSError
from ..connection.summary import HandshakeSummary
from ..registry import VERSIONS
from .inline import bare_init, run_states
from .stream import (LINGER_SECONDS, ConnectionIO, Deadline, EventBound, KeylogWriter,
                     TCPStream, group_list, own_timers)

__all__ = ["TLSServerAutomaton", "TCPStream", "server_config", "http_response", "RequestHead"]

MAX_REPORTED = 1 << 20          # keep at most 1 MiB of what the client sent for the report
MAX_REQUEST_HEAD = 32 << 10     # a longer HTTP request head gets 431 (nginx allows 32 KiB)
LIFETIME = 120.0                # default total budget of one connection, in seconds
MIN_RATE = 16.0                 # default bytes/s a client must send after the handshake


def server_config(cert=None, key=None, *, version=None, versions=None, min_version=None,
                  ciphers=None, client_auth="none", cafile=None, alpn=None, tickets=True,
                  session_cache=None, ticket_keys=None, identities=(), ems=True, etm=True,
                  groups=None, early_data=0, renegotiation=True, record_size_limit=None):
    """A ``ServerConfig`` from the automaton's options (the CLI's flags). Built once by the
    listener and shared by every connection: certificates and keys are loaded here.
    ``groups``: names or code points, the server's preference; ``early_data``: how many
    bytes of TLS 1.3 0-RTT data are accepted (0: refused); ``tickets=False``: no session
    tickets of any version."""
    from ..connection.config import ServerConfig
    if client_auth is True:
        client_auth = "required"
    elif client_auth in (False, None):
        client_auth = "none"
    if versions is None and (version is not None or min_version is not None):
        from ..connection.config import version_range
        versions = version_range(version, min_version)
    kwargs = dict(cert_chain=cert, private_key=key, ciphers=ciphers or None,
                  client_auth=client_auth, cafile=cafile, alpn=alpn or None,
                  session_cache=session_cache, ticket_keys=ticket_keys,
                  tickets=tickets, ems=ems, etm=etm, extra_identities=list(identities))
    if versions is not None:
        kwargs["versions"] = versions
    # The TLS 1.3 options go in only when used, so a config without them keeps working.
    if groups is not None:
        kwargs["groups"] = group_list(groups)
    if early_data:
        kwargs["early_data_max"] = int(early_data)
    if not tickets:
        kwargs["tickets13"] = 0
    if not renegotiation:
        kwargs["renegotiation"] = False
    if record_size_limit is not None:
        kwargs["record_size_limit"] = record_size_limit
    return ServerConfig(**kwargs)


def parse_renegotiate_after(text):
    """``--renegotiate-after``: ``30s`` (seconds after the handshake) or ``65536`` / ``64k``
    / ``1M`` (bytes of application data received): ``("seconds" | "bytes", amount)``."""
    text = str(text).strip().lower()
    units = {"s": ("seconds", 1), "k": ("bytes", 1024), "m": ("bytes", 1 << 20)}
    kind, scale = units.get(text[-1:], ("bytes", 1))
    number = text[:-1] if text[-1:] in units else text
    try:
        amount = float(number) * scale
    except ValueError:
        amount = -1
    if not amount > 0:
        raise ValueError("--renegotiate-after takes seconds (30s) or bytes (65536, 64k, 1M), "
                         "not %r" % text)
    return kind, amount


def http_response(session, resumed=False):
    """The default answer: a small HTTP/1.1 200 naming what was negotiated."""
    if session is not None:
        body = "scapy-tls-hs: %s %s%s\n" % (
            VERSIONS.get(session.version, hex(session.version)), session.suite.name,
            " (resumed)" if resumed else "")
    else:
        body = "scapy-tls-hs\n"
    body = body.encode()
    head = ("HTTP/1.1 200 OK\r\nServer: scapy-tls-hs\r\nContent-Type: text/plain\r\n"
            "Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body))
    return head.encode() + body


_HTTP_METHODS = (b"GET ", b"HEAD ", b"POST ", b"PUT ", b"DELETE ", b"OPTIONS ", b"PATCH ",
                 b"CONNECT ", b"TRACE ")


def http_error(status, reason):
    head = ("HTTP/1.1 %d %s\r\nServer: scapy-tls-hs\r\nContent-Length: 0\r\n"
            "Connection: close\r\n\r\n" % (status, reason))
    return head.encode()


class RequestHead:
    """The client's HTTP request head as it arrives. ``feed(data)`` is True once it is
    complete (its blank line is in), at once for anything that is not HTTP, False while more
    is needed; ``too_large`` once more than ``limit`` bytes came without the blank line.
    Each byte is looked at once (the last three bytes of the previous arrivals are kept, for
    a blank line split between two), so a head that never ends costs linear time, and
    nothing of it is kept."""

    __slots__ = ("limit", "size", "start", "tail", "too_large")

    def __init__(self, limit=MAX_REQUEST_HEAD):
        self.limit = limit
        self.size = 0
        self.start = b""            # the first 8 bytes: the method
        self.tail = b""
        self.too_large = False

    def feed(self, data):
        data = bytes(data)
        if len(self.start) < 8:
            self.start += data[:8 - len(self.start)]
        window = self.tail + data
        if b"\r\n\r\n" in window or b"\n\n" in window:
            return True
        head = self.start
        if not any(m.startswith(head) or head.startswith(m) for m in _HTTP_METHODS):
            return True
        self.tail = window[-3:]
        self.size += len(data)
        self.too_large = self.size > self.limit
        return False


def _request_complete(data):
    """An HTTP request is answered once its headers are in; anything else at once."""
    return RequestHead(limit=len(data) + 1).feed(data)


class TLSServerAutomaton(ConnectionIO, Automaton):
    """Serve one TLS client: ``TLSServerAutomaton(cert=..., key=...).run()`` accepts one TCP
    connection on ``host:port`` (or serves ``sock`` when given, as the listener does) and
    returns its report (the ``client --json`` fields, ``received`` being what the client
    sent). Options mirror ``scapy-tls-hs server``: ``cert, key, host, port, version (highest
    served) or versions, min_version, ciphers, client_auth, cafile, keylog, echo, tickets,
    alpn, timeout, groups`` (server preference), ``early_data`` (bytes of TLS 1.3 0-RTT
    data accepted; 0 refuses it), ``lifetime`` (seconds the whole connection may last; 0
    or None: no bound), ``min_rate`` (bytes/s of application data the client must send
    after the handshake, over each ``timeout``-long window; 0: no minimum) (and ``ems``,
    ``etm``: do the extensions when the client offers them); ``config`` (a prebuilt
    ``ServerConfig``) replaces the protocol options,
    ``context`` (a ``ServerContext``: session cache, ticket keys, used 0-RTT tickets, shared
    by the listener's connections), ``response``
    (bytes) replaces the HTTP answer, ``tamper`` (``f(msg_type, body) -> body or None``, or
    ``f(message)`` with the message as a scapy_tls_hs layer returning a packet, bytes or
    None) may change each handshake message we send (to test clients); ``renegotiation``
    (False: refuse client renegotiation), ``renegotiate_after`` ("30s", "64k": send a
    HelloRequest that long after the handshake), ``record_size_limit`` (RFC 8449 answer).
    """

    def __init__(self, sock=None, *, inline=False, **options):
        # Read by the listener's thread from the moment the automaton exists (parse_args
        # may run later, in run_inline): why it was ended early, when bytes last moved.
        self.evicted = None
        self.last_io = time.monotonic()
        self.deadline = Deadline()
        self.timeout = own_timers(type(self).timeout, self.deadline)
        self._inline = inline
        stream = sock if isinstance(sock, TCPStream) else TCPStream(
            sock, timeout=options.get("timeout") or 10.0)
        if inline:
            bare_init(self, stream, options)
        else:
            super().__init__(sock=stream, **options)
        if options.get("config") is None:
            # Bad options fail here (ValueError naming them), not in run().
            self.parse_args(*self.init_args, **self.init_kargs)
            self.init_kargs["config"] = self.config

    def destroy(self, force=False):
        if self._inline:        # nothing of Scapy's control machinery was built
            return
        super().destroy(force)

    def _do_start(self, *args, **kargs):
        # (Overridden rather than ``start``: Scapy's build_graph() follows the names a state
        # uses, and IDLE calls the connection's ``start``.)
        if self._inline:
            return          # run_inline() drives the states in the caller's thread
        super()._do_start(*args, **kargs)

    def run_inline(self):
        """Run to a final state in the calling thread and return the report.

        The states and conditions are walked by ``inline.run_states`` (the graph Scapy
        built, without the control thread and command pipes that ``run()`` puts in
        between): the listener already gives each connection its own thread, and starting
        and handing over to a second one per connection cost more CPU than the
        handshake's protocol work.
        Needs ``inline=True`` at construction (no control thread is started then)."""
        if not self._inline:
            raise ValueError("run_inline() needs TLSServerAutomaton(..., inline=True)")
        with self.started:
            self.parse_args(*self.init_args, **self.init_kargs)
            self.state = self.initial_states[0](self)
            self.send_sock = self.listen_sock = self.sock
            return run_states(self)

    def parse_args(self, cert=None, key=None, host="127.0.0.1", port=4433, version=None,
                   versions=None, ciphers=None, client_auth="none", cafile=None, keylog=None,
                   echo=False, tickets=True, alpn=None, timeout=10.0, response=None,
                   config=None, session_cache=None, ticket_keys=None, identities=(),
                   sock=None, listen_socket=None, tamper=None, ems=True, etm=True,
                   min_version=None, groups=None, early_data=0, context=None,
                   lifetime=LIFETIME, min_rate=MIN_RATE, renegotiation=True,
                   renegotiate_after=None, record_size_limit=None, **kargs):
        super().parse_args(**kargs)
        if config is None:
            config = server_config(cert, key, version=version, versions=versions,
                                   min_version=min_version, ciphers=ciphers,
                                   client_auth=client_auth, cafile=cafile, alpn=alpn,
                                   tickets=tickets, session_cache=session_cache,
                                   ticket_keys=ticket_keys, identities=identities, ems=ems,
                                   etm=etm, groups=groups, early_data=early_data,
                                   renegotiation=renegotiation,
                                   record_size_limit=record_size_limit)
        self.config = config
        # RFC 5746: a HelloRequest once this much time passed or data came after the handshake.
        if isinstance(renegotiate_after, (str, int, float)):
            renegotiate_after = parse_renegotiate_after(renegotiate_after)
        self.renegotiate_after = renegotiate_after
        self._renegotiate_due = None
        self.context = context
        self.host, self.port = host, port
        self.listen_socket = listen_socket
        self.keylog = KeylogWriter(keylog)
        self.echo = echo
        self.response = response
        self.tamper = tamper
        self.read_timeout = float(timeout) if timeout else 10.0
        for timer in self.timeout[self.WAIT.atmt_state]:
            timer.set(self.read_timeout)
        for timer in self.timeout[self.APP_DATA.atmt_state]:
            timer.set(self.read_timeout)
        for timer in self.timeout[self.CLOSING.atmt_state]:
            timer.set(min(self.read_timeout, LINGER_SECONDS))
        self.lifetime = float(lifetime) if lifetime else None
        self.min_rate = float(min_rate or 0)
        self.conn = None
        self.received = bytearray()
        self.request = RequestHead()
        self.early = bytearray()        # 0-RTT data, answered once the handshake is done
        self.errors = []
        self.bytes_in = 0
        self.data_in = 0                # application data bytes (what the rate counts)
        self.answered = False
        self.bound = EventBound()
        self.started_at = self.last_io = self.last_in = time.monotonic()
        self.request_due = None         # when the HTTP request head must be complete
        self.window = None              # [start, data_in at start] of the rate window

    # -- helpers -------------------------------------------------------------------------

    def _feed(self, chunk):
        """Hand the bytes to the core, send its answer, return the events. A protocol error
        ends in ERROR after the queued alert went out."""
        self.bytes_in += len(chunk)
        self.last_io = self.last_in = time.monotonic()
        try:
            events = self.conn.receive_data(bytes(chunk))
        except AlertError as exc:
            self._error(str(exc) if exc.received else "sent alert %s" % exc)
            self._flush_quietly()
            self._write_keylog()        # what failed can still be decrypted
            raise self.ERROR()
        except Exception as exc:    # a core bug must not kill the server nor other clients
            self._error("internal error: %s: %s" % (type(exc).__name__, exc))
            raise self.ERROR()
        closed = False
        for ev in events:
            kind = type(ev).__name__
            if kind == "ApplicationData":
                self.data_in += len(ev.data)
                if len(self.received) < MAX_REPORTED:
                    self.received += ev.data[:MAX_REPORTED - len(self.received)]
                self._on_application_data(ev.data)
            elif kind == "HandshakeComplete":
                if self.early:
                    early, self.early = bytes(self.early), bytearray()
                    self._on_application_data(early)
            elif kind == "Alert":
                if ev.description == "close_notify":
                    closed = True
                elif ev.level == 2:
                    self._error("received alert %s" % ev.description)
                    raise self.ERROR()
                else:
                    self._error("received warning alert %s" % ev.description)
        self.bound.trim(self.conn)
        self._maybe_renegotiate(time.monotonic())
        self._write_keylog()
        self._flush()
        if closed:
            # Answer the client's close_notify with ours (RFC 5246 section 7.2.1).
            self._close_tls()
            if not self.conn.handshake_complete:
                self._error("received alert close_notify during the handshake")
                raise self.ERROR()
            raise self.CLOSED()
        return events

    def _close_tls(self):
        try:
            self.conn.close()
        except TLSError:
            pass
        self._flush_quietly()

    def _on_application_data(self, data):
        # Data that came together with the client's close_notify gets no answer: the
        # connection is closed both ways (RFC 5246 section 7.2.1). TLS 1.3 early data
        # (0-RTT) is answered when the handshake is done: the client is not authenticated
        # before (RFC 8446 section 2.3), and our answer needs the application keys.
        if self.conn.closed:
            return
        if not self.conn.handshake_complete:
            self.early += data
            return
        if self.echo:
            try:
                self.conn.send_application_data(data)
            except TLSError:        # our close_notify already left (idle timeout): drop it
                pass
            return
        if self.answered:
            return
        if self.request.feed(data):
            answer = (self.response if self.response is not None
                      else http_response(self.session, self.conn.resumed))
        elif self.request.too_large:
            self._error("HTTP request head larger than %d bytes: answered 431"
                        % self.request.limit)
            answer = http_error(431, "Request Header Fields Too Large")
        else:
            return
        self.conn.send_application_data(answer)
        # "Connection: close": close_notify leaves with the answer, in one segment.
        self.conn.close()
        self.answered = True

    def _write_keylog(self):
        """Key log lines as their secrets come into being (TLS 1.3 has several)."""
        try:
            self.keylog.update(self.conn)
        except OSError as exc:
            self._error("cannot write the key log: %s" % exc)

    @property
    def session(self):
        return self.conn.session if self.conn is not None else None

    def report(self):
        """The ``client --json`` fields, from the server's side: the shared ones from the
        connection's ``HandshakeSummary``, then what only the server knows."""
        conn = self.conn
        report = {"client": self.sock.peer, "server": self.sock.local}
        report.update(HandshakeSummary.from_connection(conn).fields())
        if report["session_id"] is None:
            report["session_id"] = ""
        report.update(
            encrypt_then_mac=bool(getattr(conn, "encrypt_then_mac", False)),
            handshake_complete=bool(conn is not None and conn.handshake_complete),
            received=bytes(self.received).decode("utf-8", "replace"),
            ticket="S:new_session_ticket" in report["messages"],
            errors=list(self.errors),
            bytes_received=self.bytes_in,
            messages_dropped=self.bound.dropped)
        return report

    # -- time and room -------------------------------------------------------------------

    def evict(self, reason):
        """End this connection now, from another thread (the listener, making room for a new
        client): its socket is shut down, which wakes the automaton's wait (EOF) or fails
        its send; the report says ``reason``."""
        self.evicted = reason
        sock = self.sock.ins
        if sock is not None and not self.sock.closed:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _check_evicted(self):
        """After an EOF: was it ours (``evict()``)? Then the connection failed."""
        if self.evicted:
            raise self.ERROR()

    def idle_seconds(self):
        return time.monotonic() - self.last_io

    def _app_deadline(self):
        """The next moment APP_DATA must look at the clock: the client idle for ``timeout``,
        the lifetime's end, the HTTP request head's due time, the end of the rate window."""
        due = [self.last_in + self.read_timeout]
        if self.min_rate:
            due.append(self.window[0] + self.read_timeout)
        if self.lifetime:
            due.append(self.started_at + self.lifetime)
        if self.request_due is not None and not self.answered:
            due.append(self.request_due)
        if self._renegotiate_due is not None and self._renegotiate_due[0] == "seconds":
            due.append(self._renegotiate_due[1])
        return min(due)

    def _out_of_time(self, now):
        """Why the connection must end now (an error text), None when it may go on; starts
        the next rate window when this one had enough."""
        if self.lifetime and now >= self.started_at + self.lifetime:
            return "timeout: connection open longer than %gs (its lifetime)" % self.lifetime
        if self.request_due is not None and not self.answered and now >= self.request_due:
            return ("timeout: HTTP request head not complete %gs after the handshake"
                    % self.read_timeout)
        if self.window and self.min_rate and now >= self.window[0] + self.read_timeout:
            start, at_start = self.window
            got = self.data_in - at_start
            if got < self.min_rate * (now - start):
                return ("too slow: %d bytes of data in %.1fs after the handshake (minimum "
                        "%g bytes/s)" % (got, now - start, self.min_rate))
            self.window = [now, self.data_in]
        return None

    # -- states --------------------------------------------------------------------------

    @ATMT.state(initial=1)
    def IDLE(self):
        """Waiting for a TCP connection (already there when the listener made us)."""
        if self.sock.ins is None:
            self._accept_one()
        from ..connection.server import ServerConnection
        from .tamper import connection_tamper
        self.conn = ServerConnection(self.config, self.context)
        self.conn.tamper = connection_tamper(self.tamper, self.conn)
        self.conn.start()

    def _accept_one(self):
        lsock = self.listen_socket
        own = lsock is None
        if own:
            lsock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
            lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            lsock.bind((self.host, self.port))
            lsock.listen(1)
        try:
            sock, _ = lsock.accept()
        finally:
            if own:
                lsock.close()
        self.sock.attach(sock)

    @ATMT.condition(IDLE)
    def connected(self):
        raise self.WAIT()

    @ATMT.state()
    def WAIT(self):
        """Handshake in progress: waiting for the client's next flight."""
        if self.lifetime:
            self.deadline.at = self.started_at + self.lifetime

    @ATMT.receive_condition(WAIT)
    def client_flight(self, chunk):
        self._feed(chunk)
        if self.conn.handshake_complete:
            raise self.APP_DATA()

    @ATMT.timeout(WAIT, 10)
    def handshake_timeout(self):
        self._error("timeout: the client did not complete the handshake in %gs"
                    % min(self.read_timeout, self.lifetime or self.read_timeout))
        raise self.ERROR()

    @ATMT.eof(WAIT)
    def closed_in_handshake(self):
        self._check_evicted()
        if self.bytes_in:
            self._error("connection closed by the client during the handshake")
        raise self.ERROR()

    @ATMT.state()
    def APP_DATA(self):
        """Handshake done: answering (HTTP or echo) until the client closes, goes idle or
        runs out of time (lifetime, request head due, too slow)."""
        if self.answered and not self.echo:
            raise self.CLOSING()
        now = time.monotonic()
        if self.window is None:         # first entry: the handshake just completed
            self.window = [now, self.data_in]
            if not self.echo:
                self.request_due = now + self.read_timeout
            if self.renegotiate_after is not None:
                kind, amount = self.renegotiate_after
                self._renegotiate_due = (kind, now + amount if kind == "seconds"
                                         else self.bytes_in + amount)
        elif now >= self.deadline.at:
            # Entered again for each chunk, which re-arms the timer: a client that never
            # pauses would never let it fire, so the clock is read here too.
            why = self._out_of_time(now)
            if why is not None:
                self._error(why)
                raise self.CLOSING()
        self.deadline.at = self._app_deadline()

    @ATMT.receive_condition(APP_DATA)
    def client_data(self, chunk):
        self._feed(chunk)
        if self.answered and not self.echo:
            raise self.CLOSING()
        raise self.APP_DATA()       # re-entered: the idle timer starts again

    def _maybe_renegotiate(self, now):
        due = self._renegotiate_due
        if due is None or self.conn.closed or self.conn.renegotiating:
            return
        kind, at = due
        if (now if kind == "seconds" else self.bytes_in) < at:
            return
        self._renegotiate_due = None
        try:
            self.conn.renegotiate()
        except TLSError as exc:
            self._error("no renegotiation: %s" % exc)
        self._flush()

    @ATMT.timeout(APP_DATA, 10)
    def idle_timeout(self):
        now = time.monotonic()
        self._maybe_renegotiate(now)
        why = self._out_of_time(now)
        if why is not None:
            self._error(why)
            raise self.CLOSING()
        if now - self.last_in >= self.read_timeout:
            raise self.CLOSING()            # idle: an ordinary end, no error
        raise self.APP_DATA()               # the next deadline (a new rate window)

    @ATMT.eof(APP_DATA)
    def client_gone(self):
        self._check_evicted()
        raise self.CLOSED()

    @ATMT.state()
    def CLOSING(self):
        """Answer and close_notify sent; waiting (briefly) for the client's close_notify or
        FIN, so unread client bytes never turn our close into a RST that would destroy the
        answer in flight."""
        self.deadline.at = None             # the linger has its own short bound
        self._close_tls()
        self.sock.shutdown_write()

    @ATMT.receive_condition(CLOSING)
    def client_closing(self, chunk):
        self._feed(chunk)         # records the client's close_notify, then goes to CLOSED

    @ATMT.timeout(CLOSING, LINGER_SECONDS)
    def linger_over(self):
        raise self.CLOSED()

    @ATMT.eof(CLOSING)
    def client_closed(self):
        self._check_evicted()
        raise self.CLOSED()

    @ATMT.state(final=1)
    def CLOSED(self):
        self.sock.close()
        return self.report()

    @ATMT.state(final=1)
    def ERROR(self):
        if self.evicted:
            self._error("closed by the server: %s" % self.evicted)
        if self.sock.ins is not None and not self.sock.closed:
            self.sock.linger(min(self.read_timeout, LINGER_SECONDS))
        self.sock.close()
        return self.report()
