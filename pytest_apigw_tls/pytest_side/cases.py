"""Conformance cases: targets x expectations -> pytest parameters with readable ids and marks."""

from __future__ import annotations

from typing import Iterator

import pytest

from ..policy.catalog import load_catalog
from ..policy.expectations import Expectation, access_expectations, expectations_for
from ..probing.targets import TargetSpec
from .session import Case, sni_partners

DIMENSIONS = ("version", "suite", "group", "sni", "access", "cert", "alignment")


def cases_for(dimension: str, targets: list[TargetSpec]) -> Iterator[Case]:
    catalog = load_catalog()
    tls_targets = [t for t in targets if not t.access_only]
    if dimension == "sni":
        yield from (Case(a, "sni", partner=b) for a, b in sni_partners(tls_targets))
    elif dimension == "cert":
        yield from (Case(t, "cert") for t in tls_targets)
    elif dimension == "alignment":
        yield from (Case(t, "alignment") for t in tls_targets if t.default_endpoint)
    elif dimension == "access":
        for target in targets:
            if target.sni and (target.access_mode or target.on_reference):
                other_path = bool(target.other_path) or target.on_reference  # the reference has every path
                yield from (Case(target, "access", e) for e in access_expectations(target.access_mode, other_path))
    else:
        for target in tls_targets:
            for expectation in expectations_for(target.policy, target.cert_type or "rsa", catalog):
                if expectation.dimension == dimension:
                    yield Case(target, dimension, expectation)


def marks_for(case: Case) -> list[pytest.MarkDecorator]:
    """Selection marks (-m inferred, strict, pq, edge)."""
    marks = []
    if getattr(case.expectation, "provenance", None) == "inferred":
        marks.append(pytest.mark.inferred)
    if case.dimension == "access":
        marks.append(pytest.mark.strict)
    if case.dimension == "group" and _post_quantum(case.expectation):  # type: ignore[arg-type]
        marks.append(pytest.mark.pq)
    if case.target.endpoint_type == "EDGE":
        marks.append(pytest.mark.edge)
    return marks


def _post_quantum(expectation: Expectation) -> bool:
    catalog = load_catalog()
    if expectation.members:
        return any((g := catalog.universe.group(code)) is not None and g.kind in ("mlkem", "hybrid")
                   for code in expectation.members)
    return catalog.group(expectation.item).is_post_quantum
