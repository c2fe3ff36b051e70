"""How long a conformance scan takes, ours next to sslyze's, measured in one run on this machine.

    .venv/bin/python benchmarks/scan_speed.py [--policy TLS_1_0] [--no-sslyze]

Scans the reference server: one policy (RSA certificate), then the whole catalog (every policy,
both certificate types). sslyze is installed into a throwaway virtual environment (never a
dependency of the project) and scans versions and suites of the same endpoint; our CLI is timed
from a throwaway environment too, installed from this checkout as users install it (not editable).
Prints both times, their ratio and our probe counts.
"""

from __future__ import annotations

import argparse
import collections
import json
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

from pytest_apigw_tls.reference_server import ReferenceServer
from pytest_apigw_tls.reference_server.config import policy_slug

from pytest_apigw_tls.policy.catalog import load_catalog
from pytest_apigw_tls.probing.probes import ProbeSettings, Target
from pytest_apigw_tls.probing.scan import scan

REPEATS = 7  # medians of seven runs each side: one slow start on a noisy machine does not decide the ratio
SSLYZE_COMMANDS = ["--sslv2", "--sslv3", "--tlsv1", "--tlsv1_1", "--tlsv1_2", "--tlsv1_3", "--elliptic_curves"]


def sslyze_scan(venv: pathlib.Path, hostname: str, host: str, port: int) -> tuple[float, int]:
    """(seconds, suites tried) for sslyze's version, suite and curve scans of one endpoint."""
    report = venv / "sslyze.json"
    started = time.monotonic()
    subprocess.run([str(venv / "bin" / "python"), "-m", "sslyze", *SSLYZE_COMMANDS, "--quiet",
                    "--json_out", str(report), f"{hostname}:{port}{{{host}}}"], check=True, timeout=900,
                   capture_output=True)
    elapsed = time.monotonic() - started
    server = json.loads(report.read_text())["server_scan_results"][0]
    if server.get("scan_status") != "COMPLETED":
        raise RuntimeError(f"sslyze could not scan {hostname}: {server.get('connectivity_error_trace')}")
    results = server["scan_result"]
    tried = 0
    for attempt in results.values():
        outcome = (attempt or {}).get("result") or {}
        tried += len(outcome.get("accepted_cipher_suites", [])) + len(outcome.get("rejected_cipher_suites", []))
    return elapsed, tried


def cli_scan_time(venv: pathlib.Path, host: str, port: int, hostname: str, policy_id: str) -> float:
    """Our CLI as a process too, so both sides pay interpreter start-up and imports."""
    started = time.monotonic()
    subprocess.run([str(venv / "bin" / "apigw-tls"), "scan", f"{host}:{port}", "--sni",
                    hostname, "--policy", policy_id, "--cert-type", "rsa"],
                   capture_output=True, timeout=300, check=True)
    return time.monotonic() - started


def installed_venv(directory: pathlib.Path, requirement: str) -> pathlib.Path:
    """A throwaway virtual environment with `requirement` installed as a user installs it (not editable:
    a development checkout's import hook would cost our side start-up time no user pays)."""
    subprocess.run([sys.executable, "-m", "venv", str(directory)], check=True)
    subprocess.run([str(directory / "bin" / "pip"), "install", "--quiet", requirement], check=True)
    return directory


def fewest_probes(result) -> int:
    """The least any prober could send for these verdicts: one question per refused version; per
    version, one handshake per accepted suite or group, whichever are more (a handshake shows one of
    each, and the version too); two per refused bundle (the refusal and its control)."""
    cases = [v.expectation for v in result.verdicts]
    accepted = collections.Counter((e.dimension, e.version) for e in cases if e.expected == "accepted")
    versions = {e.version for e in cases}
    handshakes = sum(max(accepted[("suite", v)], accepted[("group", v)], accepted[("version", v)]) for v in versions)
    refused_versions = sum(1 for e in cases if e.dimension == "version" and e.expected != "accepted")
    bundles = {(e.dimension, e.version) for e in cases if e.dimension != "version" and e.expected != "accepted"}
    return refused_versions + handshakes + 2 * len(bundles)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", default="TLS_1_0", help="the single policy to time (default: the largest)")
    parser.add_argument("--no-sslyze", action="store_true", help="skip the sslyze comparison")
    args = parser.parse_args()
    catalog = load_catalog()
    settings = ProbeSettings(timeout=5, concurrency=8)
    with ReferenceServer() as server:
        host, port = server.address
        policy = catalog.policy(args.policy)
        hostname = f"{policy_slug(policy)}.rsa.apigw.test"
        one = scan(Target(host, port, hostname), policy, "rsa", settings)
        started = time.monotonic()
        results = [scan(Target(host, port, f"{policy_slug(p)}.{cert}.apigw.test"), p, cert, settings)
                   for p in catalog.policies if p.enforceable for cert in ("rsa", "ecdsa")]
        catalog_time = time.monotonic() - started
        print(f"apigw-tls, one policy ({policy.id}, rsa): {one.elapsed:.2f}s, {one.probes} probes "
              f"(fewest possible: {fewest_probes(one)}), {len(one.verdicts)} verdicts over the whole IANA registry")
        print(f"apigw-tls, whole catalog ({len(results)} scans): {catalog_time:.2f}s, "
              f"{sum(r.probes for r in results)} probes, {sum(len(r.verdicts) for r in results)} verdicts")
        if args.no_sslyze:
            return 0
        with tempfile.TemporaryDirectory(prefix="scan-speed-") as directory:
            # each tool in a venv of its own (their cryptography pins differ), both installed from wheels
            sslyze_venv = installed_venv(pathlib.Path(directory) / "sslyze", "sslyze")
            checkout = str(pathlib.Path(__file__).resolve().parents[1])
            our_venv = installed_venv(pathlib.Path(directory) / "ours", checkout)
            sslyze_runs, cli_runs = [], []
            for _ in range(REPEATS):  # alternated: a machine that slows down mid-run slows both sides alike
                sslyze_runs.append(sslyze_scan(sslyze_venv, hostname, host, port))
                cli_runs.append(cli_scan_time(our_venv, host, port, hostname, policy.id))
        sslyze_time, tried = statistics.median(t for t, _ in sslyze_runs), sslyze_runs[0][1]
        cli_time = statistics.median(cli_runs)
        print(f"apigw-tls scan as a process, same endpoint: {cli_time:.2f}s")
        print(f"sslyze, same endpoint (versions, suites, curves): {sslyze_time:.2f}s, {tried} suites tried")
        print(f"ratio sslyze / apigw-tls for one policy: {sslyze_time / one.elapsed:.1f}x in-process, "
              f"{sslyze_time / cli_time:.1f}x process to process")
        print(f"ratio apigw-tls / sslyze, whole process: {cli_time / sslyze_time:.2f} (goal: at most 0.25)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
