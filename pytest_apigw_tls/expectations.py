"""Catalog x certificate type -> what a conforming target must accept and must refuse.

These are the questions the conformance cases and the scan planner ask; none is hand-written per
test. With an RSA certificate no ECDSA suite can negotiate (and the reverse), so such a suite is
expected to be refused, never counted as a missing acceptance.
"""

from __future__ import annotations

import dataclasses

from .catalog import Catalog, Policy, Suite
from .codepoints import TlsVersion

ACCEPT = "accepted"
REJECT = "rejected"

VERSIONS_PROBED = tuple(TlsVersion)  # SSLv3 .. TLS 1.3


@dataclasses.dataclass(frozen=True)
class Expectation:
    """One thing a target must do. `item` is a version label, suite (OpenSSL name) or group name."""

    dimension: str  # "version" | "suite" | "group"
    version: TlsVersion
    item: str
    expected: str  # ACCEPT | REJECT
    provenance: str
    reason: str

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.dimension, int(self.version), self.item)

    @property
    def test_id(self) -> str:
        if self.dimension == "version":
            return f"{self.item}-{self.expected}"
        return f"{self.version.label}-{self.item}-{self.expected}"


def version_expectations(policy: Policy) -> list[Expectation]:
    out = []
    for version in VERSIONS_PROBED:
        allowed = policy.allows_version(version)
        reason = "in the policy" if allowed else "not in the policy"
        out.append(Expectation("version", version, version.label, ACCEPT if allowed else REJECT,
                               policy.versions.provenance, reason))
    return out


def suite_expectations(policy: Policy, cert_type: str, catalog: Catalog) -> list[Expectation]:
    """For every version the policy allows: every suite of the universe, accepted or refused."""
    out = []
    for version in (v for v in VERSIONS_PROBED if policy.allows_version(v)):
        fact = policy.suite_fact(version)
        for suite in catalog.suites_at(version):
            if policy.accepts_suite(suite, version, cert_type):
                expected, reason = ACCEPT, "in the policy"
            elif suite not in fact.value:
                expected, reason = REJECT, "not in the policy"
            elif not suite.negotiable_at(version):
                expected, reason = REJECT, f"cannot be negotiated at {version.label}"
            else:
                expected, reason = REJECT, f"needs an {suite.auth} certificate"
            out.append(Expectation("suite", version, suite.openssl, expected, fact.provenance, reason))
    return out


def ecdhe_suites(policy: Policy, version: TlsVersion, cert_type: str) -> tuple[Suite, ...]:
    """The suites through which a TLS 1.2-and-below group can be asked about: accepted, ECDHE."""
    return tuple(s for s in policy.accepted_suites(version, cert_type) if s.kx == "ECDHE")


def group_expectations(policy: Policy, cert_type: str, catalog: Catalog) -> list[Expectation]:
    """Key-exchange groups: every group at TLS 1.3; the elliptic curves at each lower version the
    policy allows, asked through its ECDHE suites (post-quantum hybrids exist only in TLS 1.3).

    Below TLS 1.3 only with an RSA certificate: there supported_groups also has to name an ECDSA
    certificate's curve (RFC 8422 5.1), so a single group cannot be offered alone.
    """
    out = []
    for version in (v for v in VERSIONS_PROBED if policy.allows_version(v)):
        if version is TlsVersion.TLSv1_3:
            groups = catalog.groups
        elif cert_type == "rsa" and ecdhe_suites(policy, version, cert_type):
            groups = tuple(g for g in catalog.groups if g.kind == "ecdhe" and g.min_version <= version)
        else:
            continue
        out += [Expectation("group", version, group.name,
                            ACCEPT if policy.accepts_group(group, version) else REJECT,
                            policy.groups.provenance,
                            "in the policy" if group in policy.groups.value else "not in the policy")
                for group in groups]
    return out


def expectations_for(policy: Policy, cert_type: str, catalog: Catalog) -> list[Expectation]:
    """All TLS-level expectations of `policy` on an endpoint with a `cert_type` certificate."""
    return (version_expectations(policy) + suite_expectations(policy, cert_type, catalog)
            + group_expectations(policy, cert_type, catalog))



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


@dataclasses.dataclass(frozen=True)
class AccessExpectation:
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
