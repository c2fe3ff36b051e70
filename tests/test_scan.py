"""The scan planner on real sockets: exact verdicts on the reference server, and the culprit named on
servers wrong in one way (the self-test mutants)."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_apigw_tls.reference_server import ReferenceServer
from pytest_apigw_tls.reference_server.config import policy_slug
from pytest_apigw_tls.reference_server.mutants import mutant_server

from pytest_apigw_tls.cli.main import main
from pytest_apigw_tls.policy.catalog import Group, load_catalog
from pytest_apigw_tls.policy.codepoints import TlsVersion
from pytest_apigw_tls.policy.expectations import expectations_for
from pytest_apigw_tls.probing.probes import ProbeSettings, Target
from pytest_apigw_tls.probing.scan import FAIL, PASS, scan
from pytest_apigw_tls.probing.wire.messages import ExtensionType

CATALOG = load_catalog()
SETTINGS = ProbeSettings(timeout=5, concurrency=8, backoff_pause=0.05)  # direct: no rate limiter to wait out




def target_for(reference_server, policy, cert_type):
    return Target(*reference_server.address, f"{policy_slug(policy)}.{cert_type}.apigw.test")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(policy=st.sampled_from([p for p in CATALOG.policies if p.enforceable]),
       cert_type=st.sampled_from(["rsa", "ecdsa"]))
def test_scan_of_the_reference_yields_exactly_the_catalog(reference_server, policy, cert_type):
    result = scan(target_for(reference_server, policy, cert_type), policy, cert_type, SETTINGS)
    observed = {v.expectation.key: v.observed for v in result.verdicts}
    expected = {e.key: e.expected for e in expectations_for(policy, cert_type, CATALOG)}
    assert observed == expected
    assert result.conforms


@pytest.mark.parametrize("cert_type,directions", [
    ("rsa", {"accepted", "rejected"}),  # the policy's ECDHE_RSA suites carry one curve each
    ("rsa,ecdsa", {"accepted", "rejected"}),
    ("ecdsa", {"rejected"}),  # every offer names the certificate's curve too: only refusals are evidence
])
def test_tls12_group_cases_follow_what_the_certificate_lets_a_client_offer(cert_type, directions):
    policy = CATALOG.policy("TLS_1_2")
    tls12 = [e for e in expectations_for(policy, cert_type, CATALOG)
             if e.dimension == "group" and e.version is TlsVersion.TLSv1_2]
    assert {e.expected for e in tls12} == directions
    assert "other-registered-groups" in {e.item for e in tls12}


def test_certificate_type_is_detected_when_not_given(reference_server):
    policy = CATALOG.policy("SecurityPolicy_TLS12_PFS_2025_EDGE")
    assert scan(target_for(reference_server, policy, "ecdsa"), policy, None, SETTINGS).cert_type == "ecdsa"


def test_scan_counts_few_probes_per_policy(reference_server):
    policy = CATALOG.policy("SecurityPolicy_TLS13_1_3_2025_09")
    result = scan(target_for(reference_server, policy, "rsa"), policy, "rsa", SETTINGS)
    # 5 versions, 3 suites, 11 groups: one handshake per allowed suite (each also asks a group, the first
    # the version too), two probes per refused bundle
    assert result.probes < len(result.verdicts) + 10


def failures(result):
    return sorted(v.expectation.test_id for v in result.verdicts if v.verdict == FAIL)


@pytest.mark.parametrize("mutant,policy_id,cert_type,culprits", [
    ("extra-suite", "SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09", "rsa",
     ["TLSv1.2-ECDHE-RSA-CHACHA20-POLY1305-rejected"]),
    ("missing-suite", "SecurityPolicy_TLS13_1_3_2025_09", "ecdsa", ["TLSv1.3-TLS_AES_256_GCM_SHA384-accepted"]),
    ("tls11-enabled", "TLS_1_2", "rsa", ["TLSv1.1-rejected"]),
    ("extra-group", "SecurityPolicy_TLS13_1_2_2021_06", "rsa",
     ["TLSv1.2-secp521r1-rejected", "TLSv1.3-secp521r1-rejected"]),
    ("registry-suite", "TLS_1_2", "rsa", ["TLSv1.2-other-registered-suites-rejected"]),
    ("extra-group", "SecurityPolicy_TLS13_1_2_2021_06", "ecdsa",
     ["TLSv1.2-secp521r1-rejected", "TLSv1.3-secp521r1-rejected"]),
    ("registry-group", "SecurityPolicy_TLS13_1_3_FIPS_2025_09", "ecdsa", ["TLSv1.3-other-registered-groups-rejected"]),
    ("registry-curve", "SecurityPolicy_TLS13_1_2_FIPS_PFS_PQ_2025_09", "ecdsa",
     ["TLSv1.2-other-registered-groups-rejected"]),
])
def test_a_wrong_server_is_caught_and_the_culprit_named(mutant, policy_id, cert_type, culprits):
    policy = CATALOG.policy(policy_id)
    with mutant_server(mutant) as wrong:
        result = scan(target_for(wrong, policy, cert_type), policy, cert_type, SETTINGS)
    assert failures(result) == culprits
    assert all(v.verdict in (PASS, FAIL) for v in result.verdicts)


def test_elimination_names_every_forbidden_suite_a_server_accepts(reference_server):
    """TLS_1_0's endpoint judged against a TLS 1.3-only policy: every accepted suite is named."""
    policy = CATALOG.policy("SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09")
    result = scan(Target(*reference_server.address, "tls-1-2.rsa.apigw.test"), policy, "rsa", SETTINGS)
    assert failures(result) == sorted([
        "TLSv1.2-ECDHE-RSA-AES128-SHA256-rejected", "TLSv1.2-ECDHE-RSA-AES256-SHA384-rejected",
        "TLSv1.2-AES128-GCM-SHA256-rejected", "TLSv1.2-AES256-GCM-SHA384-rejected",
        "TLSv1.2-AES128-SHA256-rejected", "TLSv1.2-AES256-SHA256-rejected",
        "TLSv1.3-X25519MLKEM768-accepted", "TLSv1.3-SecP256r1MLKEM768-accepted", "TLSv1.3-SecP384r1MLKEM1024-accepted",
    ])


def test_scan_cli_exit_codes_and_json(reference_server, tmp_path, capsys):
    host, port = reference_server.address
    report = tmp_path / "scan.json"
    assert main(["scan", f"{host}:{port}", "--sni", "tls13-1-3-2025-09.rsa.apigw.test",
                 "--policy", "SecurityPolicy_TLS13_1_3_2025_09", "--access-mode", "STRICT", "--json", str(report)]) == 0
    document = json.loads(report.read_text())
    assert (document["schema"], document["schema_version"], document["metadata"]["front_end"]) == (
        "pytest-apigw-tls/report", 1, "scan")
    [target] = document["targets"].values()
    assert target["conforms"] and target["scan"]["counts"]["fail"] == 0 and len(target["access"]) == 6
    assert {c["dimension"] for c in document["cases"]} == {"version", "suite", "group", "access", "cert"}
    assert main(["scan", f"{host}:{port}", "--sni", "tls-1-2.rsa.apigw.test",
                 "--policy", "SecurityPolicy_TLS13_1_3_2025_09"]) == 1
    assert "FAIL" in capsys.readouterr().out


@pytest.mark.parametrize("argv,message", [
    (["scan", "127.0.0.1:1", "--policy", "TLS_1_2"], "cannot connect to 127.0.0.1:1"),
    (["scan", "127.0.0.1:99999", "--policy", "TLS_1_2"], "bad port '99999'"),
    (["scan", "127.0.0.1:443", "--policy", "SecurityPolicy_TLS13_1_3_2025"], "did you mean"),
])
def test_scan_cli_bad_input_is_one_line_and_status_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_catch_all_failure_names_each_registered_culprit():
    policy = CATALOG.policy("TLS_1_2")
    with mutant_server("registry-suite") as wrong:
        result = scan(target_for(wrong, policy, "rsa"), policy, "rsa", SETTINGS)
    [verdict] = [v for v in result.verdicts if v.verdict == FAIL]
    assert "TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384 (0xC077)" in verdict.evidence


class _DropsLargeOffers(ReferenceServer):
    """Refuses every ClientHello with more than 20 suites, and wrongly accepts one registry suite:
    a bundle refusal here proves nothing, so the planner must split the bundle and find the culprit."""

    def select_endpoint(self, hello):
        return None if len(hello.cipher_suites) > 20 else super().select_endpoint(hello)


def test_a_refusal_of_a_large_offer_is_not_taken_as_evidence():
    from pytest_apigw_tls.reference_server.mutants import _registry_suite

    policy = CATALOG.policy("TLS_1_2")
    with _registry_suite(_DropsLargeOffers()) as wrong:
        result = scan(target_for(wrong, policy, "rsa"), policy, "rsa", SETTINGS)
    assert failures(result) == ["TLSv1.2-other-registered-suites-rejected"]
    assert all(v.verdict in (PASS, FAIL) for v in result.verdicts)
    refused = next(v for v in result.verdicts if v.expectation.test_id == "TLSv1.3-other-registered-suites-rejected")
    assert "accepted once an allowed item was added" in refused.evidence


def test_a_server_that_refuses_its_own_allowed_suite_alongside_any_bundle_is_inconclusive():
    class _RefusesEveryBundle(ReferenceServer):
        def select_endpoint(self, hello):
            return None if len(hello.cipher_suites) > 1 else super().select_endpoint(hello)

    policy = CATALOG.policy("SecurityPolicy_TLS13_1_3_2025_09")
    with _RefusesEveryBundle() as odd:
        result = scan(target_for(odd, policy, "rsa"), policy, "rsa", SETTINGS)
    catch_all = next(v for v in result.verdicts if v.expectation.test_id == "TLSv1.3-other-registered-suites-rejected")
    assert catch_all.verdict == "inconclusive" and "no evidence" in catch_all.evidence


class _DropsLargeGroupOffers(ReferenceServer):
    """Refuses every ClientHello naming more than 20 groups: a bundle refusal here proves nothing."""

    def select_endpoint(self, hello):
        groups = next((e.data for e in hello.extensions if e.type == ExtensionType.supported_groups), b"")
        return None if len(groups) > 2 + 2 * 20 else super().select_endpoint(hello)


def test_a_control_the_target_lacks_is_replaced_by_another_allowed_item():
    """SecurityPolicy_TLS13_1_2_PQ_2025_09 served without its first group (X25519MLKEM768) and wrongly
    with ffdhe4096: that first control is refused even alone, which is no proof that the version
    accepts nothing; another allowed group serves as the control and the culprit is still found."""
    from pytest_apigw_tls.reference_server.mutants import _retarget, _with

    policy = CATALOG.policy("SecurityPolicy_TLS13_1_2_PQ_2025_09")
    ffdhe4096 = Group("ffdhe4096", 0x0102, "ffdhe", TlsVersion.TLSv1_3)
    wrong = _DropsLargeGroupOffers()
    _retarget(wrong, policy.id, lambda p: _with(p, groups=tuple(
        g for g in p.groups.value if g.name != "X25519MLKEM768") + (ffdhe4096,)))
    with wrong:
        result = scan(target_for(wrong, policy, "rsa"), policy, "rsa", SETTINGS)
    assert failures(result) == ["TLSv1.3-X25519MLKEM768-accepted", "TLSv1.3-other-registered-groups-rejected"]
    culprit = next(v for v in result.verdicts if v.expectation.test_id == "TLSv1.3-other-registered-groups-rejected")
    assert "ffdhe4096" in culprit.evidence


def test_a_target_taking_no_allowed_item_has_its_forbidden_ones_offered_a_few_at_a_time():
    """No allowed group at all, only ffdhe4096, and large offers dropped: no control can work, and no
    protocol_version alert says the version is refused, so the items are asked a few at a time and the
    culprit found;
    what it refuses stays inconclusive (a target refusing what it must take proves nothing by refusing)."""
    from pytest_apigw_tls.reference_server.mutants import _retarget, _with

    policy = CATALOG.policy("SecurityPolicy_TLS13_1_3_2025_09")
    wrong = _DropsLargeGroupOffers()
    _retarget(wrong, policy.id, lambda p: _with(p, groups=(Group("ffdhe4096", 0x0102, "ffdhe", TlsVersion.TLSv1_3),)))
    with wrong:
        result = scan(target_for(wrong, policy, "rsa"), policy, "rsa", SETTINGS)
    catch_all = next(v for v in result.verdicts if v.expectation.test_id == "TLSv1.3-other-registered-groups-rejected")
    assert catch_all.verdict == FAIL and "ffdhe4096" in catch_all.evidence
    named = [v for v in result.verdicts if v.expectation.dimension == "group" and v.expectation.expected == "rejected"
             and v.expectation.item != "other-registered-groups" and v.expectation.version is TlsVersion.TLSv1_3]
    assert named and all(v.verdict == "inconclusive" and "refusals are no evidence" in v.evidence for v in named)


def test_a_version_refused_with_protocol_version_refuses_its_bundles_without_asking_each_item():
    """TLS 1.1 switched off on TLS_1_0's endpoint: every control is refused alone with protocol_version,
    which says the version is refused; the ~300 registry suites are not then asked one by one."""
    policy = CATALOG.policy("TLS_1_0")
    with mutant_server("tls11-missing") as wrong:
        result = scan(target_for(wrong, policy, "rsa"), policy, "rsa", SETTINGS)
    catch_all = next(v for v in result.verdicts if v.expectation.test_id == "TLSv1.1-other-registered-suites-rejected")
    assert catch_all.verdict == PASS and "it does not speak this version" in catch_all.evidence
    assert result.probes < 200


def test_an_allowed_version_is_still_judged_when_its_first_suite_is_missing():
    """The handshake of a version's first allowed suite answers both cases; a server lacking exactly
    that suite fails the suite's case alone, and the version is then asked with all its suites."""
    from pytest_apigw_tls.reference_server.mutants import _retarget, _with

    policy = CATALOG.policy("TLS_1_2")
    first = next(e for e in expectations_for(policy, "rsa", CATALOG)
                 if e.dimension == "suite" and e.expected == "accepted" and e.version is TlsVersion.TLSv1_2)
    wrong = ReferenceServer()
    _retarget(wrong, policy.id, lambda p: _with(p, tls12_suites=tuple(
        s for s in p.tls12_suites.value if s.openssl != first.item)))
    with wrong:
        result = scan(target_for(wrong, policy, "rsa"), policy, "rsa", SETTINGS)
    assert failures(result) == [first.test_id]
    version = next(v for v in result.verdicts if v.expectation.test_id == "TLSv1.2-accepted")
    assert version.verdict == PASS and version.evidence.startswith("handshake: TLSv1.2 ")


def test_a_missing_group_fails_alone_though_its_handshake_was_paired_with_a_suite():
    """Each allowed suite's handshake also offers one allowed group; when the target lacks the group,
    the pair is asked apart: the group's cases fail and the suite's pass (TLS 1.2 through ECDHE_RSA,
    TLS 1.3 directly)."""
    from pytest_apigw_tls.reference_server.mutants import _retarget, _with

    policy = CATALOG.policy("TLS_1_2")
    wrong = ReferenceServer()
    _retarget(wrong, policy.id, lambda p: _with(p, groups=tuple(g for g in p.groups.value if g.name != "secp384r1")))
    with wrong:
        result = scan(target_for(wrong, policy, "rsa"), policy, "rsa", SETTINGS)
    assert failures(result) == ["TLSv1.2-secp384r1-accepted", "TLSv1.3-secp384r1-accepted"]


def test_the_console_script_flushes_everything_before_its_fast_exit(reference_server, tmp_path):
    """`apigw-tls` ends without the interpreter's teardown: every line and the JSON file must be whole."""
    import os
    import pathlib
    import subprocess
    import sys

    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # as most users run it
    policy = CATALOG.policy("TLS_1_0")
    target = target_for(reference_server, policy, "rsa")
    script = pathlib.Path(sys.executable).with_name("apigw-tls")
    report = tmp_path / "scan.json"
    result = subprocess.run([str(script), "scan", f"{target.host}:{target.port}", "--sni", target.sni, "--policy",
                             policy.id, "--cert-type", "rsa", "-v", "--json", str(report)],
                            capture_output=True, text=True, timeout=120, check=False, env=buffered)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # the header, 185 TLS verdicts, the declared certificate's case, four dimension lines (cert first)
    assert len(lines) == 1 + 185 + 1 + 4 and lines[-1].startswith("  version   pass 5")
    [scanned] = json.loads(report.read_text())["targets"].values()
    assert scanned["scan"]["counts"]["pass"] == 185
    piped = subprocess.run([str(script), "scan", f"{target.host}:{target.port}", "--sni", target.sni, "--policy",
                            policy.id, "--cert-type", "rsa", "--json", "-"], capture_output=True, text=True,
                           timeout=120, check=False, env=buffered)
    assert piped.returncode == 0 and [t["conforms"] for t in json.loads(piped.stdout)["targets"].values()] == [True]


SERVABLE_SUITES = sorted({s.openssl for p in CATALOG.policies if p.enforceable
                          for s in p.tls13_suites.value + p.tls12_suites.value})
SERVABLE_GROUPS = sorted({g.name for p in CATALOG.policies if p.enforceable for g in p.groups.value})


def _served_accepts(served, expectation, cert_type):
    """What a server enforcing `served` must do for a case of the claimed policy."""
    if expectation.members:
        return "rejected"
    if expectation.dimension == "version":
        accepted = served.allows_version(expectation.version)
    elif expectation.dimension == "suite":
        accepted = served.accepts_suite(CATALOG.suite(expectation.item), expectation.version, cert_type)
    else:
        accepted = served.accepts_group(CATALOG.group(expectation.item), expectation.version)
    return "accepted" if accepted else "rejected"


@st.composite
def served_variants(draw):
    """A certificate type, a claimed policy and what a server really enforces: one allowed suite and
    one allowed group maybe taken out, one servable suite and group maybe added (never leaving a
    version without a suite, nor the TLS 1.2-and-below curves without an ECDHE suite to ask them
    through). Groups change on RSA endpoints only: with an ECDSA certificate a TLS 1.2 curve is a
    culprit only where the server ranks it above the certificate's own (see the README)."""
    from pytest_apigw_tls.reference_server.mutants import _with

    cert_type = draw(st.sampled_from(["rsa", "ecdsa"]))
    claimed = draw(st.sampled_from([p for p in CATALOG.policies if p.enforceable]))
    tls13, tls12, groups = claimed.tls13_suites.value, claimed.tls12_suites.value, claimed.groups.value

    def keeps_every_version(without):
        def kept(v):
            return [s for s in tls13 + tls12 if s != without and claimed.accepts_suite(s, v, cert_type)]
        return all(kept(v) and (v is TlsVersion.TLSv1_3 or any(s.kx == "ECDHE" for s in kept(v))
                                or not any(s.kx == "ECDHE" and claimed.accepts_suite(s, v, cert_type) for s in tls12))
                   for v in claimed.versions.value)
    removable = [s for s in tls13 + tls12 if keeps_every_version(s)]
    removed = draw(st.none() | st.sampled_from(removable)) if removable else None
    curves = [g for g in groups if g.kind == "ecdhe"]
    removed_group = draw(st.none() | st.sampled_from([g for g in groups if len(curves) > 1 or g not in curves])) \
        if cert_type == "rsa" else None
    added = draw(st.none() | st.sampled_from([n for n in SERVABLE_SUITES if CATALOG.suite(n) not in tls13 + tls12]))
    added_group = draw(st.none() | st.sampled_from([n for n in SERVABLE_GROUPS if CATALOG.group(n) not in groups])) \
        if cert_type == "rsa" else None
    extra = (CATALOG.suite(added),) if added else ()
    served = _with(
        claimed,
        tls13_suites=tuple(s for s in tls13 if s != removed) + tuple(s for s in extra if s.is_tls13),
        tls12_suites=tuple(s for s in tls12 if s != removed) + tuple(s for s in extra if not s.is_tls13),
        groups=tuple(g for g in groups if g != removed_group) + ((CATALOG.group(added_group),) if added_group else ()))
    return cert_type, claimed, served


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(variant=served_variants())
def test_a_server_differing_from_its_policy_fails_exactly_the_cases_of_the_difference(reference_server, variant):
    """Exact in both directions: whatever is taken out of or added to what the endpoint enforces, the
    failing cases are exactly those where the enforced policy and the claimed one disagree."""
    cert_type, claimed, served = variant
    target = target_for(reference_server, claimed, cert_type)
    reference_server.set_policy(target.sni, served)
    try:
        result = scan(target, claimed, cert_type, SETTINGS)
    finally:
        reference_server.set_policy(target.sni, claimed)
    expected = sorted(v.expectation.test_id for v in result.verdicts if v.expectation.judged
                      and _served_accepts(served, v.expectation, cert_type) != v.expectation.expected)
    assert failures(result) == expected
    assert not [v for v in result.verdicts if v.verdict == "inconclusive"]
