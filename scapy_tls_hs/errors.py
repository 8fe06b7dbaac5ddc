"""One small error hierarchy for the whole package.

Library code raises these; the automata turn them into the right alert, the CLI into one line.
"""


class TLSError(Exception):
    """Base of every error this package raises on purpose."""


class AlertError(TLSError):
    """A protocol failure that maps to a TLS alert.

    ``description`` is the alert's RFC name (``"handshake_failure"``); ``received`` tells whether
    the peer sent it (True) or we must send it (False).
    """

    def __init__(self, description, message=None, *, received=False, level=2):
        from .registry import ALERT_DESCRIPTIONS, ALERT_CODES
        if isinstance(description, int):
            self.code = description
            description = ALERT_DESCRIPTIONS.get(description, "unknown_%d" % description)
        else:
            self.code = ALERT_CODES[description]
        self.description = description
        self.received = received
        self.level = level
        self.message = message
        who = "received" if received else "sent"
        text = "%s alert %s" % (who, description) if received else description
        if message:
            text = "%s: %s" % (text, message)
        super().__init__(text)


class DecodeError(AlertError):
    """Malformed bytes: a length that does not fit, a truncated structure, trailing data."""

    def __init__(self, message=None):
        super().__init__("decode_error", message)


class CaptureError(TLSError):
    """A file that cannot be read as a capture, or a capture that cannot be used."""


class PeerError(TLSError):
    """The network peer refused, reset or timed out."""
