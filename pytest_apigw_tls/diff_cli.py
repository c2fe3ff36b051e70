"""`apigw-tls diff OLD.json NEW.json`: which verdicts changed between two runs (before and after a migration).

Reads two `--apigw-json` reports; per target, every case whose outcome changed. Exit 1 when a case that
passed now fails or cannot be judged, else 0; unreadable reports are one line and exit 2.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from .errors import ConfigError
from .verdicts import PASS

_WORSE = {"fail", "inconclusive"}


def register(commands: Any) -> None:
    parser = commands.add_parser("diff", help="compare two --apigw-json reports, per target",
                                 description="Say, per target, which verdicts changed between two runs; exit 1 when "
                                             "something that passed now fails or is inconclusive.")
    parser.add_argument("old", metavar="OLD.json")
    parser.add_argument("new", metavar="NEW.json")
    parser.set_defaults(run=run_diff)


def load_cases(path: str) -> dict[str, dict[str, Any]]:
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
        return {case["nodeid"]: case for case in document["cases"]}
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from None
    except (ValueError, KeyError, TypeError) as error:
        raise ConfigError(f"{path} is not an apigw-tls JSON report ({type(error).__name__}: {error})") from None


def run_diff(args: argparse.Namespace) -> int:
    old, new = load_cases(args.old), load_cases(args.new)
    changes: dict[str, list[str]] = {}
    regressions = 0
    for nodeid in sorted(set(old) | set(new)):
        before = old.get(nodeid, {}).get("outcome", "absent")
        after = new.get(nodeid, {}).get("outcome", "absent")
        if before == after:
            continue
        target = (new.get(nodeid) or old[nodeid])["target"]
        regression = before == PASS and after in _WORSE
        regressions += regression
        detail = f": {new[nodeid]['message']}" if regression and new[nodeid].get("message") else ""
        changes.setdefault(target, []).append(f"  {'REGRESSION ' if regression else ''}{nodeid.split('::')[-1]}: "
                                              f"{before} -> {after}{detail}")
    for target in sorted(changes):
        print(f"{target}: {len(changes[target])} changed")
        print("\n".join(changes[target]))
    unchanged = len(set(old) & set(new)) - sum(1 for n in set(old) & set(new)
                                                 if old[n].get("outcome") != new[n].get("outcome"))
    print(f"{sum(len(c) for c in changes.values())} cases changed, {unchanged} unchanged, {regressions} regressions")
    return 1 if regressions else 0
