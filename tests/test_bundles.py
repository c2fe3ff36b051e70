"""The sans-IO core without sockets: bundle elimination (probing/bundles.py) against scripted targets,
and the handshake error classifier (probing/handshake.py) against OpenSSL's error shapes."""

import pytest
from OpenSSL import SSL

from pytest_apigw_tls.policy.codepoints import AlertDescription
from pytest_apigw_tls.probing.bundles import REFUSALS, SMALL_OFFER, run_beside, run_bundle
from pytest_apigw_tls.probing.handshake import classify_handshake_error
from pytest_apigw_tls.probing.probes import Observation, Outcome, inconclusive

CONTROL = 100
REFUSAL = Observation(Outcome.REJECTED, "fatal alert handshake_failure", alert=AlertDescription.handshake_failure)


class ScriptedTarget:
    """Takes the first item of an offer that it accepts (server preference: lowest code), else refuses
    with handshake_failure; every offer is recorded. `answer` may override an offer's answer."""

    def __init__(self, accepts, max_items=None, answer=None):
        self.accepts, self.max_items, self.answer = set(accepts), max_items, answer
        self.offers = []

    def __call__(self, items):
        self.offers.append(items)
        if self.answer is not None and (scripted := self.answer(items, len(self.offers))) is not None:
            return scripted
        if self.max_items is not None and len(items) > self.max_items:
            return REFUSAL
        taken = sorted(set(items) & self.accepts)
        if not taken:
            return REFUSAL
        return Observation(Outcome.ACCEPTED, f"chose 0x{taken[0]:04X}", suite=taken[0])


def chosen(observation):
    return observation.suite


def test_elimination_names_every_culprit_and_confirms_the_refusal_of_the_rest():
    target = ScriptedTarget({3, 5, CONTROL})
    result = run_bundle(target, [1, 2, 3, 4, 5, 6], chosen, [CONTROL])
    assert set(result.accepted) == {3, 5} and set(result.refused) == {1, 2, 4, 6} and not result.inconclusive
    rest = (1, 2, 4, 6)
    # refused, then taken with the control added, then refused again: REFUSALS refusals around one control
    assert target.offers[-3:] == [rest, rest + (CONTROL,), rest] and REFUSALS == 2
    assert "refused again without it, 2 times in all" in result.refused[1].evidence


def test_a_target_that_takes_nothing_it_must_proves_nothing_by_refusing():
    target = ScriptedTarget(set())  # refuses the control too, alone and beside the bundle
    result = run_bundle(target, list(range(1, 20)), chosen, [CONTROL])
    assert not result.refused and set(result.inconclusive) == set(range(1, 20))
    assert all(len(offer) <= SMALL_OFFER for offer in target.offers[3:])  # then asked a few at a time
    assert "refusals are no evidence" in result.inconclusive[1].evidence


def test_a_target_that_refuses_large_offers_is_asked_in_halves_until_the_refusals_are_evidence():
    target = ScriptedTarget({CONTROL}, max_items=4)
    result = run_bundle(target, list(range(1, 13)), chosen, [CONTROL])
    assert set(result.refused) == set(range(1, 13)) and not result.inconclusive
    # 12 -> halves of 6 -> of 3: three items with the control make four, which the target takes
    assert (1, 2, 3, CONTROL) in target.offers and (10, 11, 12, CONTROL) in target.offers
    assert all("accepted once an allowed item was added" in o.evidence for o in result.refused.values())


def test_a_refusal_that_is_not_repeated_never_counts():
    """Refused, then taken with the control, then no answer at all (a dropped connection): open."""
    def answer(items, number):
        return inconclusive("connection reset") if number == 3 else None

    result = run_bundle(ScriptedTarget({CONTROL}, answer=answer), [1, 2], chosen, [CONTROL])
    assert not result.refused and set(result.inconclusive) == {1, 2}
    assert "connection reset" in result.inconclusive[1].evidence


def test_an_item_refused_once_and_taken_when_asked_again_is_accepted():
    def answer(items, number):
        return REFUSAL if number == 1 else None  # a drop that looked like a refusal

    result = run_bundle(ScriptedTarget({2, CONTROL}, answer=answer), [1, 2], chosen, [CONTROL])
    assert set(result.accepted) == {2} and set(result.refused) == {1}


def test_a_version_refused_twice_with_protocol_version_refuses_its_bundle_without_a_control():
    version = Observation(Outcome.REJECTED, "fatal alert protocol_version", alert=AlertDescription.protocol_version)
    target = ScriptedTarget(set(), answer=lambda items, number: version)
    result = run_bundle(target, [1, 2, 3], chosen, [CONTROL])
    assert set(result.refused) == {1, 2, 3} and "does not speak this version" in result.refused[1].evidence


def test_beside_an_anchor_every_item_taken_is_named_and_the_anchor_chosen_twice_refuses_the_rest():
    anchor = 0x0017
    target = ScriptedTarget({4, anchor})
    result = run_beside(target, [1, 4, 9], chosen, anchor)
    assert set(result.accepted) == {4} and set(result.refused) == {1, 9}
    assert target.offers.count((1, 9, anchor)) == REFUSALS  # the anchor's choice is asked again


def ssl_error(*reasons, kind=SSL.Error):
    return kind([("SSL routines", "", reason) for reason in reasons])


@pytest.mark.parametrize("error,outcome,evidence", [
    (ssl_error("sslv3 alert handshake failure"), Outcome.REJECTED, "fatal alert handshake_failure"),
    (ssl_error("tlsv1 alert protocol version"), Outcome.REJECTED, "fatal alert protocol_version"),
    (ssl_error("tlsv1 unrecognized name"), Outcome.REJECTED, "fatal alert unrecognized_name"),
    (ssl_error("tlsv1 alert internal error"), Outcome.INCONCLUSIVE, "fatal alert internal_error"),
    (SSL.SysCallError(-1, "Unexpected EOF"), Outcome.REJECTED, "connection closed without an alert"),
    (SSL.SysCallError(104, "ECONNRESET"), Outcome.INCONCLUSIVE, "socket error during handshake: ECONNRESET"),
    (SSL.ZeroReturnError(), Outcome.REJECTED, "connection closed without an alert"),
    (ssl_error("no shared cipher"), Outcome.INCONCLUSIVE, "handshake failed locally: no shared cipher"),
], ids=["alert", "tls-alert", "plain-alert", "server-fault", "eof", "reset", "close-notify", "local"])
def test_the_classifier_calls_only_received_alerts_and_closes_refusals(error, outcome, evidence):
    got, text = classify_handshake_error(error)
    assert got is outcome and text.startswith(evidence)
