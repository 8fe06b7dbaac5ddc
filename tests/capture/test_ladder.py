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
