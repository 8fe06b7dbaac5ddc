"""The TLS client automaton: one TCP connection, one handshake, optional data, close.

Rules of this module:
- Every protocol decision belongs to ``connection.client.ClientConnection``. The automaton only
  moves bytes (socket -> ``receive_data()``, ``data_to_send()`` -> socket), maps the core's
  state to its own, reacts to the events it gets back, and keeps time.
- The core is fed one whole record at a time, and the automaton changes state as soon as the
  core does: a server flight that arrives in one TCP segment still walks through
  WAIT_SERVER_HELLO_DONE and WAIT_SERVER_FINISHED (what is left waits in ``pending`` and is
  taken by the next state's condition before it reads the socket again).
- Which automaton state goes with which core state is data (``phases.py``, made from the
  core's transition tables for TLS 1.0-1.2 and 1.3): no copy of the core's state names.
- Reads block on the socket (``poll`` through ``TCPStream.select``) with a timeout; no busy
  polling. Each waiting state has its timer: the handshake states and APP_DATA use
  ``timeout``, RECEIVING the short ``idle_timeout`` (the answer is over when the server goes
  quiet), CLOSING the wait for the server's close_notify; and no timer runs past the run's
  deadline, ``timeout`` seconds after it started (a ``Deadline``): a server that never stops
  sending is cut there, with an error.
- Memory is bounded whatever the server sends: at most ``max_receive`` bytes of its data are
  kept (more ends the read, with an error), and the core's event and message lists are
  trimmed as they grow (``EventBound``: the handshake, the first records, counts).
- Whatever goes wrong ends in a final state (CLOSED or ERROR) that returns a ``ClientResult``:
  ``run()`` never raises for a failing server; the alert the core queued is sent first.
  Only bad options (unknown suite, unreadable key file) raise, from ``run()``.

States (the automaton's state follows the core's after each chunk received)::

    BEGIN --(TCP connected)--> CONNECTED --(ClientHello sent)--> WAIT_SERVER_HELLO
    WAIT_SERVER_HELLO --(full handshake)--> WAIT_SERVER_HELLO_DONE
        --(our Certificate/ClientKeyExchange/CCS/Finished sent)--> WAIT_SERVER_FINISHED
    WAIT_SERVER_HELLO --(resumption)--> WAIT_SERVER_FINISHED
    TLS 1.3: WAIT_SERVER_HELLO (again after a HelloRetryRequest) --> WAIT_SERVER_HELLO_DONE
        (EncryptedExtensions, CertificateRequest, Certificate, CertificateVerify)
        --> WAIT_SERVER_FINISHED --(our flight sent)--> APP_DATA (KeyUpdate, data)
    WAIT_SERVER_FINISHED --(server Finished verified)--> APP_DATA
    APP_DATA --(data sent, first answer)--> RECEIVING --(quiet)--> CLOSING --> CLOSED
    APP_DATA --(nothing to send, no 0-RTT data accepted)--> CLOSING
    any --(server close_notify or EOF after the handshake)--> CLOSED
    any --(alert, bad bytes, timeout, EOF in the handshake)--> ERROR
"""
import copy
import ipaddress
import socket
import threading
import time

from scapy.automaton import ATMT, Automaton
from scapy.plist import PacketList

from ..codec.records import MAX_RECORD_LENGTH
from ..errors import AlertError, TLSError
from .client_result import ClientResult
from .inline import run_states
from .phases import CLIENT_STATES as _CORE_TO_OURS, ORDER as _ORDER, core_state_map
from .stream import (ConnectionIO, Deadline, EventBound, KeylogWriter, TCPStream, group_list,
                     own_timers)

__all__ = ["TLSClientAutomaton", "ClientResult", "client_config", "core_state_map"]

MAX_RECEIVED = 1 << 20          # default max_receive: 1 MiB of the server's data
IDLE_TIMEOUT = 0.5              # after the server's last data, wait this long for more
CLOSE_WAIT = 1.0                # after our close_notify, wait at most this for the server's

_HANDSHAKE_DONE, _ANSWERING, _CLOSING = "APP_DATA", "RECEIVING", "CLOSING"
_AFTER_HANDSHAKE = frozenset((_HANDSHAKE_DONE, _ANSWERING, _CLOSING))


def _is_ip(host):
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def _versions(version, versions, min_version=None):
    """``version`` is the highest version offered, ``min_version`` the lowest (default: every
    lower one, as any client accepts); ``versions`` is the exact set."""
    from ..connection.config import parse_versions, version_range
    if versions is not None:
        return parse_versions(versions)
    return version_range(version, min_version)


def client_config(server=None, *, version=None, versions=None, min_version=None,
                  ciphers=None, sni=None, alpn=None, cert=None, key=None, cafile=None,
                  session=None, ems=True, etm=True, tickets=True, client_hello=None,
                  groups=None, sig_schemes=None, verify_hostname=None, early_data=None,
                  key_shares=None, record_size_limit=None):
    """A ``ClientConfig`` from the automaton's options (the CLI's flags).

    ``sni`` defaults to ``server`` when that is a host name (never an IP address, RFC 6066
    section 3); ``sni=False`` sends none. With ``cafile``, the server certificate must be
    valid for ``verify_hostname``, by default the SNI name, or else the IP address
    ``server`` (as curl and OpenSSL check it). ``groups``: names (``"x25519"``) or code
    points, the first one gets the TLS 1.3 key share. ``early_data`` (bytes or str) is
    sent as 0-RTT data when ``session`` allows it; ``key_shares`` ({group: EphemeralKey})
    are the private halves of the shares of a ``client_hello`` given as is;
    ``record_size_limit`` is offered (RFC 8449) when given.
    """
    from ..connection.config import ClientConfig
    if sni is None and server and not _is_ip(server):
        sni = server
    if verify_hostname is None and not sni and server and _is_ip(server):
        verify_hostname = server
    kwargs = dict(versions=_versions(version, versions, min_version), ciphers=ciphers or None,
                  sni=sni or None, alpn=alpn or None, cert_chain=cert, private_key=key,
                  cafile=cafile, ems=ems, etm=etm, tickets=tickets, session=session,
                  client_hello=client_hello, verify_hostname=verify_hostname)
    # The TLS 1.3 options go in only when used, so a config without them keeps working.
    if groups is not None:
        kwargs["groups"] = group_list(groups)
    if sig_schemes is not None:
        kwargs["sig_schemes"] = tuple(sig_schemes)
    if early_data is not None:
        kwargs["early_data"] = _bytes(early_data)
    if key_shares is not None:
        kwargs["key_shares"] = dict(key_shares)
    if record_size_limit is not None:
        kwargs["record_size_limit"] = record_size_limit
    return ClientConfig(**kwargs)


def _bytes(data):
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


class TLSClientAutomaton(ConnectionIO, Automaton):
    """``TLSClientAutomaton("127.0.0.1", 4433, data=b"GET / HTTP/1.0\\r\\n\\r\\n").run()``
    connects, runs the handshake, sends ``data``, collects the answer, closes, and returns a
    ``ClientResult``.

    Options mirror ``scapy-tls-hs client``: ``version`` (highest offered; or ``versions``, the
    exact set), ``ciphers``, ``sni``, ``alpn``, ``cert``, ``key``, ``cafile``, ``data``,
    ``session`` (a previous result's ``.session``: resume it), ``keylog`` (NSS key log file),
    ``timeout``; ``min_version`` (lowest offered), ``groups`` (names such as ``"x25519"``
    or code points, in order of preference; the first gets the TLS 1.3 key share),
    ``early_data`` (bytes sent as TLS 1.3 0-RTT data when ``session`` is resumed),
    ``key_update`` (TLS 1.3: send a KeyUpdate asking for one back after the handshake,
    before ``data``), ``key_shares`` ({group: EphemeralKey}, the private halves of the
    shares of a TLS 1.3 ``client_hello``); also ``ems``, ``etm``, ``tickets`` (offer the
    extensions), ``sig_schemes`` (code points, in order of preference), ``verify_hostname``
    (the name or IP address ``cafile`` verification checks; default the SNI name, else
    ``server`` when it is an IP address), ``client_hello``
    (a ``TLSClientHello`` packet, codec ``ClientHello`` or bytes, sent as is), ``config`` (a
    prebuilt ``ClientConfig`` replacing the protocol options), ``sock`` (an already connected
    TCP socket), ``idle_timeout`` (how long the server may stay quiet once it has answered),
    ``max_receive`` (bytes of the server's data kept; more ends the read, with an error),
    ``tamper`` (``f(msg_type, body) -> body or None``, called on each handshake message we
    send; or ``f(message)``: the message as a scapy_tls_hs layer, returning a packet, bytes
    or None), ``renegotiate`` (TLS 1.0-1.2: renegotiate after the handshake, before ``data``),
    ``record_size_limit`` (offered, RFC 8449).
    """

    def __init__(self, server=None, dport=443, **options):
        self.deadline = Deadline()
        self.timeout = own_timers(type(self).timeout, self.deadline)
        stream = TCPStream(None, timeout=options.get("timeout") or 10.0)
        # Scapy's Automaton takes ``sock`` (our stream) and ``session`` (a Scapy session)
        # for itself: the user's connected socket and TLS session travel under other names.
        options["tcp_socket"] = options.pop("sock", None)
        options["tls_session"] = options.pop("session", None)
        super().__init__(server, dport, sock=stream, **options)
        if options.get("config") is None:
            # Bad options fail here (ValueError naming them), not later in run(); the
            # config made now is the one run() uses.
            self.parse_args(*self.init_args, **self.init_kargs)
            self.init_kargs["config"] = self.config

    def parse_args(self, server=None, dport=443, version=None, versions=None, ciphers=None,
                   sni=None, alpn=None, cert=None, key=None, cafile=None, data=None,
                   session=None, keylog=None, timeout=10.0, client_hello=None, config=None,
                   ems=True, etm=True, tickets=True, groups=None, sig_schemes=None,
                   idle_timeout=IDLE_TIMEOUT, tamper=None, tcp_socket=None, tls_session=None,
                   sock=None, verify_hostname=None, min_version=None, early_data=None,
                   key_update=False, key_shares=None, max_receive=MAX_RECEIVED,
                   renegotiate=False, record_size_limit=None, **kargs):
        super().parse_args(**kargs)
        session = tls_session if tls_session is not None else session
        if config is None:
            config = client_config(server, version=version, versions=versions,
                                   min_version=min_version, ciphers=ciphers, sni=sni,
                                   alpn=alpn, cert=cert, key=key, cafile=cafile,
                                   session=session, ems=ems, etm=etm, tickets=tickets,
                                   client_hello=client_hello, groups=groups,
                                   sig_schemes=sig_schemes, verify_hostname=verify_hostname,
                                   early_data=early_data, key_shares=key_shares,
                                   record_size_limit=record_size_limit)
        elif session is not None or early_data is not None or key_shares is not None:
            # A shallow copy keeps the loaded certificates and resolved suites.
            config = copy.copy(config)
            if session is not None:
                config.session = session
            if early_data is not None:
                config.early_data = _bytes(early_data)
            if key_shares is not None:
                config.key_shares = dict(key_shares)
        self.config = config
        # The KeyUpdate is the automaton's to send, after the handshake and before ``data``.
        self.key_update = bool(key_update)
        # RFC 5746 renegotiation, started after the handshake; our data waits for its end.
        self.renegotiate = bool(renegotiate)
        self._renegotiation_running = False
        self.server, self.dport = server, int(dport)
        self.given_socket = tcp_socket
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.data = data
        self.keylog = KeylogWriter(keylog)
        self.tamper = tamper
        self.read_timeout = float(timeout) if timeout else 10.0
        self.idle_timeout = min(float(idle_timeout), self.read_timeout)
        waits = {"RECEIVING": self.idle_timeout,
                 "CLOSING": min(CLOSE_WAIT, self.read_timeout)}
        for state, timers in self.timeout.items():
            for timer in timers:
                timer.set(waits.get(state, self.read_timeout))
        self.max_receive = max(0, int(max_receive))
        self.conn = None
        self.pending = bytearray()      # received, not yet handed to the core
        self.received = bytearray()
        self.receive_full = False       # more than max_receive came: the read is over
        self.bound = EventBound()
        self.errors = []
        self.started_at = None

    # -- running: in the caller's thread when nothing needs Scapy's control thread ---------

    def _do_start(self, *args, **kargs):
        """Scapy starts a control thread per automaton here. Starting a thread costs more
        than a whole TLS handshake on a busy machine, so it is put off until something needs
        it (``runbg()``, ``next()``, breakpoints, interception points); a plain blocking
        ``run()`` runs the states in the caller's thread instead."""
        self._deferred_start = (args, kargs)

    def _ensure_thread(self):
        if getattr(self, "_deferred_start", None) is not None:
            args, kargs = self._deferred_start
            self._deferred_start = None
            Automaton._do_start(self, *args, **kargs)

    def run(self, resume=None, wait=True):
        """Run to the end and return the ``ClientResult``. Afterwards the automaton's pipes
        are closed at once (Scapy's states hold references to the automaton, so they would
        otherwise wait for the cyclic garbage collector, and a process running many
        connections would run out of descriptors ``select()`` can watch)."""
        if (resume is None and wait and getattr(self, "_deferred_start", None) is not None
                and not self.breakpoints and not self.interception_points):
            self._deferred_start = None
            try:
                return self._run_inline()
            finally:
                self.destroy()
        self._ensure_thread()
        result = super().run(resume, wait)
        if isinstance(result, ClientResult):
            with self.started:          # the control thread has let go of it
                pass
            self.destroy()
        return result

    def runbg(self, resume=None, wait=False):
        self._ensure_thread()
        return super().runbg(resume, wait)

    def __next__(self):
        self._ensure_thread()
        return super().__next__()

    def _run_inline(self):
        """What Scapy's control thread does for a RUN command, without the thread and its
        command pipes: set up, then walk the states to a final one."""
        with self.started:
            self.threadid = threading.get_ident()
            self.packets = PacketList(name="session[%s]" % self.__class__.__name__)
            self.parse_args(*self.init_args, **self.init_kargs)
            self.state = self.initial_states[0](self)
            self.send_sock = self.listen_sock = self.sock
            try:
                return run_states(self)
            finally:
                self.threadid = None
                self.sock.close()

    # -- helpers -------------------------------------------------------------------------

    def _feed(self, chunk):
        """Hand the bytes to the core, send its answer, keep the data and alerts it reports.
        A protocol error ends in ERROR once the queued alert is out."""
        try:
            events = self.conn.receive_data(bytes(chunk))
        except AlertError as exc:
            self._on_events(getattr(exc, "events", ()))
            self._error(str(exc) if exc.received else "sent alert %s" % exc)
            self._flush_quietly()
            self._write_keylog()
            raise self.ERROR()
        self._on_events(events)
        self.bound.trim(self.conn)
        self._write_keylog()
        self._flush()

    def _on_events(self, events):
        for ev in events:
            kind = type(ev).__name__
            if kind == "ApplicationData":
                room = self.max_receive - len(self.received)
                if len(ev.data) > room and not self.receive_full:
                    self.receive_full = True
                    self._error("received more than %d bytes (max_receive): read stopped"
                                % self.max_receive)
                if room > 0:
                    self.received += ev.data[:room]
            elif kind == "Alert" and ev.description != "close_notify" and ev.level != 2:
                self._error("received warning alert %s" % ev.description)

    def _next_record(self):
        """The first whole record of ``pending`` (removed from it), or None. A header that
        cannot be TLS goes to the core as it is: the core raises the right alert."""
        buf = self.pending
        if len(buf) < 5:
            return None
        length = buf[3] << 8 | buf[4]
        if not 20 <= buf[0] <= 24 or buf[1] != 3 or length > MAX_RECORD_LENGTH:
            record = bytes(buf)
            buf.clear()
            return record
        if len(buf) < 5 + length:
            return None
        record = bytes(buf[:5 + length])
        del buf[:5 + length]
        return record

    def _consume(self, *targets):
        """Move to the state the core has reached, then feed the pending records one by one
        and do so again after each. ``targets`` are the states this one may go to (each
        condition lists its own, so Scapy's graph shows the real transitions). When the core
        went further in one record than the next state (a TLS 1.3 server flight in one
        record goes from EncryptedExtensions to the handshake's end), the nearest target on
        the way is taken: its own condition moves on at once, without reading."""
        while True:
            self._follow_core(targets)
            record = self._next_record()
            if record is None:
                return
            self._feed(record)
            if self.receive_full and self.state.state != _CLOSING:
                raise self.CLOSING()

    def _follow_core(self, targets):
        target = self._state_for(self.conn.state)
        if target is None:
            return
        for state in targets:
            if state.atmt_state == target:
                raise state()
        if target in _ORDER and self.state.state in _ORDER:
            here, there = _ORDER.index(self.state.state), _ORDER.index(target)
            on_the_way = [t for t in targets if t.atmt_state in _ORDER
                          and here < _ORDER.index(t.atmt_state) < there]
            if on_the_way:
                raise max(on_the_way, key=lambda t: _ORDER.index(t.atmt_state))()
        self._error("internal error: core state %s in %s" % (self.conn.state,
                                                             self.state.state))
        raise self.ERROR()

    def _state_for(self, core_state):
        """The automaton state that matches the core's ``core_state``; None to stay."""
        here = self.state.state
        if here in _AFTER_HANDSHAKE and getattr(self.conn, "renegotiating", False):
            return None     # a renegotiation runs inside the connection: the core's business
        target = _CORE_TO_OURS.get(core_state, here)
        if target == _HANDSHAKE_DONE and here in _AFTER_HANDSHAKE:
            target = _ANSWERING if self.received and here != _CLOSING else here
        return None if target == here else target

    def _write_keylog(self):
        """Key log lines as soon as their secrets exist (even if the handshake then fails,
        the capture can still be read): TLS 1.2's CLIENT_RANDOM line, TLS 1.3's secrets."""
        try:
            self.keylog.update(self.conn)
        except OSError as exc:
            self._error("cannot write the key log: %s" % (exc.strerror or exc))

    def result(self):
        elapsed = None if self.started_at is None else time.monotonic() - self.started_at
        self.bound.trim(self.conn)
        result = ClientResult(self.conn, client=self.sock.local, server=self.sock.peer,
                              received=self.received, errors=self.errors, elapsed=elapsed)
        result.messages_dropped = self.bound.dropped
        return result

    # -- states --------------------------------------------------------------------------

    @ATMT.state(initial=1)
    def BEGIN(self):
        """Open the TCP connection (or take the socket we were given)."""
        from ..connection.client import ClientConnection
        from .tamper import connection_tamper
        self.started_at = time.monotonic()
        self.deadline.at = self.started_at + self.read_timeout
        self.conn = ClientConnection(self.config)
        if self.tamper is not None:
            self.conn.tamper = connection_tamper(self.tamper, self.conn)
        if self.given_socket is not None:
            self.sock.attach(self.given_socket)
            return
        try:
            tcp = socket.create_connection((self.server, self.dport),
                                           timeout=self.read_timeout)
        except socket.timeout:
            self._error("timeout: no TCP connection to %s:%d in %gs"
                        % (self.server, self.dport, self.read_timeout))
        except OSError as exc:
            self._error("cannot connect to %s:%d: %s"
                        % (self.server, self.dport, exc.strerror or exc))
        else:
            self.sock.attach(tcp)

    @ATMT.condition(BEGIN)
    def tcp_connected(self):
        if self.errors:
            raise self.ERROR()
        raise self.CONNECTED()

    @ATMT.state()
    def CONNECTED(self):
        """TCP is up: send the ClientHello (ours, or the user's as is)."""
        self.conn.start()
        self._write_keylog()        # with 0-RTT data, the early traffic secret exists now
        self._flush()

    @ATMT.condition(CONNECTED)
    def client_hello_sent(self):
        raise self.WAIT_SERVER_HELLO()

    @ATMT.state()
    def WAIT_SERVER_HELLO(self):
        """Waiting for the ServerHello: it says full handshake or resumption."""

    def _server_hello(self):
        self._consume(self.WAIT_SERVER_HELLO_DONE, self.WAIT_SERVER_FINISHED, self.CLOSED)

    @ATMT.condition(WAIT_SERVER_HELLO)
    def pending_server_hello(self):
        self._server_hello()

    @ATMT.receive_condition(WAIT_SERVER_HELLO)
    def server_hello(self, chunk):
        self.pending += chunk
        self._server_hello()

    @ATMT.state()
    def WAIT_SERVER_HELLO_DONE(self):
        """Full handshake: Certificate, ServerKeyExchange, CertificateRequest, ServerHelloDone.
        The core answers ServerHelloDone with our flight (Certificate, ClientKeyExchange,
        CertificateVerify, ChangeCipherSpec, Finished)."""

    def _server_flight(self):
        self._consume(self.WAIT_SERVER_FINISHED, self.CLOSED)

    @ATMT.condition(WAIT_SERVER_HELLO_DONE)
    def pending_server_flight(self):
        self._server_flight()

    @ATMT.receive_condition(WAIT_SERVER_HELLO_DONE)
    def server_flight(self, chunk):
        self.pending += chunk
        self._server_flight()

    @ATMT.state()
    def WAIT_SERVER_FINISHED(self):
        """NewSessionTicket, ChangeCipherSpec and Finished from the server (after our
        Finished, or right after the ServerHello when resuming)."""

    def _server_finished(self):
        self._consume(self.APP_DATA, self.CLOSED)

    @ATMT.condition(WAIT_SERVER_FINISHED)
    def pending_server_finished(self):
        self._server_finished()

    @ATMT.receive_condition(WAIT_SERVER_FINISHED)
    def server_finished(self, chunk):
        self.pending += chunk
        self._server_finished()

    @ATMT.state()
    def APP_DATA(self):
        """Handshake done: the KeyUpdate when asked (TLS 1.3), our data, then wait for the
        answer (also to 0-RTT data the server accepted, when there is no data to send)."""
        self._write_keylog()
        if self.renegotiate and self._start_renegotiation():
            return
        if self.key_update:
            self._send_key_update()
        if not self.data:
            self._flush()
            if getattr(self.conn, "early_data", None) != "accepted":
                raise self.CLOSING()
            return
        try:
            self.conn.send_application_data(self.data)
        except TLSError as exc:
            self._error(str(exc))
            raise self.ERROR()
        self._flush()

    def _send_key_update(self):
        """RFC 8446 section 4.6.3: KeyUpdate with update_requested; our sending keys change
        at once, the server's answer (its own KeyUpdate) comes with its next records. Queued
        only: it leaves with the data, in one segment (a peer that reads the KeyUpdate alone
        may wait before it reads on; ``s_server -www`` sleeps a second)."""
        if self.conn.version != 0x0304:
            self._error("no key update: %s was negotiated, KeyUpdate is TLS 1.3's"
                        % self.conn.version_name)
            return
        try:
            self.conn.send_key_update(request=True)
        except TLSError as exc:
            self._error("key update: %s" % exc)
            raise self.ERROR()

    def _start_renegotiation(self):
        """True when a new handshake started. Our data waits for its end: OpenSSL takes no
        application data in the middle of a renegotiation."""
        self.renegotiate = False
        try:
            self.conn.renegotiate()
        except TLSError as exc:
            self._error("no renegotiation: %s" % exc)
            return False
        self._flush()
        self._renegotiation_running = True
        return True

    def _renegotiation_over(self):
        if self._renegotiation_running and not self.conn.renegotiating:
            self._renegotiation_running = False
            if not self.conn.renegotiations:
                self._error("the server refused to renegotiate (no_renegotiation)")
            raise self.APP_DATA()

    @ATMT.condition(APP_DATA)
    def pending_answer(self):
        self._consume(self.RECEIVING, self.CLOSED)
        self._renegotiation_over()

    @ATMT.receive_condition(APP_DATA)
    def first_answer(self, chunk):
        self.pending += chunk
        self._consume(self.RECEIVING, self.CLOSED)
        self._renegotiation_over()

    @ATMT.state()
    def RECEIVING(self):
        """The server is answering: more may come; it is over when the server closes or stays
        quiet for ``idle_timeout``. Re-entered on each chunk, which restarts the timer."""

    @ATMT.condition(RECEIVING)
    def pending_more_answer(self):
        self._consume(self.CLOSED)

    @ATMT.receive_condition(RECEIVING)
    def more_answer(self, chunk):
        self.pending += chunk
        self._consume(self.CLOSED)
        # Re-entering RECEIVING re-arms its timer: a server that never pauses would never
        # let it fire, so the run's deadline is checked here too.
        if self.deadline.passed():
            self._answer_cut()
        raise self.RECEIVING()

    @ATMT.state()
    def CLOSING(self):
        """Our close_notify goes out; the server's (or its FIN) is awaited briefly."""
        if self.conn.closed or self.sock.closed:
            raise self.CLOSED()
        self.conn.close()
        # The server may have gone already: a close that cannot be sent is no failure.
        self._flush_quietly()

    @ATMT.condition(CLOSING)
    def pending_close(self):
        self._consume(self.CLOSED)

    @ATMT.receive_condition(CLOSING)
    def server_close(self, chunk):
        self.pending += chunk
        self._consume(self.CLOSED)

    @ATMT.state(final=1)
    def CLOSED(self):
        self.sock.close()
        return self.result()

    @ATMT.state(final=1)
    def ERROR(self):
        self.sock.close()
        return self.result()

    # -- timeouts and EOF ----------------------------------------------------------------

    def _handshake_timeout(self):
        self._error("timeout: no answer from the server in %s after %gs"
                    % (self.state.state, self.read_timeout))
        self._flush_quietly()
        raise self.ERROR()

    @ATMT.timeout(WAIT_SERVER_HELLO, 10)
    def timeout_server_hello(self):
        self._handshake_timeout()

    @ATMT.timeout(WAIT_SERVER_HELLO_DONE, 10)
    def timeout_server_flight(self):
        self._handshake_timeout()

    @ATMT.timeout(WAIT_SERVER_FINISHED, 10)
    def timeout_server_finished(self):
        self._handshake_timeout()

    @ATMT.timeout(APP_DATA, 10)
    def no_answer(self):
        raise self.CLOSING()

    @ATMT.timeout(RECEIVING, 10)
    def answer_over(self):
        if self.deadline.passed():
            self._answer_cut()
        raise self.CLOSING()

    def _answer_cut(self):
        self._error("timeout: the server was still sending after %gs: read stopped"
                    % self.read_timeout)
        raise self.CLOSING()

    @ATMT.timeout(CLOSING, 10)
    def no_close_notify(self):
        raise self.CLOSED()

    def _eof_in_handshake(self):
        self._error("connection closed by the server during the handshake (in %s)"
                    % self.state.state)
        raise self.ERROR()

    @ATMT.eof(WAIT_SERVER_HELLO)
    def eof_server_hello(self):
        self._eof_in_handshake()

    @ATMT.eof(WAIT_SERVER_HELLO_DONE)
    def eof_server_flight(self):
        self._eof_in_handshake()

    @ATMT.eof(WAIT_SERVER_FINISHED)
    def eof_server_finished(self):
        self._eof_in_handshake()

    @ATMT.eof(APP_DATA)
    def eof_app_data(self):
        raise self.CLOSED()

    @ATMT.eof(RECEIVING)
    def eof_receiving(self):
        raise self.CLOSED()

    @ATMT.eof(CLOSING)
    def eof_closing(self):
        raise self.CLOSED()
