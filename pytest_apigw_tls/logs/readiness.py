"""Migration readiness from access logs: which clients a target policy (and STRICT) would refuse.

A log shows what a client negotiated, not all it could offer, so a client listed here is *at risk*:
refused unless it also offers something the policy allows. Nothing unread is ever taken for "fine":
unparsable lines, lines with duplicate keys and requests without the TLS variables are counted and
shown; a reading with such lines is incomplete, and one with no request at all is an error.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import functools
from typing import Any, Iterable

from ..errors import CatalogError
from ..policy.catalog import Catalog, Policy
from ..policy.codepoints import TlsVersion
from ..probing.hostnames import normalize_host
from .formats import DuplicateKeys, LogFormat, Unparsable
from .sources import Item, unwrapped

# What each field means, by the $context variable (or a column name people give it) that carries it.
FIELDS = {
    "ip": ("identity.sourceIp", "sourceIp", "ip", "source_ip", "clientIp"),
    "user_agent": ("identity.userAgent", "userAgent", "user_agent"),
    "version": ("tlsVersion", "tls_version"),
    "suite": ("cipherSuite", "cipher_suite"),
    "host": ("host",),
    "domain": ("domainName",),
    "sni": ("sni",),
    "time": ("requestTime", "requestTimeEpoch", "@timestamp", "timestamp"),
}
EXAMPLES = 5


Seen = tuple[int, str]  # (microseconds since the epoch, the time as logged): the earlier of two equal instants
# is the one that sorts first as text, so no reading depends on the order of lines or inputs


@dataclasses.dataclass
class Client:
    """One client (source address and user agent) that negotiated something the target refuses."""

    requests: int = 0
    reasons: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    negotiated: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    first: Seen | None = None  # its earliest and latest refused request with a time the reader parses
    last: Seen | None = None

    def saw(self, first: Seen | None, last: Seen | None) -> None:
        if first is not None and (self.first is None or first < self.first):
            self.first = first
        if last is not None and (self.last is None or last > self.last):
            self.last = last

    @property
    def first_seen(self) -> str | None:
        return self.first[1] if self.first else None

    @property
    def last_seen(self) -> str | None:
        return self.last[1] if self.last else None


def ranked(counter: collections.Counter[str]) -> list[tuple[str, int]]:
    """Most frequent first, ties by name: the same whatever order the lines came in."""
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))


@dataclasses.dataclass
class Readiness:
    """What the logs say about moving to `policy` (and STRICT)."""

    policy: Policy
    lines: int = 0
    requests: int = 0
    requests_at_risk: int = 0
    unparsable: int = 0
    duplicate_keys: int = 0
    without_tls: int = 0
    without_suite: int = 0  # an allowed version whose suites the policy narrows, with no $context.cipherSuite
    examples: list[tuple[str, int, str, str]] = dataclasses.field(default_factory=list)  # source, line, why, text
    per_version: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    per_suite: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    refused_versions: set[str] = dataclasses.field(default_factory=set)
    refused_suites: set[str] = dataclasses.field(default_factory=set)
    at_risk: dict[tuple[str, str], Client] = dataclasses.field(default_factory=dict)
    strict_mismatches: collections.Counter[tuple[str, str, str]] = dataclasses.field(
        default_factory=collections.Counter)
    windows: dict[str, list[int]] = dataclasses.field(default_factory=dict)  # label -> [requests, at risk]
    decisions: dict[tuple[str | None, str | None], tuple[str, str] | None] = dataclasses.field(default_factory=dict)

    @property
    def unread(self) -> int:
        """Lines that could hide a client: not parsed, ambiguous, or a request without its TLS values."""
        return self.unparsable + self.duplicate_keys + self.without_tls + self.without_suite

    @property
    def share_at_risk(self) -> float:
        return self.requests_at_risk / self.requests if self.requests else 0.0

    def note(self, source: str, number: int, reason: str, line: str) -> None:
        if len(self.examples) < EXAMPLES:
            self.examples.append((source, number, reason, printable(line[:120])))

    def decide(self, catalog: Catalog, version: str | None, suite: str | None) -> tuple[str, str] | None:
        """refusal() for this policy; a few distinct (version, suite) pairs in any log: each decided once."""
        key = (version, suite)
        if key not in self.decisions:
            self.decisions[key] = refusal(self.policy, catalog, version, suite)
        return self.decisions[key]

    def count_refused(self, client_key: tuple[str, str], version: str | None, suite: str | None,
                      refused: tuple[str, str], requests: int, first: Seen | None, last: Seen | None) -> None:
        """`requests` requests of one client, refused for negotiating (version, suite): one line of the
        reader, or a group of them from the DuckDB engine."""
        kind, reason = refused
        (self.refused_versions if kind == "version" else self.refused_suites).add(
            (version if kind == "version" else suite) or "-")
        self.requests_at_risk += requests
        client = self.at_risk.get(client_key)
        if client is None:
            client = self.at_risk[client_key] = Client()
        client.requests += requests
        client.reasons[reason] += requests
        client.negotiated[f"{version} {suite or '-'}"] += requests
        client.saw(first, last)

    def ranked_clients(self) -> list[tuple[tuple[str, str], Client]]:
        """Most requests first, ties by address and user agent."""
        return sorted(self.at_risk.items(), key=lambda item: (-item[1].requests, item[0]))

    def shown_examples(self) -> list[str]:
        return [f"{source}:{number}: {reason}: {text}" for source, number, reason, text in self.examples]

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy.id, "lines": self.lines, "requests": self.requests,
            "requests_at_risk": self.requests_at_risk, "share_at_risk": round(self.share_at_risk, 6),
            "unread": {"unparsable": self.unparsable, "duplicate_keys": self.duplicate_keys,
                       "without_tls_values": self.without_tls, "without_cipher_suite": self.without_suite,
                       "examples": self.shown_examples()},
            "per_version": dict(ranked(self.per_version)), "per_suite": dict(ranked(self.per_suite)),
            "refused_versions": sorted(self.refused_versions), "refused_suites": sorted(self.refused_suites),
            "clients_at_risk": [{"source_ip": ip, "user_agent": agent, "requests": c.requests,
                                 "reasons": dict(ranked(c.reasons)), "negotiated": dict(ranked(c.negotiated)),
                                 "first_seen": c.first_seen, "last_seen": c.last_seen}
                                for (ip, agent), c in self.ranked_clients()],
            "strict_host_mismatches": [{"source_ip": ip, "server_name": name, "host": host, "requests": count}
                                       for (ip, name, host), count in self.strict_mismatches.items()],
            "windows": {label: {"requests": counts[0], "at_risk": counts[1]} for label, counts in self.windows.items()},
        }


def printable(text: str) -> str:
    """No raw control characters reach a terminal or a report."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def field(values: dict[str, Any], name: str) -> str | None:
    for key in FIELDS[name]:
        value = values.get(key)
        if value not in (None, "", "-"):
            return str(value)
    return None


UNJUDGED = "unjudged"  # the deciding value is not in the log: never "not at risk"


def narrows(policy: Policy, catalog: Catalog, version: TlsVersion) -> bool:
    """Whether `policy` refuses, at `version`, a suite some policy of API Gateway accepts there: then the
    version alone does not decide a request."""
    allowed = policy.suite_fact(version).value_set
    return any(s not in allowed for p in catalog.policies if p.enforceable and p.allows_version(version)
               for s in p.suite_fact(version).value if s.negotiable_at(version))


def refusal(policy: Policy, catalog: Catalog, version_text: str | None,
            suite_text: str | None) -> tuple[str, str] | None:
    """("version" or "suite", why) when `policy` would refuse what this request negotiated; ("unjudged",
    why) when the log lacks the value that decides it; else None."""
    if version_text is None:
        return None
    try:
        version = TlsVersion.from_label(version_text)
    except ValueError:
        return "version", f"unknown TLS version {version_text}"
    if not policy.allows_version(version):
        return "version", f"{version.label} not allowed"
    if suite_text is None:
        return (UNJUDGED, f"no $context.cipherSuite, and {policy.id} refuses suites API Gateway negotiates at "
                          f"{version.label}") if narrows(policy, catalog, version) else None
    try:
        suite = catalog.suite(suite_text)
    except CatalogError:
        return "suite", f"suite {suite_text} not allowed"
    if suite not in policy.suite_fact(version).value or not suite.negotiable_at(version):
        return "suite", f"{suite.openssl} not allowed at {version.label}"
    return None


def _parse(fmt: LogFormat, text: str) -> dict[str, Any]:
    """The line, or under a CloudWatch prefix; the first reading that parses wins."""
    try:
        return fmt.parse(text)
    except DuplicateKeys:
        raise
    except Unparsable as failure:
        error: Unparsable | None = failure
    for candidate in unwrapped(text)[1:]:
        try:
            return fmt.parse(candidate)
        except DuplicateKeys:
            raise
        except Unparsable as failure:
            error = error or failure
    raise error or Unparsable("empty")


def assess(items: Iterable[Item], fmt: LogFormat, policy: Policy, catalog: Catalog, strict: bool,
           server_name: str | None, split_at: datetime.datetime | None = None) -> Readiness:
    """Read every item; nothing already counted is lost to a bad line."""
    readiness = Readiness(policy)
    if split_at is not None:
        readiness.windows = {"before": [0, 0], "after": [0, 0]}
    for source, number, item in items:
        if isinstance(item, str):
            if not item.strip():
                continue
            readiness.lines += 1
            if "\x00" in item:
                readiness.unparsable += 1
                readiness.note(source, number, "binary or unreadable", item)
                continue
            try:
                values = _parse(fmt, item)
            except DuplicateKeys as error:
                readiness.duplicate_keys += 1
                readiness.note(source, number, str(error), item)
                continue
            except Unparsable as error:
                readiness.unparsable += 1
                readiness.note(source, number, str(error), item)
                continue
        else:
            readiness.lines += 1
            values = item
        _count(readiness, values, catalog, strict, server_name, split_at, source, number)
    return readiness


def _count(readiness: Readiness, values: dict[str, Any], catalog: Catalog, strict: bool, server_name: str | None,
           split_at: datetime.datetime | None, source: str, number: int) -> None:
    for variable in ("tlsVersion", "cipherSuite"):
        if isinstance(values.get(variable), (dict, list)):  # API Gateway writes a string: this is not its line
            readiness.unparsable += 1
            readiness.note(source, number, f"$context.{variable} is a JSON {type(values[variable]).__name__}, "
                           "not a value", str(values)[:120])
            return
    readiness.requests += 1
    version = values.get("tlsVersion")  # the common spellings first: this runs once per line
    version = str(version) if version not in (None, "", "-") else field(values, "version")
    suite = values.get("cipherSuite")
    suite = str(suite) if suite not in (None, "", "-") else field(values, "suite")
    if version is None:
        readiness.without_tls += 1
        readiness.note(source, number, "a request without $context.tlsVersion", str(values)[:120])
    else:
        readiness.per_version[version] += 1
    if suite:
        readiness.per_suite[suite] += 1
    refused = readiness.decide(catalog, version, suite)
    if refused and refused[0] == UNJUDGED:
        readiness.without_suite += 1
        readiness.note(source, number, refused[1], str(values)[:120])
        refused = None
    if not refused and not strict and split_at is None:
        return  # nothing else to learn from a request the policy accepts
    seen = field(values, "time")
    window = _window(seen, split_at)
    if window:
        readiness.windows[window][0] += 1
    if refused:
        if window:
            readiness.windows[window][1] += 1
        when = parse_time(seen) if seen else None
        moment = (microseconds(when), seen) if when is not None and seen is not None else None
        readiness.count_refused((printable(field(values, "ip") or "-"), printable(field(values, "user_agent") or "-")),
                                version, suite, refused, 1, moment, moment)
    if not strict:
        return
    name = field(values, "sni") or server_name
    host = normalize_host(field(values, "host") or field(values, "domain"))
    if name and host and host != normalize_host(name):
        readiness.strict_mismatches[(printable(field(values, "ip") or "-"), printable(name), printable(host))] += 1


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def microseconds(when: datetime.datetime) -> int:
    return (when - _EPOCH) // datetime.timedelta(microseconds=1)


@functools.lru_cache(maxsize=65536)  # a log repeats each second's time for every request in it
def parse_time(text: str) -> datetime.datetime | None:
    """API Gateway's requestTime (20/Nov/2026:10:00:00 +0000), an epoch in ms or s, or ISO 8601."""
    for pattern in ("%d/%b/%Y:%H:%M:%S %z",):
        try:
            return datetime.datetime.strptime(text, pattern)
        except ValueError:
            pass
    if text.isdigit():
        seconds = int(text) / (1000 if len(text) > 11 else 1)
        try:
            return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
        except (OverflowError, ValueError, OSError):  # beyond the years a datetime holds
            return None
    try:
        parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)


def _window(seen: str | None, split_at: datetime.datetime | None) -> str | None:
    if split_at is None or seen is None:
        return None
    when = parse_time(seen)
    if when is None:
        return None
    return "before" if when < split_at else "after"


def merge(parts: list[Readiness], line_offsets: list[int] | None = None) -> Readiness:
    """Readings of consecutive pieces of the input, in order, as one reading (`line_offsets`: lines
    before each piece, when a piece counted its own lines from 1)."""
    if len(parts) == 1 and not (line_offsets and line_offsets[0]):
        return parts[0]  # one file read whole (or by DuckDB): already the reading, clients and all
    total = Readiness(parts[0].policy)
    for index, part in enumerate(parts):
        offset = line_offsets[index] if line_offsets else 0
        part.examples = [(source, number + offset, why, text) for source, number, why, text in part.examples]
        for name in ("lines", "requests", "requests_at_risk", "unparsable", "duplicate_keys", "without_tls",
                     "without_suite"):
            setattr(total, name, getattr(total, name) + getattr(part, name))
        total.examples = (total.examples + part.examples)[:EXAMPLES]
        total.per_version.update(part.per_version)
        total.per_suite.update(part.per_suite)
        total.refused_versions |= part.refused_versions
        total.refused_suites |= part.refused_suites
        total.strict_mismatches.update(part.strict_mismatches)
        for label, (requests, risky) in part.windows.items():
            counts = total.windows.setdefault(label, [0, 0])
            counts[0], counts[1] = counts[0] + requests, counts[1] + risky
        for key, client in part.at_risk.items():
            mine = total.at_risk.setdefault(key, Client())
            mine.requests += client.requests
            mine.reasons.update(client.reasons)
            mine.negotiated.update(client.negotiated)
            mine.saw(client.first, client.last)
    return total
