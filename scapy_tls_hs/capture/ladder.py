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
when they happened. A certificate line is followed by the leaf's subject and issuer. The
"decrypted:" line says why not when keys were given and did not fit (``reasons.py``).

``ascii=True`` (a terminal that cannot show "·") separates the facts with " | " instead;
the rest is ASCII already, apart from names taken from the capture (certificate subjects),
which the CLI writes with backslash escapes there.

``render_data(report)`` is ``dissect --data``: after the ladder, each direction's decrypted
application data, as text when it is printable UTF-8 (line by line), else as a hex dump, the
first ``limit`` bytes of each direction (tshark's "follow tls" view).
"""
import textwrap

__all__ = ["render", "render_report", "render_data", "data_dict", "DATA_LIMIT"]

# ``--data`` shows at most this much of each direction.
DATA_LIMIT = 64 * 1024

_SOURCES = {"keylog": "key log", "server_key": "server RSA key",
            "session": "session of an earlier connection"}


def render(reports, width=80, warnings=(), ascii=False, data=False, first=1):
    """The ladders of all ``reports`` (``ConnectionReport``), as one string, numbered from
    ``first``; ``data``: each followed by ``render_data``."""
    width = max(int(width or 80), 40)
    out = []
    for i, report in enumerate(reports, first):
        out.append(render_report(report, i, width, ascii=ascii)
                   + (render_data(report, width) if data else ""))
    for w in warnings:
        out.append(_wrap("warning: " + w, width, "", "  ") + "\n")
    return "\n".join(out)


def render_report(report, number=1, width=80, ascii=False):
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
    lines.append(_wrap((" | " if ascii else " \u00b7 ").join(facts), width, pad, pad))
    ja4, ja3, ja3s = (getattr(report, k, None) for k in ("ja4", "ja3", "ja3s"))
    if ja4 or ja3s:     # a hash is never split: JA4 on one line, the two JA3 on the next
        lines.append(_fit(pad + "JA4 %s" % (ja4 or "-"), width))
        lines.append(_fit(pad + "JA3 %s  JA3S %s" % (ja3 or "-", ja3s or "-"), width))
    lines.append(_wrap("decrypted: " + _decryption(report), width, pad, pad + "  "))
    if report.app_data:
        a = report.app_data
        lines.append(pad + "app data: client %d bytes, server %d bytes"
                     % (a["client_bytes"], a["server_bytes"]))
    t0 = report.start_time
    chains = iter(getattr(report, "certificates", ()))
    for time, direction, name, detail in report.ladder:
        stamp = "+%.3fs" % (time - t0) if time is not None and t0 is not None else ""
        arrow = "C->S" if direction == "client" else "C<-S"
        line = "%s%9s  %s  %-21s %s" % (pad, stamp, arrow, name, detail)
        lines.append(_fit(line.rstrip(), width))
        if name == "certificate":
            lines.extend(_chain_lines(next(chains, None), width))
    for err in report.errors:
        lines.append(_wrap("! " + err, width, pad, pad + "  "))
    return "\n".join(lines) + "\n"


def _chain_lines(chain, width):
    """The leaf's subject and issuer, under the certificate line's message name."""
    if chain is None or not chain.count:
        return []
    indent = " " * 21
    out = []
    for label, value in (("subject", chain.subject), ("issuer", chain.issuer)):
        if value is not None:
            out.append(_wrap("%-8s %s" % (label + ":", value), width, indent,
                             indent + " " * 11))
    return out


def _decryption(report):
    source = _SOURCES.get(getattr(report, "key_source", None))
    if report.decrypted:
        return "yes (%s; both Finished verified)" % (source or "keys")
    problem = getattr(report, "key_problem", None)
    if problem:
        return "no (%s)" % problem
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


# -- --data ---------------------------------------------------------------------------------

_DIRECTIONS = (("client", "C->S"), ("server", "C<-S"))


def render_data(report, width=80, limit=DATA_LIMIT):
    """Each direction's decrypted application data (module docstring), as one string."""
    width = max(int(width or 80), 40)
    data, totals = report.application_data(limit)
    pad = "    "
    lines = []
    for direction, arrow in _DIRECTIONS:
        total = totals[direction]
        if not total:
            continue
        shown = data[direction]
        text = _as_text(shown, len(shown) < total)
        lines.append("%sdata %s (%d bytes%s%s):" % (
            pad, arrow, total, ", first %d shown" % len(shown) if len(shown) < total else "",
            "" if text is not None else ", hex"))
        if text is not None:
            lines.extend(_text_lines(text, width, pad + "  "))
        else:
            lines.extend(_hex_lines(shown, width, pad + "  "))
    if not lines and any(n.endswith("application_data") for n in report.messages):
        lines.append(pad + "data: not decrypted")
    return "\n".join(lines) + "\n" if lines else ""


def data_dict(report, limit=DATA_LIMIT):
    """``--json --data``: ``{"client": {"bytes": N, "text": ...} or {"bytes": N, "hex":
    ...}, "server": ...}``, ``"truncated": true`` when more than ``limit`` bytes were sent."""
    data, totals = report.application_data(limit)
    out = {}
    for direction, _ in _DIRECTIONS:
        shown = data[direction]
        text = _as_text(shown, len(shown) < totals[direction])
        entry = {"bytes": totals[direction]}
        if text is not None:
            entry["text"] = text
        else:
            entry["hex"] = shown.hex()
        if len(shown) < totals[direction]:
            entry["truncated"] = True
        out[direction] = entry
    return out


def _as_text(data, cut):
    """``data`` as text when it is printable UTF-8 (a character cut by ``limit`` at the end
    is dropped), else None."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if not (cut and exc.start >= len(data) - 3 and exc.reason == "unexpected end of data"):
            return None
        text = data[:exc.start].decode("utf-8")
    plain = text.replace("\r\n", "\n")
    if all(c.isprintable() or c in "\t\n" for c in plain):
        return text
    return None


def _text_lines(text, width, indent):
    room = max(width - len(indent), 20)
    out = []
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for line in lines:
        line = line.expandtabs(8)
        while len(line) > room:
            out.append(indent + line[:room])
            line = line[room:]
        out.append((indent + line).rstrip())
    return out


def _hex_lines(data, width, indent):
    per = 16 if width - len(indent) >= 6 + 16 * 3 + 2 + 16 else 8
    out = []
    for pos in range(0, len(data), per):
        row = data[pos:pos + per]
        hexes = " ".join("%02x" % b for b in row)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in row)
        out.append("%s%04x  %-*s  %s" % (indent, pos, per * 3 - 1, hexes, text))
    return out
