"""A browser's TLS 1.3 ClientHello (pcaps/tls13_chromium_openssl.pcap, headless Chromium 156:
GREASE, an X25519MLKEM768 key share beside x25519, ECH GREASE, compress_certificate,
application_settings ...) dissected with its key log, and replayed with fresh key shares
against OpenSSL (TLS 1.3 only, and 1.3 + 1.2), our own server, and tlslite-ng, whose ML-KEM
(kyber-py) makes it pick the hybrid group."""
import importlib.util
import shutil

import pytest
from cryptography.hazmat.primitives.asymmetric import x25519

from scapy_tls_hs.codec import extensions as X
from scapy_tls_hs.capture.dissect import dissect_capture
from scapy_tls_hs.errors import AlertError
from scapy_tls_hs.registry import GREASE
from scapy_tls_hs.crypto import hybrid as keyshares
from scapy_tls_hs.crypto.keyexchange import generate_key_share
from scapy_tls_hs.replay import read_captured, replay_capture
from scapy_tls_hs.replay.hello import rebuild_client_hello
from tests.peers.process import Peer, free_port
from tests.peers.servers import HTTP_GET
from tests.replay.helpers import ROOT, pcap_with

PCAP = ROOT / "pcaps" / "tls13_chromium_openssl.pcap"
KEYLOG = ROOT / "pcaps" / "tls13_chromium_openssl.keylog"
X25519MLKEM768 = 0x11EC
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is needed")
needs_mlkem = pytest.mark.skipif(not keyshares.hybrid_supported(X25519MLKEM768),
                                 reason="cryptography without ML-KEM")


def shares(hello):
    ext = X.find_ext(hello.extensions, X.EXT_KEY_SHARE)
    return X.parse_key_share_client(ext.data)


def groups(hello):
    return X.parse_supported_groups(X.find_ext(hello.extensions, X.EXT_SUPPORTED_GROUPS).data)


@pytest.fixture(scope="module")
def captured():
    return read_captured(str(PCAP))


# -- the capture -------------------------------------------------------------------------------

def test_dissect_with_its_key_log():
    reports = dissect_capture(PCAP, keylog=str(KEYLOG))
    assert len(reports) == 2 and reports.warnings == []
    for r in reports:
        d = r.to_dict()
        assert d["decrypted"] is True and d["errors"] == []
        assert d["version"] == "TLS 1.3" and d["group"] == "x25519"
        assert d["cipher_suite"] == "TLS_AES_128_GCM_SHA256" and d["sni"] == "localhost"
        assert not d["resumed"] and not d["hello_retry"]
        assert d["messages"][:9] == [
            "C:client_hello", "S:server_hello", "S:change_cipher_spec",
            "S:encrypted_extensions", "S:certificate", "S:certificate_verify", "S:finished",
            "C:change_cipher_spec", "C:finished"]
        assert d["app_data"]["client_bytes"] > 0 and d["app_data"]["server_bytes"] > 0
    # Without the key log the handshake stays encrypted.
    assert all(not r.decrypted for r in dissect_capture(PCAP))


def test_the_hello_is_a_browsers(captured):
    for cap in captured:
        hello = cap.hello
        assert hello.cipher_suites[0] in GREASE
        share_groups = [g for g, _ in shares(hello)]
        assert share_groups[0] in GREASE and share_groups[1:] == [X25519MLKEM768, 29]
        assert len(dict(shares(hello))[X25519MLKEM768]) == 1184 + 32
        types = {e.type for e in hello.extensions}
        assert {0xFE0D, 27, 0x44CD, 16, 0, 43}.issubset(types)      # ECH GREASE, ALPS ...


# -- the rebuilt hello -------------------------------------------------------------------------

@needs_mlkem
def test_rebuilt_hello_keeps_every_extension_with_fresh_shares(captured):
    hello = captured[0].hello
    keys = {}
    new, _, notes = rebuild_client_hello(hello, keys=keys)
    assert notes == []
    assert new.cipher_suites == hello.cipher_suites
    assert [e.type for e in new.extensions] == [e.type for e in hello.extensions]
    assert len(new.encode()) == len(hello.encode())
    assert groups(new) == groups(hello)
    old, now = shares(hello), shares(new)
    assert [(g, len(k)) for g, k in now] == [(g, len(k)) for g, k in old]
    assert all(a != b for (_, a), (_, b) in zip(old[1:], now[1:]))    # fresh, not captured
    assert set(keys) == {X25519MLKEM768, 29}
    assert dict(now)[X25519MLKEM768] == keys[X25519MLKEM768].public_bytes()
    # Every other extension byte for byte.
    for a, b in zip(hello.extensions, new.extensions):
        if a.type not in (X.EXT_KEY_SHARE,):
            assert a.data == b.data, a.type


def test_without_mlkem_the_hybrid_group_is_left_out(captured, monkeypatch):
    monkeypatch.setattr(keyshares, "_probe", lambda size: False)
    hello = captured[0].hello
    keys = {}
    new, _, notes = rebuild_client_hello(hello, keys=keys)
    assert X25519MLKEM768 not in groups(new) and X25519MLKEM768 not in dict(shares(new))
    assert groups(new) == [g for g in groups(hello) if g != X25519MLKEM768]
    assert set(keys) == {29}
    assert notes == ["X25519MLKEM768 left out of supported_groups and key_share (this "
                     "cryptography has no ML-KEM)"]


# -- the hybrid key share ----------------------------------------------------------------------

@needs_mlkem
def test_hybrid_share_agrees_with_an_encapsulating_server():
    """What a server does (draft-ietf-tls-ecdhe-mlkem): encapsulate to the ML-KEM half,
    answer with ciphertext || its x25519 key; both sides get ML-KEM secret || X25519 secret."""
    from cryptography.hazmat.primitives.asymmetric import mlkem
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    share = generate_key_share(X25519MLKEM768)
    pub = share.public_bytes()
    assert len(pub) == 1184 + 32
    kem_secret, ct = mlkem.MLKEM768PublicKey.from_public_bytes(pub[:1184]).encapsulate()
    server = x25519.X25519PrivateKey.generate()
    ecdh_secret = server.exchange(x25519.X25519PublicKey.from_public_bytes(pub[1184:]))
    answer = ct + server.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert share.exchange(answer) == kem_secret + ecdh_secret
    with pytest.raises(AlertError) as err:
        share.exchange(answer[:-1])
    assert err.value.description == "illegal_parameter"


@needs_mlkem
def test_nist_curve_hybrid_leads_with_ecdh():
    from cryptography.hazmat.primitives.asymmetric import ec, mlkem
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    share = generate_key_share(0x11EB)           # SecP256r1MLKEM768
    pub = share.public_bytes()
    assert len(pub) == 65 + 1184 and pub[0] == 4
    kem_secret, ct = mlkem.MLKEM768PublicKey.from_public_bytes(pub[65:]).encapsulate()
    server = ec.generate_private_key(ec.SECP256R1())
    ecdh_secret = server.exchange(ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), pub[:65]))
    answer = server.public_key().public_bytes(Encoding.X962,
                                              PublicFormat.UncompressedPoint) + ct
    assert share.exchange(answer) == ecdh_secret + kem_secret


# -- replayed against real servers -------------------------------------------------------------

@needs_openssl
@pytest.mark.parametrize("versions", [["-tls1_3"], []], ids=["tls13-only", "tls13-and-12"])
def test_replay_completes_against_openssl(versions, pki):
    port = free_port()
    argv = ["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-naccept", "10",
            "-cert", pki.ecdsa_cert, "-key", pki.ecdsa_key, "-www"] + versions
    with Peer(argv, port=port):
        results = replay_capture(str(PCAP), "127.0.0.1", port, keylog=str(KEYLOG),
                                 data=HTTP_GET, timeout=5.0)
    assert len(results) == 2
    for res in results:
        rep = res.replayed
        assert rep["handshake_complete"], (rep["errors"], res.notes)
        assert rep["version"] == "TLS 1.3" and rep["group"] == "x25519"
        assert "New, TLSv1.3" in rep["received"]            # s_server's own page
        # OpenSSL 3.0 again, as captured: the same choices, nothing to say.
        assert res.differences == [] and res.notes == []


def test_replay_completes_against_our_own_server(pki):
    from scapy_tls_hs.automata.listener import TLSListener
    with TLSListener("127.0.0.1", 0, cert=pki.ecdsa_cert, key=pki.ecdsa_key, echo=True,
                     timeout=5) as listener:
        results = replay_capture(str(PCAP), "127.0.0.1", listener.port, data=b"ping\n",
                                 timeout=5.0)
        listener.wait_for_results(2, timeout=10)
        server_side = listener.results
    assert len(results) == 2
    for res, seen in zip(results, server_side):
        rep = res.replayed
        assert rep["handshake_complete"], (rep["errors"], res.notes)
        assert rep["version"] == "TLS 1.3" and rep["group"] == "x25519"
        assert rep["received"] == "ping\n"
        assert seen["version"] == "TLS 1.3" and seen["group"] == "x25519"
        assert seen["sni"] == "localhost"
        assert res.differences == [], res.differences


needs_kyber = pytest.mark.skipif(importlib.util.find_spec("kyber_py") is None,
                                 reason="kyber-py is needed for tlslite-ng's ML-KEM")


@pytest.fixture
def tlslite_server(pki):
    """tlslite-ng's echo server; with kyber-py it prefers the hybrid groups."""
    from tests.peers.servers import tlslite_server as serve
    with serve(pki.ecdsa_cert, pki.ecdsa_key) as peer:
        yield peer


@needs_mlkem
@needs_kyber
def test_replay_completes_with_the_hybrid_group_tlslite(tlslite_server):
    """tlslite-ng with kyber-py picks X25519MLKEM768: the replay finishes on the hybrid share
    and says the group changed (the captured OpenSSL 3.0 took x25519)."""
    (res,) = replay_capture(str(PCAP), "127.0.0.1", tlslite_server.port, keylog=str(KEYLOG),
                            only=[1], data=b"ping\n", timeout=10.0)
    rep = res.replayed
    assert rep["handshake_complete"], (rep["errors"], res.notes)
    assert rep["version"] == "TLS 1.3" and rep["group"] == "X25519MLKEM768"
    assert rep["received"] == "ping\n"                  # --echo: the hybrid keys agree
    assert "group" in res.differences
    assert res.captured["group"] == "x25519" and res.notes == []


@needs_kyber
def test_without_mlkem_an_mlkem_server_still_finishes(tlslite_server, monkeypatch):
    """No ML-KEM here (as with an older cryptography): the hybrid group is left out of the
    offer, and the server that would have picked it finishes on x25519."""
    monkeypatch.setattr(keyshares, "_probe", lambda size: False)
    (res,) = replay_capture(str(PCAP), "127.0.0.1", tlslite_server.port, keylog=str(KEYLOG),
                            only=[1], data=b"ping\n", timeout=10.0)
    rep = res.replayed
    assert rep["handshake_complete"], (rep["errors"], res.notes)
    assert rep["group"] == "x25519" and not rep["hello_retry"]
    assert rep["received"] == "ping\n"
    assert res.notes and "X25519MLKEM768 left out" in res.notes[0]


def test_a_compressed_certificate_fails_loudly(tlslite_server, tmp_path):
    """Chromium offers brotli certificate compression, which tlslite-ng here cannot make;
    offered zlib instead (the same hello otherwise), tlslite-ng compresses, and the replay
    says why it cannot finish."""
    from scapy_tls_hs.codec.records import encode_records, handshake
    hello = read_captured(str(PCAP))[0].hello
    hello.extensions = [X.Extension(27, b"\x02\x00\x01") if e.type == 27 else e
                        for e in hello.extensions]                  # zlib, not brotli
    data = encode_records(22, 0x0301, handshake(1, hello.encode()))
    (res,) = replay_capture(pcap_with(tmp_path / "zlib.pcap", data), "127.0.0.1",
                            tlslite_server.port, timeout=10.0)
    assert not res.replayed["handshake_complete"]
    assert any("compressed_certificate" in e for e in res.replayed["errors"])
    assert any(n.startswith("the server compressed its certificate (RFC 8879)")
               for n in res.notes), res.notes
