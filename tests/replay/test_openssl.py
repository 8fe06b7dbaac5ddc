"""Replay the corpus against a live ``openssl s_server`` configured like the captured server,
and unlike it: the differences found must be exactly what the configuration change causes.

The "like" servers use the captured server's own certificate and key, so that everything,
certificate included, can compare equal.
"""
import socket

import pytest

from scapy_tls_hs.replay import COMPARED, read_captured, replay_capture
from tests.peers.process import Peer, free_port, wait_port
from tests.peers.servers import HTTP_GET, openssl_server
from tests.replay.helpers import ROOT, capture, captured_identity

RSA_SHA = "tls12_rsa_aes128sha_openssl.pcap"       # s_server -no_etm, tickets, AES128-SHA
# Everything a server that refuses the hello changes: resumed, ALPN, hello_retry and the group
# (none for RSA_SHA's RSA key exchange) stay equal.
REFUSED = set(COMPARED) - {"resumed", "alpn", "hello_retry", "group"}


@pytest.fixture(scope="module")
def identity(tmp_path_factory):
    return captured_identity(tmp_path_factory.mktemp("captured-id"))


def _replay(peer, name, **kwargs):
    return replay_capture(capture(name), "127.0.0.1", peer.port, timeout=5.0, **kwargs)


# (s_server options, the differences they must cause against RSA_SHA's capture)
CASES = {
    "like": (dict(extra=["-no_etm"]), set()),
    "no-tickets": (dict(extra=["-no_etm"], tickets=False),
                   {"session_id_kind", "server_extensions", "server_messages"}),
    "etm-on": (dict(), {"server_extensions"}),
    "ems-off": (dict(extra=["-no_etm"], conf_options=("-ExtendedMasterSecret",)),
                {"server_extensions", "extended_master_secret"}),
    "suite-disabled": (dict(extra=["-no_etm"], cipher="AES256-SHA"), REFUSED | {"handshake"}),
    "client-auth": (dict(extra=["-no_etm"], verify=1), {"server_messages"}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_differences_are_the_configuration_change(identity, case):
    options, expected = CASES[case]
    with openssl_server(*identity, **options) as peer:
        (res,) = _replay(peer, RSA_SHA, data=HTTP_GET)
    assert set(res.differences) == expected, (res.differences, res.notes)
    rep = res.replayed
    if "server_alerts" in expected:
        assert rep["server_alerts"] == ["handshake_failure"]
        assert not rep["handshake_complete"]
    else:
        assert rep["handshake_complete"], rep["errors"]
        assert "s_server" in rep["received"]            # the -www page: the server answered
        assert rep["cipher_suite"] == "TLS_RSA_WITH_AES_128_CBC_SHA"
    if case == "client-auth":
        assert "certificate_request" in rep["server_messages"]


def test_another_certificate_is_the_only_difference(pki):
    with openssl_server(pki.rsa_cert, pki.rsa_key, extra=["-no_etm"]) as peer:
        (res,) = _replay(peer, RSA_SHA)
    assert res.differences == ["certificate"]
    assert res.replayed["certificate"]["subject"].startswith("CN=server.test")
    assert res.replayed["certificate"]["sha256"] != res.captured["certificate"]["sha256"]


def test_server_preference_picks_another_suite(identity):
    """resume_session_id_openssl: 28 suites offered, the captured server only had
    ECDHE-RSA-AES128-GCM-SHA256; a server preferring ChaCha20 picks that one instead."""
    like = dict(tickets=False, cipher="ECDHE-RSA-AES128-GCM-SHA256")
    with openssl_server(*identity, **like) as peer:
        (res,) = _replay(peer, "resume_session_id_openssl.pcap", only=[1])
    assert res.differences == []
    prefer = dict(tickets=False, cipher="ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256",
                  extra=["-serverpref"])
    with openssl_server(*identity, **prefer) as peer:
        (res,) = _replay(peer, "resume_session_id_openssl.pcap", only=[1])
    assert res.differences == ["cipher_suite"]
    assert res.replayed["cipher_suite"] == "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"
    assert res.replayed["handshake_complete"]


def test_resume_by_session_id_confirmed_by_the_server(identity):
    like = dict(tickets=False, cipher="ECDHE-RSA-AES128-GCM-SHA256")
    with openssl_server(*identity, **like) as peer:
        first, second = _replay(peer, "resume_session_id_openssl.pcap", resume=True,
                                data=HTTP_GET)
    assert first.differences == [] and second.differences == []
    assert second.replayed["resumed"] and second.replayed["session_id_kind"] == "echoed"
    assert second.replayed["session_id"] == first.replayed["session_id"]
    # s_server's -www page says whether it reused the session.
    assert "New, TLSv1.2" in first.replayed["received"]
    assert "Reused, TLSv1.2" in second.replayed["received"]


def test_resume_by_ticket_confirmed_by_the_server(identity):
    """resume_ticket_python: a Python ssl server with tickets, then a ticket resumption."""
    like = dict(cipher="ECDHE-RSA-AES256-GCM-SHA384", extra=["-no_etm"])
    with openssl_server(*identity, **like) as peer:
        first, second = _replay(peer, "resume_ticket_python.pcap", resume=True, data=HTTP_GET)
    assert first.differences == [], first.differences
    assert second.differences == [], second.differences
    assert first.replayed["ticket"]
    assert second.replayed["resumed"]
    assert "Reused, TLSv1.2" in second.replayed["received"]


def test_without_resume_the_resumption_becomes_a_full_handshake(identity):
    like = dict(tickets=False, cipher="ECDHE-RSA-AES128-GCM-SHA256")
    with openssl_server(*identity, **like) as peer:
        first, second = _replay(peer, "resume_session_id_openssl.pcap", data=HTTP_GET)
    assert first.differences == []
    # A full handshake where the capture resumed: also ec_point_formats comes back, and an
    # ECDHE group where the abbreviated handshake had none.
    assert set(second.differences) == {"resumed", "session_id_kind", "certificate",
                                       "server_messages", "server_extensions", "group"}
    assert (second.captured["group"], second.replayed["group"]) == (None, "x25519")
    assert any("--resume" in n for n in second.notes)
    assert "New, TLSv1.2" in second.replayed["received"]


def test_tls13_replay_completes(identity):
    cap = "tls13_aes128gcm_openssl.pcap"
    port = free_port()
    argv = ["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-naccept", "1000",
            "-cert", identity[0], "-key", identity[1], "-www", "-tls1_3"]
    with Peer(argv, port=port) as peer:
        (res,) = _replay(peer, cap, data=HTTP_GET)
    rep = res.replayed
    assert rep["version"] == "TLS 1.3" and rep["cipher_suite"] == "TLS_AES_128_GCM_SHA256"
    assert rep["handshake_complete"] and rep["group"] == "x25519"
    assert "New, TLSv1.3" in rep["received"]
    assert res.differences == []        # what was in clear matches the capture
    # The same hello to a TLS 1.2-only server: no common suite (OpenSSL 3.0 calls it a
    # protocol_version failure), and a handshake that failed where the capture's completed.
    with openssl_server(*identity) as peer:
        (res,) = _replay(peer, cap)
    assert len(res.replayed["server_alerts"]) == 1
    assert res.replayed["server_alerts"][0] in ("handshake_failure", "protocol_version")
    assert set(res.differences) == (REFUSED - {"certificate", "extended_master_secret"}
                                    | {"handshake", "group"})
    assert res.differences[0] == "handshake"


def _pcap_with_hello(path, hello):
    """A capture holding one TCP connection whose client sent ``hello`` (no answer)."""
    from scapy.layers.inet import IP, TCP
    from scapy.utils import wrpcap
    from scapy_tls_hs.codec.records import encode_record, handshake
    c, s = dict(src="10.0.0.1", dst="10.0.0.2"), dict(src="10.0.0.2", dst="10.0.0.1")
    data = encode_record(22, 0x0301, handshake(1, hello.encode()))
    wrpcap(str(path), [IP(**c) / TCP(sport=40000, dport=8443, flags="S", seq=100),
                       IP(**s) / TCP(sport=8443, dport=40000, flags="SA", seq=500, ack=101),
                       IP(**c) / TCP(sport=40000, dport=8443, flags="A", seq=101, ack=501),
                       IP(**c) / TCP(sport=40000, dport=8443, flags="PA", seq=101, ack=501)
                       / data])


def test_grease_and_unknown_extensions_reach_the_server(identity, tmp_path):
    """Values the package does not know travel unchanged, and the server sees them: its
    -trace output lists the ClientHello it received."""
    from scapy_tls_hs.codec import extensions as X
    from scapy_tls_hs.codec.messages import ClientHello
    hello = ClientHello(version=0x0303, cipher_suites=[0x3A3A, 0x002F, 0x00FF], extensions=[
        X.Extension(0x5A5A, b""), X.Extension(X.EXT_SERVER_NAME, X.server_name("server.test")),
        X.Extension(0x7777, b"unknown-extension-value"),
        X.Extension(X.EXT_SIGNATURE_ALGORITHMS, X.signature_algorithms([0x0401, 0x0804])),
        X.Extension(0xFAFA, b"\x00")])
    pcap = tmp_path / "grease.pcap"
    _pcap_with_hello(pcap, hello)
    with openssl_server(*identity, extra=["-no_etm", "-trace"]) as peer:
        (res,) = replay_capture(str(pcap), "127.0.0.1", peer.port, timeout=5.0)
        trace = peer.output()
    assert res.replayed["handshake_complete"], res.replayed["errors"]
    assert res.replayed["cipher_suite"] == "TLS_RSA_WITH_AES_128_CBC_SHA"
    assert res.captured["version"] is None           # the capture has no answer
    assert "extension_type=UNKNOWN(30583), length=23" in trace      # 0x7777
    assert "extension_type=UNKNOWN(23130), length=0" in trace       # 0x5A5A GREASE
    assert "{0x3A, 0x3A}" in trace                                  # the GREASE suite
    assert res.to_dict()["offered"]["extensions"] == [
        "GREASE_0x5A5A", "server_name", "unknown_0x7777", "signature_algorithms",
        "GREASE_0xFAFA"]


PCAPS = ROOT / "pcaps"


def _pcaps_identity(directory, name):
    from tests.replay.helpers import write_leaf
    leaf = read_captured(str(PCAPS / (name + ".pcap")))[0].certificates[0]
    return write_leaf(directory, leaf), str(PCAPS / (name + ".server.key"))


@pytest.mark.parametrize("name, version, cipher", [
    ("tls10_rsa_aes128sha_openssl", "1.0", "AES128-SHA"),
    ("tls11_ecdhe_rsa_aes256sha_openssl", "1.1", "ECDHE-RSA-AES256-SHA")])
def test_old_versions_replay(pki, tmp_path, name, version, cipher):
    """pcaps/ made by make_captures.py: s_server -tls1 / -tls1_1 with one suite."""
    if (PCAPS / (name + ".server.key")).exists():
        cert, key = _pcaps_identity(tmp_path, name)
        expected = []
    else:
        cert, key = pki.rsa_cert, pki.rsa_key       # that server's key is not kept
        expected = ["certificate"]
    with openssl_server(cert, key, version=version, cipher=cipher) as peer:
        (res,) = replay_capture(str(PCAPS / (name + ".pcap")), "127.0.0.1", peer.port,
                                data=HTTP_GET, timeout=5.0)
    assert res.replayed["version"] == res.captured["version"] == "TLS %s" % version
    assert res.replayed["handshake_complete"], res.replayed["errors"]
    assert res.differences == expected, res.differences
    # Another version on the server: TLS 1.0 only accepts the 1.1 offer at 1.0 (the client
    # said "up to 1.1"); TLS 1.2 only refuses the 1.0 offer.
    other = "1.2" if version == "1.0" else "1.0"
    with openssl_server(cert, key, version=other, cipher=cipher) as peer:
        (res,) = replay_capture(str(PCAPS / (name + ".pcap")), "127.0.0.1", peer.port,
                                timeout=5.0)
    if version == "1.0":
        assert res.replayed["server_alerts"] == ["protocol_version"]
        assert "version" in res.differences and "server_alerts" in res.differences
    else:
        assert res.replayed["handshake_complete"] and res.replayed["version"] == "TLS 1.0"
        assert res.differences == ["version"] + expected


def test_ipv6_capture_replayed_over_ipv6(pki):
    """pcaps/tls12_ipv6_sll2_openssl.pcap (Linux cooked v2, ::1) replayed to s_server on
    [::1] with the captured configuration."""
    with socket.socket(socket.AF_INET6) as probe:
        probe.bind(("::1", 0))
        port = probe.getsockname()[1]
    argv = ["openssl", "s_server", "-accept", "[::1]:%d" % port, "-naccept", "100",
            "-cert", pki.rsa_cert, "-key", pki.rsa_key, "-www", "-tls1_2",
            "-cipher", "ECDHE-RSA-AES128-GCM-SHA256", "-no_ticket"]
    with Peer(argv) as peer:
        wait_port(port, host="::1", proc=peer.proc)
        results = replay_capture(str(PCAPS / "tls12_ipv6_sll2_openssl.pcap"), "::1", port,
                                 data=HTTP_GET, timeout=5.0)
    (res,) = results
    assert res.to == "[::1]:%d" % port and "::1" in res.server
    assert res.replayed["handshake_complete"], res.replayed["errors"]
    assert res.differences == ["certificate"]
