"""The automata's ``tamper=`` hook in either of its two forms.

``f(msg_type, body)`` is what the connection calls (connection/base.py ``_send_handshake``):
it gets the body bytes and returns new body bytes or None.  ``f(message)`` is the Scapy
shell's form: it gets the outgoing message as this package's layer (``TLSClientHello``,
``TLSServerKeyExchange`` ...) and returns a packet, bytes or None (None: sent unchanged).
Which form a callable is, is read from its signature: one that accepts exactly one
positional argument is the packet form.
"""
import inspect

from ..codec.records import handshake


def takes_packet(func):
    """True when ``func`` accepts one positional argument and not two."""
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return False                # no signature to read (some builtins): the old form
    for args in ((None,), (None, None)):
        try:
            sig.bind(*args)
        except TypeError:
            if len(args) == 2:
                return True
            return False
    return False


def connection_tamper(tamper, conn):
    """The ``f(msg_type, body)`` hook to give ``conn`` for the user's ``tamper``."""
    if tamper is None or not takes_packet(tamper):
        return tamper

    def on_message(msg_type, body):
        result = tamper(as_layer(msg_type, body, conn))
        return None if result is None else body_bytes(result)

    on_message.user_tamper = tamper
    return on_message


def as_layer(msg_type, body, conn=None):
    """The message as this package's Scapy layer, dissected in the connection's terms (its
    version and key exchange choose the form of ServerKeyExchange, Certificate ...)."""
    from ..layers import TLSContext, TLSHandshake
    ctx = TLSContext(getattr(conn, "version", None), _key_exchange(conn))
    message = TLSHandshake(handshake(msg_type, body), ctx=ctx)
    layer = message.payload if message.payload else message
    layer.remove_underlayer(None)
    forget_lengths(layer)
    return layer


def forget_lengths(pkt):
    """Unset the lengths read from the bytes (every ``len`` / ``*_len`` field whose default
    is None), here and in the packets it holds, so they are computed again when built: a
    field changed in the hook then gives a consistent message.  A length the hook sets
    itself is kept."""
    layer = pkt
    while layer:
        for f in layer.fields_desc:
            name = f.name
            value = layer.fields.get(name)
            if (name == "len" or name.endswith("_len")) and name in layer.fields \
                    and layer.default_fields.get(name, 0) is None:
                layer.delfieldval(name)
            elif getattr(f, "holds_packets", False) and value is not None:
                for sub in value if isinstance(value, list) else [value]:
                    forget_lengths(sub)
        layer = layer.payload
    pkt.clear_cache()


def body_bytes(result):
    """What the packet form returned, as the body to send: the header the connection writes
    itself, so a returned ``TLSHandshake`` header (type, length) is dropped."""
    from ..layers import TLSHandshake
    if isinstance(result, (bytes, bytearray, memoryview)):
        return bytes(result)
    if isinstance(result, TLSHandshake):
        return bytes(result)[4:]
    if hasattr(result, "build"):
        return bytes(result)
    raise TypeError("tamper must return a packet, bytes or None, not %s"
                    % type(result).__name__)


def _key_exchange(conn):
    if getattr(conn, "tls13", False):
        return "TLS13"
    suite = getattr(conn, "suite", None)
    return getattr(suite, "key_exchange", None)
