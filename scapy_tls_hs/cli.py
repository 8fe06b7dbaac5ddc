"""Command line: ``scapy-tls-hs dissect|client|server|replay``.

Only argument parsing, calls into the library, printing, and turning known errors into one
line on stderr with a non-zero exit status. Each ``cmd_*`` function owns one sub-command.
"""
import argparse
import sys

from .errors import TLSError


def _unescape(text):
    """``--send 'GET / HTTP/1.1\\r\\n\\r\\n'``: honour the usual backslash escapes."""
    return text.encode("latin-1", "backslashreplace").decode("unicode_escape").encode("utf-8")


def cmd_dissect(args):
    raise TLSError("dissect is not implemented yet")


def cmd_client(args):
    raise TLSError("client is not implemented yet")


def cmd_server(args):
    raise TLSError("server is not implemented yet")


def cmd_replay(args):
    raise TLSError("replay is not implemented yet")


def build_parser():
    ap = argparse.ArgumentParser(
        prog="scapy-tls-hs",
        description="Craft, dissect and drive TLS 1.0-1.2 handshakes with Scapy layers.")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("dissect", help="dissect a pcap/pcapng capture",
                       description="Reassemble every TLS connection of a capture and report it.")
    p.add_argument("capture", metavar="CAPTURE")
    p.add_argument("--keylog", metavar="FILE", help="NSS key log (SSLKEYLOGFILE format)")
    p.add_argument("--server-key", metavar="PEM", help="server RSA private key")
    p.add_argument("--port", metavar="N", type=int, action="append", default=[],
                   help="a port to treat as TLS (hint; TLS is found on any port)")
    p.add_argument("--json", action="store_true", help="one JSON object per connection")
    p.set_defaults(func=cmd_dissect)

    p = sub.add_parser("client", help="run the client automaton against a server")
    p.add_argument("host", metavar="HOST")
    p.add_argument("port", metavar="PORT", type=int)
    _common_peer_options(p)
    p.add_argument("--sni", metavar="NAME")
    p.add_argument("--alpn", metavar="PROTO", action="append", default=[])
    p.add_argument("--cert", metavar="PEM")
    p.add_argument("--key", metavar="PEM")
    p.add_argument("--cafile", metavar="PEM")
    p.add_argument("--send", metavar="TEXT", type=_unescape)
    p.add_argument("--resume", action="store_true",
                   help="connect a second time and resume the session")
    p.add_argument("--timeout", metavar="SECONDS", type=float, default=10.0)
    p.set_defaults(func=cmd_client)

    p = sub.add_parser("server", help="run the server automaton")
    p.add_argument("--cert", metavar="PEM", required=True)
    p.add_argument("--key", metavar="PEM", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=4433)
    _common_peer_options(p)
    p.add_argument("--client-auth", choices=("none", "optional", "required"), default="none")
    p.add_argument("--cafile", metavar="PEM")
    p.add_argument("--max-connections", metavar="N", type=int)
    p.add_argument("--echo", action="store_true")
    p.add_argument("--no-tickets", action="store_true")
    p.add_argument("--alpn", metavar="PROTO", action="append", default=[])
    p.add_argument("--timeout", metavar="SECONDS", type=float, default=10.0)
    p.set_defaults(func=cmd_server)

    p = sub.add_parser("replay", help="replay captured ClientHellos against a live server")
    p.add_argument("capture", metavar="CAPTURE")
    p.add_argument("--to", metavar="HOST:PORT", required=True)
    p.add_argument("--keylog", metavar="FILE")
    p.add_argument("--sni", metavar="NAME")
    p.add_argument("--only", metavar="N", type=int, action="append", default=[])
    p.add_argument("--resume", action="store_true")
    p.add_argument("--send", metavar="TEXT", type=_unescape)
    p.add_argument("--timeout", metavar="SECONDS", type=float, default=10.0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_replay)
    return ap


def _common_peer_options(p):
    p.add_argument("--tls", choices=("1.0", "1.1", "1.2", "1.3"), default="1.2")
    p.add_argument("--cipher", metavar="NAME", action="append", default=[],
                   help="IANA or OpenSSL suite name (repeatable)")
    p.add_argument("--keylog", metavar="FILE", help="append NSS key log lines")
    p.add_argument("--json", action="store_true")


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
