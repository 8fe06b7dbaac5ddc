"""HandshakeSummary: one place that turns a connection's attributes into report fields, the
same for client, server and observer."""
import pickle
from types import SimpleNamespace

import pytest

from scapy_tls_hs.codec.messages import ClientHello, Extension
from scapy_tls_hs.connection import ClientConfig, ClientConnection, ServerConfig, ServerConnection
from scapy_tls_hs.connection.observer import ObserverConnection
from scapy_tls_hs.connection.summary import FIELDS, HandshakeSummary
from scapy_tls_hs.crypto.keylog import Keylog
from scapy_tls_hs.crypto.suites import CipherSuite

CONTRACT_ORDER = ["version", "cipher_suite", "session_id", "resumed", "sni", "alpn",
                  "client_auth", "extended_master_secret", "messages", "group",
                  "hello_retry", "early_data", "key_updates", "ja3", "ja3s", "ja4", "ja4_r"]


def endpoint_like(**changes):
    """What a client or server connection holds: ints, bytes and a CipherSuite."""
    attrs = dict(version=0x0304, suite=CipherSuite.by_id(0x1301), session_id=b"\xab\x01",
                 resumed=True, sni="server.test", alpn=b"h2", client_auth=False,
                 extended_master_secret=False, messages=["C:client_hello"], group=29,
                 hello_retry=True, early_data="accepted", key_updates=2)
    attrs.update(changes)
    return SimpleNamespace(**attrs)


def test_fields_are_in_contract_order():
    assert list(FIELDS) == CONTRACT_ORDER
    assert list(HandshakeSummary().fields()) == CONTRACT_ORDER


def test_from_an_endpoint():
    fields = HandshakeSummary.from_connection(endpoint_like()).fields()
    assert fields == {
        "version": "TLS 1.3", "cipher_suite": "TLS_AES_128_GCM_SHA256", "session_id": "ab01",
        "resumed": True, "sni": "server.test", "alpn": "h2", "client_auth": False,
        "extended_master_secret": False, "messages": ["C:client_hello"], "group": "x25519",
        "hello_retry": True, "early_data": "accepted", "key_updates": 2,
        "ja3": None, "ja3s": None, "ja4": None, "ja4_r": None}


def test_names_and_text_pass_through():
    conn = endpoint_like(version=0x0303, cipher_suite="TLS_RSA_WITH_AES_128_CBC_SHA",
                         session_id="ff", alpn="http/1.1", group="ffdhe2048")
    fields = HandshakeSummary.from_connection(conn).fields()
    assert fields["version"] == "TLS 1.2"
    assert fields["cipher_suite"] == "TLS_RSA_WITH_AES_128_CBC_SHA"
    assert fields["session_id"] == "ff" and fields["alpn"] == "http/1.1"
    assert fields["group"] == "ffdhe2048"


def test_missing_attributes_are_not_seen():
    fields = HandshakeSummary.from_connection(SimpleNamespace()).fields()
    assert fields == {"version": None, "cipher_suite": None, "session_id": None,
                      "resumed": False, "sni": None, "alpn": None, "client_auth": False,
                      "extended_master_secret": False, "messages": [], "group": None,
                      "hello_retry": False, "early_data": None, "key_updates": 0,
                      "ja3": None, "ja3s": None, "ja4": None, "ja4_r": None}
    assert HandshakeSummary.from_connection(None).fields()["session_id"] == ""


def test_unknown_codes_get_stable_names_and_bad_early_data_is_none():
    conn = endpoint_like(version=0x7F1C, group=0x1234, early_data="maybe")
    fields = HandshakeSummary.from_connection(conn).fields()
    assert fields["version"] == "unknown_0x7F1C"
    assert fields["group"] == "unknown_0x1234"
    assert fields["early_data"] is None


def test_fields_are_a_copy():
    summary = HandshakeSummary.from_connection(endpoint_like())
    fields = summary.fields()
    fields["messages"].append("S:server_hello")
    assert summary.messages == ["C:client_hello"]


def test_keeps_the_hellos_and_pickles():
    hello = ClientHello(0x0303, bytes(32), b"", [0x1301], [0], [Extension(43, b"\x02\x03\x04")])
    summary = HandshakeSummary.from_connection(endpoint_like(client_hello=hello))
    assert summary.client_hello is hello and summary.server_hello is None
    assert "client_hello" not in summary.fields()
    again = pickle.loads(pickle.dumps(summary))
    assert again == summary and again.client_hello == hello


@pytest.mark.parametrize("suite,group", [
    ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "x25519"),
    ("TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", "ffdhe2048"),
    ("TLS_RSA_WITH_AES_128_GCM_SHA256", None),
])
def test_client_server_and_observer_report_the_same(pki, suite, group):
    client = ClientConnection(ClientConfig(ciphers=[suite], versions=["1.2"], sni="server.test"))
    server = ServerConnection(ServerConfig(pki.rsa_cert, pki.rsa_key))
    wire = []
    client.start()
    for _ in range(4):
        for src, dst, direction in ((client, server, "client"), (server, client, "server")):
            data = src.data_to_send()
            if data:
                wire.append((direction, data))
                dst.receive_data(data)
    assert client.handshake_complete and server.handshake_complete
    observer = ObserverConnection(keylog=Keylog.parse(client.keylog_line()))
    for direction, data in wire:
        observer.receive(direction, data)
    seen = observer.summary().fields()
    assert observer.decrypted and seen["group"] == group
    assert HandshakeSummary.from_connection(client).fields() == seen
    assert HandshakeSummary.from_connection(server).fields() == seen
