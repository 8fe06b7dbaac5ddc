"""Side-by-side tables from per-target result documents.

`merge` gives {script: {probe: {target: {"result", "error"?}}}}; a probe a target did
not run (script timed out, server missing) has no entry for that target.
`notes_markdown` lists what the server engineers must fix: probes that fail (or did
not finish) on ours but pass on openssl or gnutls.
"""

from __future__ import annotations

import datetime as dt
import re

_ORDER = ("ours", "openssl", "gnutls")

# RFC 8446 section 6 and RFC 5246 section 7.2 alert numbers, to print
# ExpectAlert(description=47) as a name.
_ALERTS = {0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac",
           21: "decryption_failed", 22: "record_overflow", 30: "decompression_failure",
           40: "handshake_failure", 41: "no_certificate", 42: "bad_certificate",
           43: "unsupported_certificate", 44: "certificate_revoked",
           45: "certificate_expired", 46: "certificate_unknown", 47: "illegal_parameter",
           48: "unknown_ca", 49: "access_denied", 50: "decode_error", 51: "decrypt_error",
           60: "export_restriction", 70: "protocol_version", 71: "insufficient_security",
           80: "internal_error", 86: "inappropriate_fallback", 90: "user_canceled",
           100: "no_renegotiation", 109: "missing_extension", 110: "unsupported_extension",
           111: "certificate_unobtainable", 112: "unrecognized_name",
           113: "bad_certificate_status_response", 115: "unknown_psk_identity",
           116: "certificate_required", 120: "no_application_protocol"}
_EXPECT_ALERT = re.compile(r"ExpectAlert\((?:level=\d+, )?description=\(?([\d, ]+?),?\)?\)")


def _alert_names(match: re.Match) -> str:
    names = [_ALERTS.get(int(n), n) for n in match.group(1).replace(" ", "").split(",") if n]
    return "alert " + "|".join(names)


def concise(error: str) -> str:
    """'expected alert X; got alert Y' style, for the notes file."""
    text = _EXPECT_ALERT.sub(_alert_names, error)
    text = text.replace("AssertionError: ", "").replace("Unexpected message from peer: ", "")
    text = re.sub(r'Expected alert description "\w+" does not match received "(\w+)"',
                  r"alert \1", text)
    text = re.sub(r"Alert\(fatal, (\w+)\)", r"alert \1", text)
    return text


def _targets(docs: list[dict]) -> list[str]:
    present = [d["target"] for d in docs]
    return [t for t in _ORDER if t in present]


def merge(docs: list[dict]) -> dict:
    table: dict[str, dict[str, dict]] = {}
    for doc in docs:
        for script, res in doc["scripts"].items():
            probes = table.setdefault(script, {})
            for probe, entry in res.get("probes", {}).items():
                probes.setdefault(probe, {})[doc["target"]] = entry
    return table


def _count(res: dict) -> str:
    probes = res.get("probes", {})
    if res.get("status") == "no-server":
        return "no server"
    passed = sum(1 for p in probes.values() if p["result"] in ("pass", "xfail"))
    text = f"{passed}/{len(probes)}"
    if res.get("status") in ("timeout", "error"):
        text += f" ({res['status']})"
    if res.get("server_died"):
        text += " (server died)"
    return text


def comparison_markdown(table: dict, docs: list[dict]) -> str:
    targets = _targets(docs)
    by_target = {d["target"]: d for d in docs}
    lines = ["# tlsfuzzer comparison", ""]
    for t in targets:
        d = by_target[t]
        lines.append(f"- {t}: {d.get('versions', '?')}, set {d.get('set')}, seed {d.get('seed')},"
                     f" run {d.get('date')}")
    lines += ["", "Distinct probes passed / run (sanity counted once).", "",
              "| script | " + " | ".join(targets) + " |",
              "|---|" + "---|" * len(targets)]
    scripts = list(dict.fromkeys(s for d in docs for s in d["scripts"]))
    totals = {t: [0, 0] for t in targets}
    for script in scripts:
        cells = []
        for t in targets:
            res = by_target[t]["scripts"].get(script)
            cells.append(_count(res) if res else "-")
            if res:
                probes = res.get("probes", {})
                totals[t][0] += sum(1 for p in probes.values() if p["result"] in ("pass", "xfail"))
                totals[t][1] += len(probes)
        lines.append(f"| {script} | " + " | ".join(cells) + " |")
    lines.append("| **total** | " + " | ".join(f"**{a}/{b}**" for a, b in totals.values()) + " |")
    lines += ["", "## Probes that do not pass everywhere", ""]
    for script in scripts:
        rows = []
        for probe, per in sorted(table.get(script, {}).items()):
            results = {t: per.get(t, {}).get("result", "not run") for t in targets}
            if all(r in ("pass", "xfail") for r in results.values()):
                continue
            errs = [f"{t}: {per[t]['error']}" for t in targets
                    if t in per and per[t].get("error")]
            rows.append(f"- `{probe}`: " + ", ".join(f"{t} {r}" for t, r in results.items())
                        + ("  \n  " + "  \n  ".join(errs) if errs else ""))
        if rows:
            lines += [f"### {script}", *rows, ""]
    return "\n".join(lines) + "\n"


_SHOWN = 4


def notes_markdown(table: dict, docs: list[dict], triage: str = "") -> str:
    """Short list for the server engineers: fails on ours, passes on a reference.

    Probes failing the same way are grouped; `triage` (hand-written causes, kept in a
    file of its own so reruns do not lose it) goes on top."""
    by_target = {d["target"]: d for d in docs}
    ours = by_target.get("ours")
    refs = [t for t in ("openssl", "gnutls") if t in by_target]
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    set_name = docs[0].get("set", "tls13") if docs else "tls13"
    tls12 = set_name == "tls12"
    lines = ["# tlsfuzzer: probes failing on ours that pass on " + " or ".join(refs), "",
             f"Written {now}; ours run {ours.get('date') if ours else '-'}: "
             f"{ours.get('versions', '?') if ours else 'not run'}; "
             f"references: " + ", ".join(f"{t} ({by_target[t].get('date')})" for t in refs) + ".",
             f"Rerun: `python conformance/run_tlsfuzzer.py ours{' --tls12' if tls12 else ''} "
             f"--baseline conformance/expected/openssl-{set_name}.json --baseline "
             f"conformance/expected/gnutls-{set_name}.json` (one script: `--scripts NAME`; "
             "logs in the printed folder). Lines: probe(s): what tlsfuzzer expected; what it got "
             "(which reference passes it).",
             ""]
    if not ours:
        return "\n".join(lines + ["ours was not run."]) + "\n"
    total = 0
    for script, res in ours["scripts"].items():
        groups: dict[str, list[str]] = {}
        for probe, per in sorted(table.get(script, {}).items()):
            mine = per.get("ours", {}).get("result", "not run")
            if mine in ("pass", "xfail", "not run"):
                continue        # "not run" is summarised per script below
            good = [t for t in refs if per.get(t, {}).get("result") in ("pass", "xfail")]
            if not good:
                continue
            why = concise(per.get("ours", {}).get("error", "")) or mine
            groups.setdefault(f"{why} (passes on {'/'.join(good)})", []).append(probe)
        not_run = [p for p, per in table.get(script, {}).items()
                   if "ours" not in per and any(per.get(t, {}).get("result") == "pass"
                                                for t in refs)]
        head = []
        if res.get("status") in ("timeout", "error", "no-server") or res.get("server_died"):
            why = res.get("status") + (", server died" if res.get("server_died") else "")
            head.append(f"- script status: {why}"
                        + (f" — {res['error']}" if res.get("error") else ""))
        if not_run and res.get("status") != "no-server":
            head.append(f"- {len(not_run)} probe(s) passing elsewhere did not run on ours")
        if res.get("server_missing"):
            head.append("- server lacks: " + ", ".join(res["server_missing"]))
        items = []
        for why, probes in groups.items():
            total += len(probes)
            if len(probes) == 1:
                items.append(f"- `{probes[0]}`: {why}")
                continue
            shown = ", ".join(f"`{p}`" for p in probes[:_SHOWN])
            more = f", … {len(probes) - _SHOWN} more" if len(probes) > _SHOWN else ""
            items.append(f"- {len(probes)} probes ({shown}{more}): {why}")
        if items or head:
            lines += [f"## {script}", *head, *items, ""]
    lines.insert(2, f"**{total} probe(s) to fix.**\n")
    if triage:
        lines.insert(3, triage.rstrip() + "\n")
    return "\n".join(lines) + "\n"
