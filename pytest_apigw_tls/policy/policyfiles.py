"""Users' policy files: the catalog's own [[policy]] schema, validated as strictly as the built-in one.

A file holds [sources] (optional), [sets] (optional; the built-in sets are usable too) and
[[policy]] tables. A policy may name any suite or group of the IANA registry (OpenSSL or IANA
spelling); each error is one line naming the file, the policy and the field, with a "did you mean".
A policy cannot take a built-in name unless it says `shadows = true`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from ..errors import ConfigError
from .catalog import (
    Catalog,
    CatalogError,
    Group,
    Policy,
    Suite,
    build_policy,
    did_you_mean,
)
from .codepoints import TlsVersion
from .fields import read_toml

FILE_SOURCE = "policy-file"


def _resolver(what: str, lookup: Callable[[str], Any], registered_named: Callable[[str], Any],
              names: list[str], added: dict[int, Any]) -> Callable[[str], Any]:
    """Names the catalog knows first, then any name of the registry (the registry's item is the catalog's
    model already: one suite model, one group model)."""
    def resolve(name: str) -> Any:
        try:
            return lookup(name)
        except CatalogError:
            pass
        registered = registered_named(name)
        if registered is None:
            raise CatalogError(f"unknown {what} {name!r}{did_you_mean(name, names)}")
        return added.setdefault(registered.code, registered)
    return resolve


def _suite_resolver(catalog: Catalog, added: dict[int, Suite]) -> Callable[[str], Suite]:
    names = sorted({s.openssl for s in catalog.suites} | {s.iana for s in catalog.universe.suites})
    return _resolver("cipher suite", catalog.suite, catalog.universe.suite_named, names, added)


def _group_resolver(catalog: Catalog, added: dict[int, Group]) -> Callable[[str], Group]:
    names = sorted({g.name for g in catalog.groups} | {g.name for g in catalog.universe.groups})
    return _resolver("group", catalog.group, catalog.universe.group_named, names, added)


def _check(policy: Policy, where: str) -> None:
    """Empty sets and suites filed under the wrong version are mistakes, said in one line."""
    if not policy.versions.value:
        raise CatalogError(f"{where}: versions is empty")
    for suite in policy.tls13_suites.value:
        if suite.max_version < TlsVersion.TLSv1_3:
            raise CatalogError(f"{where}: tls13_suites: {suite.openssl} is not a TLS 1.3 suite "
                               "(list it in tls12_suites)")
    for suite in policy.tls12_suites.value:
        if suite.min_version > TlsVersion.TLSv1_2:
            raise CatalogError(f"{where}: tls12_suites: {suite.openssl} is a TLS 1.3 suite (list it in tls13_suites)")
    if TlsVersion.TLSv1_3 in policy.versions.value and not policy.tls13_suites.value:
        raise CatalogError(f"{where}: tls13_suites is empty but TLSv1.3 is allowed")
    if any(v < TlsVersion.TLSv1_3 for v in policy.versions.value) and not policy.tls12_suites.value:
        raise CatalogError(f"{where}: tls12_suites is empty but a version below TLSv1.3 is allowed")
    if not policy.groups.value:
        raise CatalogError(f"{where}: groups is empty")


def _with_defaults(raw: Any, where: str) -> dict[str, Any]:
    """Facts given as a bare list get provenance "documented" and the file as their source."""
    if not isinstance(raw, dict):
        raise CatalogError(f"{where}: a [[policy]] must be a table")
    out = dict(raw)
    for key in ("versions", "tls13_suites", "tls12_suites", "groups"):
        if isinstance(out.get(key), (list, str)):
            out[key] = {"value": out[key], "provenance": "documented", "source": FILE_SOURCE}
    return out


def extend_catalog(catalog: Catalog, path: str) -> Catalog:
    """The catalog with the policies of the file at `path` added; ConfigError (one line) when it is wrong."""
    data = read_toml(path, "policy file")
    unknown = set(data) - {"sources", "sets", "policy"}
    if unknown:
        raise ConfigError(f"{path}: unknown tables {', '.join(sorted(unknown))} (known: sources, sets, policy)")
    raw_policies = data.get("policy")
    if not isinstance(raw_policies, list) or not raw_policies:
        raise ConfigError(f"{path}: needs at least one [[policy]] table")
    sources = {**catalog.sources, FILE_SOURCE: f"policy file {path}", **data.get("sources", {})}
    sets = {**catalog.sets, **data.get("sets", {})}
    draft = dataclasses.replace(catalog, sources=sources, sets=sets)
    added_suites: dict[int, Suite] = {}
    added_groups: dict[int, Group] = {}
    resolve_suite, resolve_group = _suite_resolver(draft, added_suites), _group_resolver(draft, added_groups)
    existing = {p.id for p in catalog.policies} | {p.name for p in catalog.policies}
    policies, seen = [], set()
    for number, raw in enumerate(raw_policies, 1):
        try:
            policy = build_policy(_with_defaults(raw, f"policy {number}"), draft, sets, path, resolve_suite,
                                  resolve_group)
            where = f"{path}: policy {policy.id}"
            if policy.id in seen:
                raise CatalogError(f"{where}: the file names it twice")
            if policy.id in existing and not raw.get("shadows"):
                raise CatalogError(f"{where}: a built-in policy has this name (say shadows = true to replace it)")
            _check(policy, where)
        except CatalogError as error:
            raise ConfigError(str(error)) from None
        seen.add(policy.id)
        policies.append(policy)
    kept = tuple(p for p in catalog.policies if p.id not in seen)
    return dataclasses.replace(
        draft, policies=kept + tuple(policies),
        suites=catalog.suites + tuple(s for c, s in added_suites.items() if c not in {x.code for x in catalog.suites}),
        groups=catalog.groups + tuple(g for c, g in added_groups.items() if c not in {x.code for x in catalog.groups}))
