"""The CLI at fleet scale: scan --targets, JSON on standard output, diff, --version, pipes."""

import json
import subprocess
import sys

import pytest

from pytest_apigw_tls.cli.main import main
from pytest_apigw_tls.reports.document import case_entry, document

CLI = [sys.executable, "-m", "pytest_apigw_tls.cli.main"]




def write_targets(path, reference_server, *rows):
    address = "{}:{}".format(*reference_server.address)
    path.write_text("".join(f'[[target]]\naddress = "{address if a is None else a}"\nsni = "{sni}"\npolicy = "{p}"\n'
                            for a, sni, p in rows))
    return str(path)


def test_scan_targets_judges_each_target_and_a_dead_one_is_an_error(reference_server, tmp_path, capsys):
    path = write_targets(tmp_path / "t.toml", reference_server, (None, "tls-1-2.rsa.apigw.test", "TLS_1_2"),
                         (None, "tls-1-0.rsa.apigw.test", "TLS_1_2"), ("127.0.0.1:1", "dead.example", "TLS_1_2"))
    assert main(["scan", "--targets", path, "--json", "-"]) == 2
    captured = capsys.readouterr()
    document = json.loads(captured.out)["targets"]
    assert document["TLS_1_2@tls-1-2.rsa.apigw.test"]["conforms"] is True
    assert document["TLS_1_2@tls-1-0.rsa.apigw.test"]["conforms"] is False
    assert "cannot connect to 127.0.0.1:1" in document["TLS_1_2@dead.example"]["error"]
    assert "3 targets: 1 conform, 1 with violations, 1 with errors" in captured.err


def test_scan_targets_without_errors_exits_with_the_worst_verdict(reference_server, tmp_path, capsys):
    path = write_targets(tmp_path / "t.toml", reference_server, (None, "tls-1-2.rsa.apigw.test", "TLS_1_2"),
                         (None, "tls-1-0.ecdsa.apigw.test", "TLS_1_2"))
    assert main(["scan", "--targets", path]) == 1
    assert "2 targets: 1 conform, 1 with violations, 0 with errors" in capsys.readouterr().out


def test_diff_names_regressions_and_exits_1(tmp_path, capsys):
    def report(outcome):
        verdict = "violations" if outcome == "fail" else "conforms"
        return document({}, {"api": {"identity": {"name": "api"}, "verdict": verdict, "dimensions": {}}}, [
            case_entry("api", "version", "api-TLSv1.0-rejected", outcome,
                       "TLSv1.0 accepted" if outcome == "fail" else ""),
            case_entry("api", "version", "api-TLSv1.3-accepted", "pass", "")])
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(report("pass")))
    new.write_text(json.dumps(report("fail")))
    assert main(["diff", str(old), str(new)]) == 1
    out = capsys.readouterr().out
    assert "REGRESSION version:TLSv1.0-rejected: pass -> fail: TLSv1.0 accepted" in out
    assert "1 cases changed, 1 targets before, 1 after, 1 regressions" in out
    assert main(["diff", str(new), str(old)]) == 0
    assert main(["diff", str(old), "/nonexistent.json"]) == 2


def _plugin_report(targets):
    """A plugin report: {name: (identity address, verdict, {case: outcome})}."""
    entries, cases = {}, []
    for name, (address, verdict, outcomes) in targets.items():
        entries[name] = {"verdict": verdict, "dimensions": {}, "identity": {
            "address": address, "sni": "api.example.com", "endpoint_type": "REGIONAL", "policy": "TLS_1_2",
            "cert_type": "rsa", "access_mode": None}}
        cases += [case_entry(name, "version", f"{name}-{case}", outcome, f"{case} {outcome}")
                  for case, outcome in outcomes.items()]
    return document({}, entries, cases)


@pytest.mark.parametrize("new_targets,regressions,extra", [
    # a target added renames the unnamed one (POLICY -> POLICY@host): matched by identity, its failure is seen
    ({"TLS_1_2@a": ("10.0.0.1:443", "violations", {"TLSv1.0-rejected": "fail"}),
      "TLS_1_2@b": ("10.0.0.2:443", "conforms", {"TLSv1.0-rejected": "pass"})}, 1, ()),
    ({}, 1, ()),  # the target vanished
    ({}, 0, ("--allow-vanished",)),
    ({"TLS_1_2": ("10.0.0.1:443", "conforms", {"TLSv1.0-rejected": "pass"}),  # a new target that fails
      "other": ("10.0.0.3:443", "errors", {"TLSv1.0-rejected": "inconclusive"})}, 2, ()),
], ids=["renamed", "vanished", "vanished-allowed", "new-and-failing"])
def test_diff_matches_targets_by_identity_and_exits_1_on_every_kind_of_regression(tmp_path, capsys, new_targets,
                                                                                  regressions, extra):
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(_plugin_report({"TLS_1_2": ("10.0.0.1:443", "conforms", {"TLSv1.0-rejected": "pass"})})))
    new.write_text(json.dumps(_plugin_report(new_targets)))
    assert main(["diff", *extra, str(old), str(new)]) == (1 if regressions else 0)
    assert f"{regressions} regressions" in capsys.readouterr().out


def test_version_and_a_closed_pipe_end_quietly():
    version = subprocess.run([*CLI, "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("apigw-tls ")
    piped = subprocess.run(f"{sys.executable} -m pytest_apigw_tls.cli.main policies --json | head -c 10", shell=True,
                           capture_output=True, text=True)
    assert piped.stderr == "" and len(piped.stdout) == 10


@pytest.mark.parametrize("argv,message", [
    (["scan", "127.0.0.1:443"], "give HOST[:PORT] and --policy NAME"),
    (["scan", "127.0.0.1:443", "--policy", "TLS_1_2", "--timeout", "nan"], "--timeout must be a finite number"),
    (["scan", "127.0.0.1:443", "--policy", "tls_1_2"], "did you mean TLS_1_2"),
    (["scan", "--targets", "/nonexistent.toml"], "cannot read targets file"),
])
def test_scan_misuse_is_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_an_unreachable_single_target_still_writes_its_json_file(tmp_path, capsys):
    """A pipeline waiting for `--json FILE` gets the reason, not a missing file."""
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    report = tmp_path / "scan.json"
    assert main(["scan", f"127.0.0.1:{port}", "--sni", "api.example.test", "--policy", "TLS_1_2",
                 "--json", str(report)]) == 2
    [target] = json.loads(report.read_text())["targets"].values()
    assert target["verdict"] == "errors" and target["conforms"] is False and "cannot connect" in target["error"]
    assert capsys.readouterr().err.count("\n") == 1


def test_scan_targets_names_each_target_as_the_file_names_it(reference_server, tmp_path, capsys):
    address = "{}:{}".format(*reference_server.address)
    path = tmp_path / "t.toml"
    path.write_text(f'[[target]]\nname = "payments-api"\naddress = "{address}"\nsni = "tls-1-2.rsa.apigw.test"\n'
                    'policy = "TLS_1_2"\n')
    assert main(["scan", "--targets", str(path)]) == 0
    assert capsys.readouterr().out.startswith("payments-api: 127.0.0.1:")


@pytest.mark.parametrize("content,message", [
    ({"TLS_1_2": {"verdict": "conforms"}}, "is not an apigw-tls report document"),
    ({"schema": "pytest-apigw-tls/report", "schema_version": 99, "targets": {}, "cases": []}, "schema version 99"),
    ({"schema": "pytest-apigw-tls/report", "schema_version": 1, "targets": []}, 'needs "targets"'),
], ids=["unversioned", "newer", "malformed"])
def test_diff_and_derive_read_only_the_report_schema_and_say_why_in_one_line(tmp_path, capsys, content, message):
    path = tmp_path / "report.json"
    path.write_text(json.dumps(content))
    for argv in (["diff", str(path), str(path)], ["policies", "--from-scan", str(path)]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, argv


def test_every_writer_fails_in_one_line_on_a_path_it_cannot_write(reference_server, tmp_path, capsys):
    address = "{}:{}".format(*reference_server.address)
    unwritable = str(tmp_path / "missing-dir" / "out.json")
    assert main(["scan", address, "--sni", "tls-1-2.rsa.apigw.test", "--policy", "TLS_1_2", "--json", unwritable]) == 2
    err = capsys.readouterr().err
    assert f"cannot write {unwritable}: No such file or directory" in err and err.count("\n") == 1


def test_the_scan_cli_and_the_plugin_offer_the_same_probe_settings_with_the_same_defaults():
    """Declared once (probing/settings.py): both front-ends are generated from one table."""
    from pytest_apigw_tls.cli.main import build_parser
    from pytest_apigw_tls.probing.settings import SETTINGS

    scan_help = build_parser(["scan"])._subparsers._group_actions[0].choices["scan"].format_help()
    plugin_help = subprocess.run([sys.executable, "-m", "pytest", "--help", "-p", "no:cacheprovider"],
                                 capture_output=True, text=True, check=True).stdout
    for setting in SETTINGS:
        assert f"--{setting.name} {setting.metavar}" in scan_help
        assert f"--apigw-{setting.name}={setting.metavar}" in plugin_help
        assert f"(default {setting.default:g})" in " ".join(plugin_help.split())
