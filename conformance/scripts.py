"""Which tlsfuzzer scripts the campaign runs, and with which options.

A `Script` says what the *client* side (the tlsfuzzer script) needs and what the
*server* must be configured with (key type, client authentication, early data,
external PSK). `servers.py` turns the server needs into command lines per target.

Probe counts (`-n`) are cut where a script has hundreds of probes so that a whole
set stays in minutes; `_tlsfuzzer_entry.py` seeds the sampling, so the same probes
run against every target and the results can be compared probe by probe.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

# External PSK handed to both the tlsfuzzer script and the server (psk_ke / psk_dhe_ke).
PSK_IDENTITY = "conformance"
PSK_HEX = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"


@dataclass(frozen=True)
class Script:
    name: str                                  # e.g. "test-tls13-conversation"
    args: tuple[str, ...] = ()                 # tlsfuzzer options for every target
    cert: str = "rsa"                          # server key: "rsa", "ecdsa" or "rsapss"
    client_auth: bool = False                  # server requests a client certificate
    early_data: bool = False                   # server accepts 0-RTT
    psk: bool = False                          # server has the external PSK above
    client_cert: str = ""                      # pass -k/-c: client key "rsa"/"ecdsa"/"ed25519"
    echo: bool = False                         # server echoes application data back
    target_args: dict = field(default_factory=dict)   # target -> extra options
    # (text in the output, options): when a run prints the text, run once more with the
    # options added and keep the run with more passing probes (server-side choices the
    # RFC leaves open, e.g. a cookie in HelloRetryRequest).
    retry: tuple[tuple[str, tuple[str, ...]], ...] = ()
    tickets: bool = True                       # server issues session tickets
    variant: str = ""                          # names a second server setup of a script
    skip: tuple[str, ...] = ()                 # targets that cannot be set up for it
    timeout: float = 300.0                     # whole-script bound, seconds
    alpn: bool = False                         # server offers ALPN "http/1.1"
    server_args: dict = field(default_factory=dict)   # target -> extra server options
    tls: str = ""                              # server's highest version, if not the set's
    renegotiation: bool = True                 # server accepts client renegotiation (1.2)
    note: str = ""                             # why the options are what they are

    @property
    def key(self) -> str:
        """Name in results: the script name, plus [variant] for another server setup."""
        return f"{self.name}[{self.variant}]" if self.variant else self.name

    @property
    def module(self) -> str:
        """Module name under tlsfuzzer/_apps/ (scripts/ only holds symlink stubs)."""
        return self.name.replace("-", "_")


# Servers that send a cookie in HelloRetryRequest need `--cookie`, else the script's
# strict HRR extension check fails; RFC 8446 lets the server choose. OpenSSL s_server
# (not -stateless) sends none; CONTRACT says ours does. Detected from the output.
_COOKIE = (("Server sent unexpected extension(s): cookie", ("--cookie",)),)
# Likewise supported_groups in EncryptedExtensions (OpenSSL sends it).
_SUPGROUP = (("Server sent unexpected extension(s): supported_groups", ("--supgroup",)),)

TLS13 = [
    Script("test-tls13-conversation"),
    Script("test-tls13-hrr", retry=_COOKIE),
    Script("test-tls13-session-resumption"),
    Script("test-tls13-keyupdate", ("-n", "30")),
    Script("test-tls13-invalid-ciphers", ("-n", "30")),
    Script("test-tls13-legacy-version"),
    Script("test-tls13-finished", ("-n", "30")),
    Script("test-tls13-finished-plaintext", ("-n", "20")),
    Script("test-tls13-record-padding"),
    Script("test-tls13-zero-length-data"),
    Script("test-tls13-zero-content-type"),
    Script("test-tls13-unencrypted-alert"),
    Script("test-tls13-ccs"),
    Script("test-tls13-multiple-ccs-messages"),
    Script("test-tls13-version-negotiation", ("-n", "40")),
    Script("test-tls13-count-tickets", ("-t", "2"),
           note="OpenSSL and ours (CONTRACT) send two NewSessionTickets"),
    Script("test-tls13-count-tickets", ("-t", "0"), tickets=False, variant="no-tickets"),
    Script("test-tls13-psk_dhe_ke", ("--psk", PSK_HEX, "--psk-iden", PSK_IDENTITY), psk=True,
           note="external PSK: needs a server-side PSK option"),
    Script("test-tls13-psk_ke", ("--psk", PSK_HEX, "--psk-iden", PSK_IDENTITY), psk=True,
           note="external PSK: needs a server-side PSK option"),
    Script("test-tls13-certificate-verify", ("-n", "10"), client_auth=True, client_cert="rsa"),
    Script("test-tls13-certificate-request", client_auth=True, client_cert="rsa"),
    Script("test-tls13-ecdsa-in-certificate-verify", ("-n", "20"), client_auth=True,
           client_cert="ecdsa", note="client P-256 certificate"),
    Script("test-tls13-eddsa-in-certificate-verify", client_auth=True, client_cert="ed25519",
           note="client Ed25519 certificate"),
    Script("test-tls13-signature-algorithms", ("-n", "30")),
    Script("test-tls13-rsapss-signatures", cert="rsapss",
           note="server key is RSASSA-PSS (rsa_pss_pss_* schemes)"),
    Script("test-tls13-rsa-signatures"),
    Script("test-tls13-pkcs-signature"),
    Script("test-tls13-ecdsa-support", cert="ecdsa"),
    Script("test-tls13-ecdhe-curves"),
    Script("test-tls13-crfg-curves"),
    Script("test-tls13-ffdhe-groups"),
    Script("test-tls13-ffdhe-sanity"),
    Script("test-tls13-dhe-shared-secret-padding", ("-n", "3"), timeout=240,
           note="3 groups (default: 1); -n 0 takes ~4000 connections"),
    Script("test-tls13-obsolete-curves", retry=_COOKIE),
    Script("test-tls13-unrecognised-groups", retry=_COOKIE),
    Script("test-tls13-keyshare-omitted"),
    Script("test-tls13-symetric-ciphers", ("-n", "20")),
    Script("test-tls13-empty-alert"),
    Script("test-tls13-large-number-of-extensions", ("-n", "10"), retry=_SUPGROUP),
    Script("test-tls13-shuffled-extentions", retry=_COOKIE),
    Script("test-tls13-lengths", ("-n", "40"), echo=True,
           note="expects the data echoed back (openssl -rev, gnutls/ours --echo)"),
    Script("test-tls13-nociphers"),
    Script("test-tls13-non-support"),
    Script("test-tls13-record-layer-limits", ("-n", "20")),
    Script("test-tls13-0rtt-garbage", retry=_COOKIE,
           note="server without early data must skip the undecryptable 0-RTT records"),
    Script("test-tls13-0rtt-garbage", retry=_COOKIE, early_data=True, variant="early-data",
           skip=("openssl",),
           note="0-RTT enabled: unknown PSK identities still mean skipping the early data; "
                "s_server refuses -early_data with -www"),
    Script("test-tls13-serverhello-random", ("--repeat", "4")),
    Script("test-tls13-connection-abort", ("--repeat", "2", "-t", "3")),
    # General scripts with TLS 1.3 probes, run in their TLS 1.3-server mode.
    Script("test-downgrade-protection", ("--server-max-protocol", "TLSv1.3", "-d")),
    Script("test-fallback-scsv", ("--tls-1.3", "-d")),
]

# RFC 8449; run in the TLS 1.2 set and, by name, against TLS 1.3 servers.
_RECORD_SIZE_LIMIT = Script(
    "test-record-size-limit", ("--reply-AD-size", "18"), echo=True,
    note="echo servers: the reply is the 18-byte default request", retry=_COOKIE + (
        ("Server sent unexpected extension(s): supported_groups", ("--supported-groups",)),))

# TLS 1.0-1.2 set (issue 12): every tlsfuzzer script for TLS <= 1.2 servers. Left out:
# generators and timing tools (marvin-ciphertext-generator, rsa-keys-generator,
# test-bleichenbacher-timing-*, test-lucky13: statistics over thousands of connections,
# not pass/fail probes), test-SSLv3-padding (SSL 3.0 servers only; none of the three
# speaks SSL 3.0), test-TLSv1_2-rejected-without-TLSv1_2 (for servers without TLS 1.2),
# test-sslv2-connection (expects an SSL 2.0 ServerHello), test-heartbeat (RFC 6520
# servers; test-no-heartbeat is the check for the others) and
# test-renegotiation-disabled-client-cert (a web server that asks for a certificate
# when a protected resource is requested: none of the three can be set up so).
# -n: all probes where a script has up to ~1700 cheap ones; samples where probes are
# slow (test-large-hello) or many (test-lengths, test-fuzzed-plaintext), so a run of one
# target stays near 10 minutes.
# Scripts with no -d run RSA key exchange (their default): the one suite family every
# target has, so the probes test the message handling, not the suite choice.
# SSL 3.0 probes, in scripts that count values across all probes: none of the three
# speaks SSL 3.0, and one failed probe also fails the uniqueness counts.
_NO_SSL3 = ("-e", "Protocol (3, 0)", "-e", "Protocol (3, 0) in SSLv2 compatible ClientHello")
# OpenSSL's DEFAULT and GnuTLS's NORMAL leave out DSA (DHE_DSS suites, DSA signatures).
_DSA_SERVER = {
    "openssl": ("-cipher", "ALL:@SECLEVEL=0"),
    "gnutls": ("--priority", "NORMAL:-VERS-TLS1.3:+DHE-DSS:" + ":".join(
        f"+SIGN-DSA-{h}" for h in ("SHA1", "SHA224", "SHA256", "SHA384", "SHA512"))),
}
# Client certificates: the small CA of servers.py; the server requests one (optional).
_CLIENT_RSA = dict(client_auth=True, client_cert="rsa")
_RENEGO = "client-initiated secure renegotiation (RFC 5746), accepted by default"
TLS12 = [
    Script("test-conversation"),
    Script("test-conversation", ("-d",), variant="dhe", note="(EC)DHE key exchange"),
    Script("test-ecdhe-rsa-key-exchange"),
    Script("test-ecdhe-rsa-key-exchange-with-bad-messages"),
    Script("test-ecdhe-rsa-key-share-random", ("--repeat", "4") + _NO_SSL3,
           note="4 handshakes per probe (default 32)"),
    Script("test-ecdhe-padded-shared-secret", timeout=400,
           note="loops until a shared secret with a leading zero byte comes out"),
    Script("test-dhe-rsa-key-exchange"),
    Script("test-dhe-rsa-key-exchange-signatures"),
    Script("test-dhe-rsa-key-exchange-with-bad-messages"),
    Script("test-dhe-key-share-random", ("--repeat", "4") + _NO_SSL3),
    Script("test-dhe-no-shared-secret-padding", timeout=400),
    Script("test-ffdhe-negotiation"),
    Script("test-ffdhe-expected-params"),
    Script("test-x25519"),
    Script("test-unsupported-curve-fallback"),
    Script("test-point-extension"),
    Script("test-no-mlkem-in-old-tls"),
    Script("test-aes-gcm-nonces"),
    Script("test-aesccm", ("-n", "0"), note="all 230 probes (CCM and CCM_8; default 100)"),
    Script("test-aesccm", ("-d", "-n", "0"), variant="dhe"),
    Script("test-chacha20", ("-n", "0"), note="all 153 probes (default 50)"),
    Script("test-cve-2016-2107"),
    Script("test-cve-2016-6309"),
    Script("test-cve-2016-7054"),
    Script("test-cve-2004-0079"),
    Script("test-export-ciphers-rejected", ("--min-ver", "TLSv1.0"),
           note="the lowest version all three speak (default SSLv3)"),
    Script("test-invalid-cipher-suites"),
    Script("test-invalid-compression-methods"),
    Script("test-empty-extensions"),
    Script("test-extensions"),
    Script("test-large-number-of-extensions"),
    Script("test-large-hello", ("-n", "200"), timeout=450,
           note="200 of 3404 probes: up to a second each against ours"),
    Script("test-client-hello-max-size", alpn=True,
           note="its largest hello asks for ALPN http/1.1"),
    Script("test-invalid-client-hello"),
    Script("test-invalid-client-hello-w-record-overflow"),
    Script("test-truncating-of-client-hello"),
    Script("test-client-compatibility", ("-n", "0"),
           note="all 141 ClientHellos of real clients (default 50)"),
    Script("test-clienthello-md5"),
    Script("test-invalid-session-id"),
    Script("test-invalid-version"),
    Script("test-version-numbers"),
    Script("test-downgrade-protection", ("--server-max-protocol", "TLSv1.2"),
           note="the TLS 1.2 servers of this set (TLS 1.3 mode in TLS13)"),
    Script("test-fallback-scsv", note="TLS 1.2 server mode (TLS 1.3 mode in TLS13)"),
    Script("test-sslv2hello-protocol", note="SSLv2-format ClientHello (RFC 5246 E.2)"),
    Script("test-sslv2-force-cipher"),
    Script("test-sslv2-force-cipher-3des"),
    Script("test-sslv2-force-cipher-non3des"),
    Script("test-sslv2-force-export-cipher"),
    Script("test-invalid-server-name-extension"),
    Script("test-invalid-server-name-extension-resumption"),
    Script("test-alpn-negotiation", alpn=True),
    Script("test-extended-master-secret-extension"),
    Script("test-extended-master-secret-extension-with-client-cert", **_CLIENT_RSA),
    Script("test-encrypt-then-mac"),
    dataclasses.replace(_RECORD_SIZE_LIMIT, tls="1.3",
                        note="RFC 8449 in TLS 1.2 and 1.3: its TLS 1.3 probes need a TLS 1.3 "
                             "server"),
    Script("test-no-heartbeat"),
    Script("test-ocsp-stapling", ("--no-status",),
           note="no OCSP response configured on any target; renegotiates once"),
    Script("test-signature-algorithms", ("-n", "0"), note="all 276 probes"),
    Script("test-signature-algorithms", ("--ecdsa", "-n", "0"), cert="ecdsa",
           variant="ecdsa", note="ECDSA server key"),
    Script("test-sig-algs", tuple(x for h in ("256", "384", "512")
                                  for x in ("-e", f"rsa_pss_pss_sha{h} only")),
           note="the rsa_pss_pss_* probes need an RSASSA-PSS server key, the others an "
                "rsaEncryption one: left out (TLS 1.3's rsapss-signatures covers them)"),
    Script("test-ecdsa-sig-flexibility", cert="ecdsa", note="ECDSA server key"),
    Script("test-dsa-sig-flexibility", cert="dsa", server_args=_DSA_SERVER,
           note="DSA server key (DHE_DSS suites)"),
    Script("test-sessionID-resumption"),
    Script("test-session-ticket-resumption", retry=(
        ("Server did not send extension(s): session_ticket",
         ("--no-new-ticket-on-resumption",)),),
           note="RFC 5077 lets a resuming server renew the ticket (ours) or keep it "
                "(OpenSSL, GnuTLS): detected"),
    Script("test-resumption-with-wrong-ciphers", retry=(
        ("Expected: 53, received: 47", ("--swap-ciphers",)),),
           note="servers preferring AES-128 to AES-256 (ours) need --swap-ciphers"),
    Script("test-certificate-request", **_CLIENT_RSA, retry=(
        ("Unexpected client certificate types. Got: (rsa_sign, dss_sign, ecdsa_sign)",
         ("-T", "rsa_sign dss_sign ecdsa_sign")),),
           note="a server that takes DSA client certificates (OpenSSL, ours) lists dss_sign; "
                "'check sigalgs' wants one fixed list no server sends"),
    Script("test-certificate-verify", **_CLIENT_RSA),
    Script("test-certificate-verify-malformed", ("-n", "0"), **_CLIENT_RSA),
    Script("test-certificate-verify-malformed-sig", **_CLIENT_RSA),
    Script("test-certificate-malformed", ("-n", "0"), **_CLIENT_RSA,
           note="all 1650 probes (default 1000)"),
    Script("test-rsa-sigs-on-certificate-verify", **_CLIENT_RSA),
    Script("test-rsa-pss-sigs-on-certificate-verify", ("--illegpar",), **_CLIENT_RSA,
           note="an rsa_pss_pss scheme with an RSA (rsaEncryption) key: OpenSSL and GnuTLS "
                "answer illegal_parameter, which the script accepts with --illegpar"),
    Script("test-ecdsa-in-certificate-verify", ("-n", "0"), client_auth=True,
           client_cert="ecdsa", note="client P-256 certificate; all 31 probes (default 10)"),
    Script("test-eddsa-in-certificate-verify", ("-n", "0"), client_auth=True,
           client_cert="ed25519", note="client Ed25519 certificate; all 518 probes"),
    Script("test-dsa-in-certificate-verify", client_auth=True, client_cert="dsa",
           server_args=_DSA_SERVER, note="client DSA certificate"),
    Script("test-fuzzed-finished"),
    Script("test-fuzzed-MAC"),
    Script("test-fuzzed-ciphertext", ("-n", "0"), note="all 338 probes"),
    Script("test-fuzzed-padding"),
    Script("test-fuzzed-plaintext", ("-n", "2000"), note="of 8394"),
    Script("test-truncating-of-finished"),
    Script("test-truncating-of-kRSA-client-key-exchange"),
    Script("test-invalid-rsa-key-exchange-messages"),
    Script("test-bleichenbacher-workaround", ("-n", "0"), timeout=900,
           note="all 610 probes: 0.2-0.7 s each (1 s waits for no answer)"),
    Script("test-atypical-padding"),
    Script("test-lengths", ("-n", "1000", "-C", "TLS_RSA_WITH_AES_128_CBC_SHA"), echo=True,
           timeout=600,
           note="1000 of 16386 lengths, echoed back (openssl -rev, gnutls/ours --echo); "
                "its default AES_128_CBC_SHA256 is not in GnuTLS's NORMAL"),
    Script("test-record-layer-fragmentation"),
    Script("test-ccs"),
    Script("test-interleaved-CKE-with-CCS"),
    Script("test-message-duplication"),
    Script("test-message-skipping"),
    Script("test-early-application-data"),
    Script("test-zero-length-data"),
    Script("test-invalid-content-type"),
    Script("test-ssl-death-alert"),
    Script("test-openssl-3712"),
    Script("test-connection-abort", ("--repeat", "2", "-t", "3")),
    Script("test-serverhello-random", ("--repeat", "4") + _NO_SSL3),
    Script("test-hello-request-by-client"),
    Script("test-legacy-renegotiation", note="insecure renegotiation must be refused"),
    Script("test-renegotiation-disabled", renegotiation=False,
           note="expects renegotiation refused: ours --no-renegotiation, OpenSSL's default; "
                "gnutls-serv has no option for it"),
    Script("test-renegotiation-changed-clienthello", note=_RENEGO),
    Script("test-encrypt-then-mac-renegotiation", note=_RENEGO),
    Script("test-interleaved-application-data-in-renegotiation", note=_RENEGO),
    Script("test-interleaved-application-data-and-fragmented-handshakes-in-renegotiation",
           note=_RENEGO),
    Script("test-sig-algs-renegotiation-resumption", note=_RENEGO),
    # The record and message layer once more over (EC)DHE (-d: ECDHE_RSA or DHE_RSA suites,
    # AEAD ones where the script picks them), since RSA key exchange alone would leave
    # those handshake paths of the server out.
    *(Script(name, ("-d",), variant="dhe") for name in (
        "test-fuzzed-MAC", "test-fuzzed-padding", "test-fuzzed-ciphertext",
        "test-encrypt-then-mac", "test-extended-master-secret-extension",
        "test-record-layer-fragmentation", "test-zero-length-data", "test-ccs",
        "test-message-skipping", "test-invalid-content-type", "test-sessionID-resumption",
        "test-truncating-of-client-hello", "test-early-application-data",
        "test-aes-gcm-nonces")),
    Script("test-fuzzed-plaintext", ("-d", "-n", "300"), variant="dhe"),
    Script("test-session-ticket-resumption", ("-d",), variant="dhe", retry=(
        ("Server did not send extension(s): session_ticket",
         ("--no-new-ticket-on-resumption",)),)),
    Script("test-conversation", ("-d", "-C", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
           cert="ecdsa", variant="ecdsa", note="ECDSA server key"),
]

# Also runnable with --scripts outside the TLS 1.2 set (e.g. against TLS 1.3 servers).
EXTRA = [_RECORD_SIZE_LIMIT]

SETS = {"tls13": TLS13, "tls12": TLS12}


def by_name(name: str) -> Script:
    """A script of either set by name or key (`name[variant]`, `.py` optional); unknown
    names get defaults."""
    name = name.removesuffix(".py")
    for script in TLS13 + TLS12 + EXTRA:
        if name in (script.key, script.name):
            return script
    return Script(name)
