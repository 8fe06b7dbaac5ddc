"""The readable ``dissect`` output: one ladder per connection, for an 80-column terminal.

    #1  127.0.0.1:56928 -> 127.0.0.1:24101
        TLS 1.2  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
        full handshake · x25519 · session id: none · EMS · SNI server.test · ALPN -
        decrypted: yes (key log; both Finished verified)
        app data: client 27 bytes, server 97 bytes
          +0.000s  C->S  client_hello          17 suites, sni server.test
          +0.001s  C<-S  server_hello          TLS 1.2, TLS_ECDHE_RSA_WITH_AES_128_GCM...

``C->S`` is client to server, ``C<-S`` server to client (the client is always on the left,
so the arrow reads the way the bytes went). Lines never exceed ``width``; long details are
cut with "...".

The facts line names the (EC)DHE group when there was one, and for TLS 1.3 says
"hello retry" (a HelloRetryRequest), "early data accepted|rejected" and "N key updates"
when they happened.
"""
import textwrap

__all__ = ["render", "render_report"]

_SOURCES = {"keylog": "key log", "server_key": "server RSA key",
            "session": "session of an earlier connection"}


def render(reports, width=80, warnings=()):
    """The ladders of all ``reports`` (``ConnectionReport``), as one string."""
    width = max(int(width or 80), 40)
    out = []
    for i, report in enumerate(reports, 1):
        out.append(render_report(report, i, width))
    for w in warnings:
        out.append(_wrap("warning: " + w, width, "", "  ") + "\n")
    return "\n".join(out)


def render_report(report, number=1, width=80):
    lines = []
    pad = "    "
    title = "#%-3d %s -> %s" % (number, report.client, report.server)
    if len(title) > width:  # long IPv6 endpoints: the server on a line of its own
        title = "#%-3d %s ->\n%s %s" % (number, _fit(report.client, width - 8), pad,
                                         _fit(report.server, width - 5))
    lines.append(title)
    if report.version:
        lines.append(_fit(pad + "%s  %s" % (report.version, report.cipher_suite or "?"),
                          width))
    else:
        lines.append(pad + "no ServerHello seen")
    facts = []
    if report.version:
        facts.append("resumed" if report.resumed else "full handshake")
        group = getattr(report, "group", None)
        if group:
            facts.append(group)
        if getattr(report, "hello_retry", False):
            facts.append("hello retry")
        early = getattr(report, "early_data", None)
        if early:
            facts.append("early data " + early)
        updates = getattr(report, "key_updates", 0)
        if updates:
            facts.append("%d key update%s" % (updates, "" if updates == 1 else "s"))
        facts.append("session id: %s" % (_short(report.session_id) or "none"))
        if report.version != "TLS 1.3":
            facts.append("EMS" if report.extended_master_secret else "no EMS")
    facts.append("SNI %s" % (report.sni or "-"))
    facts.append("ALPN %s" % (report.alpn or "-"))
    if report.client_auth:
        facts.append("client certificate")
    lines.append(_wrap(" · ".join(facts), width, pad, pad))
    lines.append(_wrap("decrypted: " + _decryption(report), width, pad, pad + "  "))
    if report.app_data:
        a = report.app_data
        lines.append(pad + "app data: client %d bytes, server %d bytes"
                     % (a["client_bytes"], a["server_bytes"]))
    t0 = report.start_time
    for time, direction, name, detail in report.ladder:
        stamp = "+%.3fs" % (time - t0) if time is not None and t0 is not None else ""
        arrow = "C->S" if direction == "client" else "C<-S"
        line = "%s%9s  %s  %-21s %s" % (pad, stamp, arrow, name, detail)
        lines.append(_fit(line.rstrip(), width))
    for err in report.errors:
        lines.append(_wrap("! " + err, width, pad, pad + "  "))
    return "\n".join(lines) + "\n"


def _decryption(report):
    source = _SOURCES.get(getattr(report, "key_source", None))
    if report.decrypted:
        return "yes (%s; both Finished verified)" % (source or "keys")
    if source:
        return "no (keys from %s did not verify both Finished)" % source
    if report.version is None:
        return "no"
    return "no (no keys)"


def _short(hexid):
    if not hexid:
        return ""
    return hexid if len(hexid) <= 16 else hexid[:16] + "..."


def _fit(line, width):
    return line if len(line) <= width else line[:width - 3] + "..."


def _wrap(text, width, first, rest):
    return "\n".join(textwrap.wrap(text, width, initial_indent=first,
                                   subsequent_indent=rest, break_on_hyphens=False)) or first
