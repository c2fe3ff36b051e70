"""Reporting: what each conformance case ended as, the terminal summary and the JSON report."""

from __future__ import annotations

import collections
import dataclasses
import json
from typing import Any

import pytest

from .scan import FAIL, INCONCLUSIVE, PASS
from .session import Case, ScanCache


@dataclasses.dataclass
class CaseLog:
    """nodeid -> (case, outcome, message); outcome is pass, fail, inconclusive (an error) or skipped."""

    outcomes: dict[str, tuple[Case, str, str]] = dataclasses.field(default_factory=dict)

    def record(self, case: Case, report: pytest.TestReport) -> None:
        if report.when == "setup" and report.failed:
            outcome = INCONCLUSIVE
        elif report.skipped:
            outcome = "skipped"
        elif report.when == "call":
            outcome = PASS if report.passed else FAIL
        else:
            return
        message = report.longreprtext.strip().splitlines()[-1] if report.failed and report.longreprtext else ""
        self.outcomes[report.nodeid] = (case, outcome, message)


def summary_lines(log: CaseLog, cache: ScanCache | None) -> list[str]:
    """Target by dimension: pass / fail / inconclusive, then probe counts and times per scan."""
    counts: dict[tuple[str, str], collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for case, outcome, _message in log.outcomes.values():
        counts[(case.target.name, case.dimension)][outcome] += 1
    dimensions = [d for d in ("version", "suite", "group", "sni", "access", "cert")
                  if any(dim == d for _, dim in counts)]
    names = list(dict.fromkeys(name for name, _ in counts))
    width = max(len(n) for n in names) + 2
    lines = [f"{'target':<{width}}" + "".join(f"{d:>14}" for d in dimensions) + "   verdict",
             f"{'':<{width}}" + "".join(f"{'pass/fail/inc':>14}" for _ in dimensions)]
    for name in names:
        cells, bad = [], False
        for dimension in dimensions:
            c = counts.get((name, dimension))
            cells.append(f"{c[PASS]}/{c[FAIL]}/{c[INCONCLUSIVE]}" if c else "-")
            bad = bad or bool(c and (c[FAIL] or c[INCONCLUSIVE]))
        lines.append(f"{name:<{width}}" + "".join(f"{cell:>14}" for cell in cells)
                     + ("   VIOLATIONS" if bad else "   conforms"))
    if cache is not None and cache.scans():
        scans = cache.scans().values()
        lines.append(f"{len(scans)} scans, {sum(s.probes for s in scans)} probes, "
                     f"{sum(s.elapsed for s in scans):.1f}s of probing")
    return lines


def write_json_report(path: str, log: CaseLog, cache: ScanCache | None) -> None:
    document: dict[str, Any] = {"targets": {}, "cases": []}
    if cache is not None:
        for name, result in cache.scans().items():
            document["targets"].setdefault(name, {})["scan"] = result.to_dict()
        for name, verdicts in cache.access_results().items():
            document["targets"].setdefault(name, {})["access"] = [v.to_dict() for v in verdicts]
    for nodeid, (case, outcome, message) in log.outcomes.items():
        document["cases"].append({"nodeid": nodeid, "target": case.target.name, "dimension": case.dimension,
                                  "outcome": outcome, "message": message})
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2)
