"""The readable ``replay`` report, for an 80-column terminal.

    #1  127.0.0.1:36170 -> 127.0.0.1:24110, replayed to 127.0.0.1:4433
        offered: TLS 1.2 · 28 suites · 7 extensions · SNI server.test
        then: full handshake
        now:  handshake complete, 121 bytes received
          version            TLS 1.2
        ! cipher suite       then TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
                             now  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
          ...
        1 difference: cipher suite

A field that changed is marked with "!" and shown as "then" (the capture) and "now" (the
replay); the others once. Lines never exceed ``width``.
"""
import textwrap

from ..registry import version_name
from .compare import COMPARED, offered_version

__all__ = ["render"]

_LABELS = {"version": "version", "cipher_suite": "cipher suite", "group": "group",
           "hello_retry": "hello retry",
           "session_id_kind": "session id", "resumed": "resumed",
           "server_extensions": "extensions echoed", "alpn": "ALPN",
           "extended_master_secret": "EMS", "certificate": "certificate",
           "server_messages": "server flight", "server_alerts": "server alerts",
           "handshake": "handshake failed where the capture's completed"}
_LABEL = 19


def render(results, width=80):
    width = max(int(width or 80), 50)
    return "\n".join(_render_one(r, width) for r in results)


def _render_one(res, width):
    pad = "    "
    lines = [_fit("#%-3d %s -> %s, replayed to %s" % (res.number, res.client, res.server,
                                                        res.to), width)]
    cap = res.captured
    lines += _wrap("offered: " + _offer(res), width, pad)
    lines += _wrap("then: " + _outcome_then(cap), width, pad)
    if res.replayed is None:
        lines += _wrap("now:  not replayed", width, pad)
    else:
        lines += _wrap("now:  " + _outcome_now(res), width, pad)
        for key in COMPARED:
            lines += _field(key, cap.get(key), res.replayed.get(key),
                            key in res.differences, width)
    for note in res.notes:
        lines += _wrap("note: " + note, width, pad, pad + "      ")
    if res.replayed is not None:
        n = len(res.differences)
        lines += _wrap("no difference" if not n else "%d difference%s: %s" % (
            n, "" if n == 1 else "s", ", ".join(_LABELS.get(d, d) for d in res.differences)),
            width, pad, pad + "  ")
    return "\n".join(lines) + "\n"


def _offer(res):
    hello = res.hello
    if hello is None:
        return "no ClientHello"
    parts = [version_name(offered_version(hello)), "%d suites" % len(hello.cipher_suites)]
    exts = hello.extensions
    parts.append("no extensions" if exts is None else "%d extensions" % len(exts))
    if res.captured.get("sni"):
        parts.append("SNI %s" % res.captured["sni"])
    return " · ".join(parts)


def _outcome_then(cap):
    if not cap.get("version"):
        return "no ServerHello in the capture"
    what = "resumed" if cap.get("resumed") else "full handshake"
    alerts = cap.get("server_alerts")
    return what + (", server alert %s" % ", ".join(alerts) if alerts else "")


def _outcome_now(res):
    rep = res.replayed
    if rep["handshake_complete"]:
        what = "handshake complete%s" % (" (resumed)" if rep["resumed"] else "")
        got = len(res.result.received_bytes) if res.result is not None else 0
        if got:
            what += ", %d bytes received" % got
        return what
    return "failed: " + ("; ".join(rep.get("errors") or []) or "no handshake")


def _show(key, value):
    if value is None or value == []:
        return "-"
    if key == "certificate":
        return "%s (sha256 %s..., chain of %d)" % (value.get("subject") or "?",
                                                   value["sha256"][:16], value["chain"])
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def _field(key, then, now, differs, width):
    first = "    %s %-*s " % ("!" if differs else " ", _LABEL - 1, _LABELS.get(key, key))
    rest = " " * len(first)
    if not differs:
        return _wrap(_show(key, then), width, first, rest)
    return (_wrap("then " + _show(key, then), width, first, rest + "     ") +
            _wrap("now  " + _show(key, now), width, rest, rest + "     "))


def _wrap(text, width, first="    ", rest=None):
    rest = first if rest is None else rest
    return textwrap.wrap(text, width=width, initial_indent=first, subsequent_indent=rest,
                         break_on_hyphens=False, break_long_words=True) or [first.rstrip()]


def _fit(line, width):
    return line if len(line) <= width else line[:width - 3] + "..."

