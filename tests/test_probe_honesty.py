"""The probe engine against hostile servers: every probe ends as a refusal with its alert, or as
inconclusive with its reason; never accepted for what it did not see, never past its timeout."""

import time

import pytest

from pytest_apigw_tls.policy.catalog import load_catalog
from pytest_apigw_tls.policy.codepoints import TlsVersion
from pytest_apigw_tls.probing.probes import Outcome, ProbeOffer, ProbeSettings, Target, curve_answer, raw_probe
from pytest_apigw_tls.probing.scan import INCONCLUSIVE, PASS, scan

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
    (never_answer, "no answer within 0.5 s (servers on s2n-tls wait 10-30 s before closing"),
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


def test_a_curve_that_was_not_offered_is_no_acceptance():
    """wolfSSL and Bouncy Castle answer a TLS 1.2 hello sharing no curve with a ServerKeyExchange on a
    curve never offered: a client aborts, so none of the offered items was taken."""
    observation = probe(answer_with(server_hello(0x0303, 0xC02F) + server_key_exchange(0x0019)), TLS12)
    assert observation.outcome is Outcome.REJECTED
    assert "curve 0x0019, which was not offered, so no client can complete it" in observation.evidence


@pytest.mark.parametrize("after,ended", [
    (b"", "then the connection closed before the ServerKeyExchange"),
    (b"\x15\x03\x03\x00\x02\x02\x28", "then fatal alert handshake_failure before the ServerKeyExchange"),
    (b"\x15\x03\x03\x00\x02\x01\x00", "then warning alert close_notify before the ServerKeyExchange"),
])
def test_an_alert_or_close_after_the_server_hello_keeps_the_server_hello(after, ended):
    """The ServerHello showed the suite taken; what follows it is another matter, and a question about
    the curve reads it as no curve taken."""
    observation = probe(answer_with(server_hello(0x0303, 0xC02F) + after), TLS12)
    assert observation.outcome is Outcome.ACCEPTED and observation.suite == 0xC02F
    assert observation.ended == ended and observation.evidence.endswith(ended)
    as_curve = curve_answer(observation)
    assert as_curve.outcome is Outcome.REJECTED and as_curve.evidence.startswith("none of the offered curves taken")


def test_a_suite_chosen_above_the_negotiated_version_is_no_acceptance():
    """s2n-tls answers a TLS 1.0 hello offering TLS 1.2-only suites by choosing one: no client can finish."""
    tls10 = ProbeOffer((0x0301,), (0xC02F, 0xC013), (0x001D,), ())
    observation = probe(answer_with(server_hello(0x0301, 0xC02F) + server_key_exchange(0x001D)), tls10)
    assert observation.outcome is Outcome.REJECTED
    assert ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 (0xC02F) at TLSv1.0, which no client can complete"
            in observation.evidence)


def test_a_hello_retry_request_asking_no_change_is_a_refusal():
    """RFC 8446 4.1.4: an HRR that would not change the ClientHello makes the client abort."""
    observation = probe(answer_with(server_hello(0x0304, 0x1301, None, retry=True)))
    assert observation.outcome is Outcome.REJECTED and "asks for no change" in observation.evidence


@pytest.mark.parametrize("description", [80, 90, 49, 10])  # internal_error, user_canceled, access_denied, ...
def test_an_alert_that_says_nothing_about_the_offer_is_no_refusal(description):
    observation = probe(answer_with(b"\x15\x03\x03\x00\x02\x02" + bytes([description])))
    assert observation.outcome is Outcome.INCONCLUSIVE and "says nothing about the offer" in observation.evidence


@pytest.mark.parametrize("data,evidence", [
    (b"\x16\x03\x03\x00\x04\x02\xff\xff\xff", "server_hello message of 16777215 bytes is over the limit"),
    (server_hello(0x0303, 0xC02F) + b"\x16\x03\x03\x00\x04\x0b\x80\x00\x00",
     "client-side size limit: the server's Certificate message of 8388608 bytes is over the 102400 bytes"),
    (b"HTTP/1.1 400 Bad Request\r\n\r\n", "plaintext HTTP answered on a TLS port"),
])
def test_oversized_or_plaintext_answers_are_decided_at_once(data, evidence):
    """A header claiming megabytes is refused before its bytes arrive: nothing is buffered until the timeout."""
    started = time.monotonic()
    observation = probe(answer_with(data) if not data.startswith(b"\x16") else _then_wait(data), TLS12)
    assert observation.outcome is Outcome.INCONCLUSIVE and evidence in observation.evidence
    assert time.monotonic() - started < TIMEOUT


def _then_wait(data):
    def behaviour(sock):
        answer_with(data)(sock)
        sock.recv(1)  # keep the connection open: only the header decides
    return behaviour


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
    allowed = [v for v in result.verdicts
               if v.expectation.dimension == "suite" and v.expectation.expected == "accepted"]
    assert [v.expectation.item for v in allowed] == [s.openssl
                                                     for s in policy.accepted_suites(TlsVersion.TLSv1_3, "rsa")]
    for verdict in allowed:
        assert verdict.verdict == INCONCLUSIVE
        assert verdict.evidence.startswith("ServerHello: TLSv1.3 suite 0x130")
        assert "but the full handshake did not agree" in verdict.evidence
