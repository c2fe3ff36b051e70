"""Mutant self-test: the conformance suite, run with pytester against servers wrong in one way each,
fails exactly the cases that name the fault and passes everything else; the true server passes all."""

import re

import pytest
from pytest_apigw_tls.reference_server.mutants import INDEPENDENT, MUTANTS

pytest_plugins = ["pytester"]

SUITE = """
from pytest_apigw_tls.conformance.test_versions import test_version
from pytest_apigw_tls.conformance.test_suites import test_suite
from pytest_apigw_tls.conformance.test_groups import test_group
from pytest_apigw_tls.conformance.test_sni import test_policy_follows_sni, test_certificate_type
from pytest_apigw_tls.conformance.test_access_mode import test_access_mode
"""

CONFTEST = """
import pytest
from pytest_apigw_tls.reference_server.mutants import mutant_server

@pytest.fixture(scope="session")
def apigw_reference_server(apigw_ca):
    with mutant_server({name!r}, ca=apigw_ca) as server:
        yield server
"""


def run_suite(pytester, mutant, *args):
    pytester.makeconftest(CONFTEST.format(name=mutant) if mutant else "")
    pytester.makepyfile(test_conformance=SUITE)
    return pytester.runpytest("-p", "no:cacheprovider", "-p", "no:xdist", "-q", "-rf", "--tb=no",
                              "--apigw-backoff-pause", "0.05", *args)  # no rate limiter to wait out


def failed_ids(result):
    return sorted(line.split("::", 1)[1].split(" - ")[0] for line in result.outlines if line.startswith("FAILED"))


def test_true_reference_server_passes_every_case(pytester):
    result = run_suite(pytester, None)
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0 and outcomes.get("errors", 0) == 0
    assert outcomes["passed"] > 2000


def check_exact(failed, mutants):
    """Every failure is explained by exactly one mutant; each mutant's cases all fail, no more, no fewer."""
    unexplained = [t for t in failed if not any(re.fullmatch(p, t) for m in mutants for p in m.failing)]
    assert not unexplained, f"cases failed that name no fault: {unexplained}"
    for mutant in mutants:
        mine = [t for t in failed if any(re.fullmatch(p, t) for p in mutant.failing)]
        unseen = [p for p in mutant.failing if not any(re.fullmatch(p, t) for t in mine)]
        assert not unseen, f"{mutant.name}: expected failures did not happen: {unseen}"
        assert len(mine) == mutant.count, f"{mutant.name}: {len(mine)} failures, expected {mutant.count}"


def test_independent_mutants_together_fail_exactly_the_cases_naming_their_faults(pytester):
    """Ten faults on disjoint endpoints and dimensions, carried by one server: each case that fails
    names its fault, and nothing else fails (one run of the whole suite instead of ten)."""
    result = run_suite(pytester, "independent")
    failed = failed_ids(result)
    check_exact(failed, INDEPENDENT)
    assert len(failed) == sum(m.count for m in INDEPENDENT)
    assert result.parseoutcomes().get("errors", 0) == 0


@pytest.mark.parametrize("name", [n for n, m in MUTANTS.items() if not m.independent and n != "policy-by-host"])
def test_each_strict_mutant_fails_exactly_the_cases_naming_its_fault(pytester, name):
    """STRICT faults touch every STRICT endpoint, so each runs on its own. They live above TLS (the
    overridden steps, strict_refusal / access_endpoint / arrival_type, run only after a request is
    read), where no version, suite, group, SNI or certificate case looks: the access cases are the
    whole of what they can change."""
    result = run_suite(pytester, name, "-k", "test_access_mode")
    failed = failed_ids(result)
    assert failed, f"{name}: no conformance case caught it"
    check_exact(failed, [MUTANTS[name]])
    assert result.parseoutcomes().get("errors", 0) == 0


SNI_SIDES = ("TLS_1_0-rsa-vs", "TLS_1_2-rsa-vs", "SecurityPolicy_TLS13_1_3_2025_09-rsa-vs",
             "SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09-rsa-vs")


def test_policy_chosen_without_sni_fails_the_sni_cases_whose_own_side_differs(pytester):
    """Four SNI cases (each scans its own target: the whole set of 28 costs a minute) and the served
    policy's own cases: an SNI case fails where its own claim differs from what is served (TLS_1_2,
    RSA, for every hostname), and is never charged with its partner's claim."""
    selection = " or ".join(f"test_policy_follows_sni and {side}" for side in SNI_SIDES)
    result = run_suite(pytester, "policy-by-host", "-k", f"{selection} or TLS_1_2-rsa")
    failed = failed_ids(result)
    assert all(re.fullmatch(MUTANTS["policy-by-host"].failing[0], t) for t in failed)
    # TLS13_1_3 and its FIPS twin differ on TLS 1.3's CHACHA20 suite, which TLS_1_2 (served) takes as
    # TLS13_1_3 must: that side passes. TLS_1_0 (TLS 1.0) and PFS_PQ (a PQ group) differ from what is served.
    assert failed == sorted(f"test_policy_follows_sni[{case}]" for case in (
        "TLS_1_0-rsa-vs-TLS_1_2-rsa",
        "SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09-rsa-vs-SecurityPolicy_TLS13_1_2_FIPS_PQ_2025_09-rsa"))
    assert result.parseoutcomes()["passed"] > 70  # TLS_1_2's own cases and its SNI case, whose side is served
