"""The probe engine against hostile servers: every probe ends as a refusal with its alert, or as
inconclusive with its reason; never accepted for what it did not see, never past its timeout."""

import time

import pytest

from pytest_apigw_tls.catalog import load_catalog
from pytest_apigw_tls.probes import Outcome, ProbeOffer, ProbeSettings, Target, raw_probe
from pytest_apigw_tls.codepoints import TlsVersion
from pytest_apigw_tls.scan import INCONCLUSIVE, PASS, scan

from .hostile import (
    HostileServer,
    answer_with,
    close_silently,
    endless_stream,
    hello_then_close,
    never_answer,
    reset,
    server_hello,
    server_key_exchange,
)

TLS13 = ProbeOffer((0x0304,), (0x1301, 0x1302), (0x001D, 0x0017), (0x001D,))
TLS12 = ProbeOffer((0x0303,), (0xC02F,), (0x001D,), ())
TIMEOUT = 0.5


def probe(behaviour, offer=TLS13):
    with HostileServer(behaviour) as server:
        started = time.monotonic()
        observation = raw_probe(Target(*server.address, "api.example.test"), offer, TIMEOUT)
        assert time.monotonic() - started < TIMEOUT * 6, "the probe outlived its timeout"
    return observation


@pytest.mark.parametrize("behaviour,evidence", [
    (answer_with(b"\x00garbage that is not TLS at all"), "unparsable answer: not a TLS record"),
    (answer_with(b"\x16\x03\x03\x01\x00" + b"\x02" * 10), "unparsable answer: connection closed in the middle"),
    (answer_with(b"\x15\x03\x03\x00\x05\x02\x28\x00\x00\x00"), "unparsable answer: alert of 5 bytes"),
    (never_answer, "timed out waiting for the ServerHello"),
    (endless_stream, "unparsable answer: change_cipher_spec record before the ServerHello"),
    (reset, "connection reset waiting for the ServerHello"),
    (answer_with(server_hello(0x0304, 0x0005, 0x001D)), "server selected suite 0x0005, not offered"),
    (answer_with(server_hello(0x0304, 0x1301, 0x0019)), "server key share group 0x0019 was not offered"),
    (answer_with(server_hello(0x0304, 0x1301, 0x0018)), "server key share group 0x0018 was not offered"),
    (answer_with(server_hello(0x0304, 0x1301, 0x0019, retry=True)), "group 0x0019 was not offered"),
])
def test_hostile_answers_are_inconclusive_with_their_reason(behaviour, evidence):
    observation = probe(behaviour)
    assert observation.outcome is Outcome.INCONCLUSIVE
    assert evidence in observation.evidence


@pytest.mark.parametrize("behaviour,evidence", [
    (answer_with(server_hello(0x0303, 0xC02F) + server_key_exchange(0x0019)), "curve 0x0019, which was not offered"),
    (answer_with(server_hello(0x0303, 0xC02F)), "connection closed before the ServerKeyExchange"),
])
def test_an_ecdhe_answer_below_tls13_must_name_an_offered_curve(behaviour, evidence):
    observation = probe(behaviour, TLS12)
    assert observation.outcome is Outcome.INCONCLUSIVE and evidence in observation.evidence


def test_a_clean_close_after_the_client_hello_is_a_refusal():
    observation = probe(close_silently)
    assert observation.outcome is Outcome.REJECTED and observation.evidence == "connection closed without an alert"


def test_an_alert_is_a_refusal_that_keeps_its_description():
    observation = probe(answer_with(b"\x15\x03\x03\x00\x02\x02\x46"))
    assert observation.outcome is Outcome.REJECTED and observation.evidence == "fatal alert protocol_version"


def test_a_server_hello_with_what_was_offered_is_accepted_with_the_values():
    observation = probe(answer_with(server_hello(0x0303, 0xC02F) + server_key_exchange(0x001D)), TLS12)
    assert observation.outcome is Outcome.ACCEPTED
    assert (observation.version, observation.suite, observation.group) == (0x0303, 0xC02F, 0x001D)


def test_a_version_below_every_offered_one_is_a_refusal_of_those_versions():
    """A TLS 1.2 answer to a TLS 1.3-only offer: the server does not speak TLS 1.3 (a client aborts)."""
    observation = probe(answer_with(server_hello(0x0303, 0x1301)))
    assert observation.outcome is Outcome.REJECTED
    assert "answered with TLSv1.2, below the offered TLSv1.3" in observation.evidence


def test_a_version_above_every_offered_one_is_inconclusive():
    observation = probe(answer_with(server_hello(0x0304, 0xC02F, 0x001D)), TLS12)
    assert observation.outcome is Outcome.INCONCLUSIVE and "TLSv1.3, which was not offered" in observation.evidence


def test_connect_failure_is_inconclusive():
    with HostileServer(close_silently) as server:
        address = server.address
    observation = raw_probe(Target(*address, None), TLS13, TIMEOUT)
    assert observation.outcome is Outcome.INCONCLUSIVE and "connect to" in observation.evidence


@pytest.mark.parametrize("behaviour", [answer_with(b"garbage!"), never_answer, reset, endless_stream,
                                       answer_with(server_hello(0x0304, 0x1301, 0x0019))])
def test_a_scan_of_a_hostile_server_never_passes(behaviour):
    policy = load_catalog().policy("SecurityPolicy_TLS13_1_3_2025_09")
    with HostileServer(behaviour) as server:
        result = scan(Target(*server.address, "api.example.test"), policy, "rsa",
                      ProbeSettings(timeout=TIMEOUT, retries=0, concurrency=16))
    assert result.verdicts and not any(v.verdict == PASS for v in result.verdicts)
    assert not result.conforms


def test_an_acceptance_no_handshake_can_finish_is_inconclusive():
    """Allowed items are asked with a full handshake first; when it fails, the raw ServerHello that
    still says accepted makes the case inconclusive, neither a pass nor a refusal."""
    policy = load_catalog().policy("SecurityPolicy_TLS13_1_3_2025_09")
    with HostileServer(hello_then_close) as server:
        result = scan(Target(*server.address, "api.example.test"), policy, "rsa",
                      ProbeSettings(timeout=TIMEOUT, retries=0, concurrency=16))
    allowed = [v for v in result.verdicts if v.expectation.dimension == "suite" and v.expectation.expected == "accepted"]
    assert [v.expectation.item for v in allowed] == [s.openssl for s in policy.accepted_suites(TlsVersion.TLSv1_3, "rsa")]
    for verdict in allowed:
        assert verdict.verdict == INCONCLUSIVE
        assert verdict.evidence.startswith("ServerHello: TLSv1.3 suite 0x130")
        assert "but the full handshake did not agree" in verdict.evidence
