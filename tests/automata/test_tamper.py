"""``tamper=`` in the Scapy shell's terms: a function of one argument gets the outgoing
handshake message as this package's layer and returns a packet, bytes or None; the
``f(msg_type, body)`` form keeps working.  Against real peers (openssl s_server and
s_client) on free ports."""
import pytest

from scapy_tls_hs.automata.client import TLSClientAutomaton
from scapy_tls_hs.automata.tamper import as_layer, body_bytes, connection_tamper, takes_packet
from scapy_tls_hs.layers import (TLSCertificate, TLSClientHello, TLSFinished, TLSHandshake,
                                 TLSServerHelloDone, TLSServerKeyExchange)
from tests.peers.clients import have, s_client
from tests.peers.servers import HTTP_GET, openssl_server

pytestmark = pytest.mark.skipif(not have("openssl"), reason="openssl not installed")


@pytest.fixture(scope="module")
def server(pki):
    with openssl_server(pki.rsa_cert, pki.rsa_key) as peer:
        yield peer


def run(port, **options):
    options.setdefault("timeout", 5)
    return TLSClientAutomaton("127.0.0.1", port, **options).run()


def test_the_form_is_read_from_the_signature():
    assert takes_packet(lambda pkt: None)
    assert takes_packet(lambda pkt, *, extra=1: None)
    assert not takes_packet(lambda msg_type, body: None)
    assert not takes_packet(lambda *args: None)
    assert not takes_packet(print)      # a builtin: no readable signature needed
    old = lambda t, b: None             # noqa: E731
    assert connection_tamper(old, None) is old and connection_tamper(None, None) is None


def test_client_hello_changed_as_a_packet(server):
    """The suites offered are changed on the TLSClientHello layer; s_server picks the only
    one left."""
    seen = []

    def only_aes256(pkt):
        seen.append(type(pkt).__name__)
        if isinstance(pkt, TLSClientHello):
            pkt.ciphers = ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"]
            return pkt
        return None

    result = run(server.port, tamper=only_aes256, data=HTTP_GET)
    assert result.handshake_complete, result.errors
    assert result.cipher_suite == "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
    assert seen[0] == "TLSClientHello" and "TLSFinished" in seen
    hello = result.events[0].body
    assert TLSClientHello(hello).ciphers == [0xC030]


def test_bytes_from_the_packet_form_replace_the_body(server):
    """Bytes returned are the new body: here a whole other ClientHello, offering only
    ChaCha20 with SNI; the server answers it."""
    other = bytes(TLSClientHello(ciphers=[0xCCA8], sni="server.test"))

    def replace_hello(pkt):
        return other if isinstance(pkt, TLSClientHello) else None

    result = run(server.port, tamper=replace_hello, data=HTTP_GET)
    assert result.handshake_complete, result.errors
    assert result.cipher_suite == "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"
    assert result.events[0].body == other


def test_none_leaves_every_message_unchanged(server):
    result = run(server.port, tamper=lambda pkt: None, data=HTTP_GET)
    assert result.handshake_complete and result.received


def test_server_messages_in_the_negotiated_form(pki):
    """The server hook sees ServerKeyExchange in the connection's form (ECDHE, TLS 1.2, a
    signature algorithm), and a spoiled signature made on the layer is refused by
    s_client."""
    from scapy_tls_hs.automata.listener import TLSListener
    seen = {}

    def spoil_signature(pkt):
        seen[type(pkt).__name__] = pkt
        if isinstance(pkt, TLSServerKeyExchange):
            pkt.sig = bytes(len(pkt.sig))
            return pkt
        return None

    with TLSListener("127.0.0.1", 0, cert=pki.rsa_cert, key=pki.rsa_key,
                     tamper=spoil_signature, timeout=5) as listener:
        out = s_client(listener.port, version="1.2", cipher="ECDHE-RSA-AES128-GCM-SHA256",
                       timeout=10)
        assert listener.wait_for_results(1)
    ske = seen["TLSServerKeyExchange"]
    assert ske.kind == "ECDHE" and ske.sig_alg is not None
    assert isinstance(seen["TLSCertificate"], TLSCertificate)
    assert isinstance(seen["TLSServerHelloDone"], TLSServerHelloDone)
    assert not out.ok
    assert "decrypt error" in out.output.lower() or "bad signature" in out.output.lower(), \
        out.output[-2000:]


def test_helpers_give_the_layer_and_take_it_back():
    hello = TLSClientHello(ciphers=[0xC02F])
    layer = as_layer(1, bytes(hello))
    assert isinstance(layer, TLSClientHello) and layer.ciphers == [0xC02F]
    assert body_bytes(layer) == bytes(hello)
    # A message handed back untouched is the same bytes; a changed one gets its lengths
    # computed again, unless the hook set them.
    full = bytes(TLSClientHello(sni="example.test", alpn=["h2"]))
    assert body_bytes(as_layer(1, full)) == full
    changed = as_layer(1, full)
    changed.get_extension("server_name").servernames[0].servername = b"other.example.test"
    assert TLSClientHello(body_bytes(changed)).get_extension(0).servernames[0].servername \
        == b"other.example.test"
    changed.ciphers_len = 3
    assert body_bytes(changed)[35:37] == b"\x00\x03"
    assert body_bytes(TLSHandshake() / hello) == bytes(hello)
    with pytest.raises(TypeError):
        body_bytes(42)
