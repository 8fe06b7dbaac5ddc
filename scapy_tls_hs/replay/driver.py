"""Run the replays: one client automaton per captured connection, sessions carried over
for ``resume``."""
from ..codec import extensions as X
from ..errors import TLSError
from .compare import ReplayResult
from .hello import rebuild_client_hello
from .view import read_captured

__all__ = ["replay_capture"]


def _resumed_connection(captured, earlier):
    """The earlier captured connection whose session ``captured`` offers to resume."""
    hello = captured.hello
    ticket_ext = X.find_ext(hello.extensions or [], X.EXT_SESSION_TICKET)
    ticket = ticket_ext.data if ticket_ext is not None else b""
    for prev in reversed(earlier):
        sid = bytes.fromhex(prev.report.session_id or "")
        if ticket and prev.ticket == ticket:
            return prev
        if hello.session_id and sid == hello.session_id:
            return prev
    return None


def replay_capture(path, host, port, keylog=None, sni=None, only=(), resume=False, data=None,
                   timeout=10.0, keylog_out=None):
    """Replay every connection of ``path`` (or the 1-based numbers in ``only``) against
    ``host:port``; a list of ``ReplayResult`` in capture order. ``keylog`` decrypts the
    capture (for the captured side's report); ``keylog_out`` gets NSS lines of the replays."""
    from ..automata.client import TLSClientAutomaton, client_config
    conns = read_captured(path, keylog=keylog)
    wanted = set(only or ())
    missing = sorted(n for n in wanted if not 1 <= n <= len(conns))
    if missing:
        raise TLSError("the capture has %d TLS connection(s): no #%s"
                       % (len(conns), ", #".join(map(str, missing))))
    to = "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)
    sessions = {}
    results = []
    for n, cap in enumerate(conns):
        if wanted and cap.number not in wanted:
            continue
        if cap.hello is None:
            results.append(ReplayResult(cap, to, notes=[cap.hello_error]))
            continue
        notes = []
        session = _session_to_offer(cap, conns[:n], sessions, resume, notes)
        keys = {}
        offered = session
        hello, session, rebuild_notes = rebuild_client_hello(cap.hello, sni=sni, session=session,
                                                             keys=keys)
        notes += rebuild_notes
        if offered is not None and offered.version == 0x0304:
            session = offered if any(e.type == X.EXT_PRE_SHARED_KEY
                                     for e in hello.extensions or ()) else None
        # The hello is sent as it is: the client connection reads what it offered (versions,
        # server_name, groups ...) from the hello itself; the key shares' private halves come
        # with it.
        config = client_config(None, session=session, client_hello=hello, key_shares=keys)
        result = TLSClientAutomaton(host, port, config=config, data=data, timeout=timeout,
                                    keylog=keylog_out).run()
        notes += _why_not_complete(result)
        if result.handshake_complete and result.session is not None:
            sessions[cap.number] = result.session
        results.append(ReplayResult(cap, to, result, notes, hello=hello))
    return results


def _why_not_complete(result):
    """What the capture's offer asked for that this client cannot finish, when the server
    took it up (the alert alone would not say)."""
    if result.handshake_complete or not any("compressed_certificate" in e
                                            for e in result.errors or ()):
        return []
    return ["the server compressed its certificate (RFC 8879), as the captured "
            "compress_certificate allows: this client reads no compressed certificate"]


def _session_to_offer(cap, earlier, sessions, resume, notes):
    psk = X.find_ext(cap.hello.extensions or [], X.EXT_PRE_SHARED_KEY)
    if psk is not None:
        return _tls13_session_to_offer(cap, earlier, sessions, resume, notes)
    offers = bool(cap.hello.session_id) or any(
        e.type == X.EXT_SESSION_TICKET and e.data for e in cap.hello.extensions or ())
    prev = _resumed_connection(cap, earlier) if offers else None
    if prev is None:
        return None
    if not resume:
        if cap.report.resumed:
            notes.append("the capture resumed the session of #%d; without --resume a fresh "
                         "session is offered" % prev.number)
        return None
    session = sessions.get(prev.number)
    if session is None:
        notes.append("the capture resumed #%d, whose replay left no session: a full "
                     "handshake is offered" % prev.number)
    return session



def _tls13_session_to_offer(cap, earlier, sessions, resume, notes):
    """A captured TLS 1.3 resumption: the session of the latest earlier replay to the same
    server name that left a TLS 1.3 ticket (the captured ticket identity is opaque, so the
    capture cannot say which one it was)."""
    if not resume:
        notes.append("the capture offered a TLS 1.3 ticket; without --resume a full handshake "
                     "is offered")
        return None
    for prev in reversed(earlier):
        session = sessions.get(prev.number)
        if session is not None and session.version == 0x0304 and \
                prev.report.sni == cap.report.sni:
            return session
    notes.append("no earlier replay left a TLS 1.3 ticket: a full handshake is offered")
    return None
