"""A fleet of targets, scanned side by side within one probe budget, next to the same fleet one at a time.

    .venv/bin/python benchmarks/fleet.py [--targets 200] [--total-concurrency 32]

The reference server serves N endpoints (every enforceable policy in turn, mostly ECDSA certificates,
every fifth RSA) from a process of its own (`apigw-tls serve`), as a fleet's servers are not the
scanner's; every tenth target claims a policy its endpoint does not enforce, so the verdict counts
show violations found, not only conformance. Each target is paced (--delay between its probe
starts) as real, rate-limited endpoints must be; with no pacing the loopback server's 2 cores are
the only limit and both runs take about as long. Prints time, probes and verdicts for both
runs and their ratio, measured in one run on this machine.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import pathlib
import subprocess
import sys
import tempfile
import time
from typing import Iterator

from pytest_apigw_tls.reference_server import Endpoint

from pytest_apigw_tls.policy.catalog import load_catalog
from pytest_apigw_tls.probing.fleet import Fleet, FleetSettings
from pytest_apigw_tls.probing.probes import ProbeSettings, Target
from pytest_apigw_tls.probing.scan import scan


def fleet_endpoints(count: int) -> list[tuple[Endpoint, str]]:
    """(endpoint, the policy its target claims): every tenth claim is wrong on purpose."""
    policies = [p for p in load_catalog().policies if p.enforceable and "restapis" in p.resource_kinds]
    out = []
    for index in range(count):
        policy = policies[index % len(policies)]
        cert = "rsa" if index % 5 == 0 else "ecdsa"
        endpoint = Endpoint(f"fleet-{index}.apigw.test", policy.id, policy.endpoint_types[0],
                            "STRICT" if policy.is_enhanced else None, "custom", cert)
        claimed = policies[(index + 1) % len(policies)].id if index % 10 == 9 else policy.id
        out.append((endpoint, claimed))
    return out


def run(address: tuple[str, int], fleet: list[tuple[Endpoint, str]], settings: ProbeSettings,
        fleet_settings: FleetSettings | None) -> tuple[float, int, collections.Counter[str]]:
    catalog = load_catalog()
    started = time.monotonic()
    if fleet_settings is None:
        results = [scan(Target(*address, e.hostname), catalog.policy(claim), e.cert_type, settings)
                   for e, claim in fleet]
    else:
        with Fleet(fleet_settings) as pool:
            futures = [pool.submit(lambda budget, e=e, claim=claim: scan(
                Target(*address, e.hostname), catalog.policy(claim), e.cert_type, settings, budget=budget))
                for e, claim in fleet]
            results = [f.result() for f in futures]
    elapsed = time.monotonic() - started
    verdicts = collections.Counter(v.verdict for r in results for v in r.verdicts)
    verdicts["targets conforming"] = sum(r.conforms for r in results)
    return elapsed, sum(r.probes for r in results), verdicts


@contextlib.contextmanager
def served(fleet: list[tuple[Endpoint, str]]) -> Iterator[tuple[str, int]]:
    """`apigw-tls serve` with the fleet's endpoints, in a process of its own."""
    with tempfile.TemporaryDirectory() as directory:
        config = pathlib.Path(directory) / "fleet.toml"
        config.write_text("[server]\nmax_connections = 4096\n" + "".join(
            f'[[endpoint]]\nhostname = "{e.hostname}"\nsecurity_policy = "{e.security_policy}"\n'
            f'endpoint_type = "{e.endpoint_type}"\ncert_type = "{e.cert_type}"\n'
            + (f'access_mode = "{e.access_mode}"\n' if e.access_mode else "") for e, _ in fleet))
        output = pathlib.Path(directory) / "serve.out"  # a file, not a pipe: the endpoint table is long
        with open(output, "w") as sink:
            process = subprocess.Popen([str(pathlib.Path(sys.executable).with_name("apigw-tls")), "serve",
                                        "--config", str(config), "--access-log", os.devnull], stdout=sink)
        try:
            while "\n" not in (text := output.read_text()):
                time.sleep(0.01)
            host, port = text.split("\n", 1)[0].rsplit(" ", 1)[1].strip().rsplit(":", 1)
            yield host, int(port)
        finally:
            process.terminate()
            process.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--total-concurrency", type=int, default=32)
    parser.add_argument("--delay", type=float, default=0.01,
                        help="seconds between probe starts per target, as against rate-limited real endpoints "
                             "(default 0.01; 0 makes the loopback server's CPU the only limit)")
    args = parser.parse_args()
    fleet = fleet_endpoints(args.targets)
    settings = ProbeSettings(timeout=10, concurrency=8, delay=args.delay)
    with served(fleet) as address:
        run(address, fleet, settings, FleetSettings())  # warm-up: every certificate is issued on first use
        side_by_side = run(address, fleet, settings, FleetSettings(total_probes=args.total_concurrency))
        one_by_one = run(address, fleet, settings, None)
    for label, (elapsed, probes, verdicts) in (("side by side", side_by_side), ("one at a time", one_by_one)):
        print(f"{label:>13}: {len(fleet)} targets in {elapsed:.1f}s, {probes} probes, verdicts {dict(verdicts)}")
    print(f"one at a time / side by side: {one_by_one[0] / side_by_side[0]:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
