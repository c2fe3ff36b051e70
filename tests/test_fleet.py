"""Fleets of targets through the plugin: identity, dead endpoints, pytest-xdist, reports."""

import json

import pytest

pytest_plugins = ["pytester"]

SUITE = """
from pytest_apigw_tls.conformance.test_versions import test_version
from pytest_apigw_tls.conformance.test_suites import test_suite
from pytest_apigw_tls.conformance.test_groups import test_group
from pytest_apigw_tls.conformance.test_sni import test_policy_follows_sni, test_certificate_type
from pytest_apigw_tls.conformance.test_alignment import test_default_endpoint_alignment
from pytest_apigw_tls.conformance.test_access_mode import test_access_mode
"""




@pytest.fixture
def suite(pytester):
    pytester.makepyfile(test_conformance=SUITE)
    return pytester


def targets_file(path, *tables):
    lines = []
    for table in tables:
        lines.append("[[target]]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in table.items()]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_two_unnamed_targets_claiming_one_policy_are_judged_each_on_its_own(suite, reference_server, tmp_path):
    """Regression: they once shared one scan (keyed by the policy id), and a TLS_1_0 endpoint passed as TLS_1_2."""
    address = "{}:{}".format(*reference_server.address)
    path = targets_file(tmp_path / "targets.toml",
                        {"address": address, "sni": "tls-1-2.rsa.apigw.test", "policy": "TLS_1_2"},
                        {"address": address, "sni": "tls-1-0.rsa.apigw.test", "policy": "TLS_1_2"})
    report = tmp_path / "report.json"
    result = suite.runpytest("--apigw-targets", path, "--apigw-json", str(report), "-k", "test_version")
    result.assert_outcomes(passed=8, failed=2)  # TLS 1.0 and 1.1 accepted by the second
    document = json.loads(report.read_text())
    assert {name: t["verdict"] for name, t in document["targets"].items()} == {
        "TLS_1_2@tls-1-2.rsa.apigw.test": "conforms", "TLS_1_2@tls-1-0.rsa.apigw.test": "violations"}
    assert document["metadata"]["scans_run"] == 2


def test_two_explicit_identical_names_are_a_one_line_error(suite, tmp_path):
    path = targets_file(tmp_path / "targets.toml", {"name": "api", "address": "127.0.0.1:1", "policy": "TLS_1_2"},
                        {"name": "api", "address": "127.0.0.1:2", "policy": "TLS_1_2"})
    result = suite.runpytest("--apigw-targets", path)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: apigw-tls: two targets are named 'api': names must differ"])


def test_a_dead_endpoint_errors_alone_and_the_rest_is_judged(suite, reference_server, tmp_path):
    address = "{}:{}".format(*reference_server.address)
    path = targets_file(tmp_path / "targets.toml",
                        {"name": "dead", "address": "127.0.0.1:1", "policy": "TLS_1_2"},
                        {"name": "alive", "address": address, "sni": "tls-1-2.ecdsa.apigw.test", "policy": "TLS_1_2"})
    markdown = tmp_path / "report.md"
    result = suite.runpytest("--apigw-targets", path, "-k", "test_version or test_certificate_type",
                             "--apigw-markdown", str(markdown))
    result.assert_outcomes(passed=6, errors=6)
    assert markdown.read_text().count("cannot connect to 127.0.0.1:1") == 1  # the reason once, not six times
    result.stdout.fnmatch_lines(["*dead*cannot connect to 127.0.0.1:1*",
                                 "dead: 6 errors: dead: cannot connect to 127.0.0.1:1*",  # the reason once
                                 "2 targets: 1 conform, 0 with violations, 1 with errors*"])


def test_xdist_scans_each_target_once_and_reports_like_a_serial_run(suite, reference_server, tmp_path):
    address = "{}:{}".format(*reference_server.address)
    tables = [{"address": address, "sni": f"{slug}.{cert}.apigw.test", "policy": policy}
              for slug, policy in (("tls-1-2", "TLS_1_2"), ("tls13-1-3-2025-09", "SecurityPolicy_TLS13_1_3_2025_09"),
                                   ("tls-1-0", "TLS_1_0")) for cert in ("rsa", "ecdsa")]
    path = targets_file(tmp_path / "targets.toml", *tables)
    runs = {}
    for label, extra in (("serial", ()), ("xdist", ("-n", "2"))):
        report = tmp_path / f"{label}.json"
        result = suite.runpytest_subprocess("--apigw-targets", path, "--apigw-json", str(report), *extra)
        runs[label] = (result, json.loads(report.read_text()))
    serial, parallel = runs["serial"][1], runs["xdist"][1]
    assert runs["xdist"][0].parseoutcomes() == runs["serial"][0].parseoutcomes()
    assert (parallel["metadata"]["scans_run"], serial["metadata"]["scans_run"]) == (6, 6)
    assert [(c["nodeid"], c["outcome"]) for c in parallel["cases"]] == [(c["nodeid"], c["outcome"])
                                                                         for c in serial["cases"]]
    assert {n: t["verdict"] for n, t in parallel["targets"].items()} == {
        n: t["verdict"] for n, t in serial["targets"].items()}
    runs["xdist"][0].stdout.fnmatch_lines(["*apigw-tls conformance*", "6 targets: 6 conform*"])


def test_markdown_and_html_reports(suite, reference_server, tmp_path):
    address = "{}:{}".format(*reference_server.address)
    markdown, page = tmp_path / "report.md", tmp_path / "report.html"
    result = suite.runpytest("--apigw-target", address, "--apigw-sni", "tls-1-0.rsa.apigw.test",
                             "--apigw-policy", "TLS_1_2", "--apigw-markdown", str(markdown),
                             "--apigw-html", str(page), "-k", "test_version")
    result.assert_outcomes(passed=3, failed=2)
    text = markdown.read_text()
    assert "| TLS_1_2 | 3/2/0 | **VIOLATIONS** |" in text
    assert "- **FAIL** `test_version[TLS_1_2-TLSv1.0-rejected]`" in text
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and 'class="fail"' in html and "http" not in html.split("<body>")[1]


def test_a_default_endpoint_that_accepts_what_the_domain_refuses_is_a_finding(suite, reference_server, tmp_path):
    """The blog: the default endpoint's policy applies at its own hostname, even behind a custom domain."""
    address = "{}:{}".format(*reference_server.address)
    api = "abcdef1234.execute-api.us-east-1.amazonaws.com"  # TLS_1_0 on the reference server
    path = targets_file(tmp_path / "targets.toml",
                        {"name": "hardened", "address": address, "sni": "tls13-1-3-2025-09.rsa.apigw.test",
                         "policy": "SecurityPolicy_TLS13_1_3_2025_09", "cert_type": "rsa",
                         "default_endpoint": api, "default_endpoint_address": address},
                        {"name": "legacy", "address": address, "sni": "tls-1-0.rsa.apigw.test", "policy": "TLS_1_0",
                         "cert_type": "rsa", "default_endpoint": api, "default_endpoint_address": address})
    result = suite.runpytest("--apigw-targets", path, "-k", "alignment")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*default endpoint * behind tls13-1-3-2025-09.rsa.apigw.test accepts * things the "
                                 "domain's SecurityPolicy_TLS13_1_3_2025_09 refuses*TLSv1.0 (*",
                                 "FAILED*test_default_endpoint_alignment[[]hardened-default-endpoint[]]*"])


def test_a_target_that_k_deselects_is_never_connected_to(suite, reference_server, tmp_path):
    """Identification (connecting, detecting the certificate) happens only for targets -k can select."""
    import socket
    import threading

    accepted = []
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)

    def count():
        while not stopped.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            accepted.append(1)
            conn.close()
    stopped = threading.Event()
    thread = threading.Thread(target=count, daemon=True)
    thread.start()
    address = "{}:{}".format(*reference_server.address)
    path = targets_file(tmp_path / "targets.toml",
                        {"name": "watched", "address": "127.0.0.1:{}".format(listener.getsockname()[1]),
                         "policy": "TLS_1_2"},
                        {"name": "alive", "address": address, "sni": "tls-1-2.rsa.apigw.test", "policy": "TLS_1_2"})
    try:
        result = suite.runpytest("--apigw-targets", path, "-k", "alive and test_version")
    finally:
        stopped.set()
        thread.join()
        listener.close()
    result.assert_outcomes(passed=5, deselected=result.parseoutcomes()["deselected"])
    assert accepted == []


def test_scan_targets_and_the_plugin_reach_one_judgement_on_a_mixed_fleet(suite, reference_server, tmp_path, capsys):
    """One fleet with every kind of case (TLS, SNI pair, STRICT access, default-endpoint alignment, cert),
    judged by `apigw-tls scan --targets` and by the plugin: the same verdict and counts for every target.
    Also: a correct target is not charged with its SNI partner's wrong claim; `scan --targets` judges
    the default endpoint; the default endpoint is no row of its own; a STRICT claim that fails is no
    "conforms" in the JSON."""
    from pytest_apigw_tls.cli.main import main

    address = "{}:{}".format(*reference_server.address)
    api = "abcdef1234.execute-api.us-east-1.amazonaws.com"  # TLS_1_0 on the reference server
    path = targets_file(tmp_path / "targets.toml",
                        {"name": "right", "address": address, "sni": "tls-1-2.rsa.apigw.test", "policy": "TLS_1_2"},
                        {"name": "wrong-claim", "address": address, "sni": "tls-1-0.rsa.apigw.test",
                         "policy": "SecurityPolicy_TLS13_1_3_2025_09"},
                        {"name": "basic-claims-strict", "address": address,
                         "sni": "tls13-1-3-2025-09.basic.apigw.test", "policy": "SecurityPolicy_TLS13_1_3_2025_09",
                         "access_mode": "STRICT", "cert_type": "rsa"},
                        {"name": "hardened", "address": address, "sni": "tls13-1-3-2025-09.rsa.apigw.test",
                         "policy": "SecurityPolicy_TLS13_1_3_2025_09", "cert_type": "rsa",
                         "default_endpoint": api, "default_endpoint_address": address})
    report = tmp_path / "plugin.json"
    suite.runpytest("--apigw-targets", path, "--apigw-json", str(report))
    plugin = json.loads(report.read_text())["targets"]
    scanned = tmp_path / "scan.json"
    assert main(["scan", "--targets", path, "--json", str(scanned)]) == 1
    capsys.readouterr()
    cli = json.loads(scanned.read_text())["targets"]

    def counts(dimensions):
        judged = ("pass", "fail", "inconclusive")
        return {d: {k: v for k, v in c.items() if k in judged} for d, c in dimensions.items()}

    assert {name: t["verdict"] for name, t in plugin.items()} == {
        "right": "conforms", "wrong-claim": "violations", "basic-claims-strict": "violations",
        "hardened": "violations"}
    assert {name: t["verdict"] for name, t in cli.items()} == {name: t["verdict"] for name, t in plugin.items()}
    for name in plugin:
        assert counts(cli[name]["dimensions"]) == counts(plugin[name]["dimensions"]), name
    assert plugin["right"]["dimensions"]["sni"] == {"pass": 1}
    strict_claim = cli["basic-claims-strict"]
    assert strict_claim["conforms"] is False and strict_claim["dimensions"]["access"]["fail"]
    assert cli["hardened"]["dimensions"]["alignment"] == {"fail": 1}
    assert "default_endpoint_scan" in plugin["hardened"] and "default_endpoint_scan" in cli["hardened"]
    assert main(["diff", str(report), str(scanned)]) == 0  # one target, one identity, whichever front-end wrote it
    assert "0 cases changed, 4 targets before, 4 after, 0 regressions" in capsys.readouterr().out
