"""Start and stop real TLS peers (OpenSSL, GnuTLS, Python ssl, curl) for interop tests."""
