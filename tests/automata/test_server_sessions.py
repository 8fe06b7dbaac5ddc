"""The server's session cache (bounded, with a lifetime) and tickets seen from real clients,
its preference order, and an ECDSA certificate chain verified by the clients."""
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from scapy_tls_hs.automata.client import TLSClientAutomaton
from scapy_tls_hs.automata.listener import TLSListener
from scapy_tls_hs.codec.messages import ClientHello, find_ext
from scapy_tls_hs.connection.session import SessionCache
from scapy_tls_hs.crypto.tickets import TicketKeys
from tests.conftest import _cert, _write
from tests.peers import clients


def ours(port, **options):
    """Our client: its ClientHello shows what it offered, so a full handshake after an offer
    is the server's refusal. TLS 1.2: session ids and RFC 5077 tickets are what this module
    is about (TLS 1.3 resumption: test_server_tls13.py)."""
    options.setdefault("timeout", 5)
    options.setdefault("version", "1.2")
    return TLSClientAutomaton("127.0.0.1", port, data=b"GET / HTTP/1.0\r\n\r\n",
                              **options).run()


def offered(result):
    hello = ClientHello.parse(result.events[0].body)
    ticket = find_ext(hello.extensions, 35)
    return hello.session_id, ticket.data if ticket is not None else None


def test_session_cache_is_bounded(pki):
    """With room for one session, a second full handshake evicts the first session."""
    with TLSListener("127.0.0.1", 0, cert=pki.rsa_cert, key=pki.rsa_key, tickets=False,
                     session_cache=SessionCache(max_entries=1)) as server:
        a = ours(server.port)
        b = ours(server.port)
        b_again = ours(server.port, session=b.session)
        a_again = ours(server.port, session=a.session)
        assert len(server.config.session_cache) == 1
    for r in (a, b, a_again, b_again):
        assert r.ok, r.errors
    assert not a.ticket and a.session_id and a.session_id != b.session_id
    assert offered(a_again)[0] == a.session.session_id
    assert not a_again.resumed and "S:certificate" in a_again.messages
    assert b_again.resumed and b_again.session_id == b.session_id


@pytest.mark.parametrize("tickets", [True, False], ids=["ticket", "session-id"])
def test_sessions_expire(pki, tickets):
    """Sessions (cached or in a ticket) older than the lifetime are not resumed: a full
    handshake follows, never an error."""
    with TLSListener("127.0.0.1", 0, cert=pki.rsa_cert, key=pki.rsa_key, tickets=tickets,
                     session_cache=SessionCache(lifetime=1),
                     ticket_keys=TicketKeys(lifetime=1) if tickets else None) as server:
        first = ours(server.port)
        fresh = ours(server.port, session=first.session)
        time.sleep(1.2)
        stale = ours(server.port, session=first.session)
    for r in (first, fresh, stale):
        assert r.ok, r.errors
    assert first.ticket == tickets
    assert fresh.resumed
    session_id, ticket = offered(stale)
    if tickets:
        assert ticket == first.session.ticket
    else:
        assert session_id == first.session.session_id
    assert not stale.resumed and "S:certificate" in stale.messages


def test_server_preference_order(pki):
    """The server's order decides among the suites the client offers, not the client's."""
    client_order = "ECDHE-RSA-AES256-GCM-SHA384:AES128-GCM-SHA256:ECDHE-RSA-AES128-SHA"
    for server_order in (["AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384"],
                         ["ECDHE-RSA-AES128-SHA", "AES128-GCM-SHA256"]):
        with TLSListener("127.0.0.1", 0, cert=pki.rsa_cert, key=pki.rsa_key,
                         ciphers=server_order) as server:
            out = clients.s_client(server.port, version="1.2", cipher=client_order)
        assert out.ok, out.output
        assert clients.s_client_cipher(out.output) == server_order[0]


@pytest.fixture(scope="module")
def ecdsa_chain(pki, tmp_path_factory):
    """An ECDSA leaf issued by an ECDSA intermediate CA under the test root."""
    d = tmp_path_factory.mktemp("ecdsa-chain")
    with open(pki.ca_key, "rb") as f:
        ca_key = serialization.load_pem_private_key(f.read(), None)
    inter_key = ec.generate_private_key(ec.SECP384R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    inter = _cert("ECDSA Intermediate CA", inter_key, "Test Root CA", ca_key, ca=True)
    leaf = _cert("server.test", leaf_key, "ECDSA Intermediate CA", inter_key,
                 hosts=("server.test", "localhost", "127.0.0.1"))
    return _write(d, "chain.pem", leaf, inter), _write(d, "leaf.key", leaf_key)


@pytest.mark.parametrize("version", ["1.2", "1.0"])
def test_ecdsa_certificate_chain(pki, ecdsa_chain, version):
    cert, key = ecdsa_chain
    with TLSListener("127.0.0.1", 0, cert=cert, key=key) as server:
        out = clients.s_client(server.port, version=version, cafile=pki.ca_cert,
                               extra=["-showcerts"])
        py = clients.python_client(server.port, version=version, cafile=pki.ca_cert)
        assert server.wait_for_results(2)
        reports = list(server.results)
    assert out.ok, out.output
    assert "Verify return code: 0 (ok)" in out.output
    assert " 1 s:O = scapy-tls-hs tests, CN = ECDSA Intermediate CA" in out.output
    assert "ECDSA" in clients.s_client_cipher(out.output)
    assert py.error is None and py.received.startswith(b"HTTP/1.1 200 OK"), py.error
    for r in reports:
        assert r["handshake_complete"] and "_ECDSA_" in r["cipher_suite"]
        assert r["version"] == "TLS " + version
