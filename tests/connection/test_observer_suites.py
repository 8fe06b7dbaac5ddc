"""The PSK AES-CCM suites the observer reads (no endpoint runs them): openssl s_server and
s_client with -psk, recorded with tcpdump on lo, dissected with the key log s_client wrote."""
import os
import shutil
import subprocess
import time

import pytest

from scapy_tls_hs.capture.dissect import dissect_capture
from scapy_tls_hs.connection.observer_suites import observed_suite
from tests.peers.process import free_port, wait_port

PSK = "5ca1ab1e0123456789abcdef5ca1ab1e"
SUITES = {"PSK-AES128-CCM8": "TLS_PSK_WITH_AES_128_CCM_8",
          "DHE-PSK-AES256-CCM": "TLS_DHE_PSK_WITH_AES_256_CCM"}


def test_ccm_psk_suites_are_known():
    for code in range(0xC0A4, 0xC0AC):
        suite = observed_suite(code)
        assert suite is not None and suite.aead and "CCM" in suite.name
        assert suite.tag_len == (8 if suite.name.endswith("_8") else 16)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("tcpdump") is None,
                    reason="needs root and tcpdump to capture on lo")
def test_ccm_psk_connections_decrypt(tmp_path):
    port = free_port()
    pcap, keylog = tmp_path / "psk.pcap", tmp_path / "psk.keylog"
    # wait_port's probe connection is one of the accepts, made before tcpdump starts.
    server = subprocess.Popen(["openssl", "s_server", "-accept", "127.0.0.1:%d" % port,
                               "-nocert", "-tls1_2", "-psk", PSK, "-rev", "-naccept", "3",
                               "-cipher", ":".join(SUITES)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    dump = None
    try:
        wait_port(port, proc=server)
        dump = subprocess.Popen(["tcpdump", "-i", "lo", "--immediate-mode", "-w", str(pcap),
                                 "tcp port %d" % port], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(1.0)          # tcpdump is listening by now
        for cipher in SUITES:
            subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                            "-tls1_2", "-psk", PSK, "-cipher", cipher, "-keylogfile",
                            str(keylog)], input=b"hello\n",
                           capture_output=True, timeout=10)
        time.sleep(0.5)
    finally:
        for proc in (server, dump):
            if proc is None:
                continue
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
    reports = dissect_capture(str(pcap), keylog=str(keylog))
    assert [r.cipher_suite for r in reports] == list(SUITES.values())
    for report in reports:
        assert report.decrypted and not report.errors, report.errors
        assert report.app_data["client_bytes"] == 6
