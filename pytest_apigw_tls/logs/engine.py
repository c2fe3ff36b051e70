"""Large JSON-lines access logs read by DuckDB (the optional `logs` extra), with the reader's exact answer.

DuckDB parses the lines and groups them by the raw JSON values of the consulted keys, in parallel and
in C. Python then decodes each group's values and takes the client, version and suite with the
reader's own functions (readiness.field, printable), and the decisions stay with readiness.refusal
(Readiness.decide): a policy is judged in one place, and a value is read in one place. The grouping
does not depend on the policy: `logs --plan` reads a file once for every candidate.

DuckDB answers for a file only when every line is one it parses as Python's json does: one flat
object (no array, no nested object, no trailing comma, no NaN or Infinity spelling, no carriage
return, no key twice), whose consulted values are strings or null (the time may also be an
integer), with a time both engines read alike, a TLS version, and nothing the policy cannot judge.
Any other file, and strict or --split-at readings, go to the reader: the engine may cost time, never
a different answer, and lines it cannot read never go uncounted (the reader counts and shows them
with their line numbers).
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import re
from typing import Any

from ..errors import ConfigError
from ..policy.catalog import Catalog, Policy
from .formats import LogFormat
from .readiness import FIELDS, UNJUDGED, Readiness, Seen, field, printable
from .sources import is_plain_lines

GROUPED = ("ip", "user_agent", "version", "suite")  # grouped by their raw values; the time is aggregated
CONSULTED = GROUPED + ("time",)  # what a reading without --strict looks at
_SAFE_KEY = re.compile(r"[A-Za-z0-9_.@-]+")
_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
# The times both engines read alike (readiness.parse_time), as raw JSON: a quoted requestTime, or an
# epoch in seconds (11 digits at most) or in ms before 2^32 s, where the reader's float division
# still lands on the exact microsecond. Any other time: the reader.
_REQUEST_TIME = f'"[0-3][0-9]/({_MONTHS})/[0-9]{{4}}:[0-2][0-9]:[0-5][0-9]:[0-5][0-9] [+-]([01][0-9]|2[0-3])[0-5][0-9]"'
_DIGITS = "replace(t, '\"', '')::BIGINT"
_MOMENT = f"""CASE
    WHEN regexp_full_match(t, '{_REQUEST_TIME}') THEN epoch_us(strptime(t, '"%d/%b/%Y:%H:%M:%S %z"'))
    WHEN regexp_full_match(t, '"?[0-9]{{1,11}}"?') THEN {_DIGITS} * 1000000
    WHEN regexp_full_match(t, '"?[0-9]{{12,14}}"?') AND {_DIGITS} < 4294967296000 THEN {_DIGITS} * 1000 END"""
# A flat object's only closing brace is its last byte, so a trailing comma is at its end.
_TRAILING_COMMA = ("suffix(j, ',}') OR suffix(j, ', }') OR suffix(j, ',' || chr(9) || '}') OR ("
                   "(suffix(j, '  }') OR suffix(j, chr(9) || ' }') OR suffix(j, ' ' || chr(9) || '}')"
                   " OR suffix(j, chr(9) || chr(9) || '}')) AND regexp_matches(j, ',[ \\t]*}$'))")
_LINE_CHECKS = [  # what DuckDB (yyjson) accepts and Python's json does not, or reads otherwise
    "prefix(j, '{') AND suffix(j, '}')",  # an object
    "NOT contains(j, '[')",  # no array
    "NOT regexp_matches(j, ':[ \\t]*(-?[nNiI][aAnN][nNfF]|\\{)')",  # no nested object, nan, inf or Infinity
    f"NOT ({_TRAILING_COMMA})",
    "NOT contains(j, chr(13))",  # the reader ends a line at a lone carriage return
]  # and a key twice: json_keys, checked in Python on the distinct key lists


def available() -> bool:
    try:
        import duckdb  # noqa: F401
    except ImportError:
        return False
    return True


def require() -> None:
    if not available():
        raise ConfigError("--engine duckdb needs DuckDB: pip install 'pytest-apigw-tls[logs]'")


@dataclasses.dataclass
class Group:
    """Requests of one client that negotiated one (version, suite), as the reader takes them."""

    ip: str | None
    user_agent: str | None
    version: str | None
    suite: str | None
    requests: int
    first: Seen | None  # its earliest and latest request with a time the reader parses
    last: Seen | None


@dataclasses.dataclass
class Grouped:
    groups: list[Group]

    def readiness(self, policy: Policy, catalog: Catalog) -> Readiness | None:
        """The reader's reading of the same file, or None where only the reader can give it (a request
        without a TLS version, or one the policy cannot judge: the reader shows them by line)."""
        readiness = Readiness(policy)
        for group in self.groups:
            if group.version is None:
                return None
            readiness.lines += group.requests
            readiness.requests += group.requests
            readiness.per_version[group.version] += group.requests
            if group.suite:
                readiness.per_suite[group.suite] += group.requests
            refused = readiness.decide(catalog, group.version, group.suite)  # groups share few pairs
            if refused is None:
                continue
            if refused[0] == UNJUDGED:
                return None
            client = (printable(group.ip or "-"), printable(group.user_agent or "-"))
            readiness.count_refused(client, group.version, group.suite, refused, group.requests,
                                    group.first, group.last)
        return readiness


def _candidate_keys(fmt: LogFormat, variable: str) -> list[str]:
    """The line keys the reader takes as `variable` (a template may rename keys)."""
    keys = fmt.keys or {}
    return [key for key, name in keys.items() if name == variable] + ([variable] if variable not in keys else [])


def _consulted_keys(fmt: LogFormat) -> set[str]:
    return {key for name in CONSULTED for variable in FIELDS[name] for key in _candidate_keys(fmt, variable)}


@dataclasses.dataclass
class _Plan:
    """The query for one file, and what its grouped columns hold."""

    sql: str
    slots: list[str]  # the variable the reader names each grouped column (a line key) after


def _plan(fmt: LogFormat, present: set[str]) -> _Plan | None:
    """One pass, in parallel (no line order: nothing the reader reports depends on it): each line
    parsed once for its keys and once for the raw values of the consulted keys in `present`, grouped by
    the key list (NULL when it is the first line's) and the raw values; the time taken per line as
    the reader takes it, kept as the earliest and latest instant of each group."""
    paths: list[str] = []
    slots: list[str] = []
    grouped, times, checks = [], [], list(_LINE_CHECKS)
    for name in CONSULTED:
        for variable in FIELDS[name]:
            keys = [key for key in _candidate_keys(fmt, variable) if key in present]
            if not all(_SAFE_KEY.fullmatch(key) for key in keys):
                return None
            columns = []
            for key in keys:
                paths.append(f"'$.\"{key}\"'")
                columns.append(f"v[{len(paths)}]")
            if name != "time":
                slots += [variable] * len(keys)
                grouped += columns
                continue
            if len(columns) > 1:  # a template naming the time under two keys: the reader keeps the last
                checks.append(" + ".join(f"({column} IS NOT NULL)::INT" for column in columns) + " <= 1")
            times += [f"CASE WHEN {column} NOT IN ('null', '\"\"', '\"-\"') THEN {column} END" for column in columns]
    shown = """CASE WHEN prefix(t, '"') THEN t ELSE '"' || t || '"' END"""  # orders as the text the reader shows
    sql = f"""
        WITH parsed AS (
            SELECT CASE WHEN json_keys(j) = $first_keys THEN NULL ELSE array_to_string(json_keys(j), chr(0)) END AS k,
                   json_extract(j, [{', '.join(paths)}]) AS v, {' AND '.join(f'({check})' for check in checks)} AS clean
            FROM read_json_objects($path, format = 'newline_delimited', compression = $compression) AS lines(j)),
        timed AS (
            SELECT k, clean, {''.join(f'{column} AS g{index}, ' for index, column in enumerate(grouped))}
                   COALESCE({', '.join(times + ['NULL::VARCHAR'])}) AS t FROM parsed),
        judged AS (
            SELECT *, {_MOMENT} AS moment FROM timed)
        SELECT k, bool_and(clean AND (t IS NULL OR moment IS NOT NULL)), count(*),
               min((moment, {shown})) FILTER (WHERE moment IS NOT NULL),
               max((moment, {shown})) FILTER (WHERE moment IS NOT NULL)
               {''.join(f', g{index}' for index in range(len(grouped)))}
        FROM judged GROUP BY ALL"""
    return _Plan(sql, slots)


def _first_line(path: str, compressed: bool) -> bytes:
    with (gzip.open(path) if compressed else open(path, "rb")) as handle:
        return handle.readline(65536)


def _keys_of(line: str) -> list[str] | None:
    """The first line's keys in order, [] when it is not an object, None when it holds a key twice."""
    try:
        pairs = json.loads(line, object_pairs_hook=lambda pairs: pairs)
    except ValueError:
        return []
    if not isinstance(pairs, list) or not all(isinstance(pair, tuple) for pair in pairs):
        return []
    keys = [key for key, _value in pairs]
    return keys if len(set(keys)) == len(keys) else None


def _rows(path: str, compressed: bool, plan: _Plan, first_keys: list[str]) -> list[Any]:
    import duckdb

    parameters = {"path": path, "compression": "gzip" if compressed else "none", "first_keys": first_keys}
    return duckdb.connect().execute(plan.sql, parameters).fetchall()


def _decoded(raw: str | None) -> tuple[bool, Any]:
    """(whether the key is in the line, its value), or ValueError for a value the engine leaves to the
    reader (a number, a boolean: the reader's str() of them may differ from DuckDB's text)."""
    if raw is None:
        return False, None
    if raw == "null":
        return True, None
    if raw.startswith('"'):
        return True, json.loads(raw)
    raise ValueError(raw)


def _group(slots: list[str], raws: tuple[Any, ...], requests: int, first: tuple[int, str] | None,
           last: tuple[int, str] | None) -> Group | None:
    """One group's values as the reader takes them from a line: its template's names, then
    readiness.field; None where the reader must decide (a key it would name twice)."""
    values: dict[str, Any] = {}
    for variable, raw in zip(slots, raws):
        present, value = _decoded(raw)
        if present:
            if variable in values:
                return None  # two keys the reader names alike: which one wins depends on their order
            values[variable] = value
    return Group(field(values, "ip"), field(values, "user_agent"), field(values, "version"),
                 field(values, "suite"), requests, first and (first[0], first[1][1:-1]),
                 last and (last[0], last[1][1:-1]))


def read(path: str, fmt: LogFormat) -> Grouped | None:
    """The file's requests grouped, or None when the reader must read it (see the module's rules)."""
    import duckdb

    if fmt.kind != "json" or path == "-":
        return None
    with open(path, "rb") as handle:
        compressed = handle.read(2) == b"\x1f\x8b"
    consulted = _consulted_keys(fmt)
    try:
        first_line = _first_line(path, compressed)
        text = first_line.decode("utf-8", errors="replace")
        if first_line.startswith(b"\xef\xbb\xbf") or not is_plain_lines(text):
            return None  # a byte-order mark, or a document the reader unwraps (CloudWatch exports)
        first_keys = _keys_of(text)
        if first_keys is None:
            return None  # the reader counts a line with a key twice
        present = consulted & set(first_keys) or consulted  # the first line's keys: fewer paths to extract
        plan = _plan(fmt, present)
        rows = _rows(path, compressed, plan, first_keys) if plan else None
        if rows is not None and any(k is not None and consulted & set(k.split("\x00")) - present for k, *_ in rows):
            plan = _plan(fmt, consulted)  # another line holds other keys
            rows = _rows(path, compressed, plan, first_keys) if plan else None
    except (duckdb.Error, OSError, EOFError):
        return None  # a line DuckDB will not read (or a truncated .gz): the reader says which
    if rows is None or plan is None:
        return None
    key_lists = [first_keys if k is None else k.split("\x00") for k, *_rest in rows]
    if not all(row[1] for row in rows) or any(len(set(keys)) != len(keys) for keys in key_lists):
        return None
    try:
        groups = [_group(plan.slots, tuple(raws), requests, first, last)
                  for _keys, _clean, requests, first, last, *raws in rows]
    except ValueError:
        return None
    return None if None in groups else Grouped([group for group in groups if group is not None])
