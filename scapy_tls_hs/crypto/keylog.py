"""NSS key log files (the ``SSLKEYLOGFILE`` format).

Each line is ``LABEL <client_random hex> <secret hex>``. TLS 1.2 and earlier use
``CLIENT_RANDOM`` (the 48-byte master secret); TLS 1.3 uses one line per secret
(``CLIENT_HANDSHAKE_TRAFFIC_SECRET``, ``SERVER_HANDSHAKE_TRAFFIC_SECRET``,
``CLIENT_TRAFFIC_SECRET_0``, ``SERVER_TRAFFIC_SECRET_0``, ``EXPORTER_SECRET``,
``CLIENT_EARLY_TRAFFIC_SECRET``, ...). ``RSA <first 8 bytes of the encrypted pre-master hex>
<pre-master hex>`` lines are kept too (keyed by those 8 bytes).

Comments (``#``) and blank lines are ignored; a line that does not parse is skipped and
counted in ``skipped`` (key logs are often concatenated from several programs). When a label
and client random appear twice the last line wins.
"""
import os
import re

_LINE = re.compile(r"^([A-Z][A-Z0-9_]*)\s+([0-9A-Fa-f]+)\s+([0-9A-Fa-f]+)\s*$")


class Keylog:
    def __init__(self, entries=None):
        self._entries = dict(entries or {})     # (label, client_random) -> secret
        self.skipped = 0

    # -- reading ---------------------------------------------------------------------------

    @classmethod
    def parse(cls, text):
        if isinstance(text, (bytes, bytearray)):
            text = bytes(text).decode("utf-8", "replace")
        log = cls()
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            m = _LINE.match(line)
            if m is None or len(m.group(2)) % 2 or len(m.group(3)) % 2:
                log.skipped += 1
                continue
            label, random_, secret = m.group(1), bytes.fromhex(m.group(2)), \
                bytes.fromhex(m.group(3))
            want = 8 if label == "RSA" else 32
            if len(random_) != want or not secret:
                log.skipped += 1
                continue
            log._entries[(label, random_)] = secret
        return log

    @classmethod
    def load(cls, path):
        """Read a key log file (``OSError`` if it cannot be read)."""
        with open(path, "rb") as f:
            return cls.parse(f.read())

    def __len__(self):
        return len(self._entries)

    def __contains__(self, client_random):
        return self.master_secret(client_random) is not None

    def __iter__(self):
        """(label, client_random, secret) for every entry."""
        for (label, random_), secret in self._entries.items():
            yield label, random_, secret

    def master_secret(self, client_random):
        """The TLS <= 1.2 master secret (``CLIENT_RANDOM`` line) or None."""
        if client_random is None:
            return None
        return self._entries.get(("CLIENT_RANDOM", bytes(client_random)))

    def secret(self, label, client_random):
        """Any labelled secret (TLS 1.3 traffic secrets ...) or None."""
        if client_random is None:
            return None
        return self._entries.get((label, bytes(client_random)))

    def pre_master(self, encrypted_pre_master):
        """The pre-master from an ``RSA`` line, keyed by the encrypted pre-master's first
        8 bytes, or None."""
        return self._entries.get(("RSA", bytes(encrypted_pre_master[:8])))

    def add(self, label, client_random, secret):
        self._entries[(label, bytes(client_random))] = bytes(secret)

    # -- writing ---------------------------------------------------------------------------

    @staticmethod
    def format_line(label, client_random, secret):
        """One key log line, newline included: ``"CLIENT_RANDOM <hex> <hex>\\n"``."""
        return "%s %s %s\n" % (label, bytes(client_random).hex(), bytes(secret).hex())

    @classmethod
    def write_line(cls, path_or_file, label, client_random, secret):
        """Append one line to a path (created if needed) or to an open text/binary file."""
        line = cls.format_line(label, client_random, secret)
        if isinstance(path_or_file, (str, bytes, os.PathLike)):
            with open(path_or_file, "a", encoding="ascii") as f:
                f.write(line)
            return
        try:
            path_or_file.write(line)
        except TypeError:
            path_or_file.write(line.encode("ascii"))
        flush = getattr(path_or_file, "flush", None)
        if flush is not None:
            flush()
