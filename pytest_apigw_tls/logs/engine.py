"""Large JSON-lines access logs read by DuckDB (the optional `logs` extra), with the reader's exact answer.

DuckDB parses the lines and groups them by client and negotiated pair, in parallel and in C; the
decisions stay with readiness.refusal (Readiness.decide), so a policy is judged in one place. The grouping does not
depend on the policy: `logs --plan` reads a file once for every candidate.

DuckDB answers for a file only when every line is one it reads as the reader does: a flat JSON
object (no nested value, no trailing comma, no key twice, no two keys naming one variable), whose
consulted values are printable ASCII strings (the time may also be an integer), with a TLS version,
and nothing the policy cannot judge. Any other file, and strict or --split-at readings, go to the
reader: the engine may cost time, never a different answer, and lines it cannot read never go
uncounted (the reader counts and shows them with their line numbers).
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
from .readiness import FIELDS, UNJUDGED, Readiness, Seen
from .sources import is_plain_lines

CONSULTED = ("ip", "user_agent", "version", "suite", "time")  # what a reading without --strict looks at
_SAFE_KEY = re.compile(r"[A-Za-z0-9_.@-]+")
_PRINTABLE = "'[ -~]*'"
_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
# The times both engines read alike (readiness.parse_time): requestTime, or an epoch in s or ms (14
# digits at most: beyond, the reader's datetime overflows where DuckDB's does not). Others: the reader.
_REQUEST_TIME = f"[0-3][0-9]/({_MONTHS})/[0-9]{{4}}:[0-2][0-9]:[0-5][0-9]:[0-5][0-9] [+-]([01][0-9]|2[0-3])[0-5][0-9]"
_MOMENT = f"""CASE
    WHEN regexp_full_match(time, '[0-9]{{1,14}}')
        THEN epoch_us(to_timestamp(time::BIGINT / CASE WHEN length(time) > 11 THEN 1000.0 ELSE 1 END))
    WHEN regexp_full_match(time, '{_REQUEST_TIME}')
        THEN epoch_us(try_strptime(time, '%d/%b/%Y:%H:%M:%S %z')) END"""
_LINE_CHECKS = [  # what DuckDB accepts and the reader does not, or reads otherwise; string scans, no parse
    "left(j, 1) = '{'",  # an object
    "strlen(j) - strlen(replace(replace(replace(j, '{', ''), '}', ''), '[', '')) = 2",  # flat
    "NOT regexp_matches(j, ',\\s*}')",  # a trailing comma
    "NOT contains(j, chr(13))",  # the reader ends a line at a lone carriage return
    "NOT contains(j, '\\u0000')",  # so the key lists below, joined on NUL, stay apart
]  # and a key twice: the distinct key lists are checked in Python (far cheaper than per line in SQL)


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
    """Requests of one client that negotiated one (version, suite), as the file holds them."""

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
            readiness.count_refused((group.ip or "-", group.user_agent or "-"), group.version, group.suite, refused,
                                    group.requests, group.first, group.last)
        return readiness


def _candidate_keys(fmt: LogFormat, variable: str) -> list[str]:
    """The line keys the reader takes as `variable` (a template may rename keys)."""
    keys = fmt.keys or {}
    return [key for key, name in keys.items() if name == variable] + ([variable] if variable not in keys else [])


def _consulted_keys(fmt: LogFormat) -> set[str]:
    return {key for name in CONSULTED for variable in FIELDS[name] for key in _candidate_keys(fmt, variable)}


def _query(fmt: LogFormat, present: set[str]) -> str | None:
    """One pass, in parallel (no line order: nothing the reader reports depends on it): each line parsed
    once for its keys and once for the raw values (v[i], at paths[i - 1]) of the consulted keys in
    `present`; only the values the reader takes are decoded; then grouped (with each key list, so
    the caller can check that no line held a consulted key outside `present`)."""
    paths: list[str] = []
    fields, checks = {}, list(_LINE_CHECKS)
    for name in CONSULTED:
        taken = ["NULL::VARCHAR"]
        for variable in FIELDS[name]:
            keys = [key for key in _candidate_keys(fmt, variable) if key in present]
            if not all(_SAFE_KEY.fullmatch(key) for key in keys):
                return None
            slots = []
            for key in keys:
                paths.append(f"'$.\"{key}\"'")
                slots.append(f"v[{len(paths)}]")
            if len(slots) > 1:  # a template naming one variable under two keys: the reader keeps the last
                checks.append(" + ".join(f"({slot} IS NOT NULL)::INT" for slot in slots) + " <= 1")
            integer = " OR regexp_full_match({}, '-?[0-9]{{1,18}}')" if name == "time" else ""
            checks += [f"{slot} IS NULL OR {slot} = 'null' OR left({slot}, 1) = '\"'" + integer.format(slot)
                       for slot in slots]
            taken += [f"CASE WHEN {slot} NOT IN ('null', '\"\"', '\"-\"') THEN {slot} END" for slot in slots]
        fields[name] = f"json_extract_string(COALESCE({', '.join(taken)}), '$')"
    return f"""
        WITH parsed AS (
            SELECT j, array_to_string(json_keys(j), chr(0)) AS k, json_extract(j, [{', '.join(paths)}]) AS v
            FROM read_json_objects($path, format = 'newline_delimited', compression = $compression) AS lines(j)),
        fields AS (
            SELECT k, {' AND '.join(f'({c})' for c in checks)} AS clean,
                   {', '.join(f'{sql} AS {name}' for name, sql in fields.items())}
            FROM parsed),
        judged AS (
            SELECT *, {_MOMENT} AS moment FROM fields),
        checked AS (
            SELECT *, clean AND regexp_full_match(concat_ws('', {', '.join(CONSULTED)}), {_PRINTABLE})
                      AND (time IS NULL OR moment IS NOT NULL) AS read
            FROM judged)
        SELECT k, bool_and(read), ip, user_agent, version, suite, count(*),
               min((moment, time)) FILTER (WHERE moment IS NOT NULL),
               max((moment, time)) FILTER (WHERE moment IS NOT NULL)
        FROM checked GROUP BY k, ip, user_agent, version, suite"""


def _first_line(path: str, compressed: bool) -> bytes:
    with (gzip.open(path) if compressed else open(path, "rb")) as handle:
        return handle.readline(65536)


def _keys_of(line: str) -> set[str]:
    try:
        value = json.loads(line)
    except ValueError:
        return set()
    return set(value) if isinstance(value, dict) else set()


def _grouped_rows(path: str, compressed: bool, fmt: LogFormat, present: set[str]) -> list[Any] | None:
    import duckdb

    query = _query(fmt, present)
    if query is None:
        return None
    return duckdb.connect().execute(query, {"path": path, "compression": "gzip" if compressed else "none"}).fetchall()


def read(path: str, fmt: LogFormat) -> Grouped | None:
    """The file's requests grouped, or None when the reader must read it (see the module's rules)."""
    import duckdb

    if fmt.kind != "json" or path == "-":
        return None
    with open(path, "rb") as handle:
        compressed = handle.read(2) == b"\x1f\x8b"
    consulted = _consulted_keys(fmt)
    try:
        first = _first_line(path, compressed)
        text = first.decode("utf-8", errors="replace")
        if first.startswith(b"\xef\xbb\xbf") or not is_plain_lines(text):
            return None  # a byte-order mark, or a document the reader unwraps (CloudWatch exports)
        present = consulted & _keys_of(text) or consulted  # the first line's keys: fewer paths to extract
        rows = _grouped_rows(path, compressed, fmt, present)
        if rows is not None and any(consulted & set(keys.split("\x00")) - present for keys, *_rest in rows):
            rows = _grouped_rows(path, compressed, fmt, consulted)  # another line holds other keys
    except (duckdb.Error, OSError, EOFError):
        return None  # a line DuckDB will not read (or a truncated .gz): the reader says which
    if rows is None:
        return None
    key_lists = [keys.split("\x00") for keys, *_rest in rows]
    if not all(row[1] for row in rows) or any(len(set(keys)) != len(keys) for keys in key_lists):
        return None
    return Grouped([Group(ip, agent, version, suite, requests, first and tuple(first), last and tuple(last))
                    for _keys, _clean, ip, agent, version, suite, requests, first, last in rows])
