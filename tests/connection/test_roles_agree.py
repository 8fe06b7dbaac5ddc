"""The three roles agree: an observer fed the bytes a client and a server exchanged (with the
client's key log line) sees the same ladder and verifies both Finished messages."""
import pytest

from tests.connection.pump import ServerConfig12

from scapy_tls_hs.connection import ClientConfig, ClientConnection, ServerConnection
from scapy_tls_hs.connection.observer import ObserverConnection
from scapy_tls_hs.crypto.keylog import Keylog


@pytest.fixture(scope="module")
def server_cfg(pki):
    return ServerConfig12(pki.rsa_cert, pki.rsa_key,
                        extra_identities=[(pki.ecdsa_cert, pki.ecdsa_key)])


@pytest.mark.parametrize("suite,options", [
    ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", {}),
    ("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", {"ems": False}),
    ("TLS_RSA_WITH_AES_128_CBC_SHA", {"versions": ["1.0"]}),
    ("TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", {"etm": False}),
])
def test_observer_sees_what_the_endpoints_saw(server_cfg, suite, options):
    client = ClientConnection(ClientConfig(ciphers=[suite], **options))
    server = ServerConnection(server_cfg)
    wire = []

    def move():
        for src, dst, direction in ((client, server, "client"), (server, client, "server")):
            data = src.data_to_send()
            if data:
                wire.append((direction, data))
                dst.receive_data(data)

    client.start()
    for _ in range(4):
        move()
    client.send_application_data(b"question")
    move()
    server.send_application_data(b"answer")
    move()
    client.close()
    move()
    move()
    observer = ObserverConnection(keylog=Keylog.parse(client.keylog_line()))
    for direction, data in wire:
        observer.receive(direction, data)
    observer.finish()
    fields = observer.fields()
    assert fields["messages"] == client.messages == server.messages
    assert fields["decrypted"] and fields["errors"] == []
    assert fields["cipher_suite"] == suite
    assert fields["extended_master_secret"] == client.extended_master_secret
    assert fields["app_data"]["client_bytes"] == len(b"question")
