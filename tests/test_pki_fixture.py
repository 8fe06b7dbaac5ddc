import subprocess


def test_pki_chains_verify_with_openssl(pki):
    """The fixture's certificates are what real peers accept: checked by openssl verify."""
    for cert in (pki.rsa_cert, pki.ecdsa_cert, pki.client_rsa_cert, pki.client_ecdsa_cert):
        out = subprocess.run(["openssl", "verify", "-CAfile", pki.ca_cert, cert],
                             capture_output=True, text=True, timeout=10)
        assert out.returncode == 0, out.stdout + out.stderr
    out = subprocess.run(["openssl", "verify", "-CAfile", pki.ca_cert,
                          "-untrusted", pki.intermediate_cert, pki.rsa_chain],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stdout + out.stderr
    out = subprocess.run(["openssl", "verify", "-CAfile", pki.ca_cert, pki.wrong_client_cert],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode != 0
