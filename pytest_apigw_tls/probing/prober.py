"""The prober: one target's probes with retries, pacing, a probe count and a deadline, and the ledger
of every question's answers (the same question answered both ways is a disagreement, never a verdict)."""

from __future__ import annotations

import concurrent.futures
import threading
import time
from typing import Callable, Iterable

from ..errors import CatalogError
from ..policy.catalog import Catalog
from ..policy.codepoints import TlsVersion
from .capabilities import can_offer, detect
from .handshake import handshake_probe
from .probes import (
    Observation,
    Outcome,
    Pacer,
    ProbeOffer,
    ProbeSettings,
    Target,
    inconclusive,
    raw_probe,
    version_label,
    with_retries,
)
from .results import Verdict, allowed_but_refused

Reading = Callable[[Observation], Observation]  # how a question reads a raw answer


def as_seen(observation: Observation) -> Observation:
    """A raw answer read as it came."""
    return observation


EARLY_STOP_TIMEOUTS = 4  # a scan whose first probes all time out stops: the rest would only wait as long


class Prober:
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
        refused_allowed = any(map(allowed_but_refused, verdicts))
        if not (self.troubled or self.disagreements or refused_allowed or len(self.refusal_styles) > 1):
            return
        with self._lock:
            offers = [question[1] for question, outcome in self.answers.items()
                      if question[0] == "raw" and outcome is Outcome.REJECTED]
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, self.settings.concurrency)) as pool:
            list(pool.map(self.raw, offers))

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
                  reading: Reading = as_seen) -> Observation:
        """For an offer that should be refused: the raw ClientHello first (read by `reading`: a curve
        question reads a ServerHello abandoned before its curve as a refusal); an acceptance counts only
        once a real handshake, limited to what the server chose (its suite, and the given groups),
        completes with the same choice."""
        first = reading(self.raw(offer))
        if first.outcome is not Outcome.ACCEPTED:
            return first
        suite = self.openssl_name(first.suite)
        second = self.handshake(version, suite, self._local_groups(offer, groups))
        if self.agrees(second, version, (first.suite,) if suite and first.suite is not None else None, groups):
            return second._replace(evidence=f"{first.evidence}; {second.evidence}")
        return Observation(Outcome.INCONCLUSIVE, f"{first.evidence}, but the full handshake did not agree: "
                                                 f"{second.evidence}")

    def accepted(self, offer: ProbeOffer, version: TlsVersion, groups: list[str] | None = None,
                 reading: Reading = as_seen) -> Observation:
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


