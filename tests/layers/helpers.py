"""Small checks shared by the layer tests."""
from scapy.all import raw
from scapy.packet import Padding, Raw

from scapy_tls_hs.layers import TLSHandshake, TLSMalformed


def layers(pkt):
    layer = pkt
    while layer:
        yield layer
        layer = layer.payload


def clean(pkt):
    """No malformed, raw or padding bytes anywhere in the dissection (fields included)."""
    return not (pkt.haslayer(TLSMalformed) or pkt.haslayer(Raw) or pkt.haslayer(Padding))


def fields_of(pkt):
    """The field values of a layer with packets turned into bytes (comparable)."""
    out = {}
    for f in pkt.fields_desc:
        v = pkt.getfieldval(f.name)
        if isinstance(v, list):
            v = [raw(x) if hasattr(x, "fields_desc") else x for x in v]
        elif hasattr(v, "fields_desc"):
            v = raw(v)
        out[f.name] = v
    return out


def show_text(pkt):
    return pkt.show(dump=True)


def same_set_fields(got, want):
    """``got`` has every field value set on the hand-built ``want`` (lengths left unset on
    ``want`` are whatever was computed)."""
    g, w = fields_of(got), fields_of(want)
    return {k: v for k, v in g.items() if w[k] is not None} == \
        {k: v for k, v in w.items() if v is not None}


def round_trip(msg, ctx=None):
    """Build TLSHandshake()/msg, check computed lengths, dissect again, compare."""
    data = raw(TLSHandshake() / msg)
    assert data[0] == msg.hs_type
    assert int.from_bytes(data[1:4], "big") == len(data) - 4
    again = TLSHandshake(data, ctx=ctx)
    assert type(again.payload) is type(msg), again.summary()
    assert clean(again), again.show(dump=True)
    assert raw(again) == data
    assert fields_of(again.payload) == fields_of(type(msg)(data[4:], ctx=ctx))
    return again.payload
