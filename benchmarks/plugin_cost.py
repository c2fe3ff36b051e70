"""What the installed plugin costs a test suite that has nothing to do with TLS.

Runs a few thousand trivial tests with the plugin and with `-p no:apigw_tls`, serially and with
`-n 2`, alternating the two in paired runs, and prints the medians, the ratio and the difference.
Goal (issue: the plugin costs nothing where it is unused): at most 20 ms more, and xdist's own
scheduler in place.

Usage: python benchmarks/plugin_cost.py [--tests 3000] [--runs 5]
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time


def write_suite(folder: pathlib.Path, tests: int) -> None:
    folder.joinpath("test_trivial.py").write_text(
        "import pytest\n\n\n@pytest.mark.parametrize('n', range(%d))\ndef test_n(n):\n    assert n >= 0\n" % tests)


def run(folder: pathlib.Path, plugin: bool, workers: int) -> float:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)]
    command += [] if plugin else ["-p", "no:apigw_tls"]
    command += ["-n", str(workers)] if workers else ["-p", "no:xdist"]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=folder)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"pytest failed: {result.stdout[-500:]}{result.stderr[-500:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp)
        write_suite(folder, args.tests)
        for workers in (0, 2):
            with_plugin, without = [], []
            for _ in range(args.runs):  # paired and alternated: a machine that slows down slows both
                with_plugin.append(run(folder, True, workers))
                without.append(run(folder, False, workers))
            a, b = statistics.median(with_plugin), statistics.median(without)
            mode = f"-n {workers}" if workers else "serial"
            print(f"{args.tests} trivial tests, {mode:>6}: with the plugin {a:.3f} s, without {b:.3f} s, "
                  f"ratio {a / b:.3f}, difference {1000 * (a - b):+.0f} ms (medians of {args.runs} paired runs)")


if __name__ == "__main__":
    main()
