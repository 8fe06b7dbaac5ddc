"""A one-line progress bar on stderr, for captures that take more than a moment.

Off when the stream is not a terminal (pipes, files, CI logs stay clean), and silent for the
first ``delay`` seconds so quick runs never show it. Redrawn at most ten times a second;
``close()`` erases it so the ladder or JSON that follows starts on a clean line.

Why not tqdm or rich: the package depends at run time on scapy and cryptography only (a
third dependency for one status line on stderr is not worth it), and what is needed here is
small and exact: nothing at all unless stderr is a terminal, nothing before ``delay``, one
line erased at the end, never a byte on stdout (tests/test_cli_dissect.py checks all four
through a pseudo-terminal).
"""
import sys
import time

__all__ = ["Progress", "NoProgress"]


class NoProgress:
    """The do-nothing progress: what library callers get by default."""

    enabled = False

    def phase(self, label, total):
        pass

    def update(self, done):
        pass

    def close(self):
        pass

    def clear(self):
        pass


class Progress(NoProgress):
    """``phase(label, total)`` starts a stage, ``update(done)`` moves it, ``close()`` ends."""

    DELAY = 0.5  # seconds before the bar first shows

    def __init__(self, stream=None, delay=None, width=None, clock=time.monotonic):
        self.stream = stream if stream is not None else sys.stderr
        try:
            self.enabled = bool(self.stream.isatty())
        except (AttributeError, ValueError, OSError):
            self.enabled = False
        self.delay = self.DELAY if delay is None else delay
        self.width = width
        self.clock = clock
        self.start = clock()
        self.label = ""
        self.total = 0
        self.shown = False
        self._next_draw = self.start + self.delay

    def phase(self, label, total):
        self.label = label
        self.total = max(int(total), 0)
        if self.enabled:
            self.update(0)

    def update(self, done):
        if not self.enabled:
            return
        now = self.clock()
        if now < self._next_draw:
            return
        self._next_draw = now + 0.1
        self._draw(done)

    def render(self, done):
        """The bar text for ``done`` out of the phase total (no terminal control codes)."""
        width = self.width or _columns(self.stream)
        total = self.total
        frac = min(max(done / total, 0.0), 1.0) if total else 0.0
        tail = " %3d%%" % (frac * 100)
        head = "%-10s " % self.label[:10]
        room = max(width - len(head) - len(tail) - 3, 10)
        filled = int(room * frac)
        return head + "[" + "#" * filled + "." * (room - filled) + "]" + tail

    def _draw(self, done):
        try:
            self.stream.write("\r" + self.render(done))
            self.stream.flush()
            self.shown = True
        except (OSError, ValueError):
            self.enabled = False

    def clear(self):
        """Erase the bar (it comes back on the next update): output follows on the same
        terminal."""
        if self.shown:
            try:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
            except (OSError, ValueError):
                pass
            self.shown = False
            self._next_draw = self.clock() + 0.1

    def close(self):
        self.clear()
        self.enabled = False


def _columns(stream):
    try:
        import os
        return max(os.get_terminal_size(stream.fileno()).columns - 1, 20)
    except (AttributeError, ValueError, OSError):
        return 79
