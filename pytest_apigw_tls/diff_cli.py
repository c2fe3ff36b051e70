"""`apigw-tls diff OLD.json NEW.json`: what changed between two runs (before and after a migration).

Reads any two JSON documents of this tool: the plugin's `--apigw-json` report or `apigw-tls scan --json`
(one target or `--targets`). Targets are matched by identity (address, SNI, endpoint type, claimed
policy, certificate type, access mode), never by display name, which changes when a target is added.
Exit 1 on any regression: a case that now fails or cannot be judged (new cases included), a target
that newly fails, a target that vanished (`--allow-vanished` relaxes that one); else 0. Unreadable
documents are one line and exit 2.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, NamedTuple

from .errors import ConfigError
from .verdicts import INCONCLUSIVE

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
    """identity -> TargetRun, from either document shape."""
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
        if "cases" in document and "targets" in document:
            return _from_plugin(document)
        return _from_scan(document if "identity" not in document else {"target": document})
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ConfigError(f"{path} is not an apigw-tls JSON report ({type(error).__name__}: {error})") from None


def _identity(name: str, entry: dict[str, Any]) -> str:
    identity = entry.get("identity")
    return json.dumps(identity, sort_keys=True) if identity else json.dumps({"name": name})


def _case_key(dimension: str, case_id: str, name: str) -> str:
    return f"{dimension}:{case_id.removeprefix(name + '-')}"


def _from_plugin(document: dict[str, Any]) -> dict[str, TargetRun]:
    runs = {name: TargetRun(name, entry["verdict"], {}) for name, entry in document["targets"].items()}
    for case in document["cases"]:
        name = case["target"]
        case_id = case["nodeid"].split("::")[-1].partition("[")[2].removesuffix("]")
        runs.setdefault(name, TargetRun(name, "unknown", {})).cases[_case_key(case["dimension"], case_id, name)] = (
            case["outcome"], case.get("message", ""))
    return {_identity(name, document["targets"].get(name, {})): run for name, run in runs.items()}


def _from_scan(document: dict[str, Any]) -> dict[str, TargetRun]:
    out = {}
    for name, entry in document.items():
        cases: dict[str, tuple[str, str]] = {}
        for verdict in entry.get("verdicts", []):
            outcome = "skipped" if verdict["verdict"] == "reported" else verdict["verdict"]
            cases[_case_key(verdict["dimension"], verdict["test_id"], name)] = (outcome, verdict["evidence"])
        for access in entry.get("access", []):
            cases[_case_key("access", access["test_id"], name)] = (access["verdict"], access["evidence"])
        for case in entry.get("cases", []):
            cases[_case_key(case["dimension"], case["test_id"], name)] = (case["verdict"], case["message"])
        if "error" in entry:
            cases["target:reachable"] = (INCONCLUSIVE, entry["error"])
        out[_identity(name, entry)] = TargetRun(name, entry["verdict"], cases)
    return out


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

