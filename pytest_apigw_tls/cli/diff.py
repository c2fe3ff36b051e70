"""`apigw-tls diff OLD.json NEW.json`: what changed between two runs (before and after a migration).

Reads any two report documents (document.py): the plugin's `--apigw-json` or `apigw-tls scan --json`
(one target or `--targets`), one schema. Targets are matched by identity (address, SNI, endpoint type, claimed
policy, certificate type, access mode), never by display name, which changes when a target is added.
Exit 1 on any regression: a case that now fails or cannot be judged (new cases included), a target
that newly fails, a target that vanished (`--allow-vanished` relaxes that one); else 0. Unreadable
documents are one line and exit 2.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, NamedTuple

from ..vocabulary import INCONCLUSIVE

_WORSE = {"fail", INCONCLUSIVE}


class TargetRun(NamedTuple):
    """One target as one run saw it: its name there, its verdict, and case key -> (outcome, message)."""

    name: str
    verdict: str
    cases: dict[str, tuple[str, str]]


def register(commands: Any) -> None:
    parser = commands.add_parser("diff", help="compare two JSON reports (plugin or scan), per target",
                                 description="Say, per target, which verdicts changed between two runs; exit 1 on "
                                             "a regression: a case now failing or undecided, a target newly "
                                             "failing, or a target gone.")
    parser.add_argument("old", metavar="OLD.json")
    parser.add_argument("new", metavar="NEW.json")
    parser.add_argument("--allow-vanished", action="store_true", help="a target missing from NEW is no regression")
    parser.set_defaults(run=run_diff)


def load_targets(path: str) -> dict[str, TargetRun]:
    """identity -> TargetRun, from a report document (document.py) of either front-end."""
    from ..reports.document import read

    document = read(path)
    runs = {}
    for name, entry in document["targets"].items():
        cases = {f"{c['dimension']}:{c['case']}": (c["outcome"], c.get("message", ""))
                 for c in document["cases"] if c["target"] == name}
        if "error" in entry:  # no case could be asked: one line for the target
            cases["target:reachable"] = (INCONCLUSIVE, entry["error"])
        runs[json.dumps(entry["identity"], sort_keys=True)] = TargetRun(name, entry["verdict"], cases)
    return runs


def run_diff(args: argparse.Namespace) -> int:
    old, new = load_targets(args.old), load_targets(args.new)
    regressions, changed, lines = 0, 0, []
    for identity in sorted(set(old) | set(new), key=lambda i: (new.get(i) or old[i]).name):
        before, after = old.get(identity), new.get(identity)
        if after is None:
            assert before is not None  # the identity came from one of the two runs
            regressions += not args.allow_vanished
            lines.append(f"{before.name}: {'REGRESSION ' if not args.allow_vanished else ''}vanished "
                         f"(was {before.verdict})")
            continue
        if before is None and after.verdict != "conforms":
            regressions += 1
            lines.append(f"{after.name}: REGRESSION new target, {after.verdict}")
        elif before is not None and before.name != after.name:
            lines.append(f"{after.name}: the same target as {before.name} in OLD")
        target_lines = []
        for key in sorted(set(before.cases if before else {}) | set(after.cases)):
            was = before.cases.get(key, ("absent", ""))[0] if before else "absent"
            now, message = after.cases.get(key, ("absent", ""))
            if was == now:
                continue
            regression = now in _WORSE and was != now
            regressions += regression
            changed += 1
            target_lines.append(f"  {'REGRESSION ' if regression else ''}{key}: {was} -> {now}"
                                + (f": {message}" if regression and message else ""))
        if target_lines:
            lines.append(f"{after.name}: {len(target_lines)} changed")
            lines += target_lines
    print("\n".join(lines) if lines else "no change")
    print(f"{changed} cases changed, {len(old)} targets before, {len(new)} after, {regressions} regressions")
    return 1 if regressions else 0

