"""Catalog x certificate type -> what a conforming target must accept and must refuse.

These are the questions the conformance cases and the scan planner ask; none is hand-written per
test. With an RSA certificate no ECDSA suite can negotiate (and the reverse), so such a suite is
expected to be refused, never counted as a missing acceptance.
"""

from __future__ import annotations

from typing import NamedTuple

from ..vocabulary import Dimension, Expected
from .catalog import Catalog, Policy
from .codepoints import TlsVersion
from .items import Suite, cert_types

ACCEPT, REJECT, UNKNOWN = Expected.ACCEPTED, Expected.REJECTED, Expected.UNKNOWN

VERSIONS_PROBED = tuple(TlsVersion)  # SSLv3 .. TLS 1.3
# The catch-all items: every registered value the catalog does not name, offered in bulk.
OTHER_SUITES = "other-registered-suites"
OTHER_GROUPS = "other-registered-groups"


class Expectation(NamedTuple):
    """One thing a target must do. `item` is a version label, suite (OpenSSL name), group name, or a
    catch-all item whose `members` are the registry code points it stands for."""

    dimension: Dimension  # VERSION, SUITE or GROUP
    version: TlsVersion
    item: str
    expected: Expected
    provenance: str
    reason: str
    members: tuple[int, ...] = ()

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.dimension, int(self.version), self.item)

    @property
    def judged(self) -> bool:
        return self.expected != UNKNOWN

    @property
    def test_id(self) -> str:
        if self.dimension == Dimension.VERSION:
            return f"{self.item}-{self.expected}"
        return f"{self.version.label}-{self.item}-{self.expected}"


def version_expectations(policy: Policy) -> list[Expectation]:
    out = []
    for version in VERSIONS_PROBED:
        allowed = policy.allows_version(version)
        reason = "in the policy" if allowed else "not in the policy"
        out.append(Expectation(Dimension.VERSION, version, version.label, ACCEPT if allowed else REJECT,
                               policy.versions.provenance, reason))
    return out


def suite_expectations(policy: Policy, cert_type: str, catalog: Catalog) -> list[Expectation]:
    """For every version the policy allows: every named suite, accepted or refused, and one catch-all
    case for the rest of the IANA registry, which must be refused."""
    out = []
    named_codes = {s.code for s in catalog.suites}
    for version in (v for v in VERSIONS_PROBED if policy.allows_version(v)):
        fact = policy.suite_fact(version)
        for suite in catalog.suites_at(version):
            if fact.unknown:
                expected, reason = UNKNOWN, "the policy's suites are undocumented"
            elif policy.accepts_suite(suite, version, cert_type):
                expected, reason = ACCEPT, "in the policy"
            elif suite not in fact.value_set:
                expected, reason = REJECT, "not in the policy"
            elif not suite.negotiable_at(version):
                expected, reason = REJECT, f"cannot be negotiated at {version.label}"
            else:
                expected, reason = REJECT, f"needs an {suite.auth} certificate"
            out.append(Expectation(Dimension.SUITE, version, suite.openssl, expected, fact.provenance, reason))
        rest = tuple(s.code for s in catalog.universe.suites_offered_at(version) if s.code not in named_codes)
        out.append(Expectation(Dimension.SUITE, version, OTHER_SUITES, UNKNOWN if fact.unknown else REJECT,
                               fact.provenance, f"{len(rest)} registered suites no policy names", rest))
    return out


def ecdhe_suites(policy: Policy, version: TlsVersion, cert_type: str) -> tuple[Suite, ...]:
    """The suites through which a TLS 1.2-and-below group can be asked about: accepted, ECDHE_RSA."""
    if "rsa" not in cert_types(cert_type):
        return ()
    return tuple(s for s in policy.accepted_suites(version, cert_type) if s.kx == "ECDHE" and s.auth == "RSA")


def ecdsa_ecdhe_suites(policy: Policy, version: TlsVersion, cert_type: str) -> tuple[Suite, ...]:
    """An endpoint with only an ECDSA certificate: its accepted ECDHE_ECDSA suites, through which the
    refused TLS 1.2-and-below groups are asked, each offer also naming the certificate's curve."""
    if cert_types(cert_type) != ("ecdsa",):
        return ()
    return tuple(s for s in policy.accepted_suites(version, cert_type) if s.kx == "ECDHE" and s.auth == "ECDSA")


def group_expectations(policy: Policy, cert_type: str, catalog: Catalog) -> list[Expectation]:
    """Key-exchange groups: every named group at TLS 1.3; the named curves at each lower version the
    policy allows, asked through its ECDHE_RSA suites (post-quantum hybrids exist only in TLS 1.3);
    and a catch-all case per version for the rest of the registry.

    Below TLS 1.3 with only an ECDSA certificate, supported_groups has to name the certificate's curve
    too (RFC 8422 5.1), so every offer carries it: a server that prefers its own order may then never
    choose an allowed curve it ranks lower, which says nothing against it. So only the refused curves
    are asked there, and "refused" means what a client can observe: never chosen beside that curve.
    """
    out = []
    named_codes = {g.code for g in catalog.groups}
    fact = policy.groups
    for version in (v for v in VERSIONS_PROBED if policy.allows_version(v)):
        if version is TlsVersion.TLSv1_3:
            groups = catalog.groups
        elif ecdhe_suites(policy, version, cert_type) or (fact.unknown and "rsa" in cert_types(cert_type)):
            groups = tuple(g for g in catalog.groups if g.kind == "ecdhe" and g.min_version <= version)
        elif ecdsa_ecdhe_suites(policy, version, cert_type) and not fact.unknown:
            groups = tuple(g for g in catalog.groups if g.kind == "ecdhe" and g.min_version <= version
                           and not policy.accepts_group(g, version))
        else:
            continue
        for group in groups:
            if fact.unknown:
                expected, reason = UNKNOWN, "the policy's groups are undocumented"
            elif policy.accepts_group(group, version):
                expected, reason = ACCEPT, "in the policy"
            else:
                expected, reason = REJECT, "not in the policy" if group not in fact.value else \
                    f"not usable at {version.label}"
            out.append(Expectation(Dimension.GROUP, version, group.name, expected, fact.provenance, reason))
        rest = tuple(g.code for g in catalog.universe.groups_offered_at(version) if g.code not in named_codes)
        out.append(Expectation(Dimension.GROUP, version, OTHER_GROUPS, UNKNOWN if fact.unknown else REJECT,
                               fact.provenance, f"{len(rest)} registered groups no policy names", rest))
    return out


_MEMO_SIZE = 1024
_memo: dict[tuple[int, Policy, str], tuple[Catalog, tuple[Expectation, ...]]] = {}


def expectations_for(policy: Policy, cert_type: str, catalog: Catalog) -> list[Expectation]:
    """All TLS-level expectations of `policy` on an endpoint with `cert_type` certificates ("rsa,ecdsa": both).

    A pure function of its arguments, remembered (0.75 ms a call): a fleet's targets of one policy, and
    the plugin's case generation, selection and SNI pairing, which each ask for a target's
    expectations, share one computation. The catalog is held with its entry, so its id is not reused."""
    key = (id(catalog), policy, cert_type)
    found = _memo.get(key)
    if found is None or found[0] is not catalog:
        if len(_memo) >= _MEMO_SIZE:
            _memo.clear()
        found = _memo[key] = (catalog, tuple(version_expectations(policy)
                                             + suite_expectations(policy, cert_type, catalog)
                                             + group_expectations(policy, cert_type, catalog)))
    return list(found[1])


ALLOWED = "allowed"
REFUSED = "refused"
# STRICT's Host cases: name -> Host header from the SNI (None: no Host header at all).
STRICT_HOST_CASES = {
    "host-equal": lambda sni: sni,
    "host-with-port": lambda sni: f"{sni}:443",
    "host-other-case": lambda sni: sni.upper(),
    "host-trailing-dot": lambda sni: f"{sni}.",
    "host-different": lambda sni: f"other-{sni}",
    "host-absent": lambda sni: None,
}
# STRICT's second rule: the request arrives through a listener of another endpoint type (Host = SNI).
ORIGIN_CASE = "origin-other-type"
_STRICT_REFUSES = {"host-different", "host-absent", ORIGIN_CASE}


class AccessExpectation(NamedTuple):
    """One STRICT/BASIC Host case: whether a request must be let through or refused."""

    access_mode: str
    case: str
    expected: str  # ALLOWED | REFUSED

    @property
    def test_id(self) -> str:
        return f"{self.access_mode}-{self.case}-{self.expected}"

    def host_header(self, sni: str) -> str | None:
        return sni if self.case == ORIGIN_CASE else STRICT_HOST_CASES[self.case](sni)


def access_expectations(access_mode: str | None, other_arrival_path: bool = False) -> list[AccessExpectation]:
    """BASIC (and legacy policies, which have no mode) let every case through; STRICT refuses mismatches.

    The arrival-path case exists only where the target offers a second path of another endpoint type.
    """
    mode = access_mode or "BASIC"
    cases = list(STRICT_HOST_CASES) + ([ORIGIN_CASE] if other_arrival_path else [])
    return [AccessExpectation(mode, case, REFUSED if mode == "STRICT" and case in _STRICT_REFUSES else ALLOWED)
            for case in cases]
