"""The client automaton against ``gnutls-serv``, a TLS stack that shares no code with
OpenSSL.

gnutls-serv listens on every address, so it runs inside ``unshare --net`` (only ``lo``, up)
together with the client: each server configuration runs once, with all its client jobs, and
the tests read the results and the server's own log (one block per connection: version, key
exchange, cipher, "Options: extended master secret, safe renegotiation, EtM", "This is a
resumed session").
"""
import shutil

import pytest

from scapy_tls_hs.crypto.suites import CipherSuite
from tests.peers.servers import gnutls_connections, gnutls_serv_argv, run_clients_with_gnutls

pytestmark = pytest.mark.skipif(shutil.which("gnutls-serv") is None or
                                shutil.which("unshare") is None,
                                reason="gnutls-serv and unshare are needed")

GET = "GET / HTTP/1.0\r\n\r\n"
PRIORITY = ("NORMAL:+VERS-TLS1.0:+VERS-TLS1.1:+RSA:+DHE-RSA:+AES-128-CBC:+AES-256-CBC:"
            "+3DES-CBC:+SHA1:+SHA256:+SHA384")
GNUTLS_VERSION = {"TLS 1.0": "TLS1.0", "TLS 1.1": "TLS1.1", "TLS 1.2": "TLS1.2"}

# name -> client options; each is one connection (two with "resume").
JOBS = {
    "ecdhe-rsa-gcm": {"ciphers": ["ECDHE-RSA-AES128-GCM-SHA256"]},
    "ecdhe-ecdsa-chacha": {"ciphers": ["ECDHE-ECDSA-CHACHA20-POLY1305"]},
    "ecdhe-ecdsa-gcm256": {"ciphers": ["ECDHE-ECDSA-AES256-GCM-SHA384"]},
    "dhe-rsa-gcm": {"ciphers": ["DHE-RSA-AES128-GCM-SHA256"]},
    "dhe-rsa-chacha": {"ciphers": ["DHE-RSA-CHACHA20-POLY1305"]},
    "rsa-gcm": {"ciphers": ["AES256-GCM-SHA384"]},
    "ecdhe-rsa-cbc-etm": {"ciphers": ["ECDHE-RSA-AES128-SHA256"]},
    "ecdhe-ecdsa-cbc-no-etm": {"ciphers": ["ECDHE-ECDSA-AES256-SHA"], "etm": False},
    "rsa-cbc": {"ciphers": ["AES128-SHA256"]},
    "tls10-ecdhe": {"version": "1.0", "ciphers": ["ECDHE-RSA-AES128-SHA"]},
    "tls10-rsa": {"version": "1.0", "ciphers": ["AES256-SHA"]},
    "tls11-dhe": {"version": "1.1", "ciphers": ["DHE-RSA-AES256-SHA"]},
    "tls11-ecdsa-no-etm": {"version": "1.1", "ciphers": ["ECDHE-ECDSA-AES128-SHA"],
                           "etm": False},
    "no-ems": {"ems": False, "ciphers": ["ECDHE-RSA-AES128-GCM-SHA256"]},
    "resume-ticket": {"resume": True},
    "resume-id": {"resume": True, "tickets": False, "version": "1.1"},
    "sni-alpn": {"sni": "server.test", "alpn": ["http/1.1"]},
}
# Every runnable suite once more, at TLS 1.2, against this other implementation.
JOBS.update({"suite:" + suite.name: {"ciphers": [suite.name]} for suite in CipherSuite.all()})
JOBS.update({
    "tls10-3des": {"version": "1.0", "ciphers": ["DES-CBC3-SHA"]},
    "tls11-dhe-3des-no-etm": {"version": "1.1", "ciphers": ["DHE-RSA-DES-CBC3-SHA"],
                              "etm": False},
})
HANDSHAKE_JOBS = sorted(name for name, job in JOBS.items()
                        if len(job.get("ciphers", ())) == 1 and "ems" not in job)


def gnutls_view(suite):
    """(key exchange, cipher, MAC) as gnutls-serv names them for ``suite``."""
    kx = suite.key_exchange if suite.key_exchange == "RSA" else "%s-%s" % (
        suite.key_exchange, suite.authentication)
    cipher = suite.cipher.replace("_EDE", "").replace("_", "-")
    return kx, cipher, "AEAD" if suite.aead else suite.mac


def _run(jobs, **server):
    """Run ``jobs`` (name -> options) against one gnutls-serv; return name -> list of
    (client result, server log block) per connection."""
    names = list(jobs)
    specs = []
    for name in names:
        spec = dict(jobs[name])
        spec.setdefault("data", GET)
        spec.setdefault("timeout", 5)
        specs.append(spec)
    argv = gnutls_serv_argv(4433, server.pop("identities"), priority=PRIORITY, **server)
    results, log = run_clients_with_gnutls(argv, specs)
    blocks = gnutls_connections(log)
    assert len(blocks) == len(results), log
    out = {name: [] for name in names}
    for result, block in zip(results, blocks):
        out[names[result["job"]]].append((result, block))
    return out


def check_exchange(result, block):
    assert result["errors"] == [], result["errors"]
    assert result["handshake_complete"]
    assert "This is <a href=\"http://www.gnu.org/software/gnutls\">GnuTLS</a>" in \
        result["received"]
    assert "- Version: %s" % GNUTLS_VERSION[result["version"]] in block
    msgs = result["messages"]
    assert "C:application_data" in msgs and "S:application_data" in msgs
    assert msgs[-1] == "C:alert:close_notify" or "S:alert:close_notify" in msgs


def options(block):
    line = next(line for line in block.splitlines() if line.startswith("- Options:"))
    return [o.strip() for o in line.split(":", 1)[1].split(",") if o.strip()]


@pytest.fixture(scope="module")
def runs(pki):
    return _run(JOBS, identities=[(pki.rsa_cert, pki.rsa_key),
                                  (pki.ecdsa_cert, pki.ecdsa_key)],
                alpn=["h2", "http/1.1"])


@pytest.mark.parametrize("name", HANDSHAKE_JOBS)
def test_suites_and_versions(runs, name):
    (result, block), = runs[name]
    check_exchange(result, block)
    suite = CipherSuite.by_name(JOBS[name]["ciphers"][0])
    assert result["cipher_suite"] == suite.name
    kx, cipher, mac = gnutls_view(suite)
    assert "- Key Exchange: %s\n" % kx in block
    assert "- Cipher: %s\n" % cipher in block and "- MAC: %s\n" % mac in block
    version = JOBS[name].get("version", "1.2")
    assert result["version"] == "TLS " + version
    etm = not suite.aead and JOBS[name].get("etm", True)
    assert result["encrypt_then_mac"] == etm
    assert ("EtM" in options(block)) == etm
    assert "extended master secret" in options(block) and result["extended_master_secret"]
    assert "safe renegotiation" in options(block)


def test_ems_off(runs):
    (result, block), = runs["no-ems"]
    check_exchange(result, block)
    assert not result["extended_master_secret"]
    assert "extended master secret" not in options(block)


@pytest.mark.parametrize("name", ["resume-ticket", "resume-id"])
def test_resumption(runs, name):
    (first, block1), (second, block2) = runs[name]
    check_exchange(first, block1)
    check_exchange(second, block2)
    assert "This is a resumed session" not in block1
    assert "This is a resumed session" in block2
    assert second["resumed"] and not first["resumed"]
    assert "S:certificate" not in second["messages"]
    assert first["ticket"] == (name == "resume-ticket")


def test_sni_and_alpn(runs):
    (result, block), = runs["sni-alpn"]
    check_exchange(result, block)
    assert result["sni"] == "server.test" and result["alpn"] == "http/1.1"


@pytest.fixture(scope="module")
def auth_runs(pki):
    jobs = {"rsa": {"cert": pki.client_rsa_cert, "key": pki.client_rsa_key},
            "ecdsa": {"cert": pki.client_ecdsa_cert, "key": pki.client_ecdsa_key},
            "rsa-tls10": {"cert": pki.client_rsa_cert, "key": pki.client_rsa_key,
                          "version": "1.0"},
            "none": {}}
    required = _run(jobs, identities=[(pki.rsa_cert, pki.rsa_key)], client_cert="required",
                    cafile=pki.ca_cert)
    optional = _run({"none": {}, "ecdsa": jobs["ecdsa"]},
                    identities=[(pki.ecdsa_cert, pki.ecdsa_key)], client_cert="optional",
                    cafile=pki.ca_cert)
    return {"required": required, "optional": optional}


@pytest.mark.parametrize("mode,name", [("required", "rsa"), ("required", "ecdsa"),
                                       ("required", "rsa-tls10"), ("optional", "ecdsa")])
def test_client_auth(auth_runs, mode, name):
    (result, block), = auth_runs[mode][name]
    check_exchange(result, block)
    assert result["client_auth"]
    assert "C:certificate_verify" in result["messages"]
    cn = "client-ec" if name == "ecdsa" else "client"
    assert "CN=%s" % cn in block, block


def test_client_auth_optional_without_certificate(auth_runs):
    (result, block), = auth_runs["optional"]["none"]
    check_exchange(result, block)
    assert not result["client_auth"] and "C:certificate" in result["messages"]


def test_client_auth_required_without_certificate(auth_runs):
    (result, block), = auth_runs["required"]["none"]
    assert not result["handshake_complete"]
    assert result["errors"] and result["errors"][0].startswith("received alert"), result
