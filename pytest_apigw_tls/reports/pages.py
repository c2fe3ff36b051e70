"""Markdown and HTML renderings of the report model, for CI job pages and people.

Markdown: a target x dimension table, then each failing or inconclusive case with its evidence (a CI
job summary shows it as is). HTML: one self-contained page (inline CSS, no external asset) with the
same matrix as coloured cells and the failing cases under each target.
"""

from __future__ import annotations

import html
from typing import Any

from ..vocabulary import FAIL, INCONCLUSIVE, PASS, Dimension

_MARK = {"conforms": "conforms", "violations": "**VIOLATIONS**", "errors": "**ERRORS**"}


def _dimensions(report: dict[str, Any]) -> list[str]:
    return [d for d in Dimension if any(d in t["dimensions"] for t in report["targets"].values())]


def _cell(counts: dict[str, int] | None) -> str:
    if not counts:
        return "-"
    return f"{counts.get(PASS, 0)}/{counts.get(FAIL, 0)}/{counts.get(INCONCLUSIVE, 0)}"


def _problems(report: dict[str, Any], target: str) -> list[tuple[str, str, str]]:
    """(outcome, case, message) of each failing case, and each distinct reason the target's cases could not
    be judged once (a dead target errs in every case with one reason)."""
    out: list[tuple[str, str, str]] = []
    undecided: dict[str, list[str]] = {}
    for case in report["cases"]:
        if case["target"] != target:
            continue
        name = case["nodeid"].split("::")[-1]
        if case["outcome"] == FAIL:
            out.append((FAIL, name, case["message"]))
        elif case["outcome"] == INCONCLUSIVE:
            undecided.setdefault(case["message"], []).append(name)
    for message, names in undecided.items():
        out.append((INCONCLUSIVE, names[0] if len(names) == 1 else f"{names[0]} and {len(names) - 1} more", message))
    return out


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: dict[str, Any]) -> str:
    meta = report.get("metadata", {})
    dimensions = _dimensions(report)
    lines = ["# apigw-tls conformance", "",
             f"{meta.get('tool', 'pytest-apigw-tls')} {meta.get('tool_version', '')}, {meta.get('openssl', '')}, "
             f"started {meta.get('started', '?')}. Cells: pass/fail/inconclusive.", "",
             "| target | " + " | ".join(dimensions) + " | verdict |",
             "|---|" + "---|" * len(dimensions) + "---|"]
    for name, entry in report["targets"].items():
        cells = [_cell(entry["dimensions"].get(d)) for d in dimensions]
        lines.append(f"| {_md(name)} | " + " | ".join(cells) + f" | {_MARK[entry['verdict']]} |")
    for name in report["targets"]:
        problems = _problems(report, name)
        if problems:
            lines += ["", f"## {_md(name)}", ""]
            lines += [f"- **{outcome.upper()}** `{_md(case)}`: {_md(message)}" for outcome, case, message in problems]
    return "\n".join(lines) + "\n"


_CSS = """body{font-family:system-ui,sans-serif;margin:2em;color:#1b1f24}table{border-collapse:collapse}
td,th{border:1px solid #c8ccd1;padding:.35em .7em;text-align:center}th{background:#eef1f4}
td.name{text-align:left;font-family:monospace}.pass{background:#d6f5dd}.fail{background:#f9d0cf}
.inconclusive{background:#fdeec2}.none{color:#8a9098}li{font-family:monospace;margin:.2em 0}
.verdict-conforms{background:#d6f5dd}.verdict-violations{background:#f9d0cf}.verdict-errors{background:#fdeec2}"""


def _class(counts: dict[str, int] | None) -> str:
    if not counts:
        return "none"
    return FAIL if counts.get(FAIL) else INCONCLUSIVE if counts.get(INCONCLUSIVE) else PASS


def render_html(report: dict[str, Any]) -> str:
    meta = report.get("metadata", {})
    dimensions = _dimensions(report)
    esc = html.escape
    rows = []
    for name, entry in report["targets"].items():
        cells = "".join(f'<td class="{_class(entry["dimensions"].get(d))}">{_cell(entry["dimensions"].get(d))}</td>'
                        for d in dimensions)
        rows.append(f'<tr><td class="name">{esc(name)}</td>{cells}'
                    f'<td class="verdict-{entry["verdict"]}">{esc(entry["verdict"])}</td></tr>')
    sections = []
    for name in report["targets"]:
        problems = _problems(report, name)
        if problems:
            items = "".join(f'<li class="{outcome}">{esc(outcome.upper())} {esc(case)}: {esc(message)}</li>'
                            for outcome, case, message in problems)
            sections.append(f"<h2>{esc(name)}</h2><ul>{items}</ul>")
    header = "".join(f"<th>{esc(d)}</th>" for d in dimensions)
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>apigw-tls conformance</title>'
            f"<style>{_CSS}</style></head><body><h1>apigw-tls conformance</h1>"
            f"<p>{esc(str(meta.get('tool_version', '')))} &middot; {esc(str(meta.get('openssl', '')))} &middot; "
            f"started {esc(str(meta.get('started', '?')))} &middot; cells: pass/fail/inconclusive</p>"
            f"<table><tr><th>target</th>{header}<th>verdict</th></tr>{''.join(rows)}</table>"
            f"{''.join(sections)}</body></html>\n")
