"""ServerKeyExchange and ClientKeyExchange (RFC 5246 §7.4.3, §7.4.7; RFC 8422 §5.4, §5.7).

Their bodies depend on the negotiated key exchange (and, for the signature, on the version).
Each is one class whose fields for the other forms are absent:

- ``TLSServerKeyExchange``: DHE (``dh_p``, ``dh_g``, ``dh_Ys``) or ECDHE (``curve_type``,
  ``named_curve``, ``point``) parameters, then the signature: ``sig_alg`` + ``sig`` in TLS 1.2,
  ``sig`` alone in TLS 1.0/1.1, nothing for anonymous suites.  Unknown forms keep the bytes
  in ``data``.
- ``TLSClientKeyExchange``: ``exchange_keys`` (a 16-bit vector: the RSA-encrypted pre-master
  secret or the DHE public value Yc, which the bytes cannot tell apart), or ``point`` (ECDHE,
  8-bit vector), or ``data`` (anything else, e.g. an SSLv3-style RSA block without length).

The form comes from ``TLSContext(key_exchange=..., version=...)`` when given, else from the
bytes; crafting picks it from the fields that are set: ``TLSServerKeyExchange()`` is ECDHE
x25519 with an rsa_pkcs1_sha256 signature; give ``dh_p``/``dh_g``/``dh_Ys`` for DHE and
``sig_alg=None`` for the TLS 1.0/1.1 signature (``sig=None`` too for anonymous suites).
"""
from scapy.fields import (ConditionalField, FieldLenField, MayEnd, StrField, StrLenField)

from .. import registry
from .fields import (TLSByteEnumField, TLSPacket, TLSShortEnumField, u16, vec_ok)
from .handshake import signature_form
from .hello import handshake_message


def _ecdhe_params_end(body):
    if len(body) >= 4 and body[0] == 3:
        return vec_ok(body, 3, 1)
    return None


def _dhe_params_end(body):
    end = 0
    for _ in range(3):
        end = vec_ok(body, end, 2)
        if end is None:
            return None
    return end


def _when(kind, sig=None):
    if sig is None:
        return lambda p: p.form()[0] == kind
    return lambda p: p.form()[0] == kind and p.form()[1] in sig


@handshake_message(12)
class TLSServerKeyExchange(TLSPacket):
    name = "TLS ServerKeyExchange"
    fields_desc = [
        ConditionalField(FieldLenField("p_len", None, length_of="dh_p"), _when("DHE")),
        ConditionalField(StrLenField("dh_p", None, length_from=lambda p: p.p_len),
                         _when("DHE")),
        ConditionalField(FieldLenField("g_len", None, length_of="dh_g"), _when("DHE")),
        ConditionalField(StrLenField("dh_g", None, length_from=lambda p: p.g_len),
                         _when("DHE")),
        ConditionalField(FieldLenField("ys_len", None, length_of="dh_Ys"), _when("DHE")),
        ConditionalField(MayEnd(StrLenField("dh_Ys", None, length_from=lambda p: p.ys_len)),
                         _when("DHE")),
        ConditionalField(TLSByteEnumField("curve_type", None, registry.EC_CURVE_TYPES),
                         _when("ECDHE")),
        ConditionalField(TLSShortEnumField("named_curve", None, registry.NAMED_GROUPS),
                         _when("ECDHE")),
        ConditionalField(FieldLenField("point_len", None, length_of="point", fmt="B"),
                         _when("ECDHE")),
        ConditionalField(MayEnd(StrLenField("point", None, length_from=lambda p: p.point_len)),
                         _when("ECDHE")),
        ConditionalField(TLSShortEnumField("sig_alg", None, registry.SIGNATURE_SCHEMES),
                         lambda p: p.form()[0] != "RAW" and p.form()[1] == "tls12"),
        ConditionalField(FieldLenField("sig_len", None, length_of="sig"),
                         lambda p: p.form()[0] != "RAW" and p.form()[1] != "none"),
        ConditionalField(StrLenField("sig", None, length_from=lambda p: p.sig_len),
                         lambda p: p.form()[0] != "RAW" and p.form()[1] != "none"),
        ConditionalField(StrField("data", None), lambda p: p.form()[0] == "RAW"),
    ]

    def _craft_defaults(self, kargs):
        dhe = {"dh_p", "dh_g", "dh_Ys"} & set(kargs)
        if not dhe and "data" not in kargs:
            kargs.setdefault("curve_type", 3)
            kargs.setdefault("named_curve", 29)
            kargs.setdefault("point", b"")
        if "data" not in kargs:
            kargs.setdefault("sig_alg", 0x0401)
            kargs.setdefault("sig", b"")
            if dhe:
                for f in ("dh_p", "dh_g", "dh_Ys"):
                    kargs.setdefault(f, b"")

    def guess_form(self, s):
        ctx = self.tls_ctx
        kx = getattr(ctx, "key_exchange", None)
        version = getattr(ctx, "version", None)
        ecdhe_end, dhe_end = _ecdhe_params_end(s), _dhe_params_end(s)
        if kx == "ECDHE" or (kx is None and ecdhe_end is not None):
            kind, end = "ECDHE", ecdhe_end
        elif kx == "DHE" or (kx is None and dhe_end is not None):
            kind, end = "DHE", dhe_end
        else:
            return ("RAW", "none")
        if end is None:
            return (kind, "tls12")
        return (kind, signature_form(s[end:], version))

    def form_from_fields(self):
        val = self.getfieldval
        if val("dh_p") is not None or val("dh_Ys") is not None:
            kind = "DHE"
        elif val("point") is not None or val("named_curve") is not None:
            kind = "ECDHE"
        else:
            return ("RAW", "none")
        if val("sig_alg") is not None:
            return (kind, "tls12")
        return (kind, "tls10" if val("sig") is not None else "none")

    def form(self):
        form = TLSPacket.form(self)
        return form if form is not None else ("RAW", "none")

    @property
    def kind(self):
        """"DHE", "ECDHE" or "RAW"."""
        return self.form()[0]

    def params_raw(self):
        """The ServerDHParams / ServerECDHParams bytes: what the signature covers."""
        body = self.self_build()
        if self.sig is None:
            return body
        tail = len(self.sig) + 2 + (2 if self.sig_alg is not None else 0)
        return body[:len(body) - tail]

    def mysummary(self):
        kind = self.kind
        if kind == "ECDHE":
            return "ServerKeyExchange ECDHE %s" % registry.name(registry.NAMED_GROUPS,
                                                                self.named_curve or 0)
        if kind == "DHE":
            return "ServerKeyExchange DHE %d-bit" % (8 * len(self.dh_p or b""))
        return "ServerKeyExchange"


@handshake_message(16)
class TLSClientKeyExchange(TLSPacket):
    name = "TLS ClientKeyExchange"
    fields_desc = [
        ConditionalField(FieldLenField("exchange_keys_len", None, length_of="exchange_keys"),
                         lambda p: p.form() == "vec16"),
        ConditionalField(StrLenField("exchange_keys", None,
                                     length_from=lambda p: p.exchange_keys_len),
                         lambda p: p.form() == "vec16"),
        ConditionalField(FieldLenField("point_len", None, length_of="point", fmt="B"),
                         lambda p: p.form() == "ecdh"),
        ConditionalField(StrLenField("point", None, length_from=lambda p: p.point_len),
                         lambda p: p.form() == "ecdh"),
        ConditionalField(StrField("data", None), lambda p: p.form() == "raw"),
    ]

    def _craft_defaults(self, kargs):
        if not {"exchange_keys", "point", "data"} & set(kargs):
            kargs["exchange_keys"] = b""

    def guess_form(self, s):
        kx = getattr(self.tls_ctx, "key_exchange", None)
        vec8 = len(s) >= 1 and s[0] == len(s) - 1
        vec16 = len(s) >= 2 and u16(s) == len(s) - 2
        if kx == "ECDHE":
            return "ecdh" if vec8 else "raw"
        if kx in ("RSA", "DHE"):
            return "vec16" if vec16 else "raw"
        if vec8:
            return "ecdh"
        return "vec16" if vec16 else "raw"

    def form_from_fields(self):
        if self.getfieldval("point") is not None:
            return "ecdh"
        if self.getfieldval("exchange_keys") is not None:
            return "vec16"
        return "raw"

    def mysummary(self):
        return "ClientKeyExchange"
