"""Field names the outside contract (README's command-line sections) fixes, written out once
for the tests: independent of the package's own lists, so a field the code drops fails a test."""

# ``dissect --json``: every field ("errors" is left out of the truth files).
DISSECT_FIELDS = ["client", "server", "version", "cipher_suite", "session_id", "resumed",
                  "sni", "alpn", "client_auth", "extended_master_secret", "messages",
                  "decrypted", "app_data"]

# ``client --json`` (and ``server --json``, the same fields from the server's side).
CLIENT_FIELDS = {"version", "cipher_suite", "session_id", "resumed", "sni", "alpn",
                 "client_auth", "messages", "extended_master_secret", "handshake_complete",
                 "received", "ticket", "errors"}

# Added by TLS 1.3 to the dissect, client, server and replay objects.
TLS13_FIELDS = {"group", "hello_retry", "early_data", "key_updates"}

# Fingerprints, in every report too (issue 13).
FINGERPRINT_FIELDS = {"ja3", "ja3s", "ja4", "ja4_r"}
