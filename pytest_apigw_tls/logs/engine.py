"""Large JSON-lines access logs read by DuckDB (the optional `logs` extra), with the reader's exact answer.

DuckDB parses the lines and groups them, in parallel and in C, by the raw JSON values of the keys the
reader consults, into a table of its own (one DuckDB instance for every file). Python takes each
(version, suite) from a summary of that table and, for a pair a policy refuses, fetches the pair's
clients; it decodes values with the reader's own functions (readiness.field, printable), and the
decisions stay with readiness.refusal (Readiness.decide): a policy is judged in one place, a value
read in one place. The table does not depend on the policy: `logs --plan` reads a file once for
every candidate.

DuckDB answers for a file only when every line is one it parses as Python's json does: one flat
object (no array, no nested object, no trailing comma, no NaN or Infinity spelling, no carriage
return, no key twice), with a time both engines read alike and a TLS version; the values the reader
takes must be strings or null (where it takes them), and nothing may be left the policy cannot
judge. Any other file, and strict or --split-at readings, go to the reader: the engine may cost
time, never a different answer, and lines it cannot read never go uncounted (the reader counts and
shows them with their line numbers).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
import weakref
from typing import Any, Callable

from ..errors import ConfigError
from ..policy.catalog import Catalog, Policy
from .formats import LogFormat
from .readiness import FIELDS, UNJUDGED, Readiness, Seen, field, printable
from .sources import is_gzip, is_plain_lines, open_text

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


class _Undecidable(Exception):
    """A value the engine leaves to the reader: not a string (the reader's str() of a number may
    differ from DuckDB's text), or two keys the reader names alike (which one wins depends on order)."""


Clients = list[tuple[int, Seen | None, Seen | None, tuple[str, str]]]  # (requests, first, last, client)


class _Table:
    """One file's groups: a temporary table in the engine's DuckDB instance, shared by every table alive
    (each instance starts its own threads: a month of hourly files must not start 720) and closed
    with the last (so no DuckDB thread is left when the reader forks its workers)."""

    _connection: Any = None
    _alive = 0
    _numbers = itertools.count()

    def __init__(self) -> None:
        if _Table._connection is None:
            import duckdb

            _Table._connection = duckdb.connect()
        _Table._alive += 1
        self.connection = _Table._connection
        self.name = f"grouped_{next(_Table._numbers)}"
        weakref.finalize(self, _Table._release, self.connection, self.name).atexit = False  # exit frees it

    @staticmethod
    def _release(connection: Any, name: str) -> None:
        connection.execute(f"DROP TABLE IF EXISTS {name}")
        _Table._alive -= 1
        if _Table._alive == 0 and _Table._connection is connection:
            _Table._connection = None
            connection.close()

    def fill(self, sql: str, parameters: dict[str, Any]) -> None:
        self.connection.execute(f"CREATE OR REPLACE TEMP TABLE {self.name} AS {sql}", parameters)

    def select(self, what: str, rest: str = "", parameters: list[Any] | None = None) -> list[Any]:
        return list(self.connection.execute(f"SELECT {what} FROM {self.name} {rest}", parameters or []).fetchall())


@dataclasses.dataclass
class Grouped:
    """A file's requests, grouped in DuckDB (a _Table) by every raw value the reader
    consults; here by the (version, suite) the reader takes from them. A pair's clients are fetched
    and named only when a policy refuses it: a large log has many clients, most of them accepted."""

    table: _Table
    pairs: dict[tuple[str | None, str | None], list[tuple[tuple[Any, ...], int]]]  # [(raw values, requests)]
    pair_columns: list[str]
    client_columns: list[str]
    client: Callable[[tuple[Any, ...]], tuple[str | None, ...]]
    fetched: dict[tuple[Any, ...], Clients] = dataclasses.field(default_factory=dict)

    def readiness(self, policy: Policy, catalog: Catalog) -> Readiness | None:
        """The reader's reading of the same file, or None where only the reader can give it (a request
        without a TLS version, or one the policy cannot judge: the reader shows them by line)."""
        readiness = Readiness(policy)
        for (version, suite), spellings in self.pairs.items():
            if version is None:
                return None
            requests = sum(count for _raws, count in spellings)
            readiness.lines += requests
            readiness.requests += requests
            readiness.per_version[version] += requests
            if suite:
                readiness.per_suite[suite] += requests
            refused = readiness.decide(catalog, version, suite)
            if refused is None:
                continue
            if refused[0] == UNJUDGED:
                return None
            try:
                for raws, _count in spellings:
                    for count, first, last, client in self.clients(raws):
                        readiness.count_refused(client, version, suite, refused, count, first, last)
            except _Undecidable:
                return None
        return readiness

    def clients(self, raws: tuple[Any, ...]) -> Clients:
        """The groups of one raw (version, suite), each with its client as the reader names it."""
        if raws not in self.fetched:
            where = " AND ".join(f"{column} IS NOT DISTINCT FROM ?" for column in self.pair_columns) or "true"
            columns = "".join(f", {column}" for column in self.client_columns)
            rows = self.table.select(f"requests, first_at, first_text, last_at, last_text{columns}", f"WHERE {where}",
                                     list(raws))
            groups = []
            for count, first_at, first_text, last_at, last_text, *client in rows:
                ip, agent = self.client(tuple(client))
                groups.append((count, _seen(first_at, first_text), _seen(last_at, last_text),
                               (printable(ip or "-"), printable(agent or "-"))))
            self.fetched[raws] = groups
        return self.fetched[raws]


def _seen(moment: int | None, shown: str | None) -> Seen | None:
    return None if moment is None or shown is None else (moment, shown[1:-1])  # the text without its quotes


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
    values = "".join(f", g{index}" for index in range(len(grouped)))  # raw JSON, compared as text
    sql = f"""
        WITH parsed AS (
            SELECT CASE WHEN json_keys(j) = $first_keys THEN NULL ELSE array_to_string(json_keys(j), chr(0)) END AS k,
                   json_extract(j, [{', '.join(paths)}]) AS v, {' AND '.join(f'({check})' for check in checks)} AS clean
            FROM read_json_objects($path, format = 'newline_delimited', compression = $compression) AS lines(j)),
        timed AS (
            SELECT k, clean, {''.join(f'{column}::VARCHAR AS g{index}, ' for index, column in enumerate(grouped))}
                   COALESCE({', '.join(times + ['NULL::VARCHAR'])}) AS t FROM parsed),
        judged AS (
            SELECT *, {_MOMENT} AS moment FROM timed),
        grouped AS (
            SELECT k, bool_and(clean AND (t IS NULL OR moment IS NOT NULL)) AS ok, count(*) AS requests,
                   min(struct_pack(m := moment, s := {shown})) FILTER (WHERE moment IS NOT NULL) AS first,
                   max(struct_pack(m := moment, s := {shown})) FILTER (WHERE moment IS NOT NULL) AS last{values}
            FROM judged GROUP BY ALL)
        SELECT k, ok, requests, first.m AS first_at, first.s::VARCHAR AS first_text, last.m AS last_at,
               last.s::VARCHAR AS last_text{values}
        FROM grouped"""
    return _Plan(sql, slots)


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


def _fill(table: _Table, path: str, compressed: bool, plan: _Plan, first_keys: list[str]) -> list[list[str]]:
    """Groups the file into `table`; the key lists of its lines (_Undecidable where a line is not one
    DuckDB reads as the reader does)."""
    table.fill(plan.sql, {"path": path, "compression": "gzip" if compressed else "none", "first_keys": first_keys})
    [(others, clean)] = table.select("list(DISTINCT k) FILTER (WHERE k IS NOT NULL), bool_and(ok)")
    if clean is False:
        raise _Undecidable("a line DuckDB reads otherwise")
    return [first_keys] + [keys.split("\x00") for keys in others or []]


def _decoded(raw: str | None) -> tuple[bool, Any]:
    """(whether the key is in the line, its value as the reader holds it)."""
    if raw is None:
        return False, None
    if raw == "null":
        return True, None
    if raw.startswith('"'):
        return True, json.loads(raw)
    raise _Undecidable(raw)


def _taker(variables: list[str], names: tuple[str, ...]) -> Callable[[tuple[Any, ...]], tuple[str | None, ...]]:
    """readiness.field for each of `names`, from raw values standing for `variables` (one each), as the
    reader takes them from a line (its template's names first); once per distinct raw values."""
    seen: dict[tuple[Any, ...], tuple[str | None, ...]] = {}

    def take(raws: tuple[Any, ...]) -> tuple[str | None, ...]:
        if raws not in seen:
            values: dict[str, Any] = {}
            for variable, raw in zip(variables, raws):
                present, value = _decoded(raw)
                if present:
                    if variable in values:
                        raise _Undecidable(variable)
                    values[variable] = value
            seen[raws] = tuple(field(values, name) for name in names)
        return seen[raws]
    return take


def _grouped(table: _Table, slots: list[str]) -> Grouped:
    """The table's (version, suite) pairs as the reader takes them, from each spelling logged."""
    pair_slots = [index for index, variable in enumerate(slots) if variable in FIELDS["version"] + FIELDS["suite"]]
    client_slots = [index for index, variable in enumerate(slots) if variable in FIELDS["ip"] + FIELDS["user_agent"]]
    pair_columns, client_columns = [f"g{index}" for index in pair_slots], [f"g{index}" for index in client_slots]
    pair = _taker([slots[index] for index in pair_slots], ("version", "suite"))
    client = _taker([slots[index] for index in client_slots], ("ip", "user_agent"))
    pairs: dict[tuple[str | None, str | None], list[tuple[tuple[Any, ...], int]]] = {}
    for *raws, requests in table.select(f"{''.join(c + ', ' for c in pair_columns)}sum(requests)", "GROUP BY ALL"):
        if requests is not None:  # an empty file has no groups
            version, suite = pair(tuple(raws))
            pairs.setdefault((version, suite), []).append((tuple(raws), int(requests)))
    return Grouped(table, pairs, pair_columns, client_columns, client)


def read(path: str, fmt: LogFormat) -> Grouped | None:
    """The file's requests grouped, or None when the reader must read it (see the module's rules)."""
    import duckdb

    if fmt.kind != "json" or path == "-":
        return None
    consulted = _consulted_keys(fmt)
    try:
        compressed = is_gzip(path)
        with open_text(path) as handle:
            text = handle.readline(65536)
        if text.startswith("\ufeff") or not is_plain_lines(text):
            return None  # a byte-order mark, or a document the reader unwraps (CloudWatch exports)
        first_keys = _keys_of(text)
        if first_keys is None:
            return None  # the reader counts a line with a key twice
        table = _Table()  # DuckDB opens only for a file it may read
        present = consulted & set(first_keys) or consulted  # the first line's keys: fewer paths to extract
        plan = _plan(fmt, present)
        key_lists = _fill(table, path, compressed, plan, first_keys) if plan else None
        if key_lists is not None and any(consulted & set(keys) - present for keys in key_lists):
            plan = _plan(fmt, consulted)  # another line holds other keys
            key_lists = _fill(table, path, compressed, plan, first_keys) if plan else None
        if key_lists is None or plan is None or any(len(set(keys)) != len(keys) for keys in key_lists):
            return None
        return _grouped(table, plan.slots)
    except (duckdb.Error, OSError, EOFError, _Undecidable):
        return None  # a line DuckDB will not read (or a truncated .gz): the reader says which
