"""Why a connection was not decrypted, in the words of the ladder's "decrypted:" line.

``why_not(observer)`` looks at what the observer was given (``keylog``, ``server_key``) and
what it saw (client random, suite, version, resumption) and names the first thing that does
not fit: "key log has 12 secrets, none for this client random", "an RSA key cannot decrypt
an ECDHE handshake", "resumed session not seen earlier in the capture". Key log lines that
did not parse are added ("3 key log lines not understood"): a mangled line is the usual
reason a browser's key log "does not work".
"""

__all__ = ["why_not"]


def why_not(observer):
    """A short reason (no trailing period), or None when decrypted or nothing was given."""
    if observer.decrypted:
        return None
    keylog, server_key = observer.keylog, observer.server_key
    if keylog is None and server_key is None:
        return None
    reasons = []
    if observer.key_source is not None:
        reasons.append(_wrong_keys(observer))
    elif observer.client_random is None:
        reasons.append("no ClientHello seen, so no client random to look keys up by")
    elif observer.version is None:
        reasons.append("no ServerHello seen")
    else:
        if keylog is not None:
            reasons.append(_keylog_reason(observer, keylog))
        if server_key is not None:
            reasons.append(_server_key_reason(observer))
    skipped = getattr(keylog, "skipped", 0) if keylog is not None else 0
    if skipped:
        reasons.append("%d key log line%s not understood" % (skipped, _s(skipped)))
    return "; ".join(r for r in reasons if r) or None


def _wrong_keys(observer):
    if observer.completed and observer.tls13:
        return "key log has no application traffic secrets for this client random"
    source = {"keylog": "the key log", "server_key": "the server RSA key",
              "session": "the earlier session"}.get(observer.key_source, "the keys")
    return "%s did not verify both Finished" % source


def _keylog_reason(observer, keylog):
    n = len(keylog)
    if not _has_random(keylog, observer.client_random):
        return "key log has %d secret%s, none for this client random" % (n, _s(n))
    if observer.tls13:
        return "key log has no TLS 1.3 handshake secrets for this client random"
    if observer.resumed:
        return "resumed session not seen earlier in the capture"
    return "key log has secrets for this client random, but no CLIENT_RANDOM line"


def _server_key_reason(observer):
    if observer.tls13:
        return "an RSA key cannot decrypt a TLS 1.3 handshake"
    if observer.resumed:
        return "resumed session not seen earlier in the capture"
    suite = observer.suite
    kx = getattr(suite, "key_exchange", None)
    if kx is not None and kx != "RSA":
        return "an RSA key cannot decrypt %s %s handshake" % (
            "an" if kx[:1] in "AEIOU" else "a", kx)
    if getattr(observer, "_rsa", None) is None:
        return "no ClientKeyExchange seen"
    return None


def _has_random(keylog, client_random):
    """Any line of the key log for this client random (a set, rebuilt when it grew)."""
    cache = getattr(keylog, "_randoms_seen", None)
    if cache is None or cache[0] != len(keylog):
        cache = (len(keylog), frozenset(cr for _, cr, _ in keylog))
        try:
            keylog._randoms_seen = cache
        except AttributeError:
            pass
    return bytes(client_random) in cache[1]


def _s(n):
    return "" if n == 1 else "s"
