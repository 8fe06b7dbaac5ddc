"""What the server answered, read the same way from a capture and from a live replay.

The ``server view``: selected version and suite, the ServerHello's extensions, how the
session id was answered (``session_id_kind``: "empty", "new", "echoed"; "none" without a
ServerHello), the leaf certificate (subject, SHA-256 of the DER, chain length), the server's
handshake messages up to its ChangeCipherSpec, and its alerts (close_notify left out, and
alerts that could not be decrypted, since a live replay shows them decrypted).
Only messages seen in clear count, on both sides, so the two stay comparable.
"""

from ..codec import extensions as X
from ..codec.messages import Certificate, ClientHello, NewSessionTicket, ServerHello
from ..codec.records import HandshakeReassembler
from ..crypto.prf import digest
from ..errors import DecodeError
from ..registry import CIPHER_SUITES, EXTENSION_TYPES, HANDSHAKE_TYPES, name, version_name

__all__ = ["Captured", "read_captured", "server_view"]

class Captured:
    """One connection of the capture: its ``report`` (``dissect`` fields), the ``hello`` the
    client sent (None when it was not seen), the session ``ticket`` the server issued, its
    ``certificates`` and the server's answer as a ``view`` dict."""

    def __init__(self, number, report):
        self.number = number
        self.report = report
        self.hello = None
        self.hello_error = None
        self.ticket = b""
        self.certificates = []      # the server's chain (DER, leaf first) when seen in clear
        items = []
        asm = {"client": HandshakeReassembler(), "server": HandshakeReassembler()}
        protected = set()       # directions past their ChangeCipherSpec
        for _, direction, ct, _, payload, decrypted in report.raw_records:
            # Only what was in clear: what a live server encrypts stays hidden from the view
            # of the replay as well, so the two sides stay comparable.
            if decrypted or direction in protected:
                continue
            if ct == 20:
                items.append(("ccs", direction))
                protected.add(direction)
            elif ct == 22:
                try:
                    for msg_type, body, _ in asm[direction].feed(payload):
                        items.append(("hs", direction, msg_type, body))
                except DecodeError:
                    asm[direction] = HandshakeReassembler()
        for item in items:
            if item[0] != "hs":
                continue
            _, direction, msg_type, body = item
            if direction == "client" and msg_type == 1 and self.hello is None \
                    and self.hello_error is None:
                try:
                    self.hello = ClientHello.parse(body)
                except DecodeError as exc:
                    self.hello_error = "the captured ClientHello does not parse: %s" % exc
            elif direction == "server" and msg_type == 4 and not self.ticket:
                try:
                    self.ticket = NewSessionTicket.parse(body).ticket
                except DecodeError:
                    pass
            elif direction == "server" and msg_type == 11 and not self.certificates:
                try:
                    self.certificates = Certificate.parse(body).certificates
                except DecodeError:
                    pass
        if self.hello is None and self.hello_error is None:
            self.hello_error = "no ClientHello in clear in the capture"
        self.view = server_view(items, report.messages, resumed=report.resumed,
                                hello=self.hello)
        self.view["session_id"] = report.session_id

    def fields(self):
        out = self.report.to_dict()
        out.update(self.view)
        return out


def read_captured(path, keylog=None):
    """The capture's TLS connections as ``Captured`` objects, in the order they started."""
    from ..capture.dissect import dissect_capture
    return [Captured(n, r) for n, r in enumerate(dissect_capture(path, keylog=keylog), 1)]


def server_view(items, messages, resumed, hello=None):
    """What the server answered, from ``items`` (("hs", direction, msg_type, body) and
    ("ccs", direction) in wire order, in-clear messages only), the CONTRACT ``messages``
    ladder (for the alerts) and the ``hello`` it answered (for the session id)."""
    view = {"version": None, "cipher_suite": None, "session_id_kind": "none",
            "resumed": bool(resumed), "server_extensions": [], "alpn": None,
            "extended_master_secret": False, "certificate": None, "server_messages": [],
            "server_alerts": []}
    server_ccs = False
    chain = None
    for item in items:
        if item[1] != "server" or server_ccs:
            continue
        if item[0] == "ccs":
            server_ccs = True
            view["server_messages"].append("change_cipher_spec")
            continue
        _, _, msg_type, body = item
        label = HANDSHAKE_TYPES.get(msg_type, "unknown_%d" % msg_type)
        if msg_type == 2 and view["version"] is None:
            try:
                sh = ServerHello.parse(body)
            except DecodeError:
                view["server_messages"].append(label)
                continue
            if sh.is_hello_retry_request:
                label = "hello_retry_request"
            _read_server_hello(view, sh, hello)
        elif msg_type == 11 and chain is None:
            try:
                chain = Certificate.parse(body).certificates
            except DecodeError:
                chain = []
        view["server_messages"].append(label)
    view["certificate"] = _leaf(chain)
    for entry in messages:
        side, _, what = entry.partition(":")
        if side == "S" and what.startswith("alert:") and what != "alert:close_notify":
            view["server_alerts"].append(what[6:])
    return view


def _read_server_hello(view, sh, hello):
    try:
        version = sh.selected_version()
    except DecodeError:
        version = sh.version
    view["version"] = version_name(version)
    view["cipher_suite"] = name(CIPHER_SUITES, sh.cipher_suite)
    exts = sh.extensions or []
    view["server_extensions"] = [name(EXTENSION_TYPES, e.type) for e in exts]
    view["extended_master_secret"] = any(e.type == X.EXT_EXTENDED_MASTER_SECRET for e in exts)
    alpn = X.find_ext(exts, X.EXT_ALPN)
    if alpn is not None:
        try:
            view["alpn"] = b",".join(X.parse_alpn(alpn.data)).decode("ascii", "replace")
        except DecodeError:
            view["alpn"] = None
    if not sh.session_id:
        view["session_id_kind"] = "empty"
    elif hello is not None and sh.session_id == hello.session_id:
        view["session_id_kind"] = "echoed"
    else:
        view["session_id_kind"] = "new"


def _leaf(chain):
    if not chain:
        return None
    leaf = {"subject": None, "sha256": digest("sha256", chain[0]).hex(),
            "chain": len(chain)}
    try:
        from cryptography import x509
        leaf["subject"] = x509.load_der_x509_certificate(chain[0]).subject.rfc4514_string()
    except ValueError:
        pass
    return leaf
