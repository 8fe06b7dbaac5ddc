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
