"""The nightly CI example (examples/ci/) runs end to end locally against the reference control plane:
the first night passes, and a target deleted before the second night fails it through `apigw-tls diff`."""

import pathlib
import subprocess
import sys

import pytest

pytest.importorskip("boto3")

EXAMPLE = pathlib.Path(__file__).resolve().parent.parent / "examples" / "ci"


def test_the_nightly_workflow_steps_run_locally_and_fail_on_a_regression(tmp_path):
    result = subprocess.run([sys.executable, str(EXAMPLE / "run_locally.py"), "--workdir", str(tmp_path)],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "night-1: exit 0" in result.stdout and "night-2: exit 1" in result.stdout
    summary = (tmp_path / "summary-night-1.md").read_text()
    assert summary.startswith("# ") and "| target |" in summary  # the Markdown report, as the job summary
    assert "REGRESSION vanished" in (tmp_path / "night-2" / "diff.txt").read_text()


def test_the_workflow_runs_the_same_script_with_oidc_and_read_only_needs():
    workflow = (EXAMPLE / "conformance.yml").read_text()
    assert "bash examples/ci/nightly.sh" in workflow and "id-token: write" in workflow
    assert "aws-actions/configure-aws-credentials" in workflow and "aws-access-key-id" not in workflow
