"""A fleet judged by the conformance suite under pytest (serial and -n 2) next to `apigw-tls scan --targets`.

    .venv/bin/python benchmarks/fleet_pytest.py [--sizes 50,200,1000]

For each size the reference server (`apigw-tls serve`, a process of its own) serves the fleet of
benchmarks/fleet.py (every tenth claim wrong on purpose), and the same targets file is judged three
ways, each a process of its own: the scanner, pytest serial, pytest -n 2. Prints wall time and peak
memory (RSS of the judging process and its children) for each, and the ratios to the scanner,
measured in one run on this machine.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from fleet import fleet_endpoints, served  # noqa: E402  (the same fleet as benchmarks/fleet.py)

from pytest_apigw_tls.policy.catalog import load_catalog  # noqa: E402

BIN = pathlib.Path(sys.executable).parent


def targets_file(directory: pathlib.Path, address: tuple[str, int], fleet: list) -> pathlib.Path:
    """Each target claims its policy on the endpoint type that policy is for (a wrong claim may be another's)."""
    catalog = load_catalog()
    path = directory / "targets.toml"
    path.write_text("".join(
        f'[[target]]\nname = "t{index}"\naddress = "{address[0]}:{address[1]}"\nsni = "{endpoint.hostname}"\n'
        f'policy = "{claim}"\ncert_type = "{endpoint.cert_type}"\n'
        f'endpoint_type = "{catalog.policy(claim).endpoint_types[0]}"\n'
        for index, (endpoint, claim) in enumerate(fleet)))
    return path


def measured(argv: list[str]) -> tuple[float, float, int]:
    """(seconds, peak RSS in MB, exit status) of one process tree, as `/usr/bin/time -f %M` would see it."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.monotonic()
    status = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
                            env={**os.environ, "PYTHONDONTWRITEBYTECODE": ""}).returncode
    elapsed = time.monotonic() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, max(peak, before) / 1024, status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,200,1000", help="fleet sizes, comma-separated")
    parser.add_argument("--only", choices=("scan --targets", "pytest", "pytest -n 2"),
                        help="time one of the three commands (the others' ratios are then not printed)")
    args = parser.parse_args()
    print(f"{'targets':>7} {'command':<16} {'wall':>8} {'ratio':>6} {'peak RSS':>9} {'per target':>11} status")
    for size in (int(s) for s in args.sizes.split(",")):
        fleet = fleet_endpoints(size)
        with served(fleet) as address, tempfile.TemporaryDirectory() as directory:
            path = targets_file(pathlib.Path(directory), address, fleet)
            pytest = [str(BIN / "python"), "-m", "pytest", "--pyargs", "pytest_apigw_tls.conformance", "-q",
                      "-p", "no:cacheprovider", "--apigw-targets", str(path)]
            runs = {"scan --targets": [str(BIN / "apigw-tls"), "scan", "--targets", str(path)],
                    "pytest": [*pytest, "-p", "no:xdist"], "pytest -n 2": [*pytest, "-n", "2"]}
            measured(runs["scan --targets"])  # warm-up: the server issues every certificate on first use
            base = None
            for label, argv in runs.items():
                if args.only and label != args.only:
                    continue
                # a fresh process per run: RUSAGE_CHILDREN keeps the largest child ever, so run each in
                # a child of its own and read that child's peak
                probe = subprocess.run([sys.executable, __file__, "--one", "--", *argv], capture_output=True,
                                       text=True, check=True).stdout.split()
                elapsed, peak, status = float(probe[0]), float(probe[1]), int(probe[2])
                base = base or elapsed
                print(f"{size:>7} {label:<16} {elapsed:>7.1f}s {elapsed / base:>5.2f}x {peak:>7.0f}MB "
                      f"{peak / size:>9.2f}MB {status}", flush=True)
    return 0


def one() -> int:
    """Measure one command in this process's children only, and print 'seconds peakMB status'."""
    argv = sys.argv[sys.argv.index("--") + 1:]
    elapsed, peak, status = measured(argv)
    print(f"{elapsed:.3f} {peak:.1f} {status}")
    return 0


if __name__ == "__main__":
    sys.exit(one() if "--one" in sys.argv else main())
