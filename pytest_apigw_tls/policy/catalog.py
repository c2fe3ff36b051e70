"""The policy catalog: frozen objects loaded from the packaged ``data/catalog.toml``.

Nothing else in the project names a suite list for a policy; the reference server enforces from
these objects and the expectations are computed from them.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Iterable, NamedTuple

from ..errors import CatalogError, UnknownPolicyError
from . import datacache
from .codepoints import TlsVersion
from .items import Group, Suite
from .universe import DATA, Universe, load_universe

ENDPOINT_TYPES = ("REGIONAL", "PRIVATE", "EDGE")
CERT_TYPES = ("rsa", "ecdsa")
RESOURCE_KINDS = ("restapis", "domainnames")
# unknown: the policy exists (the service model names it) but no source states this fact; such a
# fact is observed and reported, never judged.
PROVENANCES = ("documented", "inferred", "unknown")


@dataclasses.dataclass(frozen=True)
class Fact:
    """One catalog fact with where it comes from."""

    value: tuple[Any, ...]
    provenance: str
    source: str
    note: str = ""

    @functools.cached_property
    def value_set(self) -> frozenset[Any]:
        """The values for membership tests (a scan's planning asks thousands of them)."""
        return frozenset(self.value)

    @property
    def inferred(self) -> bool:
        return self.provenance == "inferred"

    @property
    def unknown(self) -> bool:
        return self.provenance == "unknown"

    def to_dict(self) -> dict[str, Any]:
        values = [v.label if isinstance(v, TlsVersion) else v.to_dict() for v in self.value]
        return {"value": values, "provenance": self.provenance, "source": self.source, "note": self.note}


@dataclasses.dataclass(frozen=True)
class Policy:
    """One catalog entry. `id` is unique; `name` is AWS's (legacy names exist once per family)."""

    id: str
    name: str
    kind: str
    endpoint_types: tuple[str, ...]
    versions: Fact  # of TlsVersion
    tls13_suites: Fact  # of Suite
    tls12_suites: Fact  # of Suite (everything negotiated at TLS 1.2 and below)
    groups: Fact  # of Group
    resource_kinds: tuple[str, ...] = RESOURCE_KINDS  # REST APIs and/or custom domain names

    @property
    def is_enhanced(self) -> bool:
        return self.kind == "enhanced"

    @property
    def unknown_facts(self) -> tuple[str, ...]:
        """Facts no source states (a policy known only by name): observed and reported, not judged."""
        return tuple(name for name in ("versions", "tls13_suites", "tls12_suites", "groups")
                     if getattr(self, name).unknown)

    @property
    def enforceable(self) -> bool:
        """The reference server can serve it: every fact is known."""
        return not self.unknown_facts

    @property
    def is_post_quantum(self) -> bool:
        return any(group.is_post_quantum for group in self.groups.value)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "kind": self.kind, "endpoint_types": list(self.endpoint_types),
                "resource_kinds": list(self.resource_kinds), "versions": self.versions.to_dict(),
                "tls13_suites": self.tls13_suites.to_dict(),
                "tls12_suites": self.tls12_suites.to_dict(), "groups": self.groups.to_dict()}

    def valid_for(self, endpoint_type: str) -> bool:
        return endpoint_type.upper() in self.endpoint_types

    def allows_version(self, version: TlsVersion) -> bool:
        return version in self.versions.value

    def suite_fact(self, version: TlsVersion) -> Fact:
        return self.tls13_suites if version is TlsVersion.TLSv1_3 else self.tls12_suites

    def accepts_suite(self, suite: Suite, version: TlsVersion, cert_type: str) -> bool:
        """Must a server with this policy and a `cert_type` certificate accept `suite` at `version`?"""
        return (
            self.allows_version(version)
            and suite in self.suite_fact(version).value_set
            and suite.negotiable_at(version)
            and suite.works_with_cert(cert_type)
        )

    def accepted_suites(self, version: TlsVersion, cert_type: str) -> tuple[Suite, ...]:
        return tuple(s for s in self.suite_fact(version).value if self.accepts_suite(s, version, cert_type))

    def accepts(self, version: str | None = None, suite: str | None = None, group: str | None = None,
                cert_type: str = "rsa") -> bool:
        """Would a conforming server accept this? Names in OpenSSL or IANA spelling ("TLSv1.2",
        "ECDHE-RSA-AES128-GCM-SHA256" or "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "x25519"); what is
        not given may be anything the policy allows (a suite without a version: at some allowed version).

        So a client test can assert "connects if and only if policy.accepts(what my client offers)".
        """
        versions = [TlsVersion.from_label(version)] if version else list(self.versions.value)
        found_suite = self._known(suite, self.tls13_suites.value + self.tls12_suites.value, "suite") if suite else None
        found_group = self._known(group, self.groups.value, "group") if group else None
        if (suite and found_suite is None) or (group and found_group is None):
            return False  # registered, but neither this policy nor the catalog names it: refused
        return any(self.allows_version(v)
                   and (found_suite is None or self.accepts_suite(found_suite, v, cert_type))
                   and (found_group is None or self.accepts_group(found_group, v))
                   for v in versions)

    @staticmethod
    def _known(name: str, own: tuple[Any, ...], kind: str) -> Any:
        """The policy's own suite or group of that name, else the catalog's, else None for a registered
        name nobody allows; CatalogError for a name that exists nowhere."""
        for item in own:
            if name in (getattr(item, "openssl", None), getattr(item, "iana", None), getattr(item, "name", None)) \
                    or str(name).lower() == str(getattr(item, "name", "")).lower():
                return item
        catalog = builtin_catalog()  # a name the policy does not own: the packaged catalog's, or the registry's
        try:
            return catalog.suite(name) if kind == "suite" else catalog.group(name)
        except CatalogError:
            registered = [s.iana for s in catalog.universe.suites] if kind == "suite" else \
                [g.name.lower() for g in catalog.universe.groups]
            if (name if kind == "suite" else name.lower()) in registered:
                return None
            raise

    def accepts_group(self, group: Group, version: TlsVersion) -> bool:
        return self.allows_version(version) and group in self.groups.value_set and group.min_version <= version

    def accepted_groups(self, version: TlsVersion) -> tuple[Group, ...]:
        return tuple(g for g in self.groups.value if self.accepts_group(g, version))


class Rule(NamedTuple):
    """A configuration rule the control plane applies, with its provenance."""

    id: str
    text: str
    provenance: str
    source: str
    note: str = ""


@dataclasses.dataclass(frozen=True)
class Catalog:
    """All policies; the named suites and groups (each checked against the registry universe); rules."""

    suites: tuple[Suite, ...]
    groups: tuple[Group, ...]
    policies: tuple[Policy, ...]
    sources: dict[str, str]
    universe: Universe = dataclasses.field(default_factory=load_universe)
    rules: tuple[Rule, ...] = ()
    sets: dict[str, list[str]] = dataclasses.field(default_factory=dict)

    def policy(self, name: str, endpoint_type: str | None = None) -> Policy:
        """Find a policy by id or AWS name; a legacy name picks its family from `endpoint_type`.

        Raises:
            UnknownPolicyError: with a close-match suggestion, when nothing matches.
        """
        wanted_type = (endpoint_type or "REGIONAL").upper()
        by_id = {p.id: p for p in self.policies}
        if name in by_id and (endpoint_type is None or by_id[name].valid_for(wanted_type)):
            return by_id[name]
        for candidate in self.policies:
            if candidate.name == name and candidate.valid_for(wanted_type):
                return candidate
        if name in by_id or any(p.name == name for p in self.policies):  # never "did you mean" the name typed
            raise UnknownPolicyError(f"policy {name} is not valid for endpoint type {wanted_type}")
        raise UnknownPolicyError(f"unknown policy {name!r}{did_you_mean(name, sorted(by_id))}")

    def suite(self, name_or_code: str | int) -> Suite:
        try:
            return self._suites_by_key[name_or_code]
        except (KeyError, TypeError):
            raise CatalogError(f"unknown cipher suite {name_or_code!r}") from None

    def group(self, name_or_code: str | int) -> Group:
        key = name_or_code.lower() if isinstance(name_or_code, str) else name_or_code
        try:
            return self._groups_by_key[key]
        except (KeyError, TypeError):
            raise CatalogError(f"unknown group {name_or_code!r}") from None

    @functools.cached_property
    def _suites_by_key(self) -> dict[str | int, Suite]:
        """OpenSSL name, IANA name and code point -> suite (a probe looks suites up hundreds of times)."""
        index: dict[str | int, Suite] = {}
        for suite in self.suites:
            for key in (suite.openssl, suite.iana, suite.code):
                index.setdefault(key, suite)
        return index

    @functools.cached_property
    def _groups_by_key(self) -> dict[str | int, Group]:
        """Name (any case) and code point -> group."""
        index: dict[str | int, Group] = {}
        for group in self.groups:
            for key in (group.name.lower(), group.code):
                index.setdefault(key, group)
        return index

    def suites_at(self, version: TlsVersion) -> tuple[Suite, ...]:
        """Every suite a ClientHello for `version` may offer (the TLS 1.3 ones only at TLS 1.3)."""
        if version is TlsVersion.TLSv1_3:
            return tuple(s for s in self.suites if s.is_tls13)
        return tuple(s for s in self.suites if not s.is_tls13)

    def policies_for(self, endpoint_type: str | None = None) -> tuple[Policy, ...]:
        if endpoint_type is None:
            return self.policies
        return tuple(p for p in self.policies if p.valid_for(endpoint_type))


def _expand(names: Any, sets: dict[str, list[str]]) -> list[str]:
    """Resolve a set name or a list that may include "@SET" references."""
    if isinstance(names, str):
        names = [f"@{names}"]
    out: list[str] = []
    for item in names:
        if item.startswith("@"):
            if item[1:] not in sets:
                raise CatalogError(f"unknown set {item[1:]!r}")
            out.extend(_expand(sets[item[1:]], sets))
        else:
            out.append(item)
    return out


def _fact(raw: Any, resolve: Any, sets: dict[str, list[str]], sources: dict[str, str], where: str) -> Fact:
    if not isinstance(raw, dict) or "value" not in raw:
        raise CatalogError(f"{where}: must be a table {{ value = [...], provenance = ..., source = ... }}")
    if raw.get("provenance") not in PROVENANCES or raw.get("source") not in sources:
        raise CatalogError(f"{where}: needs provenance in {', '.join(PROVENANCES)} and a known source "
                           f"(one of {', '.join(sorted(sources))})")
    values = []
    for name in _expand(raw["value"], sets):
        try:
            values.append(resolve(name))
        except (CatalogError, ValueError) as error:
            raise CatalogError(f"{where}: {error}") from None
    return Fact(tuple(values), raw["provenance"], raw["source"], raw.get("note", ""))


POLICY_KEYS = frozenset({"id", "name", "kind", "endpoint_types", "resource_kinds", "versions", "tls13_suites",
                         "tls12_suites", "groups", "shadows"})  # shadows: a policy file's, see policyfiles.py


def build_policy(raw: dict[str, Any], catalog: "Catalog", sets: dict[str, list[str]], where: str,
                 resolve_suite: Any = None, resolve_group: Any = None) -> Policy:
    """One [[policy]] table -> a Policy: the built-in catalog and users' policy files both come here."""
    policy_id = raw.get("id")
    if not isinstance(policy_id, str) or not policy_id:
        raise CatalogError(f"{where}: a policy needs an id")
    where = f"{where}: policy {policy_id}"
    unknown_keys = set(raw) - POLICY_KEYS
    if unknown_keys:  # min_version, signature_algorithms...: silently ignored, they would change nothing judged
        raise CatalogError(f"{where}: unknown keys {', '.join(sorted(unknown_keys))} "
                           f"(known: {', '.join(sorted(POLICY_KEYS))})")
    endpoint_types = tuple(raw.get("endpoint_types", ENDPOINT_TYPES))
    unknown_types = set(endpoint_types) - set(ENDPOINT_TYPES)
    if unknown_types:
        raise CatalogError(f"{where}: endpoint_types: unknown {', '.join(sorted(unknown_types))} "
                           f"(choose from {', '.join(ENDPOINT_TYPES)})")
    for key in ("versions", "tls13_suites", "tls12_suites", "groups"):
        if key not in raw:
            raise CatalogError(f"{where}: {key} is missing")
    sources, suite = catalog.sources, resolve_suite or catalog.suite
    return Policy(
        id=policy_id, name=raw.get("name", policy_id), kind=raw.get("kind", "custom"), endpoint_types=endpoint_types,
        resource_kinds=tuple(raw.get("resource_kinds", RESOURCE_KINDS)),
        versions=_fact(raw["versions"], TlsVersion.from_label, sets, sources, f"{where}: versions"),
        tls13_suites=_fact(raw["tls13_suites"], suite, sets, sources, f"{where}: tls13_suites"),
        tls12_suites=_fact(raw["tls12_suites"], suite, sets, sources, f"{where}: tls12_suites"),
        groups=_fact(raw["groups"], resolve_group or catalog.group, sets, sources, f"{where}: groups"),
    )


def parse_catalog(text: str) -> Catalog:
    """Build a Catalog from TOML text, rejecting unknown names and duplicates."""
    return catalog_from_tables(_toml_tables(text))


def _toml_tables(text: str) -> dict[str, Any]:
    import tomllib  # only when the parse cache misses (datacache.py): its import cost every start-up 2 ms

    return tomllib.loads(text)


def catalog_from_tables(data: dict[str, Any]) -> Catalog:
    """Build a Catalog from the catalog's parsed TOML tables, rejecting unknown names and duplicates."""
    suites = tuple(
        Suite(s["openssl"], s["iana"], s["code"], s["kx"], s["auth"], s["mode"],
              TlsVersion.from_label(s["min"]), TlsVersion.from_label(s["max"]))
        for s in data["suite"]
    )
    groups = tuple(Group(g["name"], g["code"], g["kind"], TlsVersion.from_label(g["min"])) for g in data["group"])
    _reject_duplicates("suite code", [s.code for s in suites])
    _reject_duplicates("group code", [g.code for g in groups])
    universe = load_universe()
    _check_against_registry(suites, groups, universe)
    rules = tuple(Rule(r["id"], r["text"], r["provenance"], r["source"], r.get("note", ""))
                  for r in data.get("rule", []))
    draft = Catalog(suites, groups, (), dict(data["sources"]), universe, rules, dict(data["sets"]))
    policies = [build_policy(raw, draft, draft.sets, "catalog") for raw in data["policy"]]
    _reject_duplicates("policy id", [p.id for p in policies])
    return dataclasses.replace(draft, policies=tuple(policies))


def _check_against_registry(suites: tuple[Suite, ...], groups: tuple[Group, ...], universe: Universe) -> None:
    """Every named suite and group must be the registry's value under the registry's name."""
    for suite in suites:
        registered = universe.suite(suite.code)
        if registered is None or registered.iana != suite.iana:
            raise CatalogError(f"suite {suite.openssl}: 0x{suite.code:04X} is {universe.describe_suite(suite.code)} "
                               f"in the IANA registry, not {suite.iana}")
    for group in groups:
        known = universe.group(group.code)
        if known is None or known.name.lower() != group.name.lower():
            raise CatalogError(f"group {group.name}: 0x{group.code:04X} is {universe.describe_group(group.code)} "
                               f"in the IANA registry")


def _reject_duplicates(what: str, values: Iterable[Any]) -> None:
    seen: set[Any] = set()
    for value in values:
        if value in seen:
            raise CatalogError(f"duplicate {what} {value!r}")
        seen.add(value)


def did_you_mean(name: str, known: list[str]) -> str:
    """" (did you mean X?)" naming the known name closest to a wrong one (one differing only in case
    first), or "" when none is close."""
    close = [k for k in known if k.lower() == name.lower()]
    if not close:
        import difflib  # only when a name is wrong: the hint costs every start-up 2 ms otherwise

        close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def builtin_policy_ids() -> frozenset[str]:
    """The packaged policies' ids, read without building the catalog: for checks that must stay cheap
    (an unrelated `pytest -n` run asks whether its collection could hold the suite's cases)."""
    return frozenset(table["id"] for table in datacache.parsed(DATA / "catalog.toml", _toml_tables)["policy"])


@functools.cache
def builtin_catalog() -> Catalog:
    """The packaged catalog (parsed once per process)."""
    return catalog_from_tables(datacache.parsed(DATA / "catalog.toml", _toml_tables))


def load_catalog(policy_files: Iterable[str] = ()) -> Catalog:
    """The built-in catalog, extended with the policies of users' policy files (policyfiles.py checks
    them). No state is kept: each front-end builds the catalog of its run once and hands it on (to the
    scan, the plugin's session, the reference server)."""
    from .policyfiles import extend_catalog

    catalog = builtin_catalog()
    for path in policy_files:
        catalog = extend_catalog(catalog, path)
    return catalog
