"""The report document: one JSON schema, one writer and one reader for every front-end.

`apigw-tls scan --json` (one target or a fleet) and the plugin's `--apigw-json` write the same
document; `apigw-tls diff`, `policies --from-scan` and the Markdown/HTML pages read it. The schema is
versioned (README, "The report document"); a reader meets a document of another version with one
line, never a KeyError. Every file the tool writes goes through `write_text`: one line on failure.
"""

from __future__ import annotations

import datetime
import json
import sys
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..vocabulary import SKIPPED

if TYPE_CHECKING:
    from ..policy.catalog import Catalog

__all__ = ["SKIPPED", "case_entry", "document", "read", "run_metadata", "write_json", "write_text"]

SCHEMA = "pytest-apigw-tls/report"
SCHEMA_VERSION = 1


def case_entry(target: str, dimension: str, case_id: str, outcome: str, message: str,
         nodeid: str | None = None) -> dict[str, Any]:
    """One case: `case_id` without the target's name; outcome pass, fail, inconclusive or skipped."""
    return {"target": target, "dimension": dimension, "case": case_id.removeprefix(target + "-"),
            "outcome": outcome, "message": message, **({"nodeid": nodeid} if nodeid else {})}


def document(metadata: dict[str, Any], targets: dict[str, dict[str, Any]],
             cases: list[dict[str, Any]]) -> dict[str, Any]:
    """targets: name -> {identity, verdict, conforms, dimensions, and scan, default_endpoint_scan,
    access, error where they exist}."""
    return {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "metadata": metadata,
            "targets": {name: targets[name] for name in sorted(targets)},
            "cases": sorted(cases, key=lambda c: (c["target"], c["dimension"], c["case"]))}


def run_metadata(settings: dict[str, Any], started: datetime.datetime, front_end: str,
                 catalog: Catalog) -> dict[str, Any]:
    """Who wrote the document, with what, on which data: enough to tell two runs' conditions apart."""
    from importlib.metadata import PackageNotFoundError, version

    from ..probing.capabilities import detect

    try:
        tool = version("pytest-apigw-tls")
    except PackageNotFoundError:
        tool = "unknown"
    return {"tool": "pytest-apigw-tls", "tool_version": tool, "openssl": detect().openssl_version,
            "catalog_sources": catalog.sources, "universe": catalog.universe.source, "settings": settings,
            "started": started.isoformat(timespec="seconds"), "front_end": front_end}


def write_text(path: str, text: str) -> None:
    """`text` to `path` ("-": standard output); a path that cannot be written is one ConfigError line."""
    if path == "-":
        sys.stdout.write(text)
        return
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as error:
        raise ConfigError(f"cannot write {path}: {error.strerror or error}") from None


def write_json(path: str, value: Any) -> None:
    write_text(path, json.dumps(value, indent=2) + "\n")


def read(path: str) -> dict[str, Any]:
    """A report document of this schema version, or one ConfigError line saying why not."""
    try:
        with open(path, encoding="utf-8") as handle:
            loaded = json.load(handle)
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from None
    except ValueError as error:
        raise ConfigError(f"{path} is not JSON: {error}") from None
    if not isinstance(loaded, dict) or loaded.get("schema") != SCHEMA:
        raise ConfigError(f"{path} is not an apigw-tls report document (no \"schema\": \"{SCHEMA}\"; write one "
                          "with `apigw-tls scan --json` or pytest --apigw-json)")
    if loaded.get("schema_version") != SCHEMA_VERSION:
        raise ConfigError(f"{path} is report schema version {loaded.get('schema_version')!r}; this apigw-tls reads "
                          f"version {SCHEMA_VERSION}")
    if not isinstance(loaded.get("targets"), dict) or not isinstance(loaded.get("cases"), list):
        raise ConfigError(f"{path}: a report document needs \"targets\" (an object) and \"cases\" (a list)")
    return loaded
