"""The crafting tour is a real session: every ```python block is fed, line by line, to an
interactive console (as if pasted into the Scapy shell) in a fresh interpreter started in
the repository root, and what it prints must match the ```text block that follows
(doctest rules: ``...`` matches anything, ``<BLANKLINE>`` an empty line).

The tour lives in README.md under "## Crafting in the Scapy shell" (a draft may sit in
docs/CRAFTING.md; every copy present is checked). A README without the section fails."""
import doctest
import json
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
HEADING = "## Crafting in the Scapy shell"


def _sources():
    out = {}
    doc = ROOT / "docs" / "CRAFTING.md"
    if doc.exists():
        out["docs/CRAFTING.md"] = doc.read_text()
    readme = (ROOT / "README.md").read_text()
    if HEADING in readme:
        section = readme.split(HEADING, 1)[1]
        out["README.md"] = section.split("\n## ", 1)[0]
    return out


SOURCES = _sources()

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```\s*$", re.S | re.M)

# Run in the child: the Scapy shell's namespace, then each block through a console that
# records output and failures per block.
_CHILD = r"""
import code, contextlib, io, json, sys
blocks = json.loads(sys.stdin.read())
namespace = {}
exec("from scapy.all import *", namespace)


class Console(code.InteractiveConsole):
    failed = None

    def showtraceback(self):
        import traceback
        self.failed = traceback.format_exc()

    def showsyntaxerror(self, filename=None, **kwargs):
        import traceback
        self.failed = traceback.format_exc()


console = Console(namespace)
results = []
for block in blocks:
    out = io.StringIO()
    console.failed = None
    with contextlib.redirect_stdout(out):
        more = False
        for line in block.splitlines():
            more = console.push(line)
            if console.failed:
                break
        if more and not console.failed:
            console.failed = "block ends inside a statement (needs a blank line to paste)"
    results.append({"out": out.getvalue(), "error": console.failed})
print(json.dumps(results))
"""


def blocks(text):
    """[(code, expected_output or None)] in document order."""
    fences = _FENCE.findall(text)
    out = []
    for i, (lang, body) in enumerate(fences):
        if lang == "python":
            nxt = fences[i + 1] if i + 1 < len(fences) else None
            out.append((body, nxt[1] if nxt and nxt[0] == "text" else None))
        else:
            assert lang == "text" and i and fences[i - 1][0] == "python", \
                "only python blocks and their output in CRAFTING.md"
    return out


def test_the_tour_exists():
    assert "README.md" in SOURCES


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_the_tour_has_the_promised_steps(source):
    text = "\n".join(code for code, _ in blocks(SOURCES[source]))
    for step in ('conf.exts.load("scapy-tls-hs")', "TLSClientHello(", "ciphers=", "ext=[",
                 ".show()", "raw(", "TLSRecord() /", "pcaps/", "TCPSession"):
        assert step in text, step
    assert all(expected is not None for _, expected in blocks(SOURCES[source])[1:])


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_every_snippet_runs_and_prints_what_the_page_says(source):
    cases = blocks(SOURCES[source])
    proc = subprocess.run([sys.executable, "-c", _CHILD], input=json.dumps(
        [code for code, _ in cases]), cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    checker = doctest.OutputChecker()
    flags = doctest.ELLIPSIS
    for (code, expected), result in zip(cases, results):
        assert result["error"] is None, "%s\n%s" % (code, result["error"])
        if expected is not None:
            assert checker.check_output(expected, result["out"], flags), (
                "block:\n%s\nexpected:\n%s\ngot:\n%s" % (code, expected, result["out"]))


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_the_real_scapy_shell_runs_the_tour(source):
    """The same page piped into ``scapy -H`` (the shell users start): no traceback, and
    every output the page shows appears (colour codes aside)."""
    import os
    import shutil
    scapy = shutil.which("scapy") or os.path.join(os.path.dirname(sys.executable), "scapy")
    if not os.path.exists(scapy):
        pytest.skip("no scapy executable next to this Python")
    cases = blocks(SOURCES[source])
    session = "\n\n".join(code for code, _ in cases) + "\n"
    proc = subprocess.run([scapy, "-H"], input=session, cwd=ROOT, capture_output=True,
                          text=True, timeout=180)
    output = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)
    assert proc.returncode == 0 and "Traceback" not in output and "Error" not in output, \
        output[-3000:]
    for _, expected in cases:
        if expected and "..." not in expected:
            text = expected.replace("<BLANKLINE>", "").rstrip()
            assert text in output, text
