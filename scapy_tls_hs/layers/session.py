"""``sniff(..., session=TLSHandshakeSession)``: TCP streams, then TLS records, then whole
handshake messages, per direction.

``TCPSession`` with ``TLSRecord.tcp_reassemble`` already gives whole records; a handshake
message longer than one record (a large Certificate) still arrives as a
``TLSHandshakeFragment`` in each.  This session holds such records back until the message
is complete and hands them over as one ``TLSRecord`` holding the whole message(s): its
``len`` is the sum of the records' lengths, so this packet is the reassembled view, not
the bytes of one segment.  Everything else passes as ``TCPSession`` gives it.
"""
import struct

from scapy.layers.inet import TCP
from scapy.sessions import TCPSession

from .fields import TLSContext, u24
from .record import TLSHandshake, TLSHandshakeFragment, TLSRecord, split_records

#: A joined record longer than its 16-bit length can say is passed on as the records were.
MAX_JOINED = 0xFFFF


class _Direction:
    """One direction of one TCP connection."""

    def __init__(self):
        self.read_ctx = TLSContext()    # follows the records as they come in
        self.out_ctx = TLSContext()     # follows the records as they are handed over
        self.held = []                  # plaintext handshake records of an unfinished message
        self.buf = b""                  # their handshake bytes not yet a whole message


class TLSHandshakeSession(TCPSession):
    """A ``TCPSession`` for TLS: a handshake message that spans records comes whole, in one
    ``TLSRecord``; one context per direction (ChangeCipherSpec, version) throughout."""

    def __init__(self, *args, **kwargs):
        TCPSession.__init__(self, *args, **kwargs)
        self._directions = {}

    def process(self, pkt, cls=None):
        out = TCPSession.process(self, pkt, cls)
        if out is None or self.app or TCP not in out:
            return out
        tcp = out[TCP]
        ident = self._get_ident(out)
        direction = self._directions.get(ident)
        ending = bool(tcp.flags.F or tcp.flags.R)
        if not isinstance(tcp.payload, TLSRecord):
            if direction is not None and direction.held and ending:
                return self._hand_over(out, direction, self._flush(direction))
            return out
        if direction is None:
            direction = self._directions[ident] = _Direction()
        records, rest = split_records(bytes(tcp.payload))
        units = []
        for rec in records:
            units += self._feed(direction, rec)
        if ending:
            units += self._flush(direction)
        if not units and not rest:
            return None             # all held: the message goes on in the next records
        return self._hand_over(out, direction, units, rest)

    @staticmethod
    def _feed(direction, rec):
        """The records to hand over now, given one more record of ``direction``."""
        parsed = TLSRecord(rec, ctx=direction.read_ctx, _no_chain=True)
        if not isinstance(parsed.payload, (TLSHandshake, TLSHandshakeFragment)):
            return TLSHandshakeSession._flush(direction) + [rec]
        direction.held.append(rec)
        direction.buf += rec[5:]
        while len(direction.buf) >= 4 and len(direction.buf) >= 4 + u24(direction.buf, 1):
            direction.buf = direction.buf[4 + u24(direction.buf, 1):]
        if direction.buf:
            return []
        held, direction.held = direction.held, []
        content = b"".join(r[5:] for r in held)
        if len(held) == 1 or len(content) > MAX_JOINED:
            return held
        return [held[0][:3] + struct.pack("!H", len(content)) + content]

    @staticmethod
    def _flush(direction):
        """Records of a message that will not be completed, as they came."""
        held, direction.held, direction.buf = direction.held, [], b""
        return held

    @staticmethod
    def _hand_over(out, direction, units, rest=b""):
        tcp = out[TCP]
        tcp.remove_payload()
        if units:
            tcp.add_payload(TLSRecord(b"".join(units), ctx=direction.out_ctx))
        if rest:
            tcp.add_payload(rest)
        return out
