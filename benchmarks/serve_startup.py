"""How long `apigw-tls serve` takes, from the command to the first answered handshake, with N endpoints.

    .venv/bin/python benchmarks/serve_startup.py [--endpoints 10000]

Writes a config file of N endpoints (every enforceable policy in turn), starts the CLI as a user
does, and times until a handshake to the last endpoint completes. Goal: within 1 s for 10,000.
"""

from __future__ import annotations

import argparse
import pathlib
import subprocess
import sys
import tempfile
import time

from pytest_apigw_tls.policy.catalog import load_catalog
from pytest_apigw_tls.probing.handshake import handshake_probe
from pytest_apigw_tls.probing.probes import Outcome, Target


def write_config(path: pathlib.Path, count: int) -> str:
    policies = [p for p in load_catalog().policies if p.enforceable and "restapis" in p.resource_kinds]
    lines, last = [], ""
    for index in range(count):
        policy = policies[index % len(policies)]
        last = f"endpoint-{index}.apigw.test"
        mode = 'access_mode = "BASIC"\n' if policy.is_enhanced else ""
        lines.append(f'[[endpoint]]\nhostname = "{last}"\nsecurity_policy = "{policy.id}"\n'
                     f'endpoint_type = "{policy.endpoint_types[0]}"\n{mode}')
    path.write_text("".join(lines))
    return last


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        config = pathlib.Path(directory) / "endpoints.toml"
        last = write_config(config, args.endpoints)
        times = []
        output = pathlib.Path(directory) / "serve.out"  # a file, not a pipe: the endpoint table is long
        for _ in range(args.repeats):
            started = time.monotonic()
            with open(output, "w") as sink:
                process = subprocess.Popen([str(pathlib.Path(sys.executable).with_name("apigw-tls")), "serve",
                                            "--config", str(config), "--access-log", "/dev/null"], stdout=sink)
            try:
                while "\n" not in (text := output.read_text()):
                    time.sleep(0.005)
                host, port = text.split("\n", 1)[0].rsplit(" ", 1)[1].strip().rsplit(":", 1)
                listening = time.monotonic() - started
                observation = handshake_probe(Target(host, int(port), last), 10)
                answered = time.monotonic() - started
                assert observation.outcome is Outcome.ACCEPTED, observation.evidence
                times.append((listening, answered))
            finally:
                process.terminate()
                process.wait(timeout=10)
    best = min(times, key=lambda t: t[1])
    print(f"{args.endpoints} endpoints: listening after {best[0]:.2f}s, first handshake answered after "
          f"{best[1]:.2f}s (best of {args.repeats}; goal: 1 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
