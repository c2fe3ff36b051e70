"""Users' policy files: validated in one line, usable everywhere, served by the reference server,
judged exactly (the shipped examples pass and their mutants fail), and derived from a scan."""

import json
import pathlib

import pytest

from pytest_apigw_tls.cli.main import main
from pytest_apigw_tls.errors import ConfigError
from pytest_apigw_tls.policy.catalog import builtin_catalog, load_catalog
from pytest_apigw_tls.policy.policyfiles import extend_catalog

pytest_plugins = ["pytester"]
EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples" / "policies"
MOZILLA, ELB = str(EXAMPLES / "mozilla-5.7.toml"), str(EXAMPLES / "elb-cnsa2.toml")
MINE = """
[[policy]]
id = "MINE"
versions = ["TLSv1.2", "TLSv1.3"]
tls13_suites = ["TLS_AES_256_GCM_SHA384"]
tls12_suites = ["ECDHE-RSA-AES256-GCM-SHA384", "TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384"]
groups = ["secp384r1", "x25519"]
"""


def write(tmp_path, text, name="mine.toml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_a_ten_line_file_is_a_policy_like_any_other(tmp_path):
    extended = extend_catalog(builtin_catalog(), write(tmp_path, MINE))
    mine = extended.policy("MINE")
    assert [v.label for v in mine.versions.value] == ["TLSv1.2", "TLSv1.3"]
    assert mine.accepts(version="TLSv1.2", suite="TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384")  # registry-only
    assert not mine.accepts(version="TLSv1.2", suite="ECDHE-RSA-AES128-GCM-SHA256")
    assert mine.groups.provenance == "documented" and mine.groups.source == "policy-file"


@pytest.mark.parametrize("change,message", [
    (("TLS_AES_256_GCM_SHA384\"]", "TLS_AES_256_GCM_SHA348\"]"),
     "mine.toml: policy MINE: tls13_suites: unknown cipher suite 'TLS_AES_256_GCM_SHA348' "
     "(did you mean TLS_AES_256_GCM_SHA384?)"),
    (('"secp384r1"', '"secp348r1"'), "policy MINE: groups: unknown group 'secp348r1' (did you mean secp384r1?)"),
    (('tls12_suites = ["ECDHE', 'tls12_suites = ["TLS_AES_128_GCM_SHA256", "ECDHE'),
     "tls12_suites: TLS_AES_128_GCM_SHA256 is a TLS 1.3 suite"),
    (('tls13_suites = ["TLS_AES_256_GCM_SHA384"]', 'tls13_suites = []'),
     "tls13_suites is empty but TLSv1.3 is allowed"),
    (('groups = ["secp384r1", "x25519"]', 'groups = []'), "groups is empty"),
    (('id = "MINE"', 'id = "TLS_1_2"'), "a built-in policy has this name (say shadows = true"),
    (('versions = ["TLSv1.2", "TLSv1.3"]', 'versions = ["TLSv1.4"]'), "versions: unknown TLS version 'TLSv1.4'"),
])
def test_a_bad_file_is_one_line_naming_file_policy_and_field(tmp_path, change, message):
    with pytest.raises(ConfigError) as error:
        extend_catalog(builtin_catalog(), write(tmp_path, MINE.replace(*change)))
    assert message in str(error.value) and "\n" not in str(error.value)


def test_twice_the_same_name_in_a_file_and_shadowing_on_purpose(tmp_path):
    with pytest.raises(ConfigError, match="the file names it twice"):
        extend_catalog(builtin_catalog(), write(tmp_path, MINE + MINE))
    shadow = MINE.replace('id = "MINE"', 'id = "TLS_1_2"\nshadows = true')
    assert extend_catalog(builtin_catalog(), write(tmp_path, shadow)).policy("TLS_1_2").groups.source == "policy-file"


def test_every_front_end_takes_policy_files(tmp_path, capsys):
    path = write(tmp_path, MINE)
    assert main(["policies", "--policy-file", path, "--policy-file", MOZILLA, "--json"]) == 0
    ids = [p["id"] for p in json.loads(capsys.readouterr().out)]
    assert {"MINE", "Mozilla-Modern-5.7", "Mozilla-Intermediate-5.7"} <= set(ids)
    assert main(["scan", "127.0.0.1:1", "--policy", "MINE", "--policy-file", path]) == 2  # known, unreachable
    assert "cannot connect" in capsys.readouterr().err
    assert main(["logs", "--policy", "Mozilla-Modern-5.7", "--policy-file", MOZILLA, "/dev/null"]) == 2
    assert "no line of the input parsed" in capsys.readouterr().err


SUITE = """
from pytest_apigw_tls.conformance.test_versions import test_version
from pytest_apigw_tls.conformance.test_suites import test_suite
from pytest_apigw_tls.conformance.test_groups import test_group
"""
CONFTEST = """
import dataclasses
import pytest
from pytest_apigw_tls.reference_server import ReferenceServer
from pytest_apigw_tls.reference_server.config import default_config

@pytest.fixture(scope="session")
def apigw_reference_server(apigw_ca, apigw_catalog):
    with ReferenceServer(default_config(apigw_catalog), ca=apigw_ca) as server:
        {mutate}
        yield server
"""
EXTRA_SUITE = """for endpoint in server.endpoints:
            if server.policy_of(endpoint).id == "Mozilla-Intermediate-5.7":
                p = server.policy_of(endpoint)
                extra = apigw_catalog.suite("ECDHE-RSA-AES128-SHA256")
                server.set_policy(endpoint.hostname, dataclasses.replace(
                    p, tls12_suites=dataclasses.replace(p.tls12_suites, value=p.tls12_suites.value + (extra,))))"""


@pytest.mark.parametrize("mutate,failed", [("pass", 0), (EXTRA_SUITE, 1)], ids=["faithful", "mutant"])
def test_the_shipped_examples_pass_on_the_reference_server_and_a_mutant_fails(pytester, mutate, failed):
    pytester.makeconftest(CONFTEST.format(mutate=mutate))
    pytester.makepyfile(test_conformance=SUITE)
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:xdist", "--apigw-policy-file", MOZILLA, "-q",
                                "-k", "Mozilla", "-rf", "--tb=no")
    outcomes = result.parseoutcomes()
    assert outcomes["passed"] > 150 and outcomes.get("failed", 0) == failed and outcomes.get("errors", 0) == 0
    if failed:
        result.stdout.fnmatch_lines(["FAILED *test_suite[[]Mozilla-Intermediate-5.7-rsa-TLSv1.2-"
                                     "ECDHE-RSA-AES128-SHA256-"
                                     "rejected[]]*"])


def test_the_elb_policy_is_served_and_judged(apigw_reference_server_factory=None):
    from pytest_apigw_tls.reference_server import Endpoint, ReferenceServer, ServerConfig

    from pytest_apigw_tls.probing.probes import ProbeSettings, Target
    from pytest_apigw_tls.probing.scan import scan

    catalog = load_catalog([ELB])
    policy = catalog.policy("ELBSecurityPolicy-TLS13-1-3-CNSA2-INTEROP1-FIPS-PQ-2026-07")
    config = ServerConfig((Endpoint("cnsa.example.test", policy.id, cert_type="ecdsa"),), catalog=catalog)
    with ReferenceServer(config) as server:
        result = scan(Target(*server.address, "cnsa.example.test"), policy, "ecdsa", ProbeSettings(), catalog)
    assert result.conforms, [v.evidence for v in result.verdicts if v.verdict != "pass"]
    accepted = {v.expectation.item for v in result.verdicts
                if v.observed == "accepted" and v.expectation.dimension == "group"}
    assert accepted == {"secp384r1", "MLKEM1024"}


def test_a_policy_derived_from_a_scan_pins_todays_behaviour(tmp_path, capsys):
    from pytest_apigw_tls.reference_server import ReferenceServer

    with ReferenceServer() as server:
        host, port = server.address
        report = tmp_path / "scan.json"
        assert main(["scan", f"{host}:{port}", "--sni", "tls-1-2.rsa.apigw.test", "--policy",
                     "SecurityPolicy_TLS13_1_3_2025_09", "--json", str(report)]) == 1  # it is TLS_1_2 really
        assert main(["policies", "--from-scan", str(report)]) == 2  # TLS 1.2 accepted, but no suite asked there
        assert "scan against TLS_1_0" in capsys.readouterr().err
        assert main(["scan", f"{host}:{port}", "--sni", "tls-1-2.rsa.apigw.test", "--policy", "TLS_1_0",
                     "--json", str(report)]) == 1  # the widest policy: every version and suite is asked
        derived = tmp_path / "observed.toml"
        assert main(["policies", "--from-scan", str(report), "--name", "TODAY", "--output", str(derived)]) == 0
        capsys.readouterr()
        assert main(["scan", f"{host}:{port}", "--sni", "tls-1-2.rsa.apigw.test", "--policy", "TODAY",
                     "--policy-file", str(derived), "--cert-type", "rsa"]) == 0
    observed = load_catalog([str(derived)]).policy("TODAY")  # no state kept: the file is read again
    tls_1_2 = builtin_catalog().policy("TLS_1_2")
    assert set(observed.versions.value) == set(tls_1_2.versions.value)
    assert {s.openssl for s in observed.tls12_suites.value} == {s.openssl for s in tls_1_2.accepted_suites(
        tls_1_2.versions.value[0], "rsa")}


def test_a_policy_derived_from_a_server_taking_a_registry_suite_rescans_green(tmp_path, capsys):
    """The drift gate: a server that also takes TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384, pinned by
    --from-scan, rescans with exit 0. The local OpenSSL cannot offer that suite in a handshake, so our
    own ClientHello asks it (it was inconclusive for ever)."""
    from pytest_apigw_tls.reference_server.mutants import mutant_server

    with mutant_server("registry-suite") as server:
        host, port = server.address
        report, derived = tmp_path / "scan.json", tmp_path / "observed.toml"
        common = ["scan", f"{host}:{port}", "--sni", "tls-1-2.rsa.apigw.test", "--cert-type", "rsa"]
        assert main([*common, "--policy", "TLS_1_0", "--json", str(report)]) == 1
        assert main(["policies", "--from-scan", str(report), "--name", "TODAY", "--output", str(derived)]) == 0
        capsys.readouterr()
        assert main([*common, "--policy", "TODAY", "--policy-file", str(derived)]) == 0
    assert "TLSv1.2-TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384" not in capsys.readouterr().out  # passed: not listed


def test_an_ecdhe_suite_named_from_the_registry_asks_the_groups_like_a_catalog_one(tmp_path):
    """TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256 is in no policy of the catalog: named in a policy file it
    must still carry the TLS 1.2 group cases, as a catalog ECDHE_RSA suite does (it had none)."""
    from pytest_apigw_tls.policy.codepoints import TlsVersion
    from pytest_apigw_tls.policy.expectations import expectations_for

    text = MINE.replace('tls12_suites = ["ECDHE-RSA-AES256-GCM-SHA384", "TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384"]',
                        'tls12_suites = ["TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256"]')
    catalog = load_catalog([write(tmp_path, text)])
    policy = catalog.policy("MINE")
    [suite] = policy.tls12_suites.value
    assert (suite.kx, suite.auth) == ("ECDHE", "RSA")
    groups = [e for e in expectations_for(policy, "rsa", catalog)
              if e.dimension == "group" and e.version is TlsVersion.TLSv1_2]
    assert {e.item for e in groups if e.expected == "accepted"} == {"secp384r1", "x25519"}


@pytest.mark.parametrize("key", ["min_version = 'TLSv1.2'", "signature_algorithms = ['rsa_pss_rsae_sha256']"])
def test_an_unknown_key_in_a_policy_is_a_one_line_error_naming_the_known_ones(tmp_path, capsys, key):
    path = write(tmp_path, MINE + key + "\n")
    assert main(["policies", "--policy-file", path]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown keys" in err and "known: endpoint_types, groups, id" in err
