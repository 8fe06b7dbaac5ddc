"""RFC 8449 record_size_limit through the automata options and the CLI flag, both ends ours
(the core's record limits are tested in tests/connection)."""
import pytest

from scapy_tls_hs.automata.client import TLSClientAutomaton
from scapy_tls_hs.automata.listener import TLSListener


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_record_size_limit_options(pki, version):
    with TLSListener("127.0.0.1", 0, cert=pki.rsa_chain, key=pki.rsa_key, echo=True,
                     versions=[version], record_size_limit=256, timeout=5.0).start() as server:
        data = bytes(range(256)) * 8
        result = TLSClientAutomaton("127.0.0.1", server.port, version=version, data=data,
                                    record_size_limit=128, timeout=10).run()
        assert server.wait_for_results(1, timeout=10)
    assert result.ok, result.errors
    assert result.received_bytes == data
    conn = result.connection
    assert conn._records._send_limit == 256 and server.config.record_size_limit == 256
