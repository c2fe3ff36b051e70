"""What a scan concludes: a verdict per expectation (with its evidence) and the scan's result."""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

from ..policy.expectations import (
    ACCEPT,
    REJECT,
    UNKNOWN,
    Expectation,
)
from ..vocabulary import FAIL, INCONCLUSIVE, PASS, REPORTED, CaseOutcome
from .probes import (
    Observation,
    Outcome,
    Target,
)


class Verdict(NamedTuple):
    """An expectation, what was observed, and whether they agree (with the evidence)."""

    expectation: Expectation
    observed: str
    verdict: CaseOutcome
    evidence: str
    timed_out: bool = False  # inconclusive because the target said nothing at all within the timeout

    def to_dict(self) -> dict[str, object]:
        e = self.expectation
        return {"dimension": e.dimension, "test_id": e.test_id, "version": e.version.label if e.version else None,
                "item": e.item,
                "expected": e.expected, "observed": self.observed, "verdict": self.verdict,
                "evidence": self.evidence, "provenance": e.provenance, "reason": e.reason,
                **({"members": len(e.members)} if e.members else {})}


def judge(expectation: Expectation, observation: Observation) -> Verdict:
    """Inconclusive stays inconclusive: never counted as a pass nor as a refusal."""
    if observation.outcome is Outcome.INCONCLUSIVE:
        return Verdict(expectation, INCONCLUSIVE, INCONCLUSIVE, observation.evidence, observation.timed_out)
    observed = ACCEPT if observation.outcome is Outcome.ACCEPTED else REJECT
    if expectation.expected == UNKNOWN:
        return Verdict(expectation, observed, REPORTED, observation.evidence)
    return Verdict(expectation, observed, PASS if observed == expectation.expected else FAIL, observation.evidence)


@dataclasses.dataclass(frozen=True)
class ScanResult:
    """Every verdict of one scan of one target, with the probes it took and how long."""

    target: Target
    policy_id: str
    cert_type: str
    verdicts: tuple[Verdict, ...]
    probes: int
    elapsed: float
    notes: tuple[str, ...] = ()  # what the scan had to do or saw beyond the verdicts (backing off, stopping)

    def verdict_for(self, expectation: Expectation) -> Verdict:
        """The verdict of one expectation: each of a target's ~80 cases asks for its own, so by key."""
        return self._by_key[expectation.key]

    @functools.cached_property
    def _by_key(self) -> dict[tuple[str, int, str], Verdict]:
        return {verdict.expectation.key: verdict for verdict in self.verdicts}

    def count(self, verdict: str) -> int:
        return sum(1 for v in self.verdicts if v.verdict == verdict)

    @property
    def conforms(self) -> bool:
        return all(v.verdict in (PASS, REPORTED) for v in self.verdicts)

    def to_dict(self) -> dict[str, object]:
        return {"target": {"host": self.target.host, "port": self.target.port, "sni": self.target.sni},
                "policy": self.policy_id, "cert_type": self.cert_type, "probes": self.probes,
                "elapsed_s": round(self.elapsed, 3), "conforms": self.conforms,
                "counts": {k: self.count(k) for k in (PASS, FAIL, INCONCLUSIVE, REPORTED)}, "notes": list(self.notes),
                "verdicts": [v.to_dict() for v in self.verdicts]}


def allowed_but_refused(verdict: Verdict) -> bool:
    """A case whose item the policy allows but the target refused: a fault, or a throttle's refusal."""
    return verdict.expectation.expected == ACCEPT and verdict.observed == REJECT
