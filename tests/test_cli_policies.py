"""`apigw-tls policies`, in-process and as the installed console script."""

import json
import subprocess
import sys

from pytest_apigw_tls.cli.main import main


def test_json_lists_all_sixteen_entries_with_code_points_and_provenance(capsys):
    assert main(["policies", "--json"]) == 0
    policies = json.loads(capsys.readouterr().out)
    assert len(policies) == 16
    tls13 = next(p for p in policies if p["id"] == "SecurityPolicy_TLS13_1_3_2025_09")
    assert tls13["versions"]["value"] == ["TLSv1.3"]
    assert [s["code"] for s in tls13["tls13_suites"]["value"]] == ["0x1301", "0x1302", "0x1303"]
    assert tls13["groups"]["provenance"] == "inferred"
    assert tls13["endpoint_types"] == ["REGIONAL", "PRIVATE"]


def test_endpoint_type_filter_is_case_insensitive(capsys):
    assert main(["policies", "--json", "--endpoint-type", "edge"]) == 0
    assert {p["id"] for p in json.loads(capsys.readouterr().out)} == {
        "TLS_1_0@EDGE", "TLS_1_2@EDGE", "SecurityPolicy_TLS13_2025_EDGE",
        "SecurityPolicy_TLS12_PFS_2025_EDGE", "SecurityPolicy_TLS12_2018_EDGE"}


def test_text_table_names_every_policy(capsys):
    assert main(["policies"]) == 0
    out = capsys.readouterr().out
    assert "SecurityPolicy_TLS13_1_2_FIPS_PFS_PQ_2025_09" in out and "16 policies" in out
    ext2 = next(line for line in out.splitlines() if line.startswith("SecurityPolicy_TLS13_1_2_Ext2_PQ_2025_09"))
    assert "unknown" in ext2


def test_unknown_endpoint_type_is_one_line_and_status_2():
    result = subprocess.run([sys.executable, "-m", "pytest_apigw_tls.cli.main", "policies", "--endpoint-type", "LOCAL"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "unknown endpoint type 'LOCAL'" in result.stderr
    assert "Traceback" not in result.stderr


def test_scan_loads_neither_the_reference_server_nor_the_other_subcommands():
    """Start-up is part of a scan's time: `scan` imports what it uses, not every subcommand's module."""
    probe = ("import sys\nfrom pytest_apigw_tls.cli.main import main\n"
             "status = main(['scan', '127.0.0.1:1', '--policy', 'TLS_1_0', '--cert-type', 'rsa'])\n"
             "loaded = sorted(m for m in sys.modules if m.startswith(('pytest_apigw_tls.reference_server', "
             "'pytest_apigw_tls.logs.readiness', 'pytest_apigw_tls.matrix', 'trustme', 'h11')))\n"
             "print(status, loaded)\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False)
    assert result.stdout.strip() == "2 []", result.stdout + result.stderr
    assert "cannot connect to 127.0.0.1:1" in result.stderr


def test_every_subcommand_is_listed_and_a_typo_names_them(capsys):
    assert subprocess.run([sys.executable, "-m", "pytest_apigw_tls.cli.main", "admin", "--help"],
                          capture_output=True, text=True, check=True).stdout.startswith("usage: apigw-tls admin")
    result = subprocess.run([sys.executable, "-m", "pytest_apigw_tls.cli.main", "scna"], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 2
    assert "invalid choice: 'scna'" in result.stderr
    for command in ("policies", "serve", "scan", "logs", "matrix", "diff", "admin"):
        assert f"'{command}'" in result.stderr
