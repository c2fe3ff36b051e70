"""The plan: expectations -> jobs of the fewest probes, each returning (expectation, observation) pairs.

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

from typing import Callable

from ..policy.catalog import Policy
from ..policy.codepoints import TlsVersion
from ..policy.expectations import (
    ACCEPT,
    Expectation,
    ecdhe_suites,
    ecdsa_ecdhe_suites,
)
from ..vocabulary import Dimension
from .bundles import REFUSALS, BundleResult, refused_throughout, run_beside, run_bundle
from .capabilities import detect
from .prober import Prober
from .probes import (
    Observation,
    Outcome,
    ProbeOffer,
    curve_answer,
    inconclusive,
    version_label,
)

Job = Callable[[], list[tuple[Expectation, Observation]]]


def _version_job(prober: Prober, expectation: Expectation, policy: Policy, cert_type: str) -> Job:
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


def _refused_version(prober: Prober, version: TlsVersion, suites: tuple[int, ...],
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


def _accepted_suite_job(prober: Prober, expectation: Expectation) -> Job:
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


def _refused_suites_job(prober: Prober, version: TlsVersion, refused: list[Expectation],
                        controls: tuple[int, ...], version_refused: Callable[[], Observation | None]) -> Job:
    """Offer every suite that must be refused (registry-wide); name what the target takes."""
    lookup = lambda name: prober.catalog.suite(name).code  # noqa: E731
    items = [code for e in refused for code in _codes_of(e, lookup)]

    def job() -> list[tuple[Expectation, Observation]]:
        result = run_bundle(lambda codes: prober.raw(prober.offer(version, codes)), items,
                            lambda observation: observation.suite, controls, version_refused)
        return _bundle_observations(refused, lookup, result, prober.catalog.universe.describe_suite)
    return job


def _group_offer_suites(prober: Prober, policy: Policy, version: TlsVersion, cert_type: str) -> tuple[int, ...]:
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


def _refused_groups_job(prober: Prober, version: TlsVersion, refused: list[Expectation], suites: tuple[int, ...],
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


def _accepted_group_job(prober: Prober, expectation: Expectation, suites: tuple[int, ...]) -> Job:
    """TLS 1.3: an empty key_share, answered by a HelloRetryRequest naming the group. Below: the
    policy's ECDHE_RSA suites with only this group; the ServerKeyExchange names the curve."""
    group, version = prober.catalog.group(expectation.item), expectation.version

    def job() -> list[tuple[Expectation, Observation]]:
        offer = ProbeOffer((int(version),), suites, (group.code,), ())
        if group.name in detect().groups:
            return [(expectation, prober.accepted(offer, version, [group.name], curve_answer))]
        return [(expectation, curve_answer(prober.raw(offer)))]
    return job


def plan(prober: Prober, expectations: list[Expectation], policy: Policy, cert_type: str) -> list[Job]:
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
        if expectation.dimension == Dimension.VERSION:
            jobs.append(_version_job(prober, expectation, policy, cert_type))
        elif expectation.expected == ACCEPT and expectation.dimension == Dimension.SUITE:
            jobs.append(_accepted_suite_job(prober, expectation))
        elif expectation.expected == ACCEPT:
            suites = _group_offer_suites(prober, policy, expectation.version, cert_type)
            jobs.append(_accepted_group_job(prober, expectation, suites))
        else:
            bundles.setdefault((expectation.dimension, expectation.version), []).append(expectation)
    for (dimension, version), refused in bundles.items():
        whole = _version_refusal(prober, policy, cert_type, version)
        if dimension == Dimension.SUITE:
            allowed = policy.accepted_suites(version, cert_type)
            bundle_jobs.append(_refused_suites_job(prober, version, refused, tuple(s.code for s in allowed), whole))
        else:
            allowed_groups = policy.accepted_groups(version)
            beside_curve = version is not TlsVersion.TLSv1_3 and bool(ecdsa_ecdhe_suites(policy, version, cert_type))
            bundle_jobs.append(_refused_groups_job(prober, version, refused,
                                                   _group_offer_suites(prober, policy, version, cert_type),
                                                   tuple(g.code for g in allowed_groups), beside_curve, whole))
    return jobs[:1] + bundle_jobs + jobs[1:]  # one quick acceptance first: a target that answers is seen to


def _version_refusal(prober: Prober, policy: Policy, cert_type: str,
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


def _paired_jobs(prober: Prober, expectations: list[Expectation], policy: Policy,
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
        suites = [e for e in at_version if e.dimension == Dimension.SUITE]
        groups = [e for e in at_version if e.dimension == Dimension.GROUP and e.item in detect().groups]
        version_case = next((e for e in at_version if e.dimension == Dimension.VERSION), None)
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


def _paired_job(prober: Prober, policy: Policy, cert_type: str, suite_case: Expectation,
                group_case: Expectation | None, version_case: Expectation | None) -> Job:
    """One handshake offering only the suite (and only the group): a conforming target settles every
    case with it. When it does not finish, each case is asked on its own, as if never paired; the
    suite's own question is not asked twice."""
    version, suite = suite_case.version, prober.catalog.suite(suite_case.item)

    def job() -> list[tuple[Expectation, Observation]]:
        offer = prober.offer(version, [suite.code])
        if group_case is None:  # the suite's own question, whose acceptance answers the version's too
            assert version_case is not None  # a pair without a group is asked for the version (_paired_jobs)
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


