"""The readable ladder and the progress bar (capture/ladder.py, capture/progress.py)."""
import io
import pathlib

from scapy_tls_hs.capture.dissect import dissect_capture
from scapy_tls_hs.capture.ladder import render
from scapy_tls_hs.capture.progress import Progress

CAPTURES = pathlib.Path(__file__).resolve().parent.parent / "data" / "captures"


def test_ladder_fits_the_width_and_lists_every_message():
    name = "resume_session_id_openssl"
    reports = dissect_capture(CAPTURES / (name + ".pcap"),
                              keylog=str(CAPTURES / (name + ".keylog")))
    for width in (80, 60):
        text = render(reports, width=width)
        assert all(len(line) <= width for line in text.splitlines())
    text = render(reports, width=80)
    assert text.count("#1 ") == 1 and text.count("#2 ") == 1
    assert "resumed" in text and "full handshake" in text
    arrows = [line for line in text.splitlines() if " C->S " in line or " C<-S " in line]
    assert len(arrows) == sum(len(r.messages) for r in reports)
    assert "verify_data ok" in text


def test_ladder_shows_errors():
    name = "tls12_ecdhe_rsa_aes128gcm_openssl"
    reports = dissect_capture(CAPTURES / (name + ".pcap"),
                              keylog=str(CAPTURES / "ems_off_gnutls.keylog"))
    text = render(reports, width=80)
    assert "! no keys for this connection" in text
    assert "decrypted: no" in text


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_only_on_a_terminal_and_after_the_delay():
    now = [0.0]
    quiet = io.StringIO()
    p = Progress(quiet, clock=lambda: now[0])
    p.phase("reading", 100)
    now[0] = 5
    p.update(50)
    p.close()
    assert quiet.getvalue() == ""

    tty = _Tty()
    p = Progress(tty, delay=0.5, width=40, clock=lambda: now[0])
    p.phase("reading", 100)
    p.update(10)
    assert tty.getvalue() == ""            # not yet: quick runs never show a bar
    now[0] += 1
    p.update(50)
    assert "50%" in tty.getvalue() and "[" in tty.getvalue()
    assert len(p.render(50)) <= 40
    p.close()
    assert tty.getvalue().endswith("\r\x1b[K")


def _captures():
    pcaps = CAPTURES.parent.parent.parent / "pcaps"
    return sorted(p for folder in (CAPTURES, pcaps) for p in folder.iterdir()
                  if p.suffix in (".pcap", ".pcapng"))


def test_every_capture_fits_80_columns_with_and_without_keys():
    paths = _captures()
    assert len(paths) >= 17 + 6
    for path in paths:
        keylog = path.with_suffix(".keylog")
        for keys in (str(keylog), None):
            reports = dissect_capture(path, keylog=keys)
            text = render(reports, width=80)
            lines = text.splitlines()
            assert all(len(line) <= 80 for line in lines), (path.name, max(lines, key=len))
            arrows = [line for line in lines if " C->S " in line or " C<-S " in line]
            assert len(arrows) == sum(len(r.messages) for r in reports)


def test_long_fact_lines_wrap_instead_of_overflowing():
    class Report:
        client, server = "[2001:db8::ffff:7f00:1]:40000", "[2001:db8::ffff:7f00:2]:24110"
        version, cipher_suite = "TLS 1.2", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
        resumed, session_id, extended_master_secret = True, "ab" * 32, True
        sni, alpn, client_auth = "a-rather-long-host-name.example.test", "http/1.1", True
        decrypted, key_source, app_data = False, "session", None
        start_time, ladder = 0.0, [(0.5, "server", "encrypted_handshake", "x" * 90)]
        errors = ["server->client: cannot decrypt the first handshake record (bad_record_mac): "
                  "the earlier session's key does not fit"]
    text = render([Report()], width=80)
    assert all(len(line) <= 80 for line in text.splitlines())
    Report.server = "[2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff]:24110"
    text = render([Report()], width=80)
    assert all(len(line) <= 80 for line in text.splitlines())
    assert Report.client in text and Report.server in text   # wrapped, not cut
    flat = " ".join(text.split())
    assert "did not verify both Finished" in flat and "does not fit" in flat


# -- --data: text when printable, else a hex dump, the first 64 KiB of each direction --------

class _Records:
    """What ``render_data`` reads of a report: its decrypted application data records."""

    def __init__(self, client=(), server=(), decrypted=True):
        from scapy_tls_hs.capture.dissect import ConnectionReport
        self._records = [(0.0, "client", 23, 0x0303, p, decrypted) for p in client] + [
            (0.0, "server", 23, 0x0303, p, decrypted) for p in server]
        self.messages = ["C:application_data"] * len(self._records)
        self.application_data = ConnectionReport.application_data.__get__(self)


def test_data_binary_is_a_hex_dump_cut_at_the_limit():
    from scapy_tls_hs.capture.ladder import DATA_LIMIT, data_dict, render_data
    blob = bytes(range(256)) * 300                       # 76800 bytes, in two records
    report = _Records(client=[blob[:40000], blob[40000:]], server=[b"ok\r\n"])
    text = render_data(report, width=80)
    lines = text.splitlines()
    assert lines[0] == "    data C->S (76800 bytes, first %d shown, hex):" % DATA_LIMIT
    assert lines[1] == ("      0000  00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f  "
                        "................")
    assert lines[3] == ("      0020  20 21 22 23 24 25 26 27 28 29 2a 2b 2c 2d 2e 2f  "
                        " !\"#$%&'()*+,-./")
    assert len(lines) == 1 + DATA_LIMIT // 16 + 2
    assert lines[-2:] == ["    data C<-S (4 bytes):", "      ok"]
    assert all(len(line) <= 80 for line in lines)
    got = data_dict(report)
    assert got["client"]["truncated"] is True and got["client"]["bytes"] == 76800
    assert bytes.fromhex(got["client"]["hex"]) == blob[:DATA_LIMIT]
    assert got["server"] == {"bytes": 4, "text": "ok\r\n"}


def test_data_text_rules():
    from scapy_tls_hs.capture.ladder import render_data
    # Control characters (a terminal escape) are not text; long lines are folded, not cut.
    report = _Records(client=[b"\x1b[2Jhello\n"], server=[b"x" * 100 + b"\n"])
    text = render_data(report, width=40)
    assert "data C->S (10 bytes, hex):" in text and "\x1b" not in text
    folded = [line for line in text.splitlines() if set(line.strip()) == {"x"}]
    assert "".join(line.strip() for line in folded) == "x" * 100
    assert all(len(line) <= 40 for line in folded) and len(folded) == 3
    # UTF-8 cut by the limit in the middle of a character is still text.
    report = _Records(client=["\u00e9".encode() * 40000])
    text = render_data(report, width=80, limit=65535)
    assert "first 65535 shown):" in text and "\u00e9" in text
    # Records that were not decrypted are never shown as data.
    report = _Records(client=[b"secret"], decrypted=False)
    assert render_data(report) == "    data: not decrypted\n"


def test_certificate_lines_follow_the_certificate_message():
    name = "mutual_auth_rsa_openssl"
    (report,) = dissect_capture(CAPTURES / (name + ".pcap"),
                                keylog=str(CAPTURES / (name + ".keylog")))
    assert [c.direction for c in report.certificates] == ["server", "client"]
    assert report.certificates[1].count >= 1
    text = render([report], width=80)
    lines = text.splitlines()
    certs = [i for i, line in enumerate(lines) if "  certificate  " in line]
    assert len(certs) == 2
    for i, chain in zip(certs, report.certificates):
        assert lines[i + 1].strip() == "subject: " + chain.subject
        assert lines[i + 2].strip().startswith("issuer:")
    # JSON stays as it was: no X.509 parse needed for it
    assert "certificates" not in report.to_dict()


def test_progress_is_stderr_only_and_says_why_it_is_hand_written():
    """Issue 13 section 5: tqdm/rich would be a third runtime dependency; the docstring
    says so, and the bar writes to the stream it was given (stderr) only."""
    from scapy_tls_hs.capture import progress
    assert "tqdm" in progress.__doc__ and "dependenc" in progress.__doc__
    assert Progress().stream is __import__("sys").stderr
