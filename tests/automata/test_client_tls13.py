"""The client automaton speaking TLS 1.3: against OpenSSL's ``s_server -tls1_3`` (its own view
of the session: "Reused, TLSv1.3", "Shared groups", the early data it printed, its key log)
and against our own server automaton (its report must say what the client's result says).

Named groups and HelloRetryRequest, KeyUpdate, PSK resumption and 0-RTT, the key log, the
TLS 1.3 messages as Scapy packets, and a ClientHello crafted with the layers.
"""
import contextlib
import re
import shutil
import subprocess

import pytest

from scapy_tls_hs.automata.client import TLSClientAutomaton, core_state_map
from scapy_tls_hs.automata.listener import TLSListener
from tests.contract import CLIENT_FIELDS, TLS13_FIELDS
from tests.peers.process import Peer, free_port
from tests.peers.servers import HTTP_GET

SECRET_LABELS = {"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                 "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0", "EXPORTER_SECRET"}


@contextlib.contextmanager
def s_server13(cert, key, *args, www=True):
    """``openssl s_server -tls1_3``; without ``www`` it prints what clients send (0-RTT data
    too) and reads commands on stdin, which is kept open (EOF there would stop it)."""
    port = free_port()
    argv = ["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-naccept", "1000",
            "-cert", cert, "-key", key, "-tls1_3"] + (["-www"] if www else []) + list(args)
    with Peer(argv, port=port, stdin=subprocess.PIPE) as peer:
        yield peer


def run(port, **options):
    options.setdefault("data", HTTP_GET)
    options.setdefault("timeout", 5)
    return TLSClientAutomaton("127.0.0.1", port, **options).run()


def page_line(result, start):
    m = re.search(r"^%s.*$" % re.escape(start), result.received, re.M)
    return m.group(0) if m else None


@pytest.fixture(scope="module")
def www(pki, tmp_path_factory):
    keylog = tmp_path_factory.mktemp("s_server13") / "server_keys.log"
    with s_server13(pki.rsa_cert, pki.rsa_key, "-keylogfile", str(keylog)) as peer:
        peer.keylog = keylog
        yield peer


def test_default_offer_gets_tls13(www):
    result = run(www.port)
    assert result.ok, result.errors
    assert result.version == "TLS 1.3" and result.cipher_suite == "TLS_AES_128_GCM_SHA256"
    assert "New, TLSv1.3, Cipher is TLS_AES_128_GCM_SHA256" in result.received
    fields = result.to_dict()
    assert CLIENT_FIELDS | TLS13_FIELDS <= set(fields)
    assert (fields["group"], fields["hello_retry"], fields["early_data"],
            fields["key_updates"]) == ("x25519", False, None, 0)
    assert not fields["resumed"] and not fields["extended_master_secret"]
    assert fields["ticket"] and fields["messages"].count("S:new_session_ticket") == 2
    assert fields["messages"][:8] == [
        "C:client_hello", "S:server_hello", "S:change_cipher_spec", "S:encrypted_extensions",
        "S:certificate", "S:certificate_verify", "S:finished", "C:change_cipher_spec"]


def test_tls13_messages_are_tls13_scapy_packets(www):
    from scapy_tls_hs.layers import (TLS13Certificate, TLS13NewSessionTicket,
                                     TLSCertificateVerify, TLSEncryptedExtensions, TLSFinished,
                                     TLSKeyUpdate)
    result = run(www.port, key_update=True)
    assert result.ok, result.errors
    layers = [p.payload.__class__ for p in result.packets if p.name == "TLS Handshake"]
    for cls in (TLSEncryptedExtensions, TLS13Certificate, TLSCertificateVerify, TLSFinished,
                TLS13NewSessionTicket, TLSKeyUpdate):
        assert cls in layers, (cls, layers)
    cert = next(p for p in result.packets if p.haslayer(TLS13Certificate))[TLS13Certificate]
    assert len(cert.certs) == 1 and cert.certs[0].ext == []
    assert cert.certs[0].x509().subject.rfc4514_string().startswith("CN=server.test")
    updates = [p[TLSKeyUpdate].request_update for p in result.packets if p.haslayer(TLSKeyUpdate)]
    assert updates == [1, 0]        # ours asks for one back; the server's does not


@pytest.mark.parametrize("group", ["secp256r1", "secp384r1", "secp521r1", "x448",
                                   "ffdhe2048"])
def test_group_gets_the_key_share(www, group):
    result = run(www.port, groups=[group])
    assert result.ok, result.errors
    assert result.group == group and not result.hello_retry
    assert page_line(result, "Shared groups:") == "Shared groups: " + group


def test_hello_retry_request(pki):
    """Our share is for x25519, the server only takes secp384r1: HelloRetryRequest, a new
    ClientHello with a secp384r1 share, then the handshake."""
    with s_server13(pki.ecdsa_cert, pki.ecdsa_key, "-groups", "secp384r1") as srv:
        result = run(srv.port, groups=["x25519", "secp384r1"])
    assert result.ok, result.errors
    assert result.hello_retry and result.group == "secp384r1"
    assert result.messages[:4] == ["C:client_hello", "S:hello_retry_request",
                                   "C:change_cipher_spec", "C:client_hello"]
    from scapy_tls_hs.layers import TLSHelloRetryRequest
    hrr = result.packets[1]
    assert hrr.haslayer(TLSHelloRetryRequest), hrr.summary()
    assert "New, TLSv1.3" in result.received


def test_key_update_both_ways(www):
    """Our KeyUpdate asks for one back; the request goes under the new keys and the
    server's answer under its new ones, so the page proves both directions changed keys."""
    result = run(www.port, key_update=True)
    assert result.ok, result.errors
    assert result.key_updates == 2
    msgs = result.messages
    assert msgs.index("C:key_update") < msgs.index("C:application_data")
    assert msgs.index("S:key_update") < msgs.index("S:application_data")
    assert result.received.startswith("HTTP/1.0 200 ok")


def test_resumption_by_psk(www):
    first = run(www.port)
    second = run(www.port, session=first.session)
    assert first.ok and second.ok, (first.errors, second.errors)
    assert second.resumed and "Reused, TLSv1.3" in second.received
    assert "S:certificate" not in second.messages
    assert second.group == "x25519"              # psk_dhe_ke: a fresh (EC)DHE exchange too


def test_early_data_accepted_by_s_server(pki, tmp_path):
    keylog = tmp_path / "keys.log"
    with s_server13(pki.rsa_cert, pki.rsa_key, "-early_data", www=False) as srv:
        first = run(srv.port, data=None)
        assert first.ok and first.ticket, first.errors
        # s_server prints 0-RTT data and never answers: the client waits ``timeout`` for an
        # answer to it, then closes.
        second = run(srv.port, data=None, session=first.session, timeout=1.5,
                     early_data=b"early bird\n", keylog=str(keylog))
        output = srv.output()
    labels = {line.split()[0] for line in keylog.read_text().splitlines()}
    assert labels == SECRET_LABELS | {"CLIENT_EARLY_TRAFFIC_SECRET", "EARLY_EXPORTER_SECRET"}
    assert second.ok, second.errors
    assert second.resumed and second.early_data == "accepted"
    assert "C:end_of_early_data" in second.messages
    from scapy_tls_hs.layers import TLSApplicationData, TLSEndOfEarlyData
    assert any(p.haslayer(TLSEndOfEarlyData) for p in second.packets)
    assert bytes(second.packets[2][TLSApplicationData]) == b"early bird\n"
    assert "Early data received:" in output and "early bird" in output
    assert first.early_data is None


def test_early_data_on_a_ticket_without_it_is_not_sent(www):
    """s_server without -early_data issues tickets allowing none: nothing is offered."""
    first = run(www.port)
    second = run(www.port, session=first.session, early_data=b"x")
    assert second.ok and second.resumed, second.errors
    assert second.early_data is None and "C:end_of_early_data" not in second.messages


@pytest.mark.parametrize("which", ["rsa", "ecdsa"])
def test_client_certificate(pki, which):
    """s_server -Verify asks for a certificate (CertificateRequest in the encrypted flight):
    ours goes with its CertificateVerify, and the server's page names it."""
    cert, key = {"rsa": (pki.client_rsa_cert, pki.client_rsa_key),
                 "ecdsa": (pki.client_ecdsa_cert, pki.client_ecdsa_key)}[which]
    with s_server13(pki.rsa_cert, pki.rsa_key, "-Verify", "1", "-CAfile", pki.ca_cert) as srv:
        result = run(srv.port, cert=cert, key=key, cafile=pki.ca_cert, sni="server.test")
        missing = run(srv.port)
    assert result.ok and result.client_auth, result.errors
    assert ["S:certificate_request", "C:certificate", "C:certificate_verify"] == [
        m for m in result.messages if m in ("S:certificate_request", "C:certificate",
                                            "C:certificate_verify")]
    assert "Client certificate" in result.received
    # Without a certificate: an empty Certificate, and s_server's certificate_required.
    assert not missing.ok and "C:certificate_verify" not in missing.messages
    assert missing.errors == ["received alert certificate_required: from the server"]


def test_keylog_has_the_tls13_secrets_of_the_server(www, tmp_path):
    keylog = tmp_path / "keys.log"
    result = run(www.port, keylog=str(keylog))
    assert result.ok, result.errors
    ours = keylog.read_text().splitlines()
    assert {line.split()[0] for line in ours} == SECRET_LABELS
    assert len(ours) == len(SECRET_LABELS)
    assert set(ours) <= set(www.keylog.read_text().splitlines())


def test_crafted_client_hello_with_its_key_share(www):
    """A TLS 1.3 ClientHello made with the layers is sent as is; the private half of its
    key share comes with it, so the handshake completes."""
    from scapy_tls_hs.crypto.keyexchange import generate_key_share
    from scapy_tls_hs.layers import (TLSClientHello, TLSExtKeyShare, TLSExtSignatureAlgorithms,
                                     TLSExtSupportedGroups, TLSExtSupportedVersions,
                                     TLSKeyShareEntry)
    key = generate_key_share(23)
    hello = TLSClientHello(ciphers=[0x1302], ext=[
        TLSExtSupportedVersions(versions=[0x0304]), TLSExtSupportedGroups(groups=[23]),
        TLSExtSignatureAlgorithms(sig_algs=[0x0804, 0x0403]),
        TLSExtKeyShare(client_shares=[TLSKeyShareEntry(group=23,
                                                       key_exchange=key.public_bytes())])])
    result = run(www.port, client_hello=hello, key_shares={23: key})
    assert result.ok, result.errors
    assert result.version == "TLS 1.3" and result.cipher_suite == "TLS_AES_256_GCM_SHA384"
    assert result.group == "secp256r1"
    assert bytes(result.packets[0][TLSClientHello]) == bytes(hello)


def test_states_follow_the_tls13_handshake(www):
    from tests.automata.test_client import visited_states
    states, result = visited_states(
        TLSClientAutomaton("127.0.0.1", www.port, data=HTTP_GET, timeout=5))
    assert result.ok, result.errors
    assert states[:5] == ["CONNECTED", "WAIT_SERVER_HELLO", "WAIT_SERVER_HELLO_DONE",
                          "WAIT_SERVER_FINISHED", "APP_DATA"], states


def test_core_states_map_from_the_core_tables():
    """Every state of the core's client tables (TLS 1.0-1.2 and 1.3) has its automaton
    state, and no core state name is written in the automaton."""
    from scapy_tls_hs.automata import client, phases
    from scapy_tls_hs.connection import states
    mapping = core_state_map()
    for table in (states.CLIENT, states.CLIENT13):
        for core, moves in table.items():
            if moves:
                assert core in mapping, core
    assert mapping[states.EXPECT_SERVER_HELLO] == "WAIT_SERVER_HELLO"
    assert mapping["EXPECT_ENCRYPTED_EXTENSIONS"] == "WAIT_SERVER_HELLO_DONE"
    assert mapping[states.EXPECT_FINISHED] == "WAIT_SERVER_FINISHED"
    assert mapping[states.CONNECTED] == "APP_DATA"
    for module in (client, phases):
        assert "EXPECT_" not in open(module.__file__).read()


# -- against our own server automaton --------------------------------------------------------

@pytest.fixture(scope="module")
def own(pki):
    with TLSListener("127.0.0.1", 0, cert=pki.rsa_cert, key=pki.rsa_key, early_data=1024,
                     alpn=["http/1.1"], timeout=5) as listener:
        yield listener


def served(listener, **options):
    """Our client's result and the server's report of the same connection (matched by the
    client's address: a report of an earlier test may still come in)."""
    import time
    result = run(listener.port, **options)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        mine = [r for r in list(listener.results) if r["client"] == result.client]
        if mine:
            return result, mine[0]
        time.sleep(0.02)
    raise AssertionError("the server reported nothing for %s" % result.client)


def same_view(result, report):
    for key in ("version", "cipher_suite", "resumed", "alpn", "group", "hello_retry",
                "early_data", "key_updates", "handshake_complete"):
        assert result.to_dict()[key] == report[key], key


def test_own_server_full_and_resumed_with_early_data(own):
    first, r1 = served(own, alpn=["http/1.1"])
    assert first.ok, first.errors
    assert first.version == "TLS 1.3" and first.received.startswith("HTTP/1.1 200 OK")
    same_view(first, r1)
    second, r2 = served(own, alpn=["http/1.1"], session=first.session, data=None,
                        early_data=HTTP_GET)
    assert second.ok, second.errors
    assert second.resumed and second.early_data == "accepted"
    same_view(second, r2)
    # The 0-RTT request is answered once the handshake is done.
    assert r2["received"] == HTTP_GET.decode()
    assert second.received.startswith("HTTP/1.1 200 OK") and "(resumed)" in second.received


def test_states_walk_through_when_the_flight_is_one_record(own):
    """Our server sends EncryptedExtensions ... Finished in one record: the core goes from
    EncryptedExtensions to the handshake's end at once, the automaton still through each
    of its states."""
    from tests.automata.test_client import visited_states
    states, result = visited_states(
        TLSClientAutomaton("127.0.0.1", own.port, data=HTTP_GET, timeout=5))
    assert result.ok, result.errors
    assert states[:5] == ["CONNECTED", "WAIT_SERVER_HELLO", "WAIT_SERVER_HELLO_DONE",
                          "WAIT_SERVER_FINISHED", "APP_DATA"], states


def test_own_server_key_update(own):
    result, report = served(own, key_update=True)
    assert result.ok, result.errors
    assert result.key_updates == 2 and report["key_updates"] == 2
    same_view(result, report)


def test_own_server_hello_retry_and_rejected_early_data(pki):
    """A HelloRetryRequest, then a resumption whose 0-RTT data meets a HelloRetryRequest
    again: the early data is rejected (RFC 8446 section 4.2.10), the handshake goes on."""
    with TLSListener("127.0.0.1", 0, cert=pki.ecdsa_cert, key=pki.ecdsa_key,
                     groups=["secp521r1"], early_data=1024, timeout=5) as listener:
        result, report = served(listener, groups=["x25519", "secp521r1"])
        again, report2 = served(listener, groups=["x25519", "secp521r1"],
                                session=result.session, early_data=b"lost\n")
    assert result.ok, result.errors
    assert result.hello_retry and report["hello_retry"]
    assert result.group == report["group"] == "secp521r1"
    assert "S:hello_retry_request" in report["messages"]
    assert again.ok and again.resumed and again.hello_retry, again.errors
    assert again.early_data == report2["early_data"] == "rejected"
    assert report2["received"] == HTTP_GET.decode()     # the data after the handshake only


def test_tls13_byte_stream_cut_into_tiny_segments(own):
    """Every TLS 1.3 record split over 5-byte TCP segments both ways, 0-RTT included."""
    from tests.peers.proxy import splitting_proxy
    with splitting_proxy(own.port, size=5, connections=2) as port:
        first = run(port, key_update=True)
        second = run(port, session=first.session, data=None, early_data=HTTP_GET)
    assert first.ok and first.key_updates == 2, first.errors
    assert first.received.startswith("HTTP/1.1 200 OK")
    assert second.ok and second.resumed and second.early_data == "accepted", second.errors
    assert second.received.startswith("HTTP/1.1 200 OK")


# -- against Python's ssl server -------------------------------------------------------------

def test_python_ssl_server_tls13_and_resumption(pki):
    """The server's own JSON view: TLSv1.3, the suite, the ALPN, and session_reused on the
    second connection (its stateless ticket taken as a PSK)."""
    import json
    from tests.peers.servers import python_server
    with python_server([(pki.ecdsa_cert, pki.ecdsa_key)], max_version="TLSv1_3",
                       alpn=["http/1.1"]) as srv:
        first = run(srv.port, data=b"one\n", alpn=["http/1.1"])
        second = run(srv.port, data=b"two\n", alpn=["http/1.1"], session=first.session)
    assert first.ok and second.ok, (first.errors, second.errors)
    views = [json.loads(r.received) for r in (first, second)]
    assert [v["version"] for v in views] == ["TLSv1.3", "TLSv1.3"]
    assert views[0]["cipher"] == first.cipher_suite and views[0]["alpn"] == "http/1.1"
    assert [v["received"] for v in views] == ["one\n", "two\n"]
    assert not views[0]["session_reused"] and views[1]["session_reused"]
    assert second.resumed and not first.resumed


# -- against gnutls-serv (in a network namespace of its own) ---------------------------------

@pytest.mark.skipif(not (shutil.which("gnutls-serv") and shutil.which("unshare")),
                    reason="gnutls-serv and unshare are needed")
def test_gnutls_serv_tls13(pki):
    """GnuTLS shares no code with OpenSSL: its log says which version, group and
    resumption it saw."""
    from tests.peers.servers import gnutls_connections, gnutls_serv_argv, run_clients_with_gnutls
    get = "GET / HTTP/1.0\r\n\r\n"
    jobs = [{"data": get, "timeout": 5},
            {"data": get, "timeout": 5, "groups": ["secp521r1"], "key_update": True},
            {"data": get, "timeout": 5, "resume": True}]
    argv = gnutls_serv_argv(4433, [(pki.ecdsa_cert, pki.ecdsa_key)], priority="NORMAL")
    results, log = run_clients_with_gnutls(argv, jobs)
    blocks = gnutls_connections(log)
    assert len(results) == len(blocks) == 4, log
    for result, block in zip(results, blocks):
        assert result["handshake_complete"] and not result["errors"], result["errors"]
        assert result["version"] == "TLS 1.3" and "- Version: TLS1.3" in block
        assert "GnuTLS" in result["received"]
    # "- Description: (TLS1.3-X.509)-(ECDHE-X25519)-(ECDSA-SECP256R1-SHA256)-(AES-128-GCM)"
    assert results[0]["group"] == "x25519" and "(ECDHE-X25519)" in blocks[0]
    assert results[1]["group"] == "secp521r1" and "(ECDHE-SECP521R1)" in blocks[1]
    assert results[1]["key_updates"] == 2
    assert not results[2]["resumed"] and results[3]["resumed"]
    assert "This is a resumed session" in blocks[3]
