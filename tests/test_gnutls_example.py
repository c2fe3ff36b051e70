"""The second vendor example, on a non-OpenSSL stack: GnuTLS's gnutls-serv, judged by the suite."""

import dataclasses
import shutil

import pytest

from pytest_apigw_tls.policy.catalog import load_catalog
from pytest_apigw_tls.probing.probes import ProbeSettings, Target
from pytest_apigw_tls.probing.scan import scan

from . import helpers

pytestmark = pytest.mark.skipif(shutil.which("gnutls-serv") is None,
                                reason="gnutls-serv is not installed (make gnutls-example installs gnutls-bin)")


def load_example():
    return helpers.load_example("gnutls", "gnutls_policy.py")


def test_gnutls_fails_only_where_its_priority_strings_and_groups_cannot_follow_the_policy(capsys):
    example = load_example()
    assert example.main(["--policy", "SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09"]) == 0
    out = capsys.readouterr().out
    assert "4 failing cases; 4 of them differences this stack cannot avoid; 0 other" in out
    assert "TLSv1.2-ECDHE-RSA-CHACHA20-POLY1305-rejected]: unavoidable: a priority string enables" in out
    assert "ERROR" not in out.split("short test summary")[-1]  # no inconclusive case on this stack


def test_a_tls13_only_policy_is_met_exactly_by_gnutls(capsys):
    assert load_example().main(["--policy", "SecurityPolicy_TLS13_1_3_2025_09"]) == 0
    assert "0 failing cases" in capsys.readouterr().out


def test_the_priority_string_and_the_predicted_differences():
    example = load_example()
    policy = load_catalog().policy("SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09")
    assert example.priority(policy).startswith("NONE:+VERS-TLS1.2:+VERS-TLS1.3:+AES-128-GCM:+AES-256-GCM:+CHACHA20")
    assert example.unavoidable(policy, "rsa") == {"X25519MLKEM768", "SecP256r1MLKEM768", "SecP384r1MLKEM1024",
                                                  "ECDHE-RSA-CHACHA20-POLY1305"}


def test_an_extra_curve_on_a_gnutls_ecdsa_endpoint_is_caught_at_tls12_beside_the_certificate_curve():
    """GnuTLS with an ECDSA certificate and secp521r1 added: a TLS 1.2 client must also name P-256
    (RFC 8422 5.1), and gnutls-serv still chooses secp521r1 when listed first: that is the culprit."""
    example, catalog = load_example(), load_catalog()
    policy = catalog.policy("SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09")
    wrong = dataclasses.replace(policy, groups=dataclasses.replace(
        policy.groups, value=policy.groups.value + (catalog.group("secp521r1"),)))
    verdicts = {}
    for label, served in (("faithful", policy), ("wrong", wrong)):
        with example.running_gnutls(served, "ecdsa") as (host, port):
            result = scan(Target(host, port, example.HOSTNAME), policy, "ecdsa", ProbeSettings(timeout=5))
        verdicts[label] = {v.expectation.test_id: v for v in result.verdicts}
    assert verdicts["faithful"]["TLSv1.2-secp521r1-rejected"].verdict == "pass"
    caught = verdicts["wrong"]["TLSv1.2-secp521r1-rejected"]
    assert caught.verdict == "fail" and "group 0x0019" in caught.evidence
