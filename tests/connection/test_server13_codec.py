"""The TLS 1.2 server messages now written by the codec encoders are the bytes the server
hand-packed before (RFC 5246 layouts spelled out here with ``struct``)."""
import struct

import pytest

from scapy_tls_hs.connection import ClientConfig, ClientConnection, ServerConfig, \
    ServerConnection
from scapy_tls_hs.crypto.certs import load_certificates
from tests.connection.pump import connect


def vec8(b):
    return bytes((len(b),)) + b


def vec16(b):
    return struct.pack("!H", len(b)) + b


def sent(server, msg_type):
    return [e.body for e in server.events
            if getattr(e, "msg_type", None) == msg_type and e.direction == "server"]


@pytest.mark.parametrize("cipher", ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                                    "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"])
def test_tls12_server_flight_bytes(pki, cipher):
    cfg = ServerConfig(pki.rsa_cert, pki.rsa_key, client_auth="optional", cafile=pki.ca_cert)
    client = ClientConnection(ClientConfig(versions=["1.2"], ciphers=[cipher]))
    server = ServerConnection(cfg)
    link = connect(client, server)
    assert link.errors == {"client": None, "server": None}
    (sh,) = sent(server, 2)
    assert sh[:2] == b"\x03\x03" and sh[2:34] == server.server_random
    assert sh[34:35 + 32] == vec8(server.session_id)
    assert sh[67:70] == struct.pack("!HB", server.suite.id, 0)
    (cr,) = sent(server, 13)
    names = b"".join(vec16(c.subject.public_bytes()) for c in load_certificates(pki.ca_cert))
    assert cr == (b"\x03\x01\x02\x40" + vec16(b"".join(struct.pack("!H", s)
                                                    for s in cfg.sig_schemes))
                  + vec16(names))
    (ske,) = sent(server, 12)
    if "ECDHE" in cipher:
        assert ske[:3] == struct.pack("!BH", 3, 29) and ske[3] == 32   # named curve, x25519
        params_len = 4 + 32
    else:
        p_len = ske[0] << 8 | ske[1]
        assert ske[2:2 + p_len] == cfg.dhe_params[0].to_bytes(p_len, "big")
        pos = 2 + p_len
        g_len = ske[pos] << 8 | ske[pos + 1]
        pos += 2 + g_len
        params_len = pos + 2 + (ske[pos] << 8 | ske[pos + 1])
    scheme, sig_len = struct.unpack_from("!HH", ske, params_len)
    assert len(ske) == params_len + 4 + sig_len
    (nst,) = sent(server, 4)
    hint, n = struct.unpack_from("!IH", nst)
    assert hint == cfg.ticket_keys.lifetime and len(nst) == 6 + n
