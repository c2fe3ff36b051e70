"""Migration readiness from access logs: which clients a target policy (and STRICT) would refuse.

Reads API Gateway access logs: JSON lines (keys named after the `$context` variables, or mapped by
a JSON `--format`), or lines in a `$context.*` format string. Versions and suites are accepted in
OpenSSL and IANA spellings. A log shows only what a client negotiated, not all it could offer, so a
client listed here is *at risk*: refused unless it also offers something the policy allows.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import re
from typing import Any, Iterable

from .catalog import Catalog, Policy, Suite
from .codepoints import TlsVersion
from .errors import CatalogError, ConfigError
from .hostnames import normalize_host

_VARIABLE = re.compile(r"\$context\.([A-Za-z0-9_.]+)")
_QUOTED_VALUE, _BARE_VALUE = r'[^"]*', r"\S+"
# What each field means, by the $context variable (or our reference server's key) that carries it.
FIELDS = {
    "ip": ("identity.sourceIp", "sourceIp", "ip"),
    "user_agent": ("identity.userAgent", "userAgent", "user_agent"),
    "version": ("tlsVersion",),
    "suite": ("cipherSuite",),
    "host": ("host",),
    "domain": ("domainName",),
    "sni": ("sni",),
}


@dataclasses.dataclass(frozen=True)
class LogEntry:
    ip: str | None
    user_agent: str | None
    version: str | None
    suite: str | None
    host: str | None
    domain: str | None
    sni: str | None


class LogFormat:
    """How to read a line: JSON (optionally with a key -> variable map) or a `$context` format string."""

    def __init__(self, fmt: str | None = None) -> None:
        self.json_keys: dict[str, str] | None = None
        self.pattern: re.Pattern[str] | None = None
        if fmt is None:
            return
        stripped = fmt.strip()
        if stripped.startswith("{"):
            try:
                template = json.loads(stripped)
            except ValueError as error:
                raise ConfigError(f"--format looks like JSON but is not: {error}") from None
            self.json_keys = {key: m.group(1) for key, value in template.items()
                              if isinstance(value, str) and (m := _VARIABLE.fullmatch(value.strip()))}
        else:
            self.pattern = _compile_template(stripped)

    def parse(self, line: str) -> dict[str, Any] | None:
        """A line's variables (by $context name), or None when it does not parse."""
        if self.pattern is not None:
            match = self.pattern.fullmatch(line.strip())
            return {name.replace("__", "."): value for name, value in match.groupdict().items()} if match else None
        try:
            data = json.loads(line)
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        if self.json_keys:
            return {self.json_keys.get(key, key): value for key, value in data.items()}
        return data


def _compile_template(fmt: str) -> re.Pattern[str]:
    parts, position = [], 0
    for match in _VARIABLE.finditer(fmt):
        parts.append(re.escape(fmt[position:match.start()]))
        quoted = match.start() > 0 and fmt[match.start() - 1] == '"'
        name = match.group(1).replace(".", "__")
        value_pattern = _QUOTED_VALUE if quoted else _BARE_VALUE
        parts.append(f"(?P<{name}>{value_pattern})")
        position = match.end()
    parts.append(re.escape(fmt[position:]))
    if position == 0:
        raise ConfigError("--format has no $context variables")
    return re.compile("".join(parts))


def to_entry(values: dict[str, Any]) -> LogEntry:
    def field(name: str) -> str | None:
        for key in FIELDS[name]:
            value = values.get(key)
            if value not in (None, "", "-"):
                return str(value)
        return None
    return LogEntry(*(field(name) for name in ("ip", "user_agent", "version", "suite", "host", "domain", "sni")))


@dataclasses.dataclass
class Readiness:
    """What the logs say about moving to `policy` (and STRICT)."""

    policy: Policy
    requests: int = 0
    unparsable: list[int] = dataclasses.field(default_factory=list)
    per_version: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    per_suite: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    refused_versions: set[str] = dataclasses.field(default_factory=set)
    refused_suites: set[str] = dataclasses.field(default_factory=set)
    at_risk: dict[tuple[str, str], collections.Counter[str]] = dataclasses.field(default_factory=dict)
    strict_mismatches: collections.Counter[tuple[str, str, str]] = dataclasses.field(
        default_factory=collections.Counter)

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy.id, "requests": self.requests, "unparsable_lines": self.unparsable,
            "per_version": dict(self.per_version), "per_suite": dict(self.per_suite),
            "refused_versions": sorted(self.refused_versions), "refused_suites": sorted(self.refused_suites),
            "clients_at_risk": [{"source_ip": ip, "user_agent": agent, "requests": sum(reasons.values()),
                                 "reasons": dict(reasons)} for (ip, agent), reasons in self.at_risk.items()],
            "strict_host_mismatches": [{"source_ip": ip, "server_name": name, "host": host, "requests": count}
                                       for (ip, name, host), count in self.strict_mismatches.items()],
        }


def refusal(policy: Policy, catalog: Catalog, version_text: str | None,
            suite_text: str | None) -> tuple[str, str] | None:
    """("version" or "suite", why) when `policy` would refuse what this request negotiated, else None."""
    if version_text is None:
        return None
    try:
        version = TlsVersion.from_label(version_text)
    except ValueError:
        return "version", f"unknown TLS version {version_text}"
    if not policy.allows_version(version):
        return "version", f"{version.label} not allowed"
    if suite_text is None:
        return None
    try:
        suite: Suite = catalog.suite(suite_text)
    except CatalogError:
        return "suite", f"suite {suite_text} not allowed"
    if suite not in policy.suite_fact(version).value or not suite.negotiable_at(version):
        return "suite", f"{suite.openssl} not allowed at {version.label}"
    return None


def assess(lines: Iterable[tuple[int, str]], fmt: LogFormat, policy: Policy, catalog: Catalog, strict: bool,
           server_name: str | None) -> Readiness:
    """Read (line number, text) pairs; nothing already counted is lost to a bad line."""
    readiness = Readiness(policy)
    for number, line in lines:
        if not line.strip():
            continue
        values = fmt.parse(line)
        if values is None:
            readiness.unparsable.append(number)
            continue
        entry = to_entry(values)
        readiness.requests += 1
        if entry.version:
            readiness.per_version[entry.version] += 1
        if entry.suite:
            readiness.per_suite[entry.suite] += 1
        refused = refusal(policy, catalog, entry.version, entry.suite)
        if refused:
            kind, reason = refused
            if kind == "version":
                readiness.refused_versions.add(entry.version or "-")
            else:
                readiness.refused_suites.add(entry.suite or "-")
            key = (entry.ip or "-", entry.user_agent or "-")
            readiness.at_risk.setdefault(key, collections.Counter())[reason] += 1
        name = entry.sni or server_name
        host = normalize_host(entry.host or entry.domain)
        if strict and name and host and host != normalize_host(name):
            readiness.strict_mismatches[(entry.ip or "-", name, host)] += 1
    return readiness
