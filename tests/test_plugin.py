"""The plugin as users meet it, through pytester: options, ini keys, markers, errors, reports."""

import json

import pytest

from .hostile import HostileServer, never_answer

pytest_plugins = ["pytester"]

SUITE = """
from pytest_apigw_tls.conformance.test_versions import test_version
from pytest_apigw_tls.conformance.test_suites import test_suite
from pytest_apigw_tls.conformance.test_groups import test_group
from pytest_apigw_tls.conformance.test_sni import test_policy_follows_sni, test_certificate_type
from pytest_apigw_tls.conformance.test_access_mode import test_access_mode
"""


@pytest.fixture
def suite(pytester):
    pytester.makepyfile(test_conformance=SUITE)
    return pytester




def target_args(server, hostname, policy, *extra):
    host, port = server.address
    return ("--apigw-target", f"{host}:{port}", "--apigw-sni", hostname, "--apigw-policy", policy, *extra)


def test_a_real_target_is_judged_with_readable_ids_and_a_json_report(suite, reference_server, tmp_path):
    report = tmp_path / "report.json"
    result = suite.runpytest(*target_args(reference_server, "tls13-1-3-fips-2025-09.ecdsa.apigw.test",
                                          "SecurityPolicy_TLS13_1_3_FIPS_2025_09", "--apigw-access-mode", "STRICT",
                                          "--apigw-json", str(report)), "-v")
    result.assert_outcomes(passed=30, skipped=1)  # 5 versions, 5+1 suites, 11+1 groups, 6 access, 1 cert; no SNI pair
    result.stdout.fnmatch_lines([
        "*test_suite[[]SecurityPolicy_TLS13_1_3_FIPS_2025_09-TLSv1.3-TLS_CHACHA20_POLY1305_SHA256-rejected[]] PASSED*",
        "*apigw-tls conformance*", "SecurityPolicy_TLS13_1_3_FIPS_2025_09 * conforms"])
    document = json.loads(report.read_text())
    assert document["targets"]["SecurityPolicy_TLS13_1_3_FIPS_2025_09"]["scan"]["cert_type"] == "ecdsa"
    assert {c["outcome"] for c in document["cases"]} == {"pass"}


def test_a_violation_fails_its_case_with_expected_and_observed(suite, reference_server):
    result = suite.runpytest(*target_args(reference_server, "tls-1-2.rsa.apigw.test",
                                          "SecurityPolicy_TLS13_1_3_2025_09"))
    result.assert_outcomes(failed=1, passed=23, skipped=2)  # no SNI pair, no access mode given
    result.stdout.fnmatch_lines(["*TLSv1.2: expected rejected, observed accepted: ServerHello: TLSv1.2*"])


def test_markers_select_and_deselect(suite, reference_server):
    args = target_args(reference_server, "tls13-1-2-pq-2025-09.rsa.apigw.test", "SecurityPolicy_TLS13_1_2_PQ_2025_09")
    # 78 cases: 5 versions, 52 named suites + 2 catch-alls (the rest of the registry at TLS 1.2 and 1.3),
    # 16 named groups (11 at TLS 1.3, 5 curves at TLS 1.2) + 2 catch-alls, 1 certificate, and 2 empty
    # tests (no SNI pair, no access mode); pq: 3 hybrids, pure ML-KEM, the TLS 1.3 catch-all (ML-KEM inside)
    suite.runpytest(*args, "-m", "pq").assert_outcomes(passed=5, deselected=75)
    inferred = suite.runpytest(*args, "-m", "not inferred")
    inferred.assert_outcomes(passed=60, deselected=18, skipped=2)  # only the groups are inferred here


def test_ini_keys_configure_the_target(suite, reference_server):
    host, port = reference_server.address
    suite.makeini(f"[pytest]\napigw_target = {host}:{port}\napigw_sni = tls-1-2.ecdsa.apigw.test\n"
                  "apigw_policy = TLS_1_2\n")
    suite.runpytest("-k", "test_version").assert_outcomes(passed=5)


def test_an_unresponsive_target_gives_errors_not_passes(suite):
    with HostileServer(never_answer) as server:
        host, port = server.address
        result = suite.runpytest("--apigw-target", f"{host}:{port}", "--apigw-policy",
                                 "SecurityPolicy_TLS13_1_3_2025_09", "--apigw-cert-type", "rsa",
                                 "--apigw-timeout", "0.2", "-k", "test_version")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) == 0 and outcomes["errors"] == 5
    result.stdout.fnmatch_lines(["inconclusive: * timed out*"])
    text = result.stdout.str()
    assert "def apigw_verdict" not in text and "raise Inconclusive" not in text  # one line, no fixture traceback
    assert len(result.outlines) < 60


def test_retries_and_deadline_options_reach_the_scan(suite):
    with HostileServer(never_answer) as server:
        host, port = server.address
        result = suite.runpytest("--apigw-target", f"{host}:{port}", "--apigw-policy",
                                 "SecurityPolicy_TLS13_1_3_2025_09", "--apigw-cert-type", "rsa",
                                 "--apigw-timeout", "5", "--apigw-retries", "0", "--apigw-deadline", "0.5",
                                 "-k", "test_version")
    assert result.parseoutcomes()["errors"] == 5
    result.stdout.fnmatch_lines(["*deadline of 0.5 s passed*"])


@pytest.mark.parametrize("args,message", [
    (("--apigw-target", "127.0.0.1:443", "--apigw-policy", "SecurityPolicy_TLS13_1_3_2025"), "*did you mean*"),
    (("--apigw-target", "127.0.0.1:443",), "*--apigw-target needs --apigw-policy NAME*"),
    (("--apigw-targets", "/nonexistent.toml"), "*cannot read targets file /nonexistent.toml*"),
    (("--apigw-target", "127.0.0.1:443", "--apigw-policy", "TLS_1_2", "--apigw-endpoint-type", "LAN"),
     "*unknown endpoint type 'LAN'*"),
    (("--apigw-timeout", "soon",), "*--apigw-timeout: not a number: 'soon'*"),
    (("--apigw-delay", "-1",), "*--apigw-delay must be a finite number from 0 to 86400, not -1*"),
    (("--apigw-timeout", "nan",), "*--apigw-timeout must be a finite number from 0.001 to 86400, not nan*"),
    (("--apigw-delay", "inf",), "*--apigw-delay must be a finite number from 0 to 86400*"),
    (("--apigw-timeout", "1e308",), "*--apigw-timeout must be a finite number from 0.001 to 86400*"),
    (("--apigw-retries", "-1",), "*--apigw-retries must be a finite number from 0 to 100*"),
    (("--apigw-retries", "1.5",), "*--apigw-retries: not an integer: '1.5'*"),
    (("--apigw-deadline", "0",), "*--apigw-deadline must be a finite number from 0.001 to 86400*"),
])
def test_bad_options_are_one_line_usage_errors(suite, args, message):
    result = suite.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: apigw-tls: {message}"])
    assert "Traceback" not in result.stderr.str()


def test_targets_file_runs_each_target_and_pairs_them_for_sni(suite, reference_server, tmp_path):
    host, port = reference_server.address
    targets = tmp_path / "targets.toml"
    targets.write_text(f"""
[[target]]
address = "{host}:{port}"
sni = "tls13-1-3-2025-09.rsa.apigw.test"
policy = "SecurityPolicy_TLS13_1_3_2025_09"

[[target]]
address = "{host}:{port}"
sni = "tls-1-0.rsa.apigw.test"
policy = "TLS_1_0"
""")
    result = suite.runpytest("--apigw-targets", str(targets), "-k", "test_policy_follows_sni", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_policy_follows_sni[[]SecurityPolicy_TLS13_1_3_2025_09-vs-TLS_1_0[]] PASSED*"])


def test_a_dead_target_errors_its_own_cases_with_the_reason(suite):
    result = suite.runpytest("--apigw-target", "127.0.0.1:1", "--apigw-policy", "TLS_1_2", "-k", "test_version")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) == 0 and outcomes["errors"] == 5
    result.stdout.fnmatch_lines(["*cannot connect to 127.0.0.1:1*", "*1 targets: 0 conform, 0 with violations, "
                                 "1 with errors*"])


UNRELATED = """
import sys

HEAVY = ("OpenSSL", "cryptography", "trustme", "h11", "pytest_apigw_tls.probing.scan",
         "pytest_apigw_tls.pytest_side.session",
         "pytest_apigw_tls.reference_server", "pytest_apigw_tls.policy.catalog", "pytest_apigw_tls.logs",
         "duckdb")


def test_nothing_heavy_was_imported():
    assert [m for m in sys.modules if m.startswith(HEAVY)] == []
"""


@pytest.mark.parametrize("args", [("-p", "no:xdist"), ("-n", "2")], ids=["serial", "xdist"])
def test_an_unrelated_run_imports_nothing_heavy(pytester, args):
    """The plugin is installed into suites that have nothing to do with TLS: they must not pay for it."""
    pytester.makepyfile(test_unrelated=UNRELATED)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize("collection,heads,chosen,names_built", [
    (["test_a.py::test_one", "test_a.py::test_two[1]"], None, "LoadScheduling", True),
    (["test_a.py::test_one", "test_a.py::test_two[1]"], frozenset({"TLS_1_2"}), "LoadScheduling", False),
    (["test_a.py::test_one", "test_a.py::test_two[TLS_1_2-x]"], frozenset({"TLS_1_2"}), "LoadScheduling", True),
    (["test_a.py::test_one", "conformance/test_versions.py::test_version[TLS_1_2-rsa-TLSv1.2-accepted]"],
     frozenset({"TLS_1_2"}), "TargetScheduling", True),
    (["test_a.py::test_one", "conformance/test_versions.py::test_version[TLS_1_2-rsa-TLSv1.2-accepted]"],
     None, "TargetScheduling", True),
], ids=["unrelated-names-unknown", "unrelated-cheap", "unrelated-alike", "with-cases", "with-cases-options"])
def test_xdist_keeps_its_own_scheduler_unless_the_run_holds_cases(pytester, collection, heads, chosen,
                                                                   names_built):
    """The target names are built only when an id could start with one (heads: the policy ids of the
    reference server's targets, when no option names others)."""
    from pytest_apigw_tls.pytest_side.xdist_scheduling import DeferredScheduling

    asked = []

    def names():
        asked.append(True)
        return ["TLS_1_2-rsa", "TLS_1_2-ecdsa"]

    scheduler = DeferredScheduling(pytester.parseconfigure("--tx", "2*popen", "--dist", "load"), None, names,
                                   lambda: heads)
    for node in (object(), object()):
        scheduler.add_node(node)
        scheduler.add_node_collection(node, collection)
    assert type(scheduler._choose()).__name__ == chosen
    assert asked == ([True] if names_built else [])


def test_every_reference_target_name_starts_with_a_packaged_policy_id():
    """The cheap check above relies on it: "<policy id>-<label>", the id with no "-" of its own."""
    from pytest_apigw_tls.policy.catalog import builtin_catalog, builtin_policy_ids
    from pytest_apigw_tls.probing.targets import reference_targets

    heads = builtin_policy_ids()
    assert heads == {policy.id for policy in builtin_catalog().policies}
    assert all(target.name.split("-", 1)[0] in heads for target in reference_targets(builtin_catalog()))


def test_every_dimension_has_its_rules_and_one_conformance_test_that_holds_its_cases():
    """Adding a dimension is one registry entry and one test: this fails when either is missing."""
    import importlib
    import pkgutil

    import pytest_apigw_tls.conformance as suite

    from pytest_apigw_tls.pytest_side.cases import RULES
    from pytest_apigw_tls.vocabulary import Dimension

    assert list(RULES) == list(Dimension)
    marked = {}
    for module_info in pkgutil.iter_modules(suite.__path__):
        module = importlib.import_module(f"{suite.__name__}.{module_info.name}")
        for name, function in vars(module).items():
            for mark in getattr(function, "pytestmark", []):
                if mark.name == "apigw_dimension":
                    marked[Dimension(mark.args[0])] = name
    assert marked == {dimension: rules.test for dimension, rules in RULES.items()}
