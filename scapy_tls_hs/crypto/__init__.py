"""Handshake cryptography on ``cryptography``: pure functions and small per-direction objects.

- ``suites``: the ``CipherSuite`` registry; ``prf``: PRF, master secrets, key block,
  transcript, Finished; ``record``: TLS 1.0-1.2 record protection; ``tls13``: TLS 1.3 key
  schedule pieces and record protection; ``keyexchange``: RSA, DHE, ECDHE;
  ``signatures``: ServerKeyExchange / CertificateVerify; ``certs``: loading and chain
  verification; ``keylog``: NSS key logs; ``tickets``: our server's session tickets.

Import the submodules directly; nothing is re-exported here so that importing one part does
not load the others.
"""
