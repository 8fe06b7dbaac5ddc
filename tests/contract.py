"""Field names the outside contract (../shared/CONTRACT.md) fixes, written out once for the
tests: independent of the package's own lists, so a field the code drops fails a test."""

# ``dissect --json``: every field ("errors" is left out of the truth files).
DISSECT_FIELDS = ["client", "server", "version", "cipher_suite", "session_id", "resumed",
                  "sni", "alpn", "client_auth", "extended_master_secret", "messages",
                  "decrypted", "app_data"]

# ``client --json`` (and ``server --json``, the same fields from the server's side).
CLIENT_FIELDS = {"version", "cipher_suite", "session_id", "resumed", "sni", "alpn",
                 "client_auth", "messages", "extended_master_secret", "handshake_complete",
                 "received", "ticket", "errors"}
