"""What the client checks in a TLS 1.2 ServerHello's extensions (RFC 7627 5.1, RFC 7366 2,
RFC 8422 5.1.2): a server answering with a changed extension gets the RFC's alert."""
import pytest

from scapy_tls_hs.codec import extensions as X
from scapy_tls_hs.connection import ClientConfig, ServerConfig, ServerConnection

from tests.connection.pump import assert_ok, expect_alert, run, servers  # noqa: F401


def _answer_with(monkeypatch, change):
    original = ServerConnection._server_extensions

    def patched(self, exts):
        return change(self, list(original(self, exts)))
    monkeypatch.setattr(ServerConnection, "_server_extensions", patched)


def _replace(etype, data):
    return lambda conn, out: [(t, data if t == etype else d) for t, d in out]


@pytest.mark.parametrize("etype,cipher", [
    (X.EXT_EXTENDED_MASTER_SECRET, "ECDHE-RSA-AES128-GCM-SHA256"),
    (X.EXT_ENCRYPT_THEN_MAC, "ECDHE-RSA-AES128-SHA"),
])
def test_flag_extension_with_a_body_is_decode_error(servers, monkeypatch, etype, cipher):
    _answer_with(monkeypatch, _replace(etype, b"\x00"))
    _, _, link = run(ClientConfig(versions=["1.2"], ciphers=[cipher]), servers["RSA"])
    expect_alert(link, "client", "decode_error")


@pytest.mark.parametrize("data,alert", [
    (b"\x01\x01", "illegal_parameter"),        # ansiX962_compressed_prime only
    (b"\x00", "decode_error"),                 # empty list
    (b"\x02\x00", "decode_error"),             # list longer than the body
])
def test_ec_point_formats_of_an_ecc_suite(servers, monkeypatch, data, alert):
    _answer_with(monkeypatch, _replace(X.EXT_EC_POINT_FORMATS, data))
    _, _, link = run(ClientConfig(versions=["1.2"], ciphers=["ECDHE-RSA-AES128-GCM-SHA256"]),
                     servers["RSA"])
    expect_alert(link, "client", alert)


def test_ec_point_formats_without_uncompressed_is_fine_for_rsa_suites(servers, monkeypatch):
    _answer_with(monkeypatch, lambda conn, out: out + [(X.EXT_EC_POINT_FORMATS, b"\x01\x01")])
    _, _, link = run(ClientConfig(versions=["1.2"], ciphers=["AES128-GCM-SHA256",
                                                             "ECDHE-RSA-AES128-GCM-SHA256"]),
                     _rsa_only(servers))
    assert_ok(link)


def _rsa_only(servers):
    ident = servers["RSA"].identity
    return ServerConfig(ident.chain, ident.private_key, versions=["1.2"],
                        ciphers=["AES128-GCM-SHA256"])
