"""Refused bundles: offer many forbidden items in one ClientHello, name each one the target takes,
and count the final refusal only when it is evidence.

Elimination: when the target chooses an item of the bundle, that item is accepted (named as a
culprit) and the rest is offered again, until the target refuses. A refusal alone proves little: a
server that drops every large or unusual ClientHello refuses every bundle. So the same bundle is
offered once more with one allowed item added; only when the target then accepts (choosing the
allowed item) does the refusal count for each item of the bundle. When that control fails, the
bundle is split in halves and each half asked again; a single item whose control still fails is
INCONCLUSIVE with that reason. A target that refuses the allowed item even alone accepts nothing in
that offer's frame (typically the version), so it accepts none of the bundle either: refused, and
said so (the case expecting the allowed item fails on its own).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

from .probes import Observation, Outcome, inconclusive

OfferItems = Callable[[tuple[int, ...]], Observation]  # offer exactly these items (suites or groups)
Chosen = Callable[[Observation], "int | None"]  # which item an accepting answer chose


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
    offer: OfferItems
    chosen: Chosen
    control: int | None
    result: BundleResult
    control_alone: Observation | None = None

    def picked(self, observation: Observation) -> int | None:
        return self.chosen(observation) if observation.outcome is Outcome.ACCEPTED else None


def run_bundle(offer: OfferItems, items: Sequence[int], chosen: Chosen, control: int | None) -> BundleResult:
    """Ask about `items` in bulk. `control` is an item the target must accept (None: none is known;
    then the first item found accepted serves, and failing that a refusal is taken as it is, labelled)."""
    run = _Run(offer, chosen, control, BundleResult())
    if items:
        _ask(run, list(items))
    return run.result


def _ask(run: _Run, items: list[int]) -> None:
    remaining = items
    while True:
        observation = run.offer(tuple(remaining))
        pick = run.picked(observation)
        if pick in remaining:
            run.result.accepted[pick] = observation  # type: ignore[index]
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
    control = run.control if run.control is not None else next(iter(run.result.accepted), None)
    if control is None:
        _all(run.result.refused, remaining, dataclasses.replace(
            refusal, evidence=f"{refusal.evidence} (no allowed item to control the refusal with)"))
        return
    check = run.offer(tuple(remaining) + (control,))
    pick = run.picked(check)
    if pick == control:
        _all(run.result.refused, remaining, dataclasses.replace(
            refusal, evidence=f"{refusal.evidence}; accepted once an allowed item was added ({check.evidence})"))
        return
    if pick in remaining:  # a forbidden item taken only beside the allowed one: accepted all the same
        run.result.accepted[pick] = check  # type: ignore[index]
        rest = [item for item in remaining if item != pick]
        if rest:
            _ask(run, rest)
        return
    if run.control_alone is None:
        run.control_alone = run.offer((control,))
    alone = run.control_alone
    if alone.outcome is Outcome.REJECTED:  # it accepts nothing here (say, not this version): nor these
        _all(run.result.refused, remaining, dataclasses.replace(
            refusal, evidence=f"{refusal.evidence}; the target refuses even the allowed item 0x{control:04X} alone "
                              f"({alone.evidence}), so it accepts none of these"))
        return
    if run.picked(alone) != control:
        _all(run.result.inconclusive, remaining, inconclusive(
            f"the allowed item 0x{control:04X} alone was not taken either ({alone.evidence}): "
            "no refusal from this target is evidence"))
        return
    if len(remaining) == 1:
        run.result.inconclusive[remaining[0]] = inconclusive(
            f"{refusal.evidence}, but refused too with an allowed item added ({check.evidence}): "
            "the refusal is no evidence")
        return
    half = len(remaining) // 2
    _ask(run, remaining[:half])
    _ask(run, remaining[half:])


def _all(table: dict[int, Observation], items: list[int], observation: Observation) -> None:
    for item in items:
        table[item] = observation
