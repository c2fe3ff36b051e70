"""One judgement per target: the rules that turn scans into case verdicts, and case verdicts into a
target's verdict, written once. The pytest cases (session.py), `apigw-tls scan` (scan_cli.py) and the
report model (report.py) all call these and none decides on its own.

A target's cases span version, suite, group (its TLS scan), sni (the item on which it and another
SNI on the same address differ: charged to the side whose claim fails), access (STRICT/BASIC), cert
(the certificate type it claims) and alignment (the API's default endpoint behind a custom domain).
"""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING, Iterable, NamedTuple

from .vocabulary import FAIL, INCONCLUSIVE, PASS, CaseOutcome, Dimension, TargetVerdict

if TYPE_CHECKING:
    from .probing.scan import ScanResult, Verdict
    from .probing.targets import TargetSpec

CONFORMS, VIOLATIONS, ERRORS = TargetVerdict.CONFORMS, TargetVerdict.VIOLATIONS, TargetVerdict.ERRORS
EXIT_STATUS = {CONFORMS: 0, VIOLATIONS: 1, ERRORS: 2}


class CaseVerdict(NamedTuple):
    """One case's verdict (pass, fail, inconclusive, reported), why, and properties for reports."""

    verdict: CaseOutcome
    message: str
    properties: tuple[tuple[str, str], ...] = ()


def sni_case_id(target: TargetSpec, partner: TargetSpec | None) -> str:
    return f"{target.name}-vs-{partner.name}" if partner else target.name


def cert_case_id(target: TargetSpec, cert_type: str | None = None) -> str:
    return f"{target.name}-{cert_type or target.cert_type}"


def alignment_case_id(target: TargetSpec) -> str:
    return f"{target.name}-default-endpoint"


def target_verdict(outcomes: Iterable[str]) -> TargetVerdict:
    """Errors when any case could not be judged, else violations when any failed, else conforms."""
    seen = set(outcomes)
    return ERRORS if INCONCLUSIVE in seen else VIOLATIONS if FAIL in seen else CONFORMS


def exit_status(verdicts: Iterable[str]) -> int:
    """0 when every target conforms, 1 on violations, 2 when any target could not be judged."""
    return max((EXIT_STATUS[TargetVerdict(v)] for v in verdicts), default=0)


def dimension_counts(cases: Iterable[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """(dimension, outcome) pairs -> {dimension: {outcome: count}}."""
    counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for dimension, outcome in cases:
        counts[dimension][outcome] += 1
    return {dimension: dict(counter) for dimension, counter in counts.items()}


def sni_verdict(target: TargetSpec, partner: TargetSpec, own: Verdict) -> CaseVerdict:
    """The item on which the two SNIs' policies differ, judged on this target's side only: a partner whose
    claim fails is charged in its own case, never in this one."""
    e = own.expectation
    item = e.item + ("" if e.dimension == Dimension.VERSION else f" at {e.version.label}")
    message = (f"{item}: SNI {target.sni} expected {e.expected}, observed {own.observed} ({own.evidence}); "
               f"SNI {partner.sni} on the same address claims {partner.policy_id} (the policy must follow the SNI)")
    return CaseVerdict(own.verdict, message)


def alignment_verdict(domain: TargetSpec, behind: TargetSpec, result: ScanResult) -> CaseVerdict:
    """The API's default endpoint behind a custom domain, judged against the domain's policy: every
    version, suite or group it accepts that the domain refuses is a way around the domain's policy."""
    paths = [v for v in result.verdicts if v.verdict == FAIL and v.expectation.expected == "rejected"]
    undecided = [v for v in result.verdicts if v.verdict == INCONCLUSIVE]
    where = f"default endpoint {behind.host}:{behind.port} behind {domain.sni}"
    if paths:
        listed = "; ".join(f"{v.expectation.test_id.rsplit('-', 1)[0]} ({v.evidence})" for v in paths)
        return CaseVerdict(FAIL, f"{where} accepts {len(paths)} things the domain's {domain.policy_id} "
                                 f"refuses (the blog: TLS happens before endpoint settings): {listed}")
    if undecided:
        return CaseVerdict(INCONCLUSIVE, f"{where}: {len(undecided)} undecided: {undecided[0].evidence}")
    return CaseVerdict(PASS, f"{where} accepts nothing the domain refuses")


def cert_verdict(target: TargetSpec, observed: str) -> CaseVerdict:
    expected = target.cert_type
    return CaseVerdict(PASS if observed == expected else FAIL,
                       f"{target.sni}: expected an {expected} certificate, got {observed}")


def discriminating_key(a: TargetSpec, b: TargetSpec) -> tuple[str, int, str]:
    """The first version (else suite, else group) on which the two targets' expectations differ."""
    from .policy.expectations import expectations_for

    ours = {e.key: e for e in expectations_for(a.policy, a.cert_type or "rsa", a.catalog)}
    theirs = {e.key: e for e in expectations_for(b.policy, b.cert_type or "rsa", b.catalog)}
    for key, expectation in ours.items():
        if key in theirs and theirs[key].expected != expectation.expected:
            return key
    raise KeyError(f"{a.name} and {b.name} expect the same everywhere")


def sni_partners(targets: list[TargetSpec]) -> list[tuple[TargetSpec, TargetSpec]]:
    """Pair each target with the next one on the same address whose policy differs somewhere."""
    pairs = []
    for index, target in enumerate(targets):
        same_address = [t for t in targets[index + 1:] + targets[:index]
                        if (t.host, t.port) == (target.host, target.port) and t.sni != target.sni
                        and t.cert_type == target.cert_type]
        for partner in same_address:
            try:
                discriminating_key(target, partner)
            except KeyError:
                continue
            pairs.append((target, partner))
            break
    return pairs

