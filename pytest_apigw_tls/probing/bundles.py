"""Refused bundles: offer many forbidden items in one ClientHello, name each one the target takes,
and count the final refusal only when it is evidence.

Elimination: when the target chooses an item of the bundle, that item is accepted (named as a
culprit) and the rest is offered again, until the target refuses. A refusal alone proves little: a
server that drops every large or unusual ClientHello refuses every bundle. So the same bundle is
offered once more with one allowed item added (the control); only when the target then accepts
(choosing the allowed item) does the refusal count for each item of the bundle.

The control must be one the target takes. When the bundle plus a control is refused, that control
is offered alone: if the target takes it, the refusal is about the bundle's size or shape, so the
bundle is split in halves and each half asked again (a single item whose control still fails is
INCONCLUSIVE with that reason); if the target refuses it alone too, it lacks that allowed item (its
own case fails) and the next allowed item is tried as the control. When no allowed item is taken
even alone: a target that answers with protocol_version (or a lower version), twice, does not speak
the offer's version, so it accepts none of the bundle; otherwise the items are offered a few at a
time: one it takes is accepted, one it refuses stays inconclusive (a target that refuses what it
must take proves nothing by refusing).

Every refusal that counts is asked REFUSALS (2) times, with its control between: refused, then taken
with the control added, then refused again. An answer that changes is an acceptance (a dropped
connection cannot fake one) and, in the prober's ledger, a disagreement. On a target that gives any
sign of trouble the scan asks every refusal a third time at its end (scan.py, recheck_refusals).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

from ..policy.codepoints import AlertDescription
from .probes import Observation, Outcome, inconclusive

OfferItems = Callable[[tuple[int, ...]], Observation]  # offer exactly these items (suites or groups)
Chosen = Callable[[Observation], "int | None"]  # which item an accepting answer chose
VersionRefused = Callable[[], "Observation | None"]  # a confirmed refusal of the whole version, if there is one


@dataclasses.dataclass
class BundleResult:
    """Per item: the observation that shows it accepted, refused (with the control), or neither."""

    accepted: dict[int, Observation] = dataclasses.field(default_factory=dict)
    refused: dict[int, Observation] = dataclasses.field(default_factory=dict)
    inconclusive: dict[int, Observation] = dataclasses.field(default_factory=dict)

    def observation(self, item: int) -> Observation:
        for table in (self.accepted, self.inconclusive, self.refused):
            if item in table:
                return table[item]
        return inconclusive("not offered")


@dataclasses.dataclass
class _Run:
    """One bundle's questions: how to offer and read, the controls, and what was learnt so far."""

    offer: OfferItems
    chosen: Chosen
    controls: tuple[int, ...]
    result: BundleResult
    alone: dict[int, Observation] = dataclasses.field(default_factory=dict)  # control -> offered alone
    working: int | None = None  # a control the target has taken
    version_refused: VersionRefused | None = None

    def picked(self, observation: Observation) -> int | None:
        return self.chosen(observation) if observation.outcome is Outcome.ACCEPTED else None

    def candidates(self) -> list[int]:
        """The controls still worth a try: one known to work, else the untried allowed items, else
        (none given) the items the target has already taken."""
        if self.working is not None:
            return [self.working]
        pool = list(self.controls) or list(self.result.accepted)
        return [c for c in pool if c not in self.alone]

    def taken_alone(self, control: int) -> bool:
        if control not in self.alone:
            self.alone[control] = self.offer((control,))
        if self.picked(self.alone[control]) == control:
            self.working = control
            return True
        return False


def run_bundle(offer: OfferItems, items: Sequence[int], chosen: Chosen, controls: Sequence[int],
               version_refused: VersionRefused | None = None) -> BundleResult:
    """Ask about `items` in bulk. `controls` are items the target must accept, best first (none known:
    the items found accepted serve, and failing those a refusal is taken as it is, labelled).
    `version_refused` asks, when no control is taken, whether the target refuses the whole version
    while taking another in the same offer: then it accepts none of these either."""
    run = _Run(offer, chosen, tuple(controls), BundleResult(), version_refused=version_refused)
    if items:
        _ask(run, list(items))
    return run.result


REFUSALS = 2  # agreeing refusals that make a passing refusal (a third on a target showing any trouble: scan.py)


def refused_throughout(ask: Callable[[], Observation], times: int = REFUSALS - 1) -> Observation | None:
    """Ask `times` more times; None when every answer is a refusal, else the first answer that is not."""
    for _ in range(times):
        answer = ask()
        if answer.outcome is not Outcome.REJECTED:
            return answer
    return None


def run_beside(offer: OfferItems, items: Sequence[int], chosen: Chosen, anchor: int) -> BundleResult:
    """Ask about `items` in offers that always name `anchor` too: an item a real client must offer (the
    ECDSA certificate's curve below TLS 1.3, RFC 8422 5.1). An item chosen beside it is accepted (what a
    real client would get); the anchor chosen (REFUSALS times) is the refusal of the rest and its control
    at once."""
    result, remaining, anchored = BundleResult(), list(items), 0
    while remaining:
        answer = offer(tuple(remaining) + (anchor,))
        pick = chosen(answer) if answer.outcome is Outcome.ACCEPTED else None
        if pick in remaining:
            result.accepted[pick] = answer
            remaining = [item for item in remaining if item != pick]
            continue
        settled = pick == anchor or _refuses_the_version(answer)  # the version refused: none of these taken
        anchored += settled
        if settled and anchored < REFUSALS:
            continue  # asked again: a refusal counts when it is confirmed
        if settled and pick != anchor:
            _all(result.refused, remaining, answer._replace(
                evidence=f"{answer.evidence}, {REFUSALS} times, with the certificate's curve 0x{anchor:04X} offered "
                         "too: the target does not speak this version, so it accepts none of these"))
        elif settled:
            _all(result.refused, remaining, Observation(Outcome.REJECTED, (
                f"the certificate's curve 0x{anchor:04X} chosen over all of these, {REFUSALS} times "
                f"({answer.evidence})")))
        else:
            _all(result.inconclusive, remaining, answer if answer.outcome is Outcome.INCONCLUSIVE else inconclusive(
                f"offered beside the certificate's curve 0x{anchor:04X}: {answer.evidence}"))
        return result
    return result


def _ask(run: _Run, items: list[int]) -> None:
    remaining = items
    while True:
        observation = run.offer(tuple(remaining))
        pick = run.picked(observation)
        if pick in remaining:
            run.result.accepted[pick] = observation
            remaining = [item for item in remaining if item != pick]
            if not remaining:
                return
            continue
        if observation.outcome is Outcome.ACCEPTED:
            _all(run.result.inconclusive, remaining,
                 inconclusive(f"accepted, but the choice cannot be named: {observation.evidence}"))
            return
        if observation.outcome is Outcome.INCONCLUSIVE:
            _all(run.result.inconclusive, remaining, observation)
            return
        break
    _control(run, remaining, observation)


def _control(run: _Run, remaining: list[int], refusal: Observation) -> None:
    for control in run.candidates():
        check = run.offer(tuple(remaining) + (control,))
        pick = run.picked(check)
        if pick == control:
            run.working = control
            _confirm(run, remaining, refusal, check)
            return
        if pick in remaining:  # a forbidden item taken only beside the allowed one: accepted all the same
            run.result.accepted[pick] = check
            rest = [item for item in remaining if item != pick]
            if rest:
                _ask(run, rest)
            return
        if run.taken_alone(control):  # the control works: the bundle's size or shape was refused
            if len(remaining) == 1:
                run.result.inconclusive[remaining[0]] = inconclusive(
                    f"{refusal.evidence}, but refused too with an allowed item added ({check.evidence}): "
                    "the refusal is no evidence")
                return
            half = len(remaining) // 2
            _ask(run, remaining[:half])
            _ask(run, remaining[half:])
            return
    _without_control(run, remaining, refusal)


def _confirm(run: _Run, remaining: list[int], refusal: Observation, check: Observation) -> None:
    """The refusal, then the control taken, then the same refusal again (REFUSALS in all): refusal and
    control on one schedule, so connections dropped now and then cannot pass for a refusal."""
    again = refused_throughout(lambda: run.offer(tuple(remaining)))
    pick = run.picked(again) if again is not None else None
    if again is None:
        _all(run.result.refused, remaining, refusal._replace(
            evidence=f"{refusal.evidence}; accepted once an allowed item was added ({check.evidence}); "
                     f"refused again without it, {REFUSALS} times in all"))
    elif pick in remaining:  # refused once, taken now: the ledger of the offers has the disagreement
        run.result.accepted[pick] = again
        if rest := [item for item in remaining if item != pick]:
            _ask(run, rest)
    else:
        _all(run.result.inconclusive, remaining, again if again.outcome is Outcome.INCONCLUSIVE else inconclusive(
            f"refused, then answered otherwise when asked again: {again.evidence}"))


def _without_control(run: _Run, remaining: list[int], refusal: Observation) -> None:
    """No allowed item is taken here, even alone. Only a refusal of the version itself (protocol_version,
    or a lower version chosen, twice; or the version refused alone while another is taken in the same
    offer) says these items are refused; any other refusal from a target that takes nothing it must
    take is no evidence, so the items are offered a few at a time for what they can show (an
    acceptance), and what the target refuses stays open."""
    if not run.alone:
        _all(run.result.refused, remaining, refusal._replace(
            evidence=f"{refusal.evidence} (no allowed item to control the refusal with)"))
        return
    if all(_refuses_the_version(alone) for alone in run.alone.values()):
        code, alone = next(iter(run.alone.items()))
        if all(_refuses_the_version(run.offer((code,))) for _ in range(REFUSALS - 1)):
            _all(run.result.refused, remaining, refusal._replace(
                evidence=f"{refusal.evidence}; the target refuses even the allowed item 0x{code:04X} alone, "
                f"{REFUSALS} times ({alone.evidence}): it does not speak this version, so it accepts none of these"))
            return
    whole = run.version_refused() if run.version_refused else None
    if whole is not None:
        _all(run.result.refused, remaining, whole._replace(
            evidence=f"{refusal.evidence}; the target does not speak this version: {whole.evidence}"))
        return
    for start in range(0, len(remaining), SMALL_OFFER):  # a few at a time, as small offers as a server takes
        _search_small(run, remaining[start:start + SMALL_OFFER])


SMALL_OFFER = 8  # items per offer when no control works: small enough for a server that drops large offers


def _search_small(run: _Run, items: list[int]) -> None:
    """Offer a few items at a time and name what the target takes; its refusals here stay open."""
    while items:
        answer = run.offer(tuple(items))
        pick = run.picked(answer)
        if pick not in items:
            _all(run.result.inconclusive, items, answer if answer.outcome is Outcome.INCONCLUSIVE else inconclusive(
                f"offered {len(items)} at a time: {answer.evidence}, but the target takes none of the allowed "
                "items here either, so its refusals are no evidence"))
            return
        run.result.accepted[pick] = answer
        items = [item for item in items if item != pick]


def _refuses_the_version(observation: Observation) -> bool:
    """A protocol_version alert, or a ServerHello for a lower version: the offer's version is refused."""
    return observation.outcome is Outcome.REJECTED and (
        observation.alert == AlertDescription.protocol_version or observation.version is not None)


def _all(table: dict[int, Observation], items: list[int], observation: Observation) -> None:
    for item in items:
        table[item] = observation
