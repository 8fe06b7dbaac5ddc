"""ServerKeyExchange and ClientKeyExchange: DHE / ECDHE forms, TLS 1.0-1.2 signatures,
chosen by context or from the bytes."""
import pytest
from scapy.all import raw

from scapy_tls_hs import registry
from scapy_tls_hs.layers import TLSClientKeyExchange, TLSContext, TLSServerKeyExchange
from tests.layers.helpers import round_trip, show_text


def test_server_key_exchange_ecdhe_tls12():
    ske = TLSServerKeyExchange(named_curve="secp256r1", point=b"\x04" + b"P" * 64,
                               sig_alg="ecdsa_secp256r1_sha256", sig=b"S" * 70)
    got = round_trip(ske)
    assert got.kind == "ECDHE" and got.curve_type == 3 and got.named_curve == 23
    assert got.point_len == 65 and got.sig_alg == 0x0403 and got.sig_len == 70
    assert got.params_raw() == b"\x03\x00\x17\x41\x04" + b"P" * 64
    text = show_text(got)
    assert "secp256r1" in text and "ecdsa_secp256r1_sha256" in text and "named_curve" in text


def test_server_key_exchange_dhe_tls10():
    ske = TLSServerKeyExchange(dh_p=b"\xff" * 256, dh_g=b"\x02", dh_Ys=b"\x11" * 256,
                               sig_alg=None, sig=b"S" * 256)
    got = round_trip(ske)
    assert got.kind == "DHE" and got.sig_alg is None
    assert (got.p_len, got.g_len, got.ys_len, got.sig_len) == (256, 1, 256, 256)
    ctx = TLSContext(version="TLS 1.0", key_exchange="DHE")
    assert round_trip(ske, ctx).dh_Ys == b"\x11" * 256


def test_server_key_exchange_context_decides():
    ske = TLSServerKeyExchange(dh_p=b"\xff" * 128, dh_g=b"\x02", dh_Ys=b"\x11" * 128,
                               sig_alg=0x0401, sig=b"S" * 128)
    body = raw(ske)
    # Told TLS 1.1, the same bytes read as a signature without algorithm: different fields.
    as11 = TLSServerKeyExchange(body, ctx=TLSContext(version=0x0302, key_exchange="DHE"))
    assert as11.sig_alg is None and raw(as11) == body
    # Told RSA key exchange (no ServerKeyExchange expected), the bytes are kept as they are.
    as_rsa = TLSServerKeyExchange(body, ctx=TLSContext(key_exchange="RSA"))
    assert as_rsa.kind == "RAW" and as_rsa.data == body and raw(as_rsa) == body


def test_server_key_exchange_default_is_ecdhe_x25519():
    got = round_trip(TLSServerKeyExchange(point=b"\x09" * 32))
    assert got.named_curve == 29 and got.sig_alg == 0x0401


@pytest.mark.parametrize("kwargs,form", [
    ({"point": b"\x04" + b"Q" * 64}, "ecdh"),
    ({"exchange_keys": b"E" * 256}, "vec16"),
])
def test_client_key_exchange(kwargs, form):
    got = round_trip(TLSClientKeyExchange(**kwargs))
    assert got.form() == form
    for k, v in kwargs.items():
        assert getattr(got, k) == v


def test_client_key_exchange_context():
    body = raw(TLSClientKeyExchange(point=b"\x20" * 33))[:]  # a vec8 that is also 34 bytes
    assert TLSClientKeyExchange(body).point == b"\x20" * 33
    as_rsa = TLSClientKeyExchange(body, ctx=TLSContext(key_exchange="RSA"))
    assert as_rsa.form() == "raw" and raw(as_rsa) == body


# -- every form, with the context given and from the bytes alone ------------------------------

_DHE = {"dh_p": b"\xff" * 128, "dh_g": b"\x02", "dh_Ys": b"\x11" * 128}
_ECDHE = {"named_curve": 23, "point": b"\x04" + b"P" * 64}


@pytest.mark.parametrize("kind,params", [("DHE", _DHE), ("ECDHE", _ECDHE)])
@pytest.mark.parametrize("version,sig_alg", [(0x0301, None), (0x0302, None),
                                             (0x0303, 0x0401), (0x0303, 0x0804),
                                             (0x0303, 0x0403)])
@pytest.mark.parametrize("with_ctx", [True, False], ids=["ctx", "bytes"])
def test_server_key_exchange_every_form(kind, params, version, sig_alg, with_ctx):
    """DHE and ECDHE parameters, signed with (TLS 1.2) or without (TLS 1.0/1.1) the
    SignatureAndHashAlgorithm, dissected with the context told or guessed from the bytes."""
    ske = TLSServerKeyExchange(sig_alg=sig_alg, sig=b"S" * 71, **params)
    body = raw(ske)
    # The signature is the last field on the wire: [scheme] || vec16(signature).
    tail = (b"" if sig_alg is None else sig_alg.to_bytes(2, "big")) + b"\x00\x47" + b"S" * 71
    assert body.endswith(tail)
    ctx = TLSContext(version=version, key_exchange=kind) if with_ctx else None
    got = round_trip(ske, ctx)
    assert got.kind == kind and got.sig_alg == sig_alg and got.sig == b"S" * 71
    for field, value in params.items():
        assert getattr(got, field) == value
    assert got.params_raw() == body[:len(body) - len(tail)]
    if sig_alg is not None:
        assert registry.SIGNATURE_SCHEMES[sig_alg] in show_text(got)


@pytest.mark.parametrize("kind,params", [("DHE", _DHE), ("ECDHE", _ECDHE)])
def test_server_key_exchange_anonymous(kind, params):
    """No signature at all (anonymous suites): the parameters fill the body."""
    ske = TLSServerKeyExchange(sig_alg=None, sig=None, **params)
    got = round_trip(ske)
    assert got.kind == kind and got.sig is None and got.params_raw() == raw(ske)


@pytest.mark.parametrize("kx,kwargs,form,field", [
    ("RSA", {"exchange_keys": b"E" * 256}, "vec16", "exchange_keys"),     # encrypted pre-master
    ("DHE", {"exchange_keys": b"\x7f" * 256}, "vec16", "exchange_keys"),  # Yc
    ("ECDHE", {"point": b"\x04" + b"Q" * 64}, "ecdh", "point"),           # NIST curve point
    ("ECDHE", {"point": b"\x09" * 32}, "ecdh", "point"),                  # x25519
])
@pytest.mark.parametrize("with_ctx", [True, False], ids=["ctx", "bytes"])
def test_client_key_exchange_every_form(kx, kwargs, form, field, with_ctx):
    msg = TLSClientKeyExchange(**kwargs)
    body = raw(msg)
    value = kwargs[field]
    prefix = len(value).to_bytes(2 if form == "vec16" else 1, "big")
    assert body == prefix + value
    got = round_trip(msg, TLSContext(version=0x0303, key_exchange=kx) if with_ctx else None)
    assert got.form() == form and getattr(got, field) == value


def test_client_key_exchange_ssl3_style_rsa_is_kept_as_bytes():
    """An RSA block without its length (SSLv3 style) does not parse as a vector: the bytes
    are kept in ``data`` and rebuild unchanged."""
    body = b"\x5a" * 128
    for ctx in (TLSContext(version=0x0301, key_exchange="RSA"), None):
        got = TLSClientKeyExchange(body, ctx=ctx)
        assert got.form() == "raw" and got.data == body and raw(got) == body
