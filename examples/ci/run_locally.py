"""Run the nightly workflow's steps (nightly.sh) locally, against the reference control plane standing
in for an AWS account: two nights, with an API deleted between them, so the second night's diff
shows the regression and fails.

    python examples/ci/run_locally.py [--workdir DIR]

Starts `apigw-tls serve --admin-port 0`, creates a few REST APIs and a custom domain name with boto3,
runs nightly.sh (first night: no previous report), deletes one API, runs it again with the first
night's report as the previous one. Prints each night's exit status and the job summary written.
Exit 0 when the first night passes and the second fails on the vanished target, as it must.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Iterator

HERE = pathlib.Path(__file__).resolve().parent
BIN = pathlib.Path(sys.executable).parent
REGION = "us-east-1"


@contextlib.contextmanager
def control_plane(workdir: pathlib.Path) -> Iterator[tuple[str, str]]:
    """(data-plane HOST:PORT, admin URL) of a reference server started as a user starts it."""
    output, config = workdir / "serve.out", workdir / "account.toml"
    # an account that starts empty but for one domain name (the built-in endpoints would be 40 more targets)
    config.write_text('[[endpoint]]\nhostname = "placeholder.example.test"\nsecurity_policy = "TLS_1_2"\n')
    with open(output, "w") as sink:
        process = subprocess.Popen([str(BIN / "apigw-tls"), "serve", "--config", str(config), "--admin-port", "0",
                                    "--access-log", os.devnull], stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while "admin endpoint:" not in (text := output.read_text()):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"apigw-tls serve did not start: {text}")
            time.sleep(0.05)
        address = text.split("\n", 1)[0].rsplit(" ", 1)[1]
        admin = text.split("admin endpoint:", 1)[1].split()[0]
        yield address, admin
    finally:
        process.terminate()
        process.wait(timeout=10)


def night(workdir: pathlib.Path, env: dict[str, str], label: str) -> int:
    summary = workdir / f"summary-{label}.md"
    summary.write_text("")
    status = subprocess.run(["bash", str(HERE / "nightly.sh")], cwd=workdir, check=False, env={
        **env, "OUT_DIR": str(workdir / label), "GITHUB_STEP_SUMMARY": str(summary)}).returncode
    print(f"{label}: exit {status}; job summary: {len(summary.read_text().splitlines())} lines")
    return status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", help="keep the reports here (default: a temporary directory)")
    args = parser.parse_args()
    import boto3  # the [aws] extra, as the workflow installs it

    with contextlib.ExitStack() as stack:
        workdir = pathlib.Path(args.workdir or stack.enter_context(tempfile.TemporaryDirectory()))
        workdir.mkdir(parents=True, exist_ok=True)
        address, admin = stack.enter_context(control_plane(workdir))
        env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": REGION, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
               "DISCOVER_ARGS": f"--region {REGION} --endpoint-url {admin} --connect {address}"}
        env.pop("AWS_PROFILE", None)
        client = boto3.client("apigateway", region_name=REGION, endpoint_url=admin, aws_access_key_id="testing",
                              aws_secret_access_key="testing")
        kept = client.create_rest_api(name="orders", endpointConfiguration={"types": ["REGIONAL"]},
                                      securityPolicy="SecurityPolicy_TLS13_1_3_2025_09", endpointAccessMode="STRICT")
        doomed = client.create_rest_api(name="legacy", endpointConfiguration={"types": ["REGIONAL"]},
                                        securityPolicy="TLS_1_2")
        client.create_domain_name(domainName="shop.example.test", endpointConfiguration={"types": ["REGIONAL"]},
                                  securityPolicy="SecurityPolicy_TLS13_1_3_2025_09", endpointAccessMode="BASIC")
        client.create_base_path_mapping(domainName="shop.example.test", restApiId=kept["id"], basePath="v1")
        first = night(workdir, env, "night-1")
        shutil.copy(workdir / "night-1" / "report.json", workdir / "previous.json")
        client.delete_rest_api(restApiId=doomed["id"])  # a target gone: the diff must call it a regression
        second = night(workdir, {**env, "PREVIOUS_REPORT": str(workdir / "previous.json")}, "night-2")
        vanished = "vanished" in (workdir / "night-2" / "diff.txt").read_text()
        print(f"second night's diff names the vanished target: {vanished}")
    return 0 if first == 0 and second == 1 and vanished else 1


if __name__ == "__main__":
    sys.exit(main())
