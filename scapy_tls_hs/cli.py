"""Command line: ``scapy-tls-hs dissect|client|server|replay``.

Only argument parsing, calls into the library, printing, and turning known errors into one
line on stderr with a non-zero exit status. Each ``cmd_*`` function owns one sub-command.
"""
import argparse
import sys

from .errors import TLSError


def _width():
    """The terminal's width for readable reports (80 when not a terminal), at most 120."""
    import shutil
    return min(shutil.get_terminal_size((80, 24)).columns, 120)


def _output(text):
    """Write a report to stdout; a reader that went away (``... | head``) is no error."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _port(text, lowest=1):
    """A TCP port, checked when the command line is read (argparse names the option)."""
    try:
        port = int(text, 10)
    except ValueError:
        port = -1
    if not lowest <= port <= 65535:
        raise argparse.ArgumentTypeError("a port is %d to 65535, not %r" % (lowest, text))
    return port


def _listen_port(text):
    return _port(text, lowest=0)        # 0: any free port


def _check_files(args, *options, writable=()):
    """Each named file option that is set must be readable (``writable``: appendable), so
    the error line names the option: ``cannot read --cert x.pem: no such file``."""
    import os
    for option in options + tuple(writable):
        path = getattr(args, option.lstrip("-").replace("-", "_"), None)
        if not path:
            continue
        try:
            with open(path, "ab" if option in writable else "rb"):
                pass
        except OSError as exc:
            reason = (exc.strerror or str(exc)).lower()
            if isinstance(exc, IsADirectoryError) or os.path.isdir(path):
                reason = "a folder, not a file"
            raise TLSError("cannot %s %s %s: %s" % ("write" if option in writable else "read",
                                                   option, path, reason)) from None


def _config_error(exc, args, options=("--cert", "--key", "--cafile")):
    """A config ``ValueError`` as one line, naming the option when it names that file."""
    text = str(exc)
    for option in options:
        path = getattr(args, option.lstrip("-").replace("-", "_"), None)
        if path and text.startswith(str(path) + ":"):
            return TLSError("%s %s" % (option, text))
    return TLSError(text)


def _unescape(text):
    """``--send 'GET / HTTP/1.1\\r\\n\\r\\n'``: honour the usual backslash escapes."""
    return text.encode("latin-1", "backslashreplace").decode("unicode_escape").encode("utf-8")


def cmd_dissect(args):
    """Reports on stdout (ladder or JSON Lines); capture-level warnings on stderr. Ladders
    fall back to ASCII when stdout cannot encode their middle dots, and nothing the capture
    holds (certificate names, data) can make the output fail to encode."""
    from .capture.progress import Progress
    if bool(args.capture) == (args.interface is not None):
        raise TLSError("give CAPTURE files or folders, or --interface IFACE (one of the two)")
    if args.jobs is not None and args.jobs < 1:
        raise TLSError("--jobs must be at least 1 (processes)")
    if args.interface is not None and (args.jobs is not None or args.parquet):
        raise TLSError("--jobs and --parquet go with CAPTURE files, not --interface")
    if args.capture:
        for option in ("count", "duration", "bpf"):
            if getattr(args, option) is not None:
                raise TLSError("--%s goes with --interface (live capture)" % option)
    if args.count is not None and args.count < 1:
        raise TLSError("--count must be at least 1 (packets)")
    if args.duration is not None and not args.duration > 0:
        raise TLSError("--duration must be positive (seconds)")
    ascii_only = not _can_encode(sys.stdout, "\u00b7")
    try:
        sys.stdout.reconfigure(errors="backslashreplace")
    except (AttributeError, ValueError):
        pass
    if args.interface is not None:
        return _dissect_live(args, ascii_only)
    import os
    _check_files(args, "--keylog", "--server-key")
    from .capture.many import default_jobs, expand_paths, SPLIT_SIZE
    skipped = []
    files = expand_paths(args.capture, skipped)
    for path, why in skipped:
        print("scapy-tls-hs dissect: skipped %s: %s" % (path, why), file=sys.stderr)
    if not files:
        raise TLSError("no capture file to dissect in %s" % ", ".join(args.capture))
    jobs = default_jobs() if args.jobs is None else args.jobs
    table = _parquet_writer(args.parquet) if args.parquet else None
    named = len(files) > 1 or any(os.path.isdir(p) for p in args.capture)
    if len(files) == 1 and not named and table is None and (
            args.stream or jobs == 1 or _size(files[0]) < SPLIT_SIZE):
        return _dissect_stream(files[0], args, ascii_only)
    if len(files) == 1 and not named and (jobs == 1 or _size(files[0]) < SPLIT_SIZE):
        from .capture.dissect import dissect_capture
        reports = dissect_capture(files[0], keylog=args.keylog, server_key=args.server_key,
                                  ports=args.port, progress=Progress(sys.stderr))
        reports.capture, reports.error = files[0], None
        results = [reports]
    else:
        from .capture.many import dissect_many
        results = dissect_many(files, keylog=args.keylog, server_key=args.server_key,
                               ports=args.port, jobs=jobs, keep="all" if args.data else (
                                   "json" if args.json or args.parquet else "ladder"),
                               progress=Progress(sys.stderr), stream=True)
    failed = _print_results(results, args, ascii_only, named, table)
    if table is not None:
        table.close()
    return 1 if failed else 0


def _dissect_stream(path, args, ascii_only):
    """One capture, each report printed as soon as it is known (``--stream``: as its
    connection ends; else once the connections that started before it were printed), so
    that memory does not grow with the capture."""
    from .capture.dissect import iter_connections
    from .capture.progress import Progress
    progress = Progress(sys.stderr)
    reports = iter_connections(path, keylog=args.keylog, server_key=args.server_key,
                               ports=args.port, progress=progress, ordered=not args.stream)
    same_terminal = progress.enabled and _isatty(sys.stdout)
    count = 0
    for report in reports:
        count += 1
        if same_terminal:
            progress.clear()
        if args.json:
            _output(_dissect_json(report, args.data))
        else:
            from .capture.ladder import render
            _output(("\n" if count > 1 else "") + render([report], width=_width(),
                                                         ascii=ascii_only, data=args.data,
                                                         first=count))
    for warning in reports.warnings:
        print("scapy-tls-hs dissect: warning: %s" % warning, file=sys.stderr)
    if not count:
        print("scapy-tls-hs dissect: no TLS connection found in %s" % path, file=sys.stderr)
    return 0


def _isatty(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def _size(path):
    import os
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _print_results(results, args, ascii_only, named, table):
    """Each capture's reports as it comes (``named``: with its path); how many failed.
    Each report is written as soon as it is there: a large capture split over processes
    comes as a ``ReportStream`` (its warnings and error known at its end), so that memory
    does not grow with it."""
    failed = 0
    for i, reports in enumerate(results):
        streamed = not isinstance(reports, list)
        if not streamed and _failed_capture(reports):
            failed += 1
            continue
        where = "%s: " % reports.capture if named else ""
        if not streamed:
            _print_warnings(reports, where)
        capture = reports.capture if named else None
        count = 0
        batch = []
        if not args.json and table is None and named:
            _output("%s== %s ==\n" % ("\n" if i else "", reports.capture))
        for report in reports:
            count += 1
            if table is not None:
                batch.append(report)
                if len(batch) >= 1000:
                    table.write(batch, capture)
                    batch = []
            if args.json:
                _output(_dissect_json(report, args.data, capture))
            elif table is None:
                from .capture.ladder import render
                _output(("\n" if count > 1 else "") + render(
                    [report], width=_width(), ascii=ascii_only, data=args.data, first=count))
        if batch:
            table.write(batch, capture)
        if streamed:
            if _failed_capture(reports):
                failed += 1
                continue
            _print_warnings(reports, where)
        if not count:
            print("scapy-tls-hs dissect: no TLS connection found in %s" % reports.capture,
                  file=sys.stderr)
    return failed


def _failed_capture(reports):
    """Say why a capture could not be dissected (if so)."""
    if reports.error is None:
        return False
    error = reports.error
    if str(reports.capture) not in error:
        error = "%s: %s" % (reports.capture, error)
    print("scapy-tls-hs dissect: %s" % error, file=sys.stderr)
    return True


def _print_warnings(reports, where):
    for warning in reports.warnings:
        print("scapy-tls-hs dissect: warning: %s%s" % (where, warning), file=sys.stderr)


def _parquet_writer(path):
    from .capture.parquet import ParquetTable
    return ParquetTable(path)


def _can_encode(stream, text):
    try:
        text.encode(getattr(stream, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _dissect_json(report, data=False, capture=None):
    import json
    out = {"capture": capture} if capture is not None else {}
    out.update(report.to_dict())
    if data:
        from .capture.ladder import data_dict
        out["data"] = data_dict(report)
    return json.dumps(out) + "\n"


def _dissect_live(args, ascii_only):
    """``dissect --interface``: each connection printed (and flushed) as it ends. The first
    Ctrl-C (or SIGTERM) stops the capture and the open connections are still reported; a
    second one interrupts."""
    import os
    import signal
    from .capture.dissect import keylog_warning
    from .capture.ladder import render_data, render_report
    from .capture.live import GrowingKeylog, capture_live
    _check_files(args, "--server-key")
    keylog = None
    if args.keylog:
        if not os.path.exists(args.keylog):
            print("scapy-tls-hs dissect: warning: key log %s does not exist yet: read when it "
                  "appears" % args.keylog, file=sys.stderr, flush=True)
        else:
            _check_files(args, "--keylog")
        keylog = GrowingKeylog(args.keylog)
    stopping = []

    def on_signal(signum, frame):
        if stopping:
            raise KeyboardInterrupt
        stopping.append(signum)

    def started():
        print("scapy-tls-hs dissect: listening on %s%s" % (
            args.interface, ", filter %r" % args.bpf if args.bpf else ""),
            file=sys.stderr, flush=True)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    stats = {}
    warned = False
    width = _width()
    try:
        reports = capture_live(args.interface, keylog=keylog, server_key=args.server_key,
                               bpf=args.bpf, count=args.count, duration=args.duration,
                               ports=args.port, stop=lambda: bool(stopping), stats=stats,
                               started=started)
        for n, report in enumerate(reports, 1):
            if args.json:
                text = _dissect_json(report, args.data)
            else:
                text = (("\n" if n > 1 else "") + render_report(report, n, width, ascii_only)
                        + (render_data(report, width) if args.data else ""))
            try:
                sys.stdout.write(text)
                sys.stdout.flush()
            except BrokenPipeError:     # ``... | head``: the reader went away, stop too
                stopping.append("stdout")
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            warning = None if warned else keylog_warning(keylog, args.keylog)
            if warning:
                warned = True
                print("scapy-tls-hs dissect: warning: %s" % warning, file=sys.stderr,
                      flush=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("scapy-tls-hs dissect: %d packets captured on %s, %d TLS connection%s reported"
          % (stats.get("packets", 0), args.interface, stats.get("reported", 0),
             "" if stats.get("reported") == 1 else "s"), file=sys.stderr, flush=True)
    return 0


def _client_report(result, cafile=None, early_data=None):
    """The human view of one client connection: ladder, parameters, certificate, data.
    Empty when there was no TCP connection (the error line on stderr says it all)."""
    if not result.messages:
        return ""
    yes = lambda flag: "yes" if flag else "no"  # noqa: E731
    lines = ["Connected to %s from %s" % (result.server or "?", result.client or "?")]
    for entry in result.messages:
        side, _, what = entry.partition(":")
        lines.append("  %-30s -->" % what if side == "C" else "  %30s <--  %s" % ("", what))
    if result.handshake_complete:
        lines.append("Handshake complete%s: %s, %s" % (
            " (resumed)" if result.resumed else "", result.version, result.cipher_suite))
        tls13 = result.version == "TLS 1.3"
        lines += ["  session id:             %s" % (result.session_id or "(none)"),
                  "  session ticket:         %s" % yes(result.ticket)]
        if not tls13:       # TLS 1.3 has neither: its key schedule and AEAD cover both
            lines += ["  extended master secret: %s" % yes(result.extended_master_secret),
                      "  encrypt-then-MAC:       %s" % yes(result.encrypt_then_mac)]
        lines += ["  SNI:                    %s" % (result.sni or "(none)"),
                  "  ALPN:                   %s" % (result.alpn or "(none)"),
                  "  client certificate:     %s" % ("sent" if result.client_auth else "no"),
                  "  group:                  %s" % (result.group or "(none)")]
        if result.hello_retry:
            lines.append("  hello retry request:    yes")
        if result.early_data or early_data is not None:
            lines.append("  early data:             %s" % (
                result.early_data or "not sent (no ticket allowing it)"))
        if result.key_updates:
            lines.append("  key updates:            %d" % result.key_updates)
    else:
        lines.append("Handshake failed%s" % (
            " (%s, %s)" % (result.version, result.cipher_suite) if result.version else ""))
    certs = result.certificates()
    if certs:
        checked = ("verified against %s" % cafile if cafile and result.handshake_complete
                   else "not verified" if not cafile else "rejected")
        lines.append("Server certificate chain (%s):" % checked)
        for i, info in enumerate(certs):
            lines.append("  [%d] subject: %s" % (i, info.get("subject", "?")))
            lines.append("      issuer:  %s" % info.get("issuer", "?"))
            lines.append("      sha256:  %s" % info["sha256"])
            if "not_after" in info:
                lines.append("      expires: %s" % info["not_after"])
    if result.received_bytes:
        lines.append("Received %d bytes:" % len(result.received_bytes))
        lines.append(result.received.rstrip("\n"))
    if result.ok:       # a failure's errors go to stderr, once (main's error line)
        lines.extend("Warning: %s" % err for err in result.errors)
    return "\n".join(lines)


def _versions(args, option="--tls"):
    """``--tls`` (highest) and ``--tls-min`` (lowest) -> the version names in between."""
    order = ("1.0", "1.1", "1.2", "1.3")
    low, high = order.index(args.tls_min), order.index(args.tls)
    if low > high:
        raise TLSError("--tls-min %s is above --tls %s" % (args.tls_min, args.tls))
    return ["TLS " + v for v in order[low:high + 1]]


def _groups(args):
    """``--group NAME`` (repeatable) -> the names, checked here so a typo is one line."""
    from .automata.stream import GROUP_NAMES
    for name in args.group:
        if name not in GROUP_NAMES:
            raise TLSError("--group: unknown group %r (one of %s)"
                           % (name, ", ".join(GROUP_NAMES)))
    return list(dict.fromkeys(args.group)) or None


def cmd_client(args):
    import json
    from .automata.client import TLSClientAutomaton, client_config
    if bool(args.cert) != bool(args.key):
        raise TLSError("--cert and --key go together")
    _check_files(args, "--cert", "--key", "--cafile", writable=("--keylog",))
    if args.timeout is not None and args.timeout <= 0:
        raise TLSError("--timeout must be positive")
    if args.max_receive < 0:
        raise TLSError("--max-receive must be 0 or more (bytes)")
    versions = _versions(args)
    groups = _groups(args)
    if args.early_data is not None:
        if not args.resume:
            raise TLSError("--early-data needs --resume (0-RTT data goes on a resumed "
                           "connection)")
        if args.tls != "1.3":
            raise TLSError("--early-data needs TLS 1.3 (--tls 1.3)")
    if args.key_update and args.tls != "1.3":
        raise TLSError("--key-update needs TLS 1.3 (--tls 1.3)")
    try:
        config = client_config(args.host, versions=versions, ciphers=args.cipher or None,
                               sni=args.sni, alpn=args.alpn or None, cert=args.cert,
                               key=args.key, cafile=args.cafile, groups=groups,
                               record_size_limit=args.record_size_limit)
    except KeyError as exc:
        raise TLSError(exc.args[0] if exc.args else "unknown cipher suite") from None
    except ValueError as exc:
        raise _config_error(exc, args) from None
    if not config.suites and not getattr(config, "suites13", None):
        raise TLSError("no cipher suite given can be used with TLS %s" % args.tls)
    session = None
    failure = None
    for attempt in range(2 if args.resume else 1):
        early = args.early_data if attempt else None
        result = TLSClientAutomaton(args.host, args.port, config=config, session=session,
                                    data=args.send, keylog=args.keylog,
                                    timeout=args.timeout, early_data=early,
                                    key_update=args.key_update,
                                    max_receive=args.max_receive,
                                    renegotiate=args.renegotiate).run()
        if args.json:
            print(json.dumps(result.to_dict()), flush=True)
        else:
            report = _client_report(result, args.cafile, early)
            if report:
                print(("\n" if attempt else "") + report, flush=True)
        if not result.ok:
            failure = "; ".join(result.errors) or "the handshake did not complete"
            break
        session = result.session
    if failure:
        raise TLSError(failure)
    return 0


def _server_log_line(report):
    who = report.get("client") or "?"
    if not report.get("handshake_complete"):
        return "%s failed: %s" % (who, "; ".join(report.get("errors") or ["no handshake"]))
    parts = [who, report.get("version") or "?", report.get("cipher_suite") or "?"]
    if report.get("group"):
        parts.append(report["group"])
    for flag in ("resumed", "hello_retry"):
        if report.get(flag):
            parts.append(flag.replace("_", "-"))
    if report.get("early_data"):
        parts.append("early-data=%s" % report["early_data"])
    if report.get("key_updates"):
        parts.append("key-updates=%d" % report["key_updates"])
    for key in ("sni", "alpn"):
        if report.get(key):
            parts.append("%s=%s" % (key, report[key]))
    if report.get("client_auth"):
        parts.append("client-certificate")
    line = " ".join(parts) + ": %d bytes received" % len(report.get("received") or "")
    if report.get("errors"):
        line += " (%s)" % "; ".join(report["errors"])
    return line


def _external_psk(text):
    """``IDENTITY:HEX[:sha256|sha384]`` -> ``(identity, secret, hash)`` for ``--psk``."""
    parts = text.rsplit(":", 2)
    hash_name = "sha256"
    if len(parts) == 3 and parts[2].lower() in ("sha256", "sha384"):
        hash_name = parts.pop().lower()
    else:
        parts = text.rsplit(":", 1)
    if len(parts) != 2 or not parts[0]:
        raise argparse.ArgumentTypeError("%r is not IDENTITY:HEX[:sha384]" % text)
    try:
        secret = bytes.fromhex(parts[1])
    except ValueError:
        raise argparse.ArgumentTypeError("the PSK of %r is not hex" % parts[0]) from None
    if not secret:
        raise argparse.ArgumentTypeError("the PSK of %r is empty" % parts[0])
    return parts[0], secret, hash_name


def _renegotiate_after(text):
    import argparse
    from .automata.server import parse_renegotiate_after
    try:
        return parse_renegotiate_after(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).replace("--renegotiate-after takes ", ""))


def cmd_server(args):
    import json
    import signal
    from .automata.listener import TLSListener
    _check_files(args, "--cert", "--key", "--cafile")
    if args.max_connections is not None and args.max_connections < 1:
        raise TLSError("--max-connections must be at least 1")
    if args.early_data is not None and args.early_data < 0:
        raise TLSError("--early-data must be 0 or more (bytes of 0-RTT data accepted)")
    versions = _versions(args)
    groups = _groups(args)
    if args.keylog:
        try:
            open(args.keylog, "a").close()
        except OSError as exc:
            raise TLSError("cannot write the key log %s: %s" % (args.keylog,
                                                                exc.strerror or exc)) from None

    def on_result(report):
        report.pop("bytes_received", None)
        report.pop("messages_dropped", None)
        if args.json:
            print(json.dumps(report), flush=True)
        print(_server_log_line(report), file=sys.stderr, flush=True)

    try:
        listener = TLSListener(
            args.host, args.port, max_connections=args.max_connections, on_result=on_result,
            keep_results=False, cert=args.cert, key=args.key, versions=versions,
            groups=groups, early_data=args.early_data or 0,
            ciphers=args.cipher or None, client_auth=args.client_auth, cafile=args.cafile,
            alpn=args.alpn or None, tickets=not args.no_tickets, keylog=args.keylog,
            echo=args.echo, timeout=args.timeout, psks=args.psk, lifetime=args.lifetime,
            min_rate=args.min_rate, renegotiation=not args.no_renegotiation,
            renegotiate_after=args.renegotiate_after,
            record_size_limit=args.record_size_limit)
    except KeyError as exc:
        raise TLSError(exc.args[0] if exc.args else "unknown cipher suite") from None
    except ValueError as exc:
        raise _config_error(exc, args) from None
    # SIGTERM ends the server like the end of --max-connections: cleanly, status 0. Installed
    # before the port opens, so a peer that saw the port can always stop us this way.
    signal.signal(signal.SIGTERM, lambda *_: listener.stop(timeout=0))
    try:
        listener.bind()
    except OSError as exc:
        raise TLSError("cannot listen on %s:%d: %s" % (args.host, args.port,
                                                        exc.strerror or exc)) from None
    print("scapy-tls-hs server: listening on %s:%d" % (args.host, listener.port),
          file=sys.stderr, flush=True)
    if args.client_auth != "none" and not args.cafile:
        print("scapy-tls-hs server: warning: no --cafile, client certificates are not "
              "verified (their CertificateVerify still is)", file=sys.stderr, flush=True)
    try:
        served = listener.serve()
    except KeyboardInterrupt:
        print("scapy-tls-hs server: interrupted", file=sys.stderr, flush=True)
        return 130
    print("scapy-tls-hs server: %d connection(s) served" % served, file=sys.stderr, flush=True)
    return 0


def _host_port(text):
    """``HOST:PORT``, ``[v6]:PORT`` -> (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise TLSError("--to wants HOST:PORT, not %r" % text)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def cmd_replay(args):
    """Reports on stdout (side by side, or JSON Lines); exit status 1 when a replay got no
    TLS answer from the server (refused, reset, timed out: said on stderr), or when a
    handshake the capture completed failed in the replay."""
    import json
    from .replay import replay_capture
    from .replay.render import render
    host, port = _host_port(args.to)
    _check_files(args, "--keylog", writable=("--keylog-out",))
    if args.timeout is not None and args.timeout <= 0:
        raise TLSError("--timeout must be positive")
    results = replay_capture(args.capture, host, port, keylog=args.keylog, sni=args.sni,
                             only=args.only, resume=args.resume, data=args.send,
                             timeout=args.timeout, keylog_out=args.keylog_out)
    if not results:
        raise TLSError("no TLS connection to replay in %s" % args.capture)
    _output("".join(json.dumps(r.to_dict()) + "\n" for r in results) if args.json
            else render(results, width=_width()))
    if all(r.result is None for r in results):
        raise TLSError("no ClientHello to replay in %s: %s" % (args.capture, results[0].notes[0]))
    unanswered = [r for r in results if r.result is not None and not r.reached]
    if unanswered:
        raise TLSError("no TLS answer from %s for #%s: %s" % (
            results[0].to, ", #".join(str(r.number) for r in unanswered),
            "; ".join(unanswered[0].result.errors) or "no reason given"))
    failed = [r for r in results if "handshake" in r.differences]
    if failed:
        raise TLSError("the replayed handshake failed where the capture's completed: #%s" %
                       ", #".join(str(r.number) for r in failed))
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with its errors in one line (``scapy-tls-hs client: argument --tls: ...``),
    like every other failure of the command line; the usage is in ``--help``."""

    def error(self, message):
        self.exit(2, "%s: %s\n" % (self.prog, message))


def build_parser():
    ap = _Parser(
        prog="scapy-tls-hs",
        description="Craft, dissect and drive TLS 1.0-1.3 handshakes with Scapy layers.")
    from . import __version__
    ap.add_argument("--version", action="version", version="scapy-tls-hs %s" % __version__)
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("dissect", help="dissect a pcap/pcapng capture, or live traffic",
                       description="Reassemble every TLS connection of a capture (pcap, "
                       "pcapng, or either gzip-compressed), or of live traffic with "
                       "--interface, and report it.")
    p.add_argument("capture", metavar="CAPTURE", nargs="*",
                   help="pcap or pcapng file, gzip-compressed or not, or a folder of them "
                        "(several may be given; or --interface)")
    p.add_argument("--jobs", metavar="N", type=int,
                   help="dissect in N processes: the files, or one large capture split by "
                        "connection (default: the number of CPUs)")
    p.add_argument("--stream", action="store_true",
                   help="print each connection as it ends (completion order) instead of in "
                        "the order the connections started")
    p.add_argument("--parquet", metavar="FILE",
                   help="write one row per connection to this Parquet file (needs pyarrow: "
                        "pip install 'scapy-tls-hs[parquet]'); ladders are not printed")
    p.add_argument("--interface", metavar="IFACE",
                   help="capture live on IFACE (needs root); each connection is reported "
                        "as it ends, the open ones when the capture stops")
    p.add_argument("--count", metavar="N", type=int,
                   help="with --interface: stop after N packets (default: no limit)")
    p.add_argument("--duration", metavar="SECONDS", type=float,
                   help="with --interface: stop after this long (default: until Ctrl-C)")
    p.add_argument("--bpf", metavar="EXPR",
                   help="with --interface: capture filter, e.g. 'tcp port 443' (default: "
                        "all traffic)")
    p.add_argument("--keylog", metavar="FILE",
                   help="NSS key log (SSLKEYLOGFILE format); live: read again as it grows")
    p.add_argument("--server-key", metavar="PEM", help="server RSA private key")
    p.add_argument("--port", metavar="N", type=_port, action="append", default=[],
                   help="a port to treat as TLS (hint; TLS is found on any port)")
    p.add_argument("--json", action="store_true", help="one JSON object per connection")
    p.add_argument("--data", action="store_true",
                   help="print each direction's decrypted application data (text, else "
                        "hex; the first 64 KiB of each)")
    p.set_defaults(func=cmd_dissect)

    p = sub.add_parser("client", help="run the client automaton against a server")
    p.add_argument("host", metavar="HOST")
    p.add_argument("port", metavar="PORT", type=_port)
    _common_peer_options(p)
    p.add_argument("--sni", metavar="NAME",
                   help="server_name to send (default: HOST when it is a name; none for an IP)")
    p.add_argument("--alpn", metavar="PROTO", action="append", default=[],
                   help="ALPN protocol to offer (repeatable; default: none)")
    p.add_argument("--cert", metavar="PEM",
                   help="client certificate (chain) for client authentication (default: none)")
    p.add_argument("--key", metavar="PEM", help="the private key of --cert")
    p.add_argument("--cafile", metavar="PEM",
                   help="verify the server chain against these CAs (default: shown, not "
                        "verified)")
    p.add_argument("--send", metavar="TEXT", type=_unescape,
                   help="application data to send after the handshake (\\r\\n escapes; "
                        "default: none)")
    p.add_argument("--resume", action="store_true",
                   help="connect a second time and resume the session")
    p.add_argument("--early-data", metavar="TEXT", type=_unescape,
                   help="with --resume: send TEXT as TLS 1.3 0-RTT data when resuming")
    p.add_argument("--key-update", action="store_true",
                   help="TLS 1.3: after the handshake send a KeyUpdate asking for one back")
    p.add_argument("--timeout", metavar="SECONDS", type=float, default=10.0,
                   help="bound on the whole run: handshake and answer (default 10)")
    p.add_argument("--max-receive", metavar="BYTES", type=int, default=1 << 20,
                   help="stop reading after this much application data (default 1 MiB)")
    p.add_argument("--renegotiate", action="store_true",
                   help="TLS 1.0-1.2: after the handshake, renegotiate (RFC 5746) before "
                        "sending --send")
    p.set_defaults(func=cmd_client)

    p = sub.add_parser("server", help="run the server automaton")
    p.add_argument("--cert", metavar="PEM", required=True,
                   help="server certificate (chain), RSA or ECDSA")
    p.add_argument("--key", metavar="PEM", required=True, help="the private key of --cert")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=_listen_port, default=4433,
                   help="port to listen on (default 4433; 0: any free port)")
    _common_peer_options(p)
    p.add_argument("--client-auth", choices=("none", "optional", "required"), default="none",
                   help="ask for a client certificate (default none)")
    p.add_argument("--cafile", metavar="PEM",
                   help="verify client certificates against these CAs (default: not verified)")
    p.add_argument("--max-connections", metavar="N", type=int,
                   help="exit after serving N connections (default: until interrupted)")
    p.add_argument("--echo", action="store_true",
                   help="echo application data (default: a small HTTP/1.1 200 answer)")
    p.add_argument("--no-tickets", action="store_true",
                   help="issue no session tickets (TLS 1.2 nor TLS 1.3)")
    p.add_argument("--early-data", metavar="N", type=int,
                   help="accept up to N bytes of TLS 1.3 0-RTT data (default: reject it)")
    p.add_argument("--alpn", metavar="PROTO", action="append", default=[],
                   help="ALPN protocol to accept, in preference order (repeatable; default: "
                        "no ALPN answer)")
    p.add_argument("--psk", metavar="IDENTITY:HEX[:sha384]", action="append", default=[],
                   type=_external_psk,
                   help="accept a TLS 1.3 external PSK (repeatable; SHA-256 unless :sha384)")
    p.add_argument("--timeout", metavar="SECONDS", type=float, default=10.0,
                   help="handshake and idle timeout per connection (default 10)")
    p.add_argument("--lifetime", metavar="SECONDS", type=float, default=120.0,
                   help="longest a connection may last (default 120; 0: no bound)")
    p.add_argument("--min-rate", metavar="BYTES", type=float, default=16.0,
                   help="bytes/s of data a client must send after the handshake, over "
                        "each --timeout window (default 16; 0: no minimum)")
    p.add_argument("--no-renegotiation", action="store_true",
                   help="refuse client renegotiation with a no_renegotiation warning "
                        "(default: secure renegotiation, RFC 5746, accepted)")
    p.add_argument("--renegotiate-after", metavar="N[s|k|M]", type=_renegotiate_after,
                   help="ask the client to renegotiate (HelloRequest) N seconds (30s) or N "
                        "bytes (65536, 64k, 1M) after the handshake")
    p.set_defaults(func=cmd_server)

    p = sub.add_parser("replay", help="replay captured ClientHellos against a live server")
    p.add_argument("capture", metavar="CAPTURE")
    p.add_argument("--to", metavar="HOST:PORT", required=True,
                   help="the live server to replay against")
    p.add_argument("--keylog", metavar="FILE",
                   help="NSS key log of the capture (decrypts the captured side)")
    p.add_argument("--keylog-out", metavar="FILE",
                   help="append NSS key log lines for the replayed connections")
    p.add_argument("--sni", metavar="NAME", help="offer this server_name instead")
    p.add_argument("--only", metavar="N", type=int, action="append", default=[],
                   help="replay connection N only (1 = first; repeatable)")
    p.add_argument("--resume", action="store_true",
                   help="replay resumptions with the session of the replayed connection")
    p.add_argument("--send", metavar="TEXT", type=_unescape,
                   help="application data to send after each handshake")
    p.add_argument("--timeout", metavar="SECONDS", type=float, default=10.0,
                   help="bound on each replayed connection (default 10)")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per replayed connection (default: side by side text)")
    p.set_defaults(func=cmd_replay)
    return ap


VERSION_CHOICES = ("1.0", "1.1", "1.2", "1.3")


def _common_peer_options(p):
    p.add_argument("--tls", choices=VERSION_CHOICES, default="1.3",
                   help="highest TLS version (default 1.3)")
    p.add_argument("--tls-min", metavar="VERSION", choices=VERSION_CHOICES, default="1.0",
                   help="lowest TLS version (default 1.0)")
    p.add_argument("--group", metavar="NAME", action="append", default=[],
                   help="named group, in preference order (repeatable): x25519, secp256r1, "
                        "secp384r1, secp521r1, x448, ffdhe2048, ffdhe3072 ..., and for "
                        "TLS 1.3 X25519MLKEM768, SecP256r1MLKEM768, SecP384r1MLKEM1024 "
                        "(default: x25519, secp256r1, ...)")
    p.add_argument("--cipher", metavar="NAME", action="append", default=[],
                   help="IANA or OpenSSL suite name (repeatable)")
    p.add_argument("--keylog", metavar="FILE", help="append NSS key log lines")
    p.add_argument("--record-size-limit", metavar="N", type=int,
                   help="RFC 8449 record_size_limit, 64 to 65535 (client: offered; server: "
                        "answered to a client that offers one; default: none / the maximum)")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per connection on stdout (default: text)")


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        return 130
    except TLSError as exc:
        print("scapy-tls-hs %s: %s" % (args.command, exc), file=sys.stderr)
        return 1
    except OSError as exc:
        print("scapy-tls-hs %s: %s" % (args.command, exc), file=sys.stderr)
        return 1
    except Exception as exc:  # a bug must still not show a traceback to a user
        print("scapy-tls-hs %s: internal error: %s: %s" % (args.command, type(exc).__name__, exc),
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
