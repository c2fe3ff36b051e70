"""The report model: what each conformance case ended as, per target and dimension, with run metadata.

One model, built from case outcomes and scan documents; the terminal summary, the JSON report, the
Markdown and HTML pages (pages.py) and `apigw-tls diff` all read it and none re-derives a verdict.
Case outcomes come from test reports (their user_properties name the target and dimension), so the
same code works in a plain run and on the pytest-xdist controller.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Any

import pytest

from ..judgement import CONFORMS, dimension_counts, target_verdict
from ..probing.targets import BEHIND
from ..vocabulary import FAIL, INCONCLUSIVE, PASS, Dimension
from .document import SKIPPED, case_entry, document

TARGET_KEY, DIMENSION_KEY, MESSAGE_KEY = "apigw_target", "apigw_dimension", "apigw_message"


@dataclasses.dataclass
class CaseLog:
    """nodeid -> (target, dimension, outcome, message); outcome is pass, fail, inconclusive (an error) or skipped."""

    outcomes: dict[str, tuple[str, str, str, str]] = dataclasses.field(default_factory=dict)

    def record(self, report: pytest.TestReport) -> None:
        properties = dict(report.user_properties)
        if TARGET_KEY not in properties:
            return
        if report.when == "setup" and report.failed:
            outcome = INCONCLUSIVE
        elif report.skipped:
            outcome = SKIPPED
        elif report.when == "call":
            outcome = PASS if report.passed else FAIL
        else:
            return
        message = ""
        if report.skipped and isinstance(report.longrepr, tuple):
            message = str(report.longrepr[2])
        elif report.failed:  # the case's own words, set by the plugin when the report was made
            message = str(properties.get(MESSAGE_KEY) or (report.longreprtext.strip().splitlines() or [""])[-1])
        self.outcomes[report.nodeid] = (str(properties[TARGET_KEY]), str(properties[DIMENSION_KEY]), outcome, message)


def build_report(log: CaseLog, documents: dict[str, Any], metadata: dict[str, Any]) -> dict[str, Any]:
    """The report document (document.py) of a pytest run, in a stable order."""
    cases = []
    for nodeid in sorted(log.outcomes):
        name, dimension, outcome, message = log.outcomes[nodeid]
        case_id = nodeid.split("::")[-1].partition("[")[2].removesuffix("]")
        cases.append(case_entry(name, dimension, case_id, outcome, message, nodeid))
    by_target: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for entry in cases:
        by_target[entry["target"]].append(entry)
    targets: dict[str, Any] = {}
    scans = documents.get("scans", {})
    named = set(by_target) | set(documents.get("access", {})) | {n for n in scans if not _behind(n)}
    for name in named:
        verdict = target_verdict(c["outcome"] for c in by_target[name])
        target: dict[str, Any] = {"identity": documents.get("identities", {}).get(name, {"name": name}),
                                  "verdict": verdict, "conforms": verdict == CONFORMS,
                                  "dimensions": dimension_counts((c["dimension"], c["outcome"])
                                                                 for c in by_target[name])}
        if name in scans:
            target["scan"] = scans[name]
        if name + BEHIND in scans:  # the API's default endpoint: judged in this target's alignment case
            target["default_endpoint_scan"] = scans[name + BEHIND]
        if name in documents.get("access", {}):
            target["access"] = documents["access"][name]
        targets[name] = target
    return document({**metadata, "scans_run": documents.get("scans_run", 0)}, targets, cases)


def _behind(name: str) -> bool:
    return name.endswith(BEHIND)


def summary_lines(report: dict[str, Any]) -> list[str]:
    """Target by dimension: pass / fail / inconclusive, then the verdict counts and probe totals."""
    targets = report["targets"]
    if not targets:
        return []
    dimensions = [d for d in Dimension if any(d in t["dimensions"] for t in targets.values())]
    width = max(len(n) for n in targets) + 2
    lines = [f"{'target':<{width}}" + "".join(f"{d:>14}" for d in dimensions) + "   verdict",
             f"{'':<{width}}" + "".join(f"{'pass/fail/inc':>14}" for _ in dimensions)]
    for name, entry in targets.items():
        cells = []
        for dimension in dimensions:
            c = entry["dimensions"].get(dimension)
            cells.append(f"{c.get(PASS, 0)}/{c.get(FAIL, 0)}/{c.get(INCONCLUSIVE, 0)}" if c else "-")
        shown = {"conforms": "conforms", "violations": "VIOLATIONS", "errors": "ERRORS"}[entry["verdict"]]
        lines.append(f"{name:<{width}}" + "".join(f"{cell:>14}" for cell in cells) + f"   {shown}")
    lines += _error_reasons(report)
    verdicts = collections.Counter(entry["verdict"] for entry in targets.values())
    lines.append(f"{len(targets)} targets: {verdicts['conforms']} conform, {verdicts['violations']} with violations, "
                 f"{verdicts['errors']} with errors (unreachable or inconclusive)")
    scans = [entry["scan"] for entry in targets.values() if "scan" in entry]
    if scans:
        lines.append(f"{len(scans)} scans, {sum(s['probes'] for s in scans)} probes, "
                     f"{sum(s['elapsed_s'] for s in scans):.2f}s of probing (summed over targets scanned side by side)")
        for name, entry in targets.items():
            if "scan" in entry and entry["scan"].get("cert_type", "").count(","):
                lines.append(f"{name}: certificates seen: {entry['scan']['cert_type']}")
            for note in entry.get("scan", {}).get("notes", ()):
                lines.append(f"{name}: {note}")
    return lines


def _error_reasons(report: dict[str, Any]) -> list[str]:
    """One line per target that could not be judged: its most common reason once, with how many cases
    share it (a dead target errs in every case, and 78 identical lines say less than one)."""
    reasons: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for case in report["cases"]:
        if case["outcome"] == INCONCLUSIVE:
            reasons[case["target"]][case["message"].removeprefix("inconclusive: ")] += 1
    lines = []
    for name, counter in sorted(reasons.items()):
        message, count = counter.most_common(1)[0]
        total = sum(counter.values())
        share = f"{count} of {total} errors" if count != total else f"{total} errors"
        lines.append(f"{name}: {share}: {message[:300]}")
    return lines
