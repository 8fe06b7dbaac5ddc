"""Per-probe results from a tlsfuzzer script's output.

A script prints, for each probe, "<name> ..." and then "OK", "OK-expected failure",
"XPASS-..." or, on failure, "Error encountered while processing node <node> (child:
...) with last message being: <msg>", "Error while processing" and a traceback. It
ends with TOTAL/SKIP/PASS/XFAIL/FAIL/XPASS counters and a FAILED: list of repr'd
names, which is taken as authoritative for failures. "sanity" probes run more than
once; a name fails when any of its runs failed.
"""

from __future__ import annotations

import ast
import re

_COUNTER = re.compile(r"^(TOTAL|SKIP|PASS|XFAIL|FAIL|XPASS): (\d+)$")
_NODE = re.compile(r"^Error encountered while processing node (.*) \(child: .*\) with last "
                   r"message being: (.*)$")
# "name ..." for most scripts; '"name" repeat N...' for the ones that repeat probes
# ('"name" repeat N', no dots, in the TLS 1.2 test-connection-abort).
_START = re.compile(r'^(?:"(?P<repeated>.*)" repeat \d+(?:\.\.\.)?|(?P<name>\S.*) \.\.\.)$')
# Scripts that check values across connections (serverhello-random, key share random).
_UNIQUE_OK = re.compile(r"^(.+) values: OK$")
_UNIQUE_BAD = re.compile(r"^(?:Unexpected number of values|Duplicated entries) in '(.+)'")
_OBJECT = re.compile(r"<(?:[\w.]+\.)?(\w+) object at 0x[0-9a-f]+>")
_LIMIT = 220


def _short(text: str) -> str:
    # "<tlsfuzzer.expect.ExpectCertificate object at 0x7f..>" -> "ExpectCertificate", so
    # lines are stable between runs and comparable between targets.
    text = _OBJECT.sub(r"\1", " ".join(text.split()))
    return text if len(text) <= _LIMIT else text[:_LIMIT - 1] + "…"


def _exception_line(block: list[str]) -> str:
    """The final 'SomeError: message' line of the traceback in a probe's output."""
    in_tb = False
    last = ""
    for line in block:
        if line.startswith("Traceback (most recent call last)"):
            in_tb = True
            continue
        if in_tb and line and not line.startswith(" "):
            last = line
            in_tb = False
    return last


def _describe(block: list[str]) -> str:
    """'expected <node>; got <exception>' in one line."""
    node = ""
    for line in block:
        match = _NODE.match(line)
        if match:
            node = match.group(1)
    exc = _exception_line(block)
    if node and exc:
        return _short(f"expected {node}; got {exc}")
    return _short(exc or node or "failed (no exception text)")


def parse_output(text: str) -> dict:
    """{"summary": {...}, "probes": {name: {"result": ..., "error": ...}}, "complete": bool}."""
    lines = text.splitlines()
    summary: dict[str, int] = {}
    probes: dict[str, dict] = {}
    failed_list: list[str] | None = None

    current: str | None = None
    block: list[str] = []

    def close() -> None:
        if current is None:
            return
        result = None
        for line in block:
            if line == "OK":
                result = "pass"
            elif line == "OK-expected failure":
                result = "xfail"
            elif line.startswith("XPASS"):
                result = "xpass"
            elif line.startswith("Error while processing") or line.startswith("Expected error"):
                result = "fail"
            if result:
                break
        if result is None:
            result = "unfinished"       # output ended inside the probe (timeout, crash)
        entry = {"result": result}
        if result in ("fail", "unfinished") and block:
            entry["error"] = _describe(block) if result == "fail" else "script ended in probe"
        old = probes.get(current)
        if old is None or (old["result"] == "pass" and result != "pass"):
            probes[current] = entry

    in_failed = False
    for line in lines:
        counter = _COUNTER.match(line)
        if counter:
            close()
            current, block = None, []
            summary[counter.group(1)] = int(counter.group(2))
            continue
        if line in ("FAILED:", "XPASSED:"):
            close()
            current, block = None, []
            in_failed = line == "FAILED:"
            if in_failed:
                failed_list = []
            continue
        if line.startswith("\t") and in_failed and failed_list is not None:
            try:
                failed_list.append(ast.literal_eval(line.strip()))
            except (ValueError, SyntaxError):
                pass
            continue
        start = _START.match(line)
        if start and not line.startswith(("Traceback", "AssertionError")) and \
                (current is None or _finished(block)):
            close()
            current, block = start.group("repeated") or start.group("name"), []
            continue
        unique = _UNIQUE_OK.match(line) or _UNIQUE_BAD.match(line)
        if unique and current is not None and _finished(block):
            close()
            current, block = None, []
        if unique and current is None:
            key = f"({unique.group(1)} values unique)"
            probes[key] = ({"result": "pass"} if line.endswith("values: OK")
                           else {"result": "fail", "error": _short(line)})
            continue
        if current is not None:
            block.append(line)
    close()

    for name in failed_list or []:
        if name in probes and probes[name]["result"] != "fail":
            probes[name] = {"result": "fail", "error": probes[name].get("error", "listed as FAILED")}
        elif name not in probes:
            probes[name] = {"result": "fail", "error": "listed as FAILED"}
    return {"summary": summary, "probes": probes, "complete": "TOTAL" in summary}


def _finished(block: list[str]) -> bool:
    """Whether a probe's result line was already printed (so a new probe may start)."""
    return any(line in ("OK", "OK-expected failure") or line.startswith("XPASS")
               or line.startswith("Error while processing") for line in block)
