"""Conformance cases, one registry entry per Dimension: how its cases are made from the targets, how
each is named, which conformance test holds them, and how each is judged from the session's scans.

Adding a dimension is one entry in RULES (and its test function under conformance/); the plugin,
the selection of -k/-m, the session and the reports all read the registry or the Dimension enum.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Iterator, NamedTuple

import pytest

from ..judgement import (
    CaseVerdict,
    alignment_case_id,
    alignment_verdict,
    cert_case_id,
    cert_verdict,
    discriminating_key,
    sni_case_id,
    sni_partners,
    sni_verdict,
)
from ..policy.catalog import Catalog
from ..policy.expectations import AccessExpectation, Expectation, access_expectations, expectations_for
from ..probing.targets import TargetSpec
from ..vocabulary import Dimension
from .session import ScanCache


@dataclasses.dataclass(frozen=True)
class Case:
    """One conformance case: a target, a dimension and what is expected (partner: the other SNI)."""

    target: TargetSpec
    dimension: Dimension
    expectation: Expectation | AccessExpectation | None = None
    partner: TargetSpec | None = None

    @property
    def test_id(self) -> str:
        return RULES[self.dimension].case_id(self)


class DimensionRules(NamedTuple):
    """test: the conformance test function; cases: targets -> its cases; case_id: a case's readable id
    (its target's name first); judge: the case's verdict from the session's scans."""

    test: str
    cases: Callable[[list[TargetSpec]], Iterator[Case]]
    case_id: Callable[[Case], str]
    judge: Callable[[ScanCache, Case], CaseVerdict]


def cases_for(dimension: Dimension, targets: list[TargetSpec]) -> Iterator[Case]:
    return RULES[dimension].cases(targets)


def judge(cache: ScanCache, case: Case) -> CaseVerdict:
    return RULES[case.dimension].judge(cache, case)


def marks_for(case: Case) -> list[pytest.MarkDecorator]:
    """Selection marks (-m inferred, strict, pq, edge)."""
    marks = []
    if getattr(case.expectation, "provenance", None) == "inferred":
        marks.append(pytest.mark.inferred)
    if case.dimension == Dimension.ACCESS:
        marks.append(pytest.mark.strict)
    if case.dimension == Dimension.GROUP and isinstance(case.expectation, Expectation) \
            and _post_quantum(case.expectation, case.target.catalog):
        marks.append(pytest.mark.pq)
    if case.target.endpoint_type == "EDGE":
        marks.append(pytest.mark.edge)
    return marks


def _post_quantum(expectation: Expectation, catalog: Catalog) -> bool:
    if expectation.members:
        return any((g := catalog.universe.group(code)) is not None and g.kind in ("mlkem", "hybrid")
                   for code in expectation.members)
    return catalog.group(expectation.item).is_post_quantum


def _tls_targets(targets: list[TargetSpec]) -> list[TargetSpec]:
    return [t for t in targets if not t.access_only]


# -- how each dimension's cases are made -------------------------------------------------------------
def _tls_cases(dimension: Dimension) -> Callable[[list[TargetSpec]], Iterator[Case]]:
    def cases(targets: list[TargetSpec]) -> Iterator[Case]:
        for target in _tls_targets(targets):
            for expectation in expectations_for(target.policy, target.cert_type or "rsa", target.catalog):
                if expectation.dimension == dimension:
                    yield Case(target, dimension, expectation)
    return cases


def _sni_cases(targets: list[TargetSpec]) -> Iterator[Case]:
    return (Case(a, Dimension.SNI, partner=b) for a, b in sni_partners(_tls_targets(targets)))


def _access_cases(targets: list[TargetSpec]) -> Iterator[Case]:
    for target in targets:
        if target.sni and (target.access_mode or target.on_reference):
            other_path = bool(target.other_path) or target.on_reference  # the reference has every path
            yield from (Case(target, Dimension.ACCESS, e) for e in access_expectations(target.access_mode, other_path))


def _cert_cases(targets: list[TargetSpec]) -> Iterator[Case]:
    return (Case(t, Dimension.CERT) for t in _tls_targets(targets))


def _alignment_cases(targets: list[TargetSpec]) -> Iterator[Case]:
    return (Case(t, Dimension.ALIGNMENT) for t in _tls_targets(targets) if t.default_endpoint)


# -- how each is named -------------------------------------------------------------------------------
def _expectation_id(case: Case) -> str:
    assert case.expectation is not None
    return f"{case.target.name}-{case.expectation.test_id}"


def _sni_id(case: Case) -> str:
    return sni_case_id(case.target, case.partner)


# -- how each is judged ------------------------------------------------------------------------------
def _tls_verdict(cache: ScanCache, case: Case) -> CaseVerdict:
    assert isinstance(case.expectation, Expectation)
    result = cache.tls(case.target)
    verdict = result.verdict_for(case.expectation)
    e = verdict.expectation
    where = f"{result.target} under {result.policy_id} ({result.cert_type} certificate)"
    message = (f"{where}: {e.dimension} {e.item} at {e.version.label}: expected {e.expected} ({e.reason}), "
               f"observed {verdict.observed}: {verdict.evidence}")
    if e.dimension == Dimension.VERSION:
        message = f"{where}: {e.item}: expected {e.expected}, observed {verdict.observed}: {verdict.evidence}"
    props = (("expected", e.expected), ("observed", verdict.observed), ("evidence", verdict.evidence),
             ("provenance", e.provenance))
    return CaseVerdict(verdict.verdict, message, props)


def _access_verdict(cache: ScanCache, case: Case) -> CaseVerdict:
    wanted = case.expectation
    assert isinstance(wanted, AccessExpectation)
    verdict = next(v for v in cache.access(case.target) if v.expectation == wanted)
    message = (f"{case.target.sni} ({wanted.access_mode}) with Host {verdict.host_header!r}: expected "
               f"{wanted.expected}, got {verdict.evidence}")
    return CaseVerdict(verdict.verdict, message, (("expected", wanted.expected), ("evidence", verdict.evidence)))


def _sni_verdict(cache: ScanCache, case: Case) -> CaseVerdict:
    """Both targets share an address; the item on which their policies differ must follow each SNI.
    This target's side is read from its own scan (one scan per target); the partner's is its own case."""
    assert case.partner is not None
    key = discriminating_key(case.target, case.partner)
    own = next(v for v in cache.tls(case.target).verdicts if v.expectation.key == key)
    return sni_verdict(case.target, case.partner, own)


def _alignment_verdict(cache: ScanCache, case: Case) -> CaseVerdict:
    behind = case.target.resolve_default_endpoint()
    assert behind is not None
    return alignment_verdict(case.target, behind, cache.tls(behind))


def _cert_verdict(cache: ScanCache, case: Case) -> CaseVerdict:
    return cert_verdict(case.target, cache.cert_type(case.target))


RULES: dict[Dimension, DimensionRules] = {
    Dimension.VERSION: DimensionRules("test_version", _tls_cases(Dimension.VERSION), _expectation_id, _tls_verdict),
    Dimension.SUITE: DimensionRules("test_suite", _tls_cases(Dimension.SUITE), _expectation_id, _tls_verdict),
    Dimension.GROUP: DimensionRules("test_group", _tls_cases(Dimension.GROUP), _expectation_id, _tls_verdict),
    Dimension.SNI: DimensionRules("test_policy_follows_sni", _sni_cases, _sni_id, _sni_verdict),
    Dimension.ACCESS: DimensionRules("test_access_mode", _access_cases, _expectation_id, _access_verdict),
    Dimension.CERT: DimensionRules("test_certificate_type", _cert_cases, lambda case: cert_case_id(case.target),
                                   _cert_verdict),
    Dimension.ALIGNMENT: DimensionRules("test_default_endpoint_alignment", _alignment_cases,
                                        lambda case: alignment_case_id(case.target), _alignment_verdict),
}
