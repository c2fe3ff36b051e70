"""The scan planner: expectations -> the fewest probes -> one verdict per expectation.

Per version: one bundle offering every suite the target must refuse, named ones and the rest of the
IANA registry (bundles.py: elimination names every culprit, a control offer makes the refusal
evidence); one full handshake per suite it must accept (our own ClientHello too when that does not
complete), which also asks one allowed group and, for a version's first suite, the version
(_paired_jobs). Groups the same way: at TLS 1.3 through an empty key_share (a HelloRetryRequest names
the group taken), below it through the policy's ECDHE_RSA suites (the ServerKeyExchange names the curve).
A raw acceptance where a refusal is expected is confirmed by a handshake limited to what the server
chose, never to a suite picked in advance.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import threading
import time
from typing import Callable, Iterable, NamedTuple

from ..errors import CatalogError, TargetError
from ..policy.catalog import CERT_TYPES, Catalog, Policy, load_catalog
from ..policy.codepoints import TlsVersion
from ..policy.expectations import (
    ACCEPT,
    REJECT,
    UNKNOWN,
    Expectation,
    ecdhe_suites,
    ecdsa_ecdhe_suites,
    expectations_for,
)
from ..verdicts import FAIL, INCONCLUSIVE, PASS, REPORTED
from .bundles import REFUSALS, BundleResult, refused_throughout, run_beside, run_bundle
from .capabilities import can_offer, detect
from .handshake import handshake_probe
from .probes import (
    BLINDING_TIMEOUT,
    Observation,
    Outcome,
    Pacer,
    ProbeOffer,
    ProbeSettings,
    Target,
    connect,
    curve_answer,
    describe_os_error,
    inconclusive,
    raw_probe,
    version_label,
    with_retries,
)

__all__ = ["FAIL", "INCONCLUSIVE", "PASS", "REPORTED", "ScanResult", "Verdict", "detect_cert_type", "scan"]

Job = Callable[[], list[tuple[Expectation, Observation]]]
Reading = Callable[[Observation], Observation]  # how a question reads a raw answer


def _as_seen(observation: Observation) -> Observation:
    return observation


class Verdict(NamedTuple):
    """An expectation, what was observed, and whether they agree (with the evidence)."""

    expectation: Expectation
    observed: str
    verdict: str
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
        for verdict in self.verdicts:
            if verdict.expectation.key == expectation.key:
                return verdict
        raise KeyError(expectation.key)

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


EARLY_STOP_TIMEOUTS = 4  # a scan whose first probes all time out stops: the rest would only wait as long


class _Prober:
    """Runs probes against one target with retries, pacing, a probe count and a deadline, and keeps a
    ledger of every question's answers: the same question answered both ways is a disagreement, the
    sign of a target that drops or throttles connections (never a verdict)."""

    def __init__(self, target: Target, settings: ProbeSettings, catalog: Catalog,
                 budget: threading.Semaphore | None = None, deadline: float | None = None) -> None:
        self.target, self.settings, self.catalog = target, settings, catalog
        self.budget = budget  # shared by every target of a fleet: probes in flight across all of them
        self.pacer = Pacer(settings.delay)
        self.deadline = deadline if deadline is not None else time.monotonic() + settings.deadline
        self.count = 0
        self.answered = self.timeouts = 0
        self.stopped: str | None = None
        self.answers: dict[tuple[object, ...], Outcome] = {}
        self.disagreements: list[str] = []
        self.troubled = False  # an inconclusive probe: a reset, a timeout, bytes that were not TLS
        self.refusal_styles: set[str] = set()  # how our ClientHello was refused: "alert", "close"
        self._lock = threading.Lock()
        self._certificate: Observation | None = None
        self._certificate_lock = threading.Lock()
        self.version_refusals: dict[TlsVersion, Observation | None] = {}
        self.version_lock = threading.Lock()

    def _run(self, question: tuple[object, ...], probe: Callable[[], Observation]) -> Observation:
        def counted() -> Observation:
            if self.stopped:
                return inconclusive(self.stopped)
            if time.monotonic() > self.deadline:
                return inconclusive(f"not asked: the scan's deadline of {self.settings.deadline:g} s passed "
                                    "(raise it with --deadline)")
            with self._lock:
                self.count += 1
            if self.budget is None:
                observation = probe()
            else:
                with self.budget:
                    observation = probe()
            self._watch_timeouts(observation)
            return observation
        observation = with_retries(counted, self.settings, self.pacer)
        self._record(question, observation)
        return observation

    def _watch_timeouts(self, observation: Observation) -> None:
        with self._lock:
            self.answered += 1
            self.timeouts += observation.timed_out
            if self.timeouts == self.answered == EARLY_STOP_TIMEOUTS:
                self.stopped = (f"not asked: the target's first {EARLY_STOP_TIMEOUTS} probes all timed out after "
                                f"{self.settings.timeout:g} s each, so the scan stopped early (is something "
                                "silently dropping connections, or does the server delay its answers?)")

    def _record(self, question: tuple[object, ...], observation: Observation) -> None:
        if observation.outcome is Outcome.INCONCLUSIVE:
            self.troubled = True
            return
        with self._lock:
            if observation.outcome is Outcome.REJECTED and question[0] == "raw":
                # a server refuses by alert or by closing, one way; a front's drops may be the other way
                self.refusal_styles.add("close" if observation.alert is None else "alert")
            before = self.answers.setdefault(question, observation.outcome)
            if before is not observation.outcome:
                self.disagreements.append(f"{_describe_question(question)} was {before.value} on one connection "
                                          f"and {observation.outcome.value} on another")

    def recheck_refusals(self, verdicts: tuple[Verdict, ...]) -> None:
        """On a target that showed any trouble (an inconclusive probe, a disagreement, an allowed item
        refused, refusals of two kinds), every refusal our ClientHello got is asked once more: a dropped
        connection that passed for a refusal twice is then caught, as a disagreement, by the ledger. A
        quiet target is not asked again (its confirmed refusals stand)."""
        refused_allowed = any(map(_allowed_but_refused, verdicts))
        if not (self.troubled or self.disagreements or refused_allowed or len(self.refusal_styles) > 1):
            return
        with self._lock:
            offers = [question[1] for question, outcome in self.answers.items()
                      if question[0] == "raw" and outcome is Outcome.REJECTED]
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, self.settings.concurrency)) as pool:
            list(pool.map(self.raw, offers))  # type: ignore[arg-type]

    def disagree(self, text: str) -> None:
        with self._lock:
            self.disagreements.append(text)

    def raw(self, offer: ProbeOffer) -> Observation:
        return self._run(("raw", offer), lambda: raw_probe(self.target, offer, self._timeout()))

    def handshake(self, version: TlsVersion | None = None, suite: str | None = None,
                  groups: list[str] | None = None, cert_type: str | None = None) -> Observation:
        question = ("handshake", version, suite, tuple(groups or ()), cert_type)
        return self._run(question, lambda: handshake_probe(self.target, self._timeout(), version, suite, groups,
                                                           cert_type))

    def _timeout(self) -> float:
        """A probe's timeout, cut to what is left before the scan's deadline."""
        return max(0.001, min(self.settings.timeout, self.deadline - time.monotonic()))

    def certificate_handshake(self) -> Observation:
        """One ECDSA handshake (any version: the certificate is the SNI's), shared by the jobs that
        need the certificate's curve."""
        with self._certificate_lock:  # not self._lock: the handshake itself takes that one to count
            if self._certificate is None:
                self._certificate = self.handshake(cert_type="ecdsa")
            return self._certificate

    def confirmed(self, offer: ProbeOffer, version: TlsVersion, groups: list[str] | None = None,
                  reading: Reading = _as_seen) -> Observation:
        """For an offer that should be refused: the raw ClientHello first (read by `reading`: a curve
        question reads a ServerHello abandoned before its curve as a refusal); an acceptance counts only
        once a real handshake, limited to what the server chose (its suite, and the given groups),
        completes with the same choice."""
        first = reading(self.raw(offer))
        if first.outcome is not Outcome.ACCEPTED:
            return first
        suite = self.openssl_name(first.suite)
        second = self.handshake(version, suite, self._local_groups(offer, groups))
        if self.agrees(second, version, (first.suite,) if suite else None, groups):
            return second._replace(evidence=f"{first.evidence}; {second.evidence}")
        return Observation(Outcome.INCONCLUSIVE, f"{first.evidence}, but the full handshake did not agree: "
                                                 f"{second.evidence}")

    def accepted(self, offer: ProbeOffer, version: TlsVersion, groups: list[str] | None = None,
                 reading: Reading = _as_seen) -> Observation:
        """For an offer the policy allows: a full handshake limited to the offer is the strongest
        evidence of acceptance, so it goes first. Only when it does not complete are the raw ClientHello
        and the handshake once more asked: a refusal counts when all three refuse (a dropped connection
        cannot fail an allowed item); a raw acceptance no handshake could finish is inconclusive."""
        names = [self.openssl_name(code) for code in offer.suites]
        if None in names:  # the local OpenSSL cannot be limited to these: the raw answer says what to confirm
            return self.confirmed(offer, version, groups, reading)
        suites = ":".join(names)  # type: ignore[arg-type]
        handshake = self.handshake(version, suites, self._local_groups(offer, groups))
        if self.agrees(handshake, version, offer.suites, groups):
            return handshake
        raw = reading(self.raw(offer))
        if raw.outcome is not Outcome.INCONCLUSIVE and not handshake.timed_out:
            again = self.handshake(version, suites, self._local_groups(offer, groups))
            if self.agrees(again, version, offer.suites, groups):
                return again  # refused, then taken: the ledger has the disagreement
            if raw.outcome is Outcome.REJECTED and again.outcome is not Outcome.ACCEPTED and not again.timed_out:
                return raw._replace(evidence=f"{raw.evidence}; no full handshake either, twice: {handshake.evidence}")
        if raw.outcome is Outcome.REJECTED:
            return inconclusive(f"{raw.evidence}, but the full handshake ended otherwise: {handshake.evidence}")
        if raw.outcome is Outcome.ACCEPTED:
            return inconclusive(f"{raw.evidence}, but the full handshake did not agree: {handshake.evidence}")
        return raw

    def _local_groups(self, offer: ProbeOffer, groups: list[str] | None) -> list[str] | None:
        """The raw offer's groups that the local OpenSSL has (its own defaults add FFDHE ones, which
        change a DHE suite's answer)."""
        local = groups or [g.name for g in self.catalog.groups if g.code in offer.groups and g.name in detect().groups]
        return local or None

    def agrees(self, handshake: Observation, version: TlsVersion, suites: tuple[int, ...] | None,
                groups: list[str] | None) -> bool:
        """The handshake finished at `version` with one of `suites` (None: any) and, for one group, with it."""
        wanted_group = self.catalog.group(groups[0]).code if groups and len(groups) == 1 else None
        return (handshake.outcome is Outcome.ACCEPTED and handshake.version == version
                and (suites is None or handshake.suite in suites)
                and (wanted_group is None or handshake.group == wanted_group))

    def openssl_name(self, code: int | None) -> str | None:
        """The suite's OpenSSL name when the local OpenSSL can offer it in a handshake, else None (then
        the raw ClientHello, which offers any code point, is the evidence)."""
        try:
            name = self.catalog.suite(code).openssl if code is not None else None
        except CatalogError:
            return None  # a suite only the registry knows: the local OpenSSL cannot be limited to it
        return name if name is not None and can_offer(name) else None

    def offer(self, version: TlsVersion, suites: Iterable[int]) -> ProbeOffer:
        groups = tuple(g.code for g in self.catalog.groups if g.min_version <= version)
        shares = (0x001D,) if version is TlsVersion.TLSv1_3 else ()
        return ProbeOffer((int(version),), tuple(suites), groups, shares)


def _allowed_but_refused(verdict: Verdict) -> bool:
    """A case whose item the policy allows but the target refused: a fault, or a throttle's refusal."""
    return verdict.expectation.expected == ACCEPT and verdict.observed == REJECT


def _describe_question(question: tuple[object, ...]) -> str:
    if question[0] == "raw":
        offer = question[1]
        assert isinstance(offer, ProbeOffer)
        versions = "+".join(version_label(v) for v in offer.versions)
        return f"the same ClientHello ({versions}, {len(offer.suites)} suites, {len(offer.groups)} groups)"
    _kind, version, suite, groups, cert_type = question
    what = [str(x) for x in (version.label if isinstance(version, TlsVersion) else None, suite,
                             ",".join(groups) if isinstance(groups, tuple) else None, cert_type) if x]
    return f"the same handshake ({' '.join(what) or 'any'})"


def _version_job(prober: _Prober, expectation: Expectation, policy: Policy, cert_type: str) -> Job:
    """An allowed version is offered with the policy's own suites for it; a refused one with every named
    suite that can be negotiated there (small offers: a refusal must not come from the offer's size)."""
    version = expectation.version
    allowed = policy.accepted_suites(version, cert_type) if expectation.expected == ACCEPT else ()
    suites = [s.code for s in allowed or prober.catalog.suites_at(version) if s.negotiable_at(version)] or \
        [s.code for s in prober.catalog.suites_at(version)]

    def job() -> list[tuple[Expectation, Observation]]:
        offer = prober.offer(version, suites)
        if expectation.expected == ACCEPT:
            if version is TlsVersion.SSLv3:  # the local OpenSSL cannot complete SSLv3: the ServerHello must do
                return [(expectation, prober.raw(offer))]
            return [(expectation, prober.accepted(offer, version))]
        return [(expectation, _refused_version(prober, version, tuple(suites), _version_controls(policy, cert_type)))]
    return job


Control = tuple[TlsVersion, tuple[int, ...]]  # an allowed version and its suites


def _version_controls(policy: Policy, cert_type: str) -> tuple[Control, ...]:
    """The allowed versions with their suites, highest first: offered beside a refused version, one the
    target takes shows the offer itself is taken."""
    return tuple((version, tuple(s.code for s in suites)) for version in sorted(policy.versions.value, reverse=True)
                 if (suites := policy.accepted_suites(version, cert_type)))


def _refused_version(prober: _Prober, version: TlsVersion, suites: tuple[int, ...],
                     controls: tuple[Control, ...]) -> Observation:
    """A version refusal counts when it is confirmed: the same offer with an allowed version beside it is
    taken (at that version), and the version alone is refused again. When every control is refused too,
    the offer's size or shape may be what was refused: its suites are asked in halves, as long as the
    target takes an allowed version with one of its suites alone."""
    offer = prober.offer(version, suites)

    def alone() -> Observation:  # the local OpenSSL cannot complete SSLv3: its ServerHello must do
        return prober.confirmed(offer, version) if version is not TlsVersion.SSLv3 else prober.raw(offer)

    first = alone()
    if first.outcome is not Outcome.REJECTED or not controls:
        return first
    check = first
    for allowed, allowed_suites in controls:
        both = prober.offer(max(version, allowed), suites + allowed_suites)._replace(
            versions=(int(allowed), int(version)))
        check = prober.raw(both)
        if check.outcome is Outcome.ACCEPTED and check.version == version:
            prober.disagree(f"{version.label} was refused alone, then chosen with {allowed.label} offered beside it")
            return alone() if version is not TlsVersion.SSLv3 else check  # SSLv3: that ServerHello is the answer
        if check.outcome is Outcome.ACCEPTED:
            again = refused_throughout(lambda: prober.raw(offer))
            if again is None:
                taken_at = version_label(check.version or 0)
                return first._replace(evidence=f"{first.evidence}; with {allowed.label} beside it the same offer was "
                                               f"taken at {taken_at}, and {version.label} alone was refused again "
                                               f"({REFUSALS} times in all)")
            return prober.confirmed(offer, version) if again.outcome is Outcome.ACCEPTED else again
        if check.outcome is Outcome.INCONCLUSIVE:
            return check
    taken = next((c for c in controls if prober.raw(prober.offer(c[0], c[1][:1])).outcome is Outcome.ACCEPTED), None)
    if len(suites) > 1 and taken:
        half = len(suites) // 2
        answers = [_refused_version(prober, version, part, (taken,)) for part in (suites[:half], suites[half:])]
        if open_or_taken := next((a for a in answers if a.outcome is not Outcome.REJECTED), None):
            return open_or_taken
        return answers[0]._replace(evidence=f"refused in halves: {answers[0].evidence}")
    return inconclusive(f"{first.evidence}, but refused too with an allowed version and its own suites added "
                        f"({check.evidence}): the refusal is no evidence")


def _accepted_suite_job(prober: _Prober, expectation: Expectation) -> Job:
    suite = prober.catalog.suite(expectation.item)
    return lambda: [(expectation, prober.accepted(prober.offer(expectation.version, [suite.code]),
                                                  expectation.version))]


def _codes_of(expectation: Expectation, lookup: Callable[[str], int]) -> tuple[int, ...]:
    return expectation.members if expectation.members else (lookup(expectation.item),)


def _bundle_observations(expectations: list[Expectation], lookup: Callable[[str], int], result: BundleResult,
                         describe: Callable[[int], str]) -> list[tuple[Expectation, Observation]]:
    """One observation per expectation from a bundle's per-item results; a catch-all names every culprit."""
    out = []
    for expectation in expectations:
        codes = _codes_of(expectation, lookup)
        seen = [result.observation(code) for code in codes]
        culprits = [code for code, obs in zip(codes, seen) if obs.outcome is Outcome.ACCEPTED]
        if not expectation.members:
            out.append((expectation, seen[0]))
        elif culprits:
            named = ", ".join(f"{describe(code)} (0x{code:04X})" for code in culprits)
            out.append((expectation, Observation(Outcome.ACCEPTED, f"accepted {len(culprits)} of {len(codes)}: "
                                                                    f"{named}")))
        elif undecided := [obs for obs in seen if obs.outcome is Outcome.INCONCLUSIVE]:
            out.append((expectation, undecided[0]._replace(evidence=f"{len(undecided)} of {len(codes)} undecided: "
                                                                     f"{undecided[0].evidence}")))
        else:
            out.append((expectation, seen[0]._replace(evidence=f"all {len(codes)} refused: {seen[0].evidence}")))
    return out


def _refused_suites_job(prober: _Prober, version: TlsVersion, refused: list[Expectation],
                        controls: tuple[int, ...], version_refused: Callable[[], Observation | None]) -> Job:
    """Offer every suite that must be refused (registry-wide); name what the target takes."""
    lookup = lambda name: prober.catalog.suite(name).code  # noqa: E731
    items = [code for e in refused for code in _codes_of(e, lookup)]

    def job() -> list[tuple[Expectation, Observation]]:
        result = run_bundle(lambda codes: prober.raw(prober.offer(version, codes)), items,
                            lambda observation: observation.suite, controls, version_refused)
        return _bundle_observations(refused, lookup, result, prober.catalog.universe.describe_suite)
    return job


def _group_offer_suites(prober: _Prober, policy: Policy, version: TlsVersion, cert_type: str) -> tuple[int, ...]:
    """The suites a group probe offers: the policy's (ECDHE_RSA below TLS 1.3, or ECDHE_ECDSA for an
    endpoint with only an ECDSA certificate), else every named one."""
    if version is TlsVersion.TLSv1_3:
        accepted = policy.accepted_suites(version, cert_type)
        return tuple(s.code for s in accepted or prober.catalog.suites_at(version))
    if ecdsa := ecdsa_ecdhe_suites(policy, version, cert_type):
        return tuple(s.code for s in ecdsa)
    ecdhe = ecdhe_suites(policy, version, cert_type) or tuple(
        s for s in prober.catalog.suites_at(version)
        if s.kx == "ECDHE" and s.auth == "RSA" and s.negotiable_at(version))
    return tuple(s.code for s in ecdhe)


def _refused_groups_job(prober: _Prober, version: TlsVersion, refused: list[Expectation], suites: tuple[int, ...],
                        controls: tuple[int, ...], beside_certificate_curve: bool,
                        version_refused: Callable[[], Observation | None]) -> Job:
    """With `beside_certificate_curve` (TLS 1.2 and below, ECDSA certificate only) every offer names the
    certificate's curve, read from a handshake, as a real client's must: a culprit is a curve chosen
    beside it, and the refusal counts once the server, offered the rest and that curve, chooses the
    curve, twice."""
    lookup = lambda name: prober.catalog.group(name).code  # noqa: E731
    items = [code for e in refused for code in _codes_of(e, lookup)]

    def ask(codes: tuple[int, ...]) -> Observation:
        return curve_answer(prober.raw(ProbeOffer((int(version),), suites, codes, ())))

    def job() -> list[tuple[Expectation, Observation]]:
        if beside_certificate_curve:
            certificate = prober.certificate_handshake()
            if certificate.cert_curve is None:
                return [(e, _without_certificate_curve(certificate, version)) for e in refused]
            result = run_beside(ask, items, lambda observation: observation.group, certificate.cert_curve)
        else:
            result = run_bundle(ask, items, lambda observation: observation.group, controls, version_refused)
        return _bundle_observations(refused, lookup, result, prober.catalog.universe.describe_group)
    return job


def _without_certificate_curve(certificate: Observation, version: TlsVersion) -> Observation:
    """No ECDSA certificate seen: its curve is in every group offer below TLS 1.3, so nothing is asked."""
    return inconclusive(f"the ECDSA certificate's curve could not be read ({certificate.evidence}); every group "
                        f"offer at {version.label} must name it (RFC 8422 5.1)")


def _accepted_group_job(prober: _Prober, expectation: Expectation, suites: tuple[int, ...]) -> Job:
    """TLS 1.3: an empty key_share, answered by a HelloRetryRequest naming the group. Below: the
    policy's ECDHE_RSA suites with only this group; the ServerKeyExchange names the curve."""
    group, version = prober.catalog.group(expectation.item), expectation.version

    def job() -> list[tuple[Expectation, Observation]]:
        offer = ProbeOffer((int(version),), suites, (group.code,), ())
        if group.name in detect().groups:
            return [(expectation, prober.accepted(offer, version, [group.name], curve_answer))]
        return [(expectation, curve_answer(prober.raw(offer)))]
    return job


def plan(prober: _Prober, expectations: list[Expectation], policy: Policy, cert_type: str) -> list[Job]:
    """The jobs of a scan, refused bundles first: each is a chain of probes (elimination, then the
    control), the longest paths of a scan; started last, they left the target idle at the end. One
    acceptance goes before them, so a target that delays its refusals is still seen to answer (and is
    not stopped early as silent)."""
    bundle_jobs: list[Job] = []
    bundles: dict[tuple[str, TlsVersion], list[Expectation]] = {}
    jobs, paired = _paired_jobs(prober, expectations, policy, cert_type)
    for expectation in expectations:
        if expectation in paired:
            continue
        if expectation.dimension == "version":
            jobs.append(_version_job(prober, expectation, policy, cert_type))
        elif expectation.expected == ACCEPT and expectation.dimension == "suite":
            jobs.append(_accepted_suite_job(prober, expectation))
        elif expectation.expected == ACCEPT:
            suites = _group_offer_suites(prober, policy, expectation.version, cert_type)
            jobs.append(_accepted_group_job(prober, expectation, suites))
        else:
            bundles.setdefault((expectation.dimension, expectation.version), []).append(expectation)
    for (dimension, version), refused in bundles.items():
        whole = _version_refusal(prober, policy, cert_type, version)
        if dimension == "suite":
            allowed = policy.accepted_suites(version, cert_type)
            bundle_jobs.append(_refused_suites_job(prober, version, refused, tuple(s.code for s in allowed), whole))
        else:
            allowed_groups = policy.accepted_groups(version)
            beside_curve = version is not TlsVersion.TLSv1_3 and bool(ecdsa_ecdhe_suites(policy, version, cert_type))
            bundle_jobs.append(_refused_groups_job(prober, version, refused,
                                                   _group_offer_suites(prober, policy, version, cert_type),
                                                   tuple(g.code for g in allowed_groups), beside_curve, whole))
    return jobs[:1] + bundle_jobs + jobs[1:]  # one quick acceptance first: a target that answers is seen to


def _version_refusal(prober: _Prober, policy: Policy, cert_type: str,
                     version: TlsVersion) -> Callable[[], Observation | None]:
    """Whether the target refuses `version` as a whole (its allowed suites refused, twice, while another
    allowed version is taken in the same offer): asked once per scan, for the bundles that need it."""
    def ask() -> Observation | None:
        with prober.version_lock:
            if version not in prober.version_refusals:
                suites = tuple(s.code for s in policy.accepted_suites(version, cert_type))
                others = tuple(c for c in _version_controls(policy, cert_type) if c[0] != version)
                # with controls given, a refusal comes back only once confirmed (a control taken, or in halves)
                answer = _refused_version(prober, version, suites, others) if suites and others else None
                refused = answer is not None and answer.outcome is Outcome.REJECTED
                prober.version_refusals[version] = answer if refused else None
            return prober.version_refusals[version]
    return ask


def _paired_jobs(prober: _Prober, expectations: list[Expectation], policy: Policy,
                 cert_type: str) -> tuple[list[Job], set[Expectation]]:
    """Handshakes that answer several acceptance cases at once, and the cases they answer.

    Per version, each allowed suite's handshake also offers one allowed group alone (where a handshake
    with that suite shows the group: any suite at TLS 1.3, the ECDHE suites that ask groups below
    it), and the first one stands for the version too. SSLv3 is asked by its ServerHello only."""
    jobs: list[Job] = []
    paired: set[Expectation] = set()
    accepted = [e for e in expectations if e.expected == ACCEPT and e.version is not TlsVersion.SSLv3]
    for version in dict.fromkeys(e.version for e in accepted):
        at_version = [e for e in accepted if e.version is version]
        suites = [e for e in at_version if e.dimension == "suite"]
        groups = [e for e in at_version if e.dimension == "group" and e.item in detect().groups]
        version_case = next((e for e in at_version if e.dimension == "version"), None)
        showing_groups = set(_group_offer_suites(prober, policy, version, cert_type))
        for suite_case in suites:
            code = prober.catalog.suite(suite_case.item).code
            if prober.openssl_name(code) is None:
                continue  # no handshake can be limited to it: asked on its own, by our ClientHello
            group_case = groups.pop(0) if groups and code in showing_groups else None
            if group_case is None and version_case is None:
                continue
            jobs.append(_paired_job(prober, policy, cert_type, suite_case, group_case, version_case))
            paired.update(case for case in (suite_case, group_case, version_case) if case)
            version_case = None
    return jobs, paired


def _paired_job(prober: _Prober, policy: Policy, cert_type: str, suite_case: Expectation,
                group_case: Expectation | None, version_case: Expectation | None) -> Job:
    """One handshake offering only the suite (and only the group): a conforming target settles every
    case with it. When it does not finish, each case is asked on its own, as if never paired; the
    suite's own question is not asked twice."""
    version, suite = suite_case.version, prober.catalog.suite(suite_case.item)

    def job() -> list[tuple[Expectation, Observation]]:
        offer = prober.offer(version, [suite.code])
        if group_case is None:  # the suite's own question, whose acceptance answers the version's too
            alone = prober.accepted(offer, version)
            if alone.outcome is Outcome.ACCEPTED:
                return [(suite_case, alone), (version_case, alone)]
            return [(suite_case, alone)] + _version_job(prober, version_case, policy, cert_type)()
        group = [group_case.item]
        together = prober.handshake(version, suite.openssl, group)
        if prober.agrees(together, version, (suite.code,), group):
            return [(case, together) for case in (suite_case, group_case, version_case) if case]
        out = [(suite_case, prober.accepted(offer, version))]
        out += _accepted_group_job(prober, group_case, _group_offer_suites(prober, policy, version, cert_type))()
        if version_case:
            out += _version_job(prober, version_case, policy, cert_type)()
        return out
    return job


def check_reachable(target: Target, timeout: float) -> None:
    """Fail fast, in one line, when nothing listens: every probe would only be inconclusive."""
    try:
        connect(target, timeout).close()
    except OSError as error:
        raise TargetError(f"cannot connect to {target.host}:{target.port}: {describe_os_error(error)}") from None


def detect_cert_type(target: Target, settings: ProbeSettings) -> str:
    """Every certificate type the target serves for its SNI: "rsa", "ecdsa" or "rsa,ecdsa".

    One handshake per type, each offering only that type's signature algorithms: a server with both
    certificates (common on vendor gateways) completes both. A server that ignores the restriction
    (TLS 1.0/1.1 have no signature_algorithms) shows the same certificate twice, one type.
    """
    seen, evidence = [], []
    with concurrent.futures.ThreadPoolExecutor(len(CERT_TYPES)) as pool:  # side by side: start-up latency
        observations = list(pool.map(lambda kind: handshake_probe(target, settings.timeout, cert_type=kind),
                                     CERT_TYPES))
    for observation in observations:
        evidence.append(observation.evidence)
        if observation.outcome is Outcome.ACCEPTED and observation.cert_type in CERT_TYPES:
            seen.append(observation.cert_type)
    if not seen:
        raise TargetError(f"cannot detect the certificate type of {target}: {'; '.join(evidence)} "
                          f"(give it with --cert-type)")
    return ",".join(t for t in CERT_TYPES if t in seen)


def scan(target: Target, policy: Policy, cert_type: str | None = None, settings: ProbeSettings | None = None,
         catalog: Catalog | None = None, progress: Callable[[int, int], None] | None = None,
         budget: threading.Semaphore | None = None) -> ScanResult:
    """Give a verdict for every TLS expectation of `policy` on `target`.

    A target that answers the same question differently is asked everything again, slower (one probe
    at a time, paced); if it still disagrees, every case resting on a refusal is inconclusive."""
    catalog = catalog or load_catalog()
    settings = settings or ProbeSettings()
    started = time.monotonic()
    deadline = started + settings.deadline
    check_reachable(target, settings.timeout)
    cert_type = cert_type or detect_cert_type(target, settings)
    expectations = expectations_for(policy, cert_type, catalog)
    verdicts, prober = _judge_all(target, policy, cert_type, expectations, settings, catalog, progress, budget,
                                  deadline)
    verdicts, probes, notes = _settle_disagreements(target, policy, cert_type, expectations, settings, catalog,
                                                    budget, deadline, verdicts, prober)
    if not prober.stopped:
        verdicts, patient_probes, note = _ask_silent_again(target, policy, cert_type, settings, catalog, budget,
                                                           deadline, verdicts)
        probes += patient_probes
        notes += (note,) if note else ()
    return ScanResult(target, policy.id, cert_type, verdicts, probes, time.monotonic() - started, notes)


def _settle_disagreements(target: Target, policy: Policy, cert_type: str, expectations: list[Expectation],
                          settings: ProbeSettings, catalog: Catalog, budget: threading.Semaphore | None,
                          deadline: float, verdicts: tuple[Verdict, ...],
                          prober: _Prober) -> tuple[tuple[Verdict, ...], int, tuple[str, ...]]:
    """Disagreement is flakiness, never a verdict.

    An item the target must take but refused is asked again after a pause, slower (a throttle refuses
    everything for a while); taken now, that is a disagreement. A target that disagreed is asked
    everything again, one probe at a time and paced. Acceptances seen in either run stand (a dropped
    connection cannot fake one); refusals count only from a run without disagreement."""
    notes = [prober.stopped] if prober.stopped else []
    probes = prober.count
    if prober.stopped or time.monotonic() > deadline:
        return verdicts, probes, tuple(notes)
    slower = settings._replace(concurrency=1, delay=max(BACKOFF_DELAY, 2 * settings.delay))
    disagreements = list(prober.disagreements)
    suspects = [v for v in verdicts if _allowed_but_refused(v)]
    if suspects and not disagreements:
        _pause(settings, deadline)
        rechecked, recheck_prober = _judge_all(target, policy, cert_type, [v.expectation for v in suspects], slower,
                                               catalog, None, budget, deadline)
        probes += recheck_prober.count
        disagreements = recheck_prober.disagreements + [
            f"{v.expectation.test_id} was refused, then taken when asked again slower"
            for v in rechecked if v.observed == ACCEPT]
        if not disagreements:
            notes.append(f"{len(suspects)} allowed item(s) refused, asked again after a {settings.backoff_pause:g} s "
                         "pause, one at a time: refused again")
            return verdicts, probes, tuple(notes)
    if not disagreements:
        return verdicts, probes, tuple(notes)
    notes.append(f"flaky: {_summarize(disagreements)}; to rule out dropped or throttled connections the scan "
                 f"backed off (concurrency {settings.concurrency} -> 1, {settings.delay:g} -> {slower.delay:g} s "
                 "between probes) and asked every question again")
    _pause(settings, deadline)
    again, slow_prober = _judge_all(target, policy, cert_type, expectations, slower, catalog, None, budget, deadline)
    merged = tuple(first if first.observed == ACCEPT and second.observed != ACCEPT else second
                   for first, second in zip(verdicts, again))
    probes += slow_prober.count
    if slow_prober.stopped:
        notes.append(slow_prober.stopped)
    if not slow_prober.disagreements:
        cleared = sum(1 for first, second in zip(verdicts, again)
                      if first.observed == REJECT and second.observed == ACCEPT)
        notes.append("slower, the target answered consistently: the verdicts come from that run"
                     + (f"; it took {cleared} item(s) it had refused at full speed, so it seems to throttle"
                        if cleared else ""))
        return merged, probes, tuple(notes)
    reason = f"flaky target: {_summarize(slow_prober.disagreements)}, even after backing off"
    notes.append(reason + "; every case resting on a refusal is inconclusive")
    return tuple(_unsettled(v, reason) for v in merged), probes, tuple(notes)


def _ask_silent_again(target: Target, policy: Policy, cert_type: str, settings: ProbeSettings, catalog: Catalog,
                      budget: threading.Semaphore | None, deadline: float,
                      verdicts: tuple[Verdict, ...]) -> tuple[tuple[Verdict, ...], int, str | None]:
    """Questions met with silence, from a target that answers others at once, are asked again with a
    timeout that outlasts s2n-tls's error blinding (a refusal's close delayed by 10-30 s), if the
    deadline leaves room: a bounded wait instead of an open question."""
    silent = [v for v in verdicts if v.verdict == INCONCLUSIVE and v.timed_out]
    answering = any(v.verdict != INCONCLUSIVE for v in verdicts)
    if not silent or not answering or settings.timeout >= BLINDING_TIMEOUT or \
            deadline - time.monotonic() < BLINDING_TIMEOUT:
        return verdicts, 0, None
    patient = settings._replace(timeout=BLINDING_TIMEOUT, retries=0)
    again, prober = _judge_all(target, policy, cert_type, [v.expectation for v in silent], patient, catalog, None,
                               budget, deadline)
    answered = {v.expectation.key: v for v in again if not v.timed_out}
    decided = sum(1 for v in answered.values() if v.verdict != INCONCLUSIVE)
    note = (f"{len(silent)} question(s) met silence within {settings.timeout:g} s while others were answered at "
            f"once; asked again with a {BLINDING_TIMEOUT:g} s timeout (s2n-tls's error blinding delays a refusal's "
            f"close by 10-30 s): {decided} decided")
    return tuple(answered.get(v.expectation.key, v) for v in verdicts), prober.count, note


def _pause(settings: ProbeSettings, deadline: float) -> None:
    """Quiet before asking again: long enough for a rate limiter's window to pass."""
    time.sleep(min(settings.backoff_pause, max(0.0, deadline - time.monotonic())))


BACKOFF_DELAY = 0.06  # seconds between probe starts after a disagreement: about 16 connections a second


def _summarize(disagreements: list[str]) -> str:
    more = f" ({len(disagreements)} disagreeing answers in all)" if len(disagreements) > 1 else ""
    return disagreements[0] + more


def _unsettled(verdict: Verdict, reason: str) -> Verdict:
    if verdict.observed != REJECT:
        return verdict
    return Verdict(verdict.expectation, INCONCLUSIVE, INCONCLUSIVE,
                   f"{reason}; this case rests on a refusal ({verdict.evidence})")


def _judge_all(target: Target, policy: Policy, cert_type: str, expectations: list[Expectation],
               settings: ProbeSettings, catalog: Catalog, progress: Callable[[int, int], None] | None,
               budget: threading.Semaphore | None, deadline: float) -> tuple[tuple[Verdict, ...], _Prober]:
    prober = _Prober(target, settings, catalog, budget, deadline)
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
    if not prober.stopped:
        prober.recheck_refusals(verdicts)
    return verdicts, prober
