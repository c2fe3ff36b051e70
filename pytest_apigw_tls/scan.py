"""The scan planner: expectations -> the fewest probes -> one verdict per expectation.

Per version: one probe offering every suite the target must refuse (and, when it accepts one,
elimination: drop the suite it chose and offer the rest again, so the report names every culprit);
one probe per suite it must accept, confirmed by a full handshake. Per group: an empty key_share,
which a TLS 1.3 server answers with a HelloRetryRequest naming the group it takes.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import threading
import time
from typing import Callable, Iterable

from .capabilities import detect
from .catalog import Catalog, Policy, load_catalog
from .codepoints import TlsVersion
from .errors import TargetError
from .expectations import ACCEPT, REJECT, Expectation, ecdhe_suites, expectations_for
from .handshake import handshake_probe
from .probes import (
    Observation,
    Outcome,
    Pacer,
    ProbeOffer,
    ProbeSettings,
    Target,
    connect,
    describe_os_error,
    raw_probe,
    with_retries,
)

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"
Job = Callable[[], list[tuple[Expectation, Observation]]]


@dataclasses.dataclass(frozen=True)
class Verdict:
    """An expectation, what was observed, and whether they agree (with the evidence)."""

    expectation: Expectation
    observed: str
    verdict: str
    evidence: str

    def to_dict(self) -> dict[str, object]:
        e = self.expectation
        return {"dimension": e.dimension, "version": e.version.label if e.version else None, "item": e.item,
                "expected": e.expected, "observed": self.observed, "verdict": self.verdict,
                "evidence": self.evidence, "provenance": e.provenance, "reason": e.reason}


def judge(expectation: Expectation, observation: Observation) -> Verdict:
    """Inconclusive stays inconclusive: never counted as a pass nor as a refusal."""
    if observation.outcome is Outcome.INCONCLUSIVE:
        return Verdict(expectation, INCONCLUSIVE, INCONCLUSIVE, observation.evidence)
    observed = ACCEPT if observation.outcome is Outcome.ACCEPTED else REJECT
    return Verdict(expectation, observed, PASS if observed == expectation.expected else FAIL, observation.evidence)


@dataclasses.dataclass(frozen=True)
class ScanResult:
    target: Target
    policy_id: str
    cert_type: str
    verdicts: tuple[Verdict, ...]
    probes: int
    elapsed: float

    def verdict_for(self, expectation: Expectation) -> Verdict:
        for verdict in self.verdicts:
            if verdict.expectation.key == expectation.key:
                return verdict
        raise KeyError(expectation.key)

    def count(self, verdict: str) -> int:
        return sum(1 for v in self.verdicts if v.verdict == verdict)

    @property
    def conforms(self) -> bool:
        return all(v.verdict == PASS for v in self.verdicts)

    def to_dict(self) -> dict[str, object]:
        return {"target": {"host": self.target.host, "port": self.target.port, "sni": self.target.sni},
                "policy": self.policy_id, "cert_type": self.cert_type, "probes": self.probes,
                "elapsed_s": round(self.elapsed, 3), "conforms": self.conforms,
                "counts": {k: self.count(k) for k in (PASS, FAIL, INCONCLUSIVE)},
                "verdicts": [v.to_dict() for v in self.verdicts]}


class _Prober:
    """Runs probes against one target with retries, pacing and a probe count."""

    def __init__(self, target: Target, settings: ProbeSettings, catalog: Catalog) -> None:
        self.target, self.settings, self.catalog = target, settings, catalog
        self.pacer = Pacer(settings.delay)
        self.count = 0
        self._lock = threading.Lock()

    def _run(self, probe: Callable[[], Observation]) -> Observation:
        def counted() -> Observation:
            with self._lock:
                self.count += 1
            return probe()
        return with_retries(counted, self.settings, self.pacer)

    def raw(self, offer: ProbeOffer) -> Observation:
        return self._run(lambda: raw_probe(self.target, offer, self.settings.timeout))

    def handshake(self, version: TlsVersion | None = None, suite: str | None = None,
                  groups: list[str] | None = None) -> Observation:
        return self._run(lambda: handshake_probe(self.target, self.settings.timeout, version, suite, groups))

    def confirmed(self, offer: ProbeOffer, version: TlsVersion, suite: str | None = None,
                  groups: list[str] | None = None) -> Observation:
        """A raw acceptance counts only once a real handshake with the same limits completes."""
        first = self.raw(offer)
        if first.outcome is not Outcome.ACCEPTED:
            return first
        second = self.handshake(version, suite, groups)
        wanted_group = self.catalog.group(groups[0]).code if groups and len(groups) == 1 else None
        if (second.outcome is Outcome.ACCEPTED and second.version == version
                and (suite is None or second.suite == self.catalog.suite(suite).code)
                and (wanted_group is None or second.group == wanted_group)):
            return dataclasses.replace(second, evidence=f"{first.evidence}; {second.evidence}")
        return Observation(Outcome.INCONCLUSIVE, f"{first.evidence}, but the full handshake did not agree: "
                                                 f"{second.evidence}")

    def offer(self, version: TlsVersion, suites: Iterable[int]) -> ProbeOffer:
        groups = tuple(g.code for g in self.catalog.groups if g.min_version <= version)
        shares = (0x001D,) if version is TlsVersion.TLSv1_3 else ()
        return ProbeOffer((int(version),), tuple(suites), groups, shares)


def _version_job(prober: _Prober, expectation: Expectation) -> Job:
    version = expectation.version
    suites = [s.code for s in prober.catalog.suites_at(version)]

    def job() -> list[tuple[Expectation, Observation]]:
        offer = prober.offer(version, suites)
        if version is TlsVersion.SSLv3:  # the local OpenSSL cannot complete SSLv3: the ServerHello must do
            return [(expectation, prober.raw(offer))]
        return [(expectation, prober.confirmed(offer, version))]
    return job


def _accepted_suite_job(prober: _Prober, expectation: Expectation) -> Job:
    suite = prober.catalog.suite(expectation.item)
    return lambda: [(expectation, prober.confirmed(prober.offer(expectation.version, [suite.code]),
                                                   expectation.version, suite.openssl))]


def _refused_suites_job(prober: _Prober, version: TlsVersion, refused: list[Expectation]) -> Job:
    """Offer every suite that must be refused; eliminate what the target takes, one by one."""
    def job() -> list[tuple[Expectation, Observation]]:
        results = []
        remaining = {prober.catalog.suite(e.item).code: e for e in refused}
        while remaining:
            observation = prober.raw(prober.offer(version, remaining))
            if observation.outcome is not Outcome.ACCEPTED or observation.suite not in remaining:
                results += [(e, observation) for e in remaining.values()]
                break
            results.append((remaining.pop(observation.suite), observation))
        return results
    return job


def _group_job(prober: _Prober, expectation: Expectation, policy: Policy, cert_type: str) -> Job:
    """TLS 1.3: an empty key_share, answered by a HelloRetryRequest naming the group. Below: only the
    policy's ECDHE suites with only this group, so a ServerHello can have chosen nothing else."""
    group, version = prober.catalog.group(expectation.item), expectation.version
    if version is TlsVersion.TLSv1_3:
        suites, suite_name = tuple(s.code for s in prober.catalog.suites_at(version)), None
    else:
        ecdhe = ecdhe_suites(policy, version, cert_type)
        suites, suite_name = tuple(s.code for s in ecdhe), ecdhe[0].openssl

    def job() -> list[tuple[Expectation, Observation]]:
        offer = ProbeOffer((int(version),), suites, (group.code,), ())
        if group.name in detect().groups:
            return [(expectation, prober.confirmed(offer, version, suite_name, [group.name]))]
        return [(expectation, prober.raw(offer))]
    return job


def plan(prober: _Prober, expectations: list[Expectation], policy: Policy, cert_type: str) -> list[Job]:
    jobs: list[Job] = []
    refused_by_version: dict[TlsVersion, list[Expectation]] = {}
    for expectation in expectations:
        if expectation.dimension == "version":
            jobs.append(_version_job(prober, expectation))
        elif expectation.dimension == "group":
            jobs.append(_group_job(prober, expectation, policy, cert_type))
        elif expectation.expected == ACCEPT:
            jobs.append(_accepted_suite_job(prober, expectation))
        else:
            refused_by_version.setdefault(expectation.version, []).append(expectation)
    jobs += [_refused_suites_job(prober, v, refused) for v, refused in refused_by_version.items()]
    return jobs


def check_reachable(target: Target, timeout: float) -> None:
    """Fail fast, in one line, when nothing listens: every probe would only be inconclusive."""
    try:
        connect(target, timeout).close()
    except OSError as error:
        raise TargetError(f"cannot connect to {target.host}:{target.port}: {describe_os_error(error)}") from None


def detect_cert_type(target: Target, settings: ProbeSettings) -> str:
    observation = handshake_probe(target, settings.timeout)
    if observation.outcome is not Outcome.ACCEPTED or observation.cert_type not in ("rsa", "ecdsa"):
        raise TargetError(f"cannot detect the certificate type of {target}: {observation.evidence} "
                          f"(give it with --cert-type)")
    return observation.cert_type


def scan(target: Target, policy: Policy, cert_type: str | None = None, settings: ProbeSettings | None = None,
         catalog: Catalog | None = None, progress: Callable[[int, int], None] | None = None) -> ScanResult:
    """Give a verdict for every TLS expectation of `policy` on `target`."""
    catalog = catalog or load_catalog()
    settings = settings or ProbeSettings()
    started = time.monotonic()
    check_reachable(target, settings.timeout)
    cert_type = cert_type or detect_cert_type(target, settings)
    expectations = expectations_for(policy, cert_type, catalog)
    prober = _Prober(target, settings, catalog)
    jobs = plan(prober, expectations, policy, cert_type)
    observed: dict[tuple[str, int, str], Verdict] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, settings.concurrency)) as pool:
        futures = [pool.submit(job) for job in jobs]
        for done, future in enumerate(concurrent.futures.as_completed(futures), 1):
            for expectation, observation in future.result():
                observed[expectation.key] = judge(expectation, observation)
            if progress:
                progress(done, len(jobs))
    verdicts = tuple(observed[e.key] for e in expectations)
    return ScanResult(target, policy.id, cert_type, verdicts, prober.count, time.monotonic() - started)
