"""A scan: one target, one policy -> a verdict per expectation (plan.py asks, prober.py runs the probes).

A target that answers the same question both ways is asked again, slower; what still disagrees is
inconclusive. Silent refusals (error blinding) are asked again with a longer timeout, once.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from typing import Callable

from ..errors import TargetError
from ..policy.catalog import CERT_TYPES, Catalog, Policy, builtin_catalog
from ..policy.expectations import (
    ACCEPT,
    REJECT,
    Expectation,
    expectations_for,
)
from ..vocabulary import FAIL, INCONCLUSIVE, PASS, REPORTED
from .handshake import handshake_probe
from .plan import plan
from .prober import Prober
from .probes import (
    BLINDING_TIMEOUT,
    Outcome,
    ProbeSettings,
    Target,
    connect,
    describe_os_error,
)
from .results import ScanResult, Verdict, allowed_but_refused, judge

__all__ = ["FAIL", "INCONCLUSIVE", "PASS", "REPORTED", "ScanResult", "Verdict", "detect_cert_type", "scan"]


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
    catalog = catalog or builtin_catalog()
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
                          prober: Prober) -> tuple[tuple[Verdict, ...], int, tuple[str, ...]]:
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
    suspects = [v for v in verdicts if allowed_but_refused(v)]
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
               budget: threading.Semaphore | None, deadline: float) -> tuple[tuple[Verdict, ...], Prober]:
    prober = Prober(target, settings, catalog, budget, deadline)
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
