"""dissect on the captures of tests/data/dissect (real peers, recorded by its
make_captures.py; its README says what each shows): renegotiation, the PSK families, TLS
after a plaintext preamble. The plaintext each peer sent is known, so the app_data hashes
are checked against it."""
import hashlib
import os

from scapy_tls_hs.capture.dissect import dissect_capture
from scapy_tls_hs.capture.ladder import render_report

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "dissect")


def dissect(name, keys=True):
    base = os.path.join(DATA, name)
    keylog = base + ".keylog" if keys and os.path.exists(base + ".keylog") else None
    return dissect_capture(base + ".pcap", keylog=keylog)


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


# -- renegotiation -----------------------------------------------------------------------

RENEGOTIATION = "tls12_renegotiation_openssl"


def test_renegotiation_is_followed_with_each_handshakes_keys():
    """A client-initiated renegotiation, then a server-initiated one (HelloRequest): each
    new handshake read under the old keys, its own keys after its ChangeCipherSpecs."""
    (report,) = dissect(RENEGOTIATION)
    assert report.errors == []
    assert report.decrypted
    m = report.messages
    assert m.count("C:client_hello") == 3 and m.count("S:server_hello") == 3
    assert m.count("C:change_cipher_spec") == 3 and m.count("S:change_cipher_spec") == 3
    assert "S:hello_request" in m
    assert not any("encrypted" in x for x in m)
    finished = [detail for _, _, name, detail in report.ladder if name == "finished"]
    assert finished == ["verify_data ok"] * 6
    client = "before renegotiation\nafter the first renegotiation\nafter the second\n"
    assert report.app_data == {"client_bytes": len(client), "client_sha256": sha(client),
                               "server_bytes": 16, "server_sha256": sha("server after it\n")}
    assert m[-2:] == ["C:alert:close_notify", "S:alert:close_notify"]
    # The report keeps the first handshake's parameters.
    assert report.cipher_suite == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
    assert report.resumed is False


def test_renegotiation_without_keys_is_listed_not_misread():
    (report,) = dissect(RENEGOTIATION, keys=False)
    assert not any("malformed" in e for e in report.errors)
    assert report.messages.count("C:change_cipher_spec") == 3


# -- PSK key exchanges --------------------------------------------------------------------

PSK_FAMILIES = [("psk", "TLS_PSK_WITH_AES_128_GCM_SHA256"),
                ("dhe_psk", "TLS_DHE_PSK_WITH_AES_128_CBC_SHA256"),
                ("ecdhe_psk", "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256"),
                ("rsa_psk", "TLS_RSA_PSK_WITH_AES_256_GCM_SHA384")]


def test_psk_suites_decrypt_with_the_key_log():
    reports = dissect("tls12_psk_openssl")
    assert [r.cipher_suite for r in reports] == [suite for _, suite in PSK_FAMILIES]
    for report, (family, _) in zip(reports, PSK_FAMILIES):
        assert report.errors == [] and report.decrypted, family
        client, server = "hello over %s\n" % family, "answer over %s\n" % family
        assert report.app_data == {"client_bytes": len(client), "client_sha256": sha(client),
                                   "server_bytes": len(server),
                                   "server_sha256": sha(server)}, family
        assert report.messages[-4:] == ["C:application_data", "S:application_data",
                                        "C:alert:close_notify", "S:alert:close_notify"]
        assert "verify_data ok" in render_report(report)
    # RFC 4279 / RFC 5489 ServerKeyExchange: identity hint, then the (EC)DH parameters.
    assert reports[2].group == "x25519"
    ske = [[detail for _, _, name, detail in r.ladder if name == "server_key_exchange"]
           for r in reports]
    assert ske == [[""], ["DH 2048 bits"], ["group x25519"], [""]]


# -- TLS after a plaintext preamble -------------------------------------------------------

STARTTLS = [("smtp", "SMTP STARTTLS"), ("pop3", "POP3 STLS"), ("imap", "IMAP STARTTLS"),
            ("ftp", "FTP AUTH TLS"), ("xmpp", "XMPP STARTTLS"), ("ldap", "LDAP StartTLS"),
            ("postgres", "PostgreSQL SSLRequest")]
HANDSHAKE12 = ["C:client_hello", "S:server_hello", "S:certificate", "S:server_key_exchange",
               "S:server_hello_done", "C:client_key_exchange", "C:change_cipher_spec",
               "C:finished", "S:new_session_ticket", "S:change_cipher_spec", "S:finished"]


def preamble_lines(report):
    return [(d, detail) for _, d, name, detail in report.ladder if name == "preamble"]


def test_starttls_of_seven_protocols():
    """openssl s_client -starttls PROTO against a server speaking PROTO then TLS 1.2."""
    reports = dissect("starttls_openssl")
    assert len(reports) == len(STARTTLS)
    for report, (proto, label) in zip(reports, STARTTLS):
        assert report.errors == [] and report.decrypted, proto
        assert report.messages[:len(HANDSHAKE12)] == HANDSHAKE12, proto
        (line,) = preamble_lines(report)
        assert line[1].startswith(label + ": "), (proto, line)
        sent = "hello over %s\n" % proto
        assert report.app_data["client_sha256"] == sha(sent), proto
        assert report.app_data["server_sha256"] == sha("answer to " + sent), proto
        text = render_report(report)
        assert "preamble" in text and all(len(x) <= 80 for x in text.splitlines())


def test_proxy_tunnels():
    """curl through HTTP CONNECT, SOCKS 4 and SOCKS 5 proxies, TLS 1.2 inside."""
    reports = dissect("proxies_curl")
    labels = [preamble_lines(r)[0][1].split(":")[0] for r in reports]
    assert labels == ["HTTP CONNECT", "SOCKS 4", "SOCKS 5"]
    for report in reports:
        assert report.errors == [] and report.decrypted
        assert report.messages[0] == "C:client_hello"
        assert report.app_data["server_bytes"] > 0


def test_preamble_skipped_on_a_hinted_port_too():
    """``--port`` on the STARTTLS server's port: the preamble is still skipped, not read as
    records."""
    first = dissect("starttls_openssl")[0]
    port = int(first.server.rsplit(":", 1)[1])
    base = os.path.join(DATA, "starttls_openssl")
    report = dissect_capture(base + ".pcap", keylog=base + ".keylog", ports=[port])[0]
    assert report.to_dict() == first.to_dict()


def test_preamble_without_keys_still_found():
    reports = dissect("starttls_openssl", keys=False)
    assert len(reports) == len(STARTTLS)
    assert all(r.version == "TLS 1.2" for r in reports)


def test_cli_no_longer_says_no_tls_connection(tmp_path):
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-m", "scapy_tls_hs", "dissect",
                           os.path.join(DATA, "proxies_curl.pcap")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    assert "no TLS connection found" not in proc.stderr
    assert proc.stdout.count("preamble") == 3


# -- SSL 3.0 ------------------------------------------------------------------------------

SSL3 = "ssl3_rsa_aes128sha_tlslite"


def test_ssl3_dissected_and_decrypted_with_the_server_key():
    """tlslite-ng client and server in SSL 3.0 (RSA, AES128-SHA): the RFC 6101 master
    secret, key block, MAC and Finished."""
    base = os.path.join(DATA, SSL3)
    (report,) = dissect_capture(base + ".pcap", server_key=base + ".server.key")
    assert report.version == "SSL 3.0"
    assert report.cipher_suite == "TLS_RSA_WITH_AES_128_CBC_SHA"
    assert report.errors == [] and report.decrypted
    finished = [detail for _, _, name, detail in report.ladder if name == "finished"]
    assert finished == ["verify_data ok", "verify_data ok"]
    # The client split its line 1/n-1; the server answered the first record it read.
    assert report.app_data == {"client_bytes": 19, "client_sha256": sha("hello over SSL 3.0\n"),
                               "server_bytes": 11, "server_sha256": sha("answer to h")}
    assert "C:alert:close_notify" in report.messages


def test_ssl3_without_keys_shows_its_records():
    (report,) = dissect(SSL3, keys=False)
    assert report.version == "SSL 3.0"
    assert report.messages[:7] == ["C:client_hello", "S:server_hello", "S:certificate",
                                   "S:server_hello_done", "C:client_key_exchange",
                                   "C:change_cipher_spec", "C:encrypted_handshake"]


# -- SSL 2.0-format ClientHello -----------------------------------------------------------

def test_sslv2_format_client_hello_is_read():
    """A real OpenSSL server answering an SSL 2.0-format ClientHello: both directions
    dissected, the hello read as the TLS ClientHello it stands for."""
    (report,) = dissect("sslv2_hello_openssl")
    assert report.messages == ["C:client_hello", "S:server_hello", "S:certificate",
                               "S:server_hello_done", "S:alert:decode_error"]
    assert report.version == "TLS 1.2"
    assert report.cipher_suite == "TLS_RSA_WITH_AES_128_CBC_SHA"
    hello = report.summary.client_hello
    assert hello.cipher_suites == [0x002F, 0x0035] and hello.version == 0x0303
    assert report.ladder[0][3].startswith("SSL 2.0 format")
    assert not any("not TLS" in e for e in report.errors)


# -- damage -------------------------------------------------------------------------------

def test_damaged_copies_never_raise(tmp_path):
    """Flipped bits and cut files in every capture of the folder: reports, never an
    exception or an internal error."""
    import glob
    import random
    rng = random.Random(12)
    for cap in sorted(glob.glob(os.path.join(DATA, "*.pcap"))):
        data = open(cap, "rb").read()
        base = cap[:-len(".pcap")]
        keylog = base + ".keylog" if os.path.exists(base + ".keylog") else None
        key = base + ".server.key" if os.path.exists(base + ".server.key") else None
        for i in range(12):
            copy = bytearray(data)
            for _ in range(rng.choice((1, 3, 10))):
                copy[rng.randrange(24, len(copy))] ^= 1 << rng.randrange(8)
            if i % 4 == 0:
                copy = copy[:rng.randrange(24, len(copy))]
            path = tmp_path / "damaged.pcap"
            path.write_bytes(bytes(copy))
            for report in dissect_capture(path, keylog=keylog, server_key=key):
                report.to_dict()
                assert not any("internal error" in e for e in report.errors), (cap, i)
