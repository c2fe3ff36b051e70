"""A policy from evidence: the policy file a scanned server actually enforces, to pin today's behaviour.

Reads a report document (`apigw-tls scan --json`, `scan --targets --json`, or the plugin's
--apigw-json) and writes a policy file with every version, suite and group the target accepted, culprits of the
catch-all cases included; scanning the same server against it tomorrow shows any drift.
"""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

from ..errors import ConfigError

_CULPRIT = re.compile(r"([A-Za-z0-9_]+) \(0x[0-9A-F]{4}\)")


def _accepted(verdicts: list[dict[str, Any]], dimension: str) -> list[tuple[str, str]]:
    """(version, item) the target accepted, catch-all culprits named one by one."""
    out = []
    for verdict in verdicts:
        if verdict["dimension"] != dimension or verdict["observed"] != "accepted":
            continue
        if verdict.get("members"):
            out += [(verdict["version"], name) for name in _CULPRIT.findall(verdict["evidence"])]
        else:
            out.append((verdict["version"], verdict["item"]))
    return out


def _toml_list(values: list[str]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def policy_from_scan(path: str, name: str | None = None) -> str:
    from .document import read

    scans = {target: entry["scan"] for target, entry in read(path)["targets"].items() if "scan" in entry}
    if len(scans) != 1:
        shown = ", ".join(scans) or "none"
        raise ConfigError(f"{path} holds {len(scans)} scans ({shown}): derive from a report of exactly one target")
    (label, scan), = scans.items()
    verdicts = scan["verdicts"]
    versions = sorted({item for _version, item in _accepted(verdicts, "version")})
    suites = _accepted(verdicts, "suite")
    tls13 = sorted({item for version, item in suites if version == "TLSv1.3"})
    tls12 = sorted({item for version, item in suites if version != "TLSv1.3"})
    groups = sorted({item for _version, item in _accepted(verdicts, "group")})
    probed = {v["version"] for v in verdicts if v["dimension"] == "suite"}
    unprobed = [v for v in versions if v not in probed]
    if unprobed:
        raise ConfigError(f"the scan accepted {', '.join(unprobed)} but asked no suite there (its policy "
                          f"{scan.get('policy')} does not allow it): scan against TLS_1_0, the widest policy, "
                          "to derive")
    target = scan.get("target", {})
    where = f"{target.get('host')}:{target.get('port')} (SNI {target.get('sni')})"
    policy_id = name or f"Observed-{target.get('sni') or label}"
    today = datetime.date.today().isoformat()
    fact = 'provenance = "inferred", source = "scan"'
    return "\n".join([
        f"# What {where} accepted on {today}, scanned against {scan.get('policy')} with an {scan.get('cert_type')}",
        "# certificate. Pin it: scan again with --policy-file this-file --policy " + policy_id + " to see drift.",
        "", "[sources]", f'scan = {json.dumps(f"apigw-tls scan of {where} on {today}")}', "", "[[policy]]",
        f"id = {json.dumps(policy_id)}",
        f"versions = {{ value = {_toml_list(versions)}, {fact} }}",
        f"tls13_suites = {{ value = {_toml_list(tls13)}, {fact} }}",
        f"tls12_suites = {{ value = {_toml_list(tls12)}, {fact} }}",
        f"groups = {{ value = {_toml_list(groups)}, {fact} }}", ""])
