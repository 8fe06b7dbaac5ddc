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
from tests.peers import matrix
from tests.peers.servers import gnutls_connections, gnutls_serv_argv, run_clients_with_gnutls

pytestmark = pytest.mark.skipif(shutil.which("gnutls-serv") is None or
                                shutil.which("unshare") is None,
                                reason="gnutls-serv and unshare are needed")

GET = "GET / HTTP/1.0\r\n\r\n"
PRIORITY = ("NORMAL:+VERS-TLS1.0:+VERS-TLS1.1:+RSA:+DHE-RSA:+AES-128-CBC:+AES-256-CBC:"
            "+3DES-CBC:+AES-128-CCM-8:+AES-256-CCM-8:+SHA1:+SHA256:+SHA384")
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
JOBS.update({"suite:" + suite.name: {"ciphers": [suite.name]} for suite in matrix.PEER_SUITES})
# The 3DES suites (which this OpenSSL may lack) at TLS 1.0 and 1.1 too, with and without EtM.
JOBS.update({"tls1%d:%s" % (minor, suite.name): {"version": "1.%d" % minor,
                                                 "ciphers": [suite.name],
                                                 "etm": minor == 0}
             for suite in matrix.PEER_SUITES if suite.cipher == "3DES_EDE_CBC"
             for minor in (0, 1)})


# And each key exchange x cipher family x version, CBC with and without EtM.
JOBS.update({"m:" + matrix.case_id(case): {"version": case[0], "ciphers": [case[1].name],
                                           "etm": case[2]}
             for case in matrix.cases()})

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
        # These jobs are about TLS 1.0-1.2 (suites, EMS, EtM, session ids): the client
        # offers TLS 1.3 by default, and gnutls-serv would pick it.
        spec.setdefault("version", "1.2")
        specs.append(spec)
    argv = gnutls_serv_argv(4433, server.pop("identities"),
                            priority=server.pop("priority", PRIORITY), **server)
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


@pytest.fixture(scope="module")
def no_ems_runs(pki):
    """A gnutls-serv that does not do EMS (%NO_SESSION_HASH)."""
    return _run({"ecdhe-gcm": {"ciphers": ["ECDHE-RSA-AES128-GCM-SHA256"]},
                 "tls10-rsa-cbc": {"version": "1.0", "ciphers": ["AES128-SHA"]},
                 "resume": {"resume": True}},
                identities=[(pki.rsa_cert, pki.rsa_key)],
                priority=PRIORITY + ":%NO_SESSION_HASH")


@pytest.mark.parametrize("name", ["ecdhe-gcm", "tls10-rsa-cbc", "resume"])
def test_ems_off_on_the_server(no_ems_runs, name):
    for result, block in no_ems_runs[name]:
        check_exchange(result, block)
        assert not result["extended_master_secret"]
        assert "extended master secret" not in options(block)
    if name == "resume":
        assert "This is a resumed session" in no_ems_runs[name][1][1]
        assert no_ems_runs[name][1][0]["resumed"]


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
    # GnuTLS answers a missing certificate with decode_error (gnutls-cli gets the same).
    assert result["errors"] == ["received alert decode_error: from the server"], result
    assert "No certificate was found" in block, block
    assert "C:certificate" in result["messages"]
    assert "C:certificate_verify" not in result["messages"]


def test_openssl_and_gnutls_cover_every_suite_at_every_version():
    """Each (suite, version) the client can run is exercised against s_server or here."""
    from tests.automata import test_client_openssl as ossl
    covered = {(name, "1.2") for name in ossl.TLS12_SUITES}
    covered |= {(CipherSuite.by_name(name).name, v) for name in ossl.OLD_SUITES
                for v in ("1.0", "1.1")}
    covered |= {(CipherSuite.by_name(job["ciphers"][0]).name, job.get("version", "1.2"))
                for name, job in JOBS.items() if name in HANDSHAKE_JOBS}
    wanted = {(s.name, v) for s in matrix.PEER_SUITES
              for v, code in (("1.0", 0x0301), ("1.1", 0x0302), ("1.2", 0x0303))
              if s.usable_in(code)}
    assert wanted - covered == set()

