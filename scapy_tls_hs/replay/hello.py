"""The captured ClientHello, offered again with fresh secrets.

Same version, cipher suites (same order), compression methods and extensions with their
values (unknown and GREASE ones too); a fresh random and a fresh session id of the same
length. What cannot be sent again as captured, and what is sent instead (each said in the
returned notes):
- ``key_share`` (TLS 1.3): a fresh key for every group we can generate, hybrid ECDHE + ML-KEM
  ones (X25519MLKEM768, a browser's first share) included when cryptography has ML-KEM;
  GREASE entries get fresh random bytes of their captured length. Without ML-KEM a hybrid
  share is left out and its group too (from ``supported_groups``): kept there, a server
  that prefers it may ask for it by HelloRetryRequest (OpenSSL 3.5's group tuples can), a
  share that cannot be made; so the offer narrows to what can finish, and a note says so.
  Other unknown groups keep their captured bytes.
- ``pre_shared_key``: the captured binder belongs to the captured session. Given a TLS 1.3
  session of an earlier replay, the offer is that session's ticket (identity and binder are
  made by the client connection); without one it is left out. ``early_data`` is left out.
- ``session_ticket`` and the session id of a resumption: a fresh offer (empty ticket, random
  id), or, given a session, that session (RFC 5077 section 3.4: a ticket goes with a random
  session id so that the server's acceptance shows).
- ``padding`` (RFC 7685) is resized so the hello keeps its captured length.
"""
import dataclasses
import os

from ..codec import extensions as X
from ..codec.messages import ClientHello
from ..errors import DecodeError
from ..registry import GREASE, NAMED_GROUPS, name
from ..crypto.hybrid import HYBRID_GROUPS, hybrid_supported
from ..crypto.keyexchange import generate_key_share, key_share_supported

__all__ = ["rebuild_client_hello"]

_DROPPED = {X.EXT_PRE_SHARED_KEY: "pre_shared_key", X.EXT_EARLY_DATA: "early_data"}

def rebuild_client_hello(hello, sni=None, session=None, keys=None):
    """``(ClientHello, session, notes)``: ``hello`` offered again with fresh secrets (see the
    module docstring). ``session`` (a client ``Session``) makes it a resumption offer; the
    returned session is the one to give the client connection (its session id may have been
    replaced by the random one that accompanies a ticket), or None. ``keys``, a dict, gets
    the private halves of the fresh key shares ({group: key}) the client needs to finish a
    TLS 1.3 handshake."""
    keys = {} if keys is None else keys
    notes = []
    tls13_session = session is not None and session.version == 0x0304
    psk13 = None
    captured_len = len(hello.encode())
    session_id = os.urandom(len(hello.session_id))
    ticket = b""
    exts_in = list(hello.extensions) if hello.extensions is not None else None
    has_ticket_ext = exts_in is not None and any(e.type == X.EXT_SESSION_TICKET
                                                 for e in exts_in)
    if tls13_session:
        psk13, session = session, None
    if session is not None:
        session, session_id, ticket = _resumption_offer(session, has_ticket_ext, notes)
    exts = None
    if exts_in is not None:
        exts = []
        unrunnable = _unrunnable_hybrids(exts_in, notes)
        for ext in exts_in:
            t = ext.type
            if t == X.EXT_PRE_SHARED_KEY and psk13 is not None:
                # A placeholder of the right shape: the client fills identity and binder.
                ext = X.Extension(t, X.pre_shared_key_client([(psk13.ticket, 0)],
                                                             [bytes(len(psk13.psk))]))
            elif t in _DROPPED:
                notes.append("%s left out (%s)" % (_DROPPED[t], "no TLS 1.3 session to resume"
                                                    if t == X.EXT_PRE_SHARED_KEY else
                                                    "0-RTT data is not replayed"))
                continue
            if t == X.EXT_SERVER_NAME and sni is not None:
                ext = X.Extension(t, X.server_name(sni))
            elif t == X.EXT_SESSION_TICKET:
                ext = X.Extension(t, ticket)
            elif t == X.EXT_KEY_SHARE:
                ext = X.Extension(t, _fresh_key_shares(ext.data, keys, unrunnable, notes))
            elif t == X.EXT_SUPPORTED_GROUPS and unrunnable:
                ext = _without_groups(ext, unrunnable)
            exts.append(ext)
        if sni is not None and not any(e.type == X.EXT_SERVER_NAME for e in exts):
            exts.insert(0, X.Extension(X.EXT_SERVER_NAME, X.server_name(sni)))
    elif sni is not None:
        exts = [X.Extension(X.EXT_SERVER_NAME, X.server_name(sni))]
    new = ClientHello(version=hello.version, random=os.urandom(32), session_id=session_id,
                      cipher_suites=list(hello.cipher_suites),
                      compression_methods=list(hello.compression_methods), extensions=exts)
    _keep_length(new, captured_len)
    return new, session, notes


def _resumption_offer(session, has_ticket_ext, notes):
    if session.ticket and has_ticket_ext:
        session_id = session.session_id or os.urandom(32)
        return dataclasses.replace(session, session_id=session_id), session_id, session.ticket
    if session.session_id:
        return session, session.session_id, b""
    notes.append("the replayed session has only a ticket and the captured ClientHello no "
                 "session_ticket extension: a full handshake is offered")
    return None, b"", b""


def _offered_groups(exts):
    """Groups named by ``supported_groups`` and ``key_share`` (what does not parse: none)."""
    groups = set()
    for ext in exts:
        try:
            if ext.type == X.EXT_SUPPORTED_GROUPS:
                groups.update(X.parse_supported_groups(ext.data))
            elif ext.type == X.EXT_KEY_SHARE:
                groups.update(g for g, _ in X.parse_key_share_client(ext.data))
        except DecodeError:
            pass
    return groups


def _unrunnable_hybrids(exts, notes):
    """The hybrid groups offered that no fresh share can be made for (no ML-KEM here)."""
    out = sorted(g for g in _offered_groups(exts)
                 if g in HYBRID_GROUPS and not hybrid_supported(g))
    if out:
        notes.append("%s left out of supported_groups and key_share (this cryptography has "
                     "no ML-KEM)" % ", ".join(_group_name(g) for g in out))
    return frozenset(out)


def _without_groups(ext, groups):
    try:
        kept = [g for g in X.parse_supported_groups(ext.data) if g not in groups]
    except DecodeError:
        return ext
    return X.Extension(ext.type, X.supported_groups(kept))


def _fresh_key_shares(data, keys, unrunnable, notes):
    try:
        shares = X.parse_key_share_client(data)
    except DecodeError:
        notes.append("key_share does not parse: replayed as captured")
        return data
    out = []
    for group, key in shares:
        if group in unrunnable:
            continue
        if key_share_supported(group) and group not in keys:
            keys[group] = generate_key_share(group)
            key = keys[group].public_bytes()
        elif group in GREASE:
            key = os.urandom(len(key))
        else:
            notes.append("key_share for %s replayed as captured (no fresh key for it)"
                         % _group_name(group))
        out.append((group, key))
    return X.key_share_client(out)


def _group_name(group):
    return name(NAMED_GROUPS, group)


def _keep_length(hello, captured_len):
    """Resize ``padding`` so the body has its captured length (RFC 7685 pads to dodge
    servers that choke on some hello sizes: the size is what the client chose)."""
    exts = hello.extensions
    if not exts:
        return
    for i, ext in enumerate(exts):
        if ext.type == X.EXT_PADDING:
            delta = captured_len - len(hello.encode())
            exts[i] = X.Extension(X.EXT_PADDING, bytes(max(0, len(ext.data) + delta)))
            return
