"""Checks of the output parser and the notes (run: pytest conformance/; not part of CI)."""

from parse import parse_output
from report import concise, merge, notes_markdown

OUTPUT = """sanity ...
OK

empty key share ...
Error encountered while processing node ExpectAlert(level=2, description=(47,)) (child: \
<tlsfuzzer.expect.ExpectClose object at 0x7f00aa>) with last message being: \
<tlslite.messages.Message object at 0x7f00bb>
Error while processing
Traceback (most recent call last):
  File "runner.py", line 202, in run
    raise AssertionError(
AssertionError: Expected alert description "illegal_parameter" does not match received \
"decode_error"

fuzzed finished ...
OK-expected failure

sanity ...
Error encountered while processing node ExpectServerHello() (child: x) with last message \
being: None
Error while processing
Traceback (most recent call last):
  File "runner.py", line 224, in run
AssertionError: Timeout when waiting for peer message

Test description text...
Test end
====================
version: 4
====================
TOTAL: 4
SKIP: 0
PASS: 1
XFAIL: 1
FAIL: 2
XPASS: 0
====================
FAILED:
\t'empty key share'
\t'sanity'
"""

REPEATED = """"sanity" repeat 0...
OK

"TLS 1.3 with x25519" repeat 0...
OK

"TLS 1.3 with x25519" repeat 1...
OK

ServerHello.random values: OK

TOTAL: 3
PASS: 3
FAIL: 0
"""


def test_probes_and_summary():
    parsed = parse_output(OUTPUT)
    assert parsed["complete"]
    assert parsed["summary"]["FAIL"] == 2
    probes = parsed["probes"]
    assert set(probes) == {"sanity", "empty key share", "fuzzed finished"}
    assert probes["fuzzed finished"]["result"] == "xfail"
    # sanity passed once and failed once: it fails
    assert probes["sanity"]["result"] == "fail"
    error = probes["empty key share"]["error"]
    assert "object at" not in error
    assert concise(error) == "expected alert illegal_parameter; got alert decode_error"


def test_repeated_probes_and_uniqueness():
    probes = parse_output(REPEATED)["probes"]
    assert set(probes) == {"sanity", "TLS 1.3 with x25519", "(ServerHello.random values unique)"}
    assert all(p["result"] == "pass" for p in probes.values())


def test_repeated_probes_without_dots():
    # the TLS 1.2 test-connection-abort prints '"name" repeat N' alone on its line
    text = '"sanity" repeat 0\nOK\n\n"After ClientHello" repeat 0\n' \
           'Error while processing\nTraceback (most recent call last):\n' \
           'AssertionError: Timeout when waiting for peer message\n\nTOTAL: 2\n'
    probes = parse_output(text)["probes"]
    assert probes["sanity"]["result"] == "pass"
    assert probes["After ClientHello"]["result"] == "fail"


def test_tls12_alert_names():
    assert concise("expected ExpectAlert(level=1, description=100); got x") == \
        "expected alert no_renegotiation; got x"


def test_truncated_output_marks_unfinished():
    parsed = parse_output("sanity ...\nOK\n\nslow probe ...\n")
    assert not parsed["complete"]
    assert parsed["probes"]["slow probe"]["result"] == "unfinished"


def test_notes_list_only_what_a_reference_passes():
    def doc(target, results):
        return {"target": target, "set": "tls13", "date": "d", "versions": "v",
                "scripts": {"s": {"status": "done", "probes": results}}}
    bad = {"result": "fail", "error": "expected ExpectAlert(level=2, description=(10,)); "
                                      "got AssertionError: Unexpected message from peer: "
                                      "Alert(fatal, decode_error)"}
    docs = [doc("ours", {"a": bad, "b": bad, "c": {"result": "pass"}}),
            doc("openssl", {"a": {"result": "pass"}, "b": bad, "c": {"result": "pass"}})]
    notes = notes_markdown(merge(docs), docs)
    assert "**1 probe(s) to fix.**" in notes
    assert "`a`: expected alert unexpected_message; got alert decode_error" in notes
    assert "`b`" not in notes
