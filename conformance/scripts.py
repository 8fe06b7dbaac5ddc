"""Which tlsfuzzer scripts the campaign runs, and with which options.

A `Script` says what the *client* side (the tlsfuzzer script) needs and what the
*server* must be configured with (key type, client authentication, early data,
external PSK). `servers.py` turns the server needs into command lines per target.

Probe counts (`-n`) are cut where a script has hundreds of probes so that a whole
set stays in minutes; `_tlsfuzzer_entry.py` seeds the sampling, so the same probes
run against every target and the results can be compared probe by probe.
"""

from __future__ import annotations

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

# Quick TLS 1.2 scripts, to check the harness against a TLS 1.2 server.
TLS12 = [
    Script("test-conversation"),
    Script("test-ecdhe-rsa-key-exchange"),
    Script("test-x25519"),
    Script("test-invalid-cipher-suites"),
    Script("test-invalid-compression-methods"),
    Script("test-empty-extensions"),
    Script("test-extended-master-secret-extension"),
    Script("test-sessionID-resumption"),
    Script("test-fuzzed-finished", ("-n", "30")),
    Script("test-fuzzed-MAC", ("-n", "30")),
    Script("test-truncating-of-finished", ("-n", "30")),
    Script("test-ccs"),
    Script("test-zero-length-data"),
    Script("test-version-numbers"),
    Script("test-hello-request-by-client"),
    Script("test-unsupported-curve-fallback"),
    Script("test-aes-gcm-nonces"),
]

# Not in a default set (features outside issue 11), runnable with --scripts.
EXTRA = [
    Script("test-record-size-limit", ("--reply-AD-size", "18"), echo=True,
           note="echo servers: the reply is the 18-byte default request", retry=_COOKIE + (
        ("Server sent unexpected extension(s): supported_groups", ("--supported-groups",)),)),
]

SETS = {"tls13": TLS13, "tls12": TLS12}


def by_name(name: str) -> Script:
    """A script of either set by name or key (`name[variant]`, `.py` optional); unknown
    names get defaults."""
    name = name.removesuffix(".py")
    for script in TLS13 + TLS12 + EXTRA:
        if name in (script.key, script.name):
            return script
    return Script(name)
