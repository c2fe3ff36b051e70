"""How fast `apigw-tls logs` reads, per format, measured in one run on this machine.

    .venv/bin/python benchmarks/logs_volume.py [--lines 1000000]

Writes LINES access-log lines in the reference server's JSON form (mixed TLS 1.0 CBC, TLS 1.2 and TLS
1.3 clients) and a tenth as many in each console preset with the TLS variables, then times the whole
reading (as the CLI runs it: large plain files in one process per core) of each and prints lines
per second and peak memory.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

from pytest_apigw_tls.reference_server.accesslog import format_line

from pytest_apigw_tls.logs.formats import log_format
from pytest_apigw_tls.logs.parallel import assess_inputs

CLIENTS = [("TLSv1", "AES128-SHA"), ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256"), ("TLSv1.2", "AES256-SHA256"),
           ("TLSv1.3", "TLS_AES_128_GCM_SHA256")]


def write(path: Path, fmt: str, count: int) -> None:
    rng = random.Random(7)
    with path.open("w") as handle:
        for index in range(count):
            version, suite = CLIENTS[index % len(CLIENTS)]
            handle.write(format_line(fmt, {
                "requestId": f"{index:08x}-0000-4000-8000-000000000000", "requestTime": "20/Nov/2026:10:00:00 +0000",
                "identity.sourceIp": f"198.51.100.{rng.randrange(256)}", "identity.userAgent": "client/1.0",
                "httpMethod": "GET", "path": "/pets", "resourcePath": "/pets", "protocol": "HTTP/1.1",
                "status": 200, "responseLength": 42, "tlsVersion": version, "cipherSuite": suite,
                "host": "api.example.com", "sni": "api.example.com"}) + "\n")


def timed(path: Path, spec: str | None) -> tuple[float, int]:
    started = time.perf_counter()
    readiness = assess_inputs([str(path)], spec, "SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09", None, False, None, None)
    elapsed = time.perf_counter() - started
    assert readiness.unread == 0, readiness.examples
    return elapsed, readiness.requests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        runs = [("json lines", None, "json", args.lines)]
        runs += [(f"{name}+tls", f"{name}+tls", log_format(f"{name}+tls").source, args.lines // 10)
                 for name in ("clf", "json", "csv", "xml")]
        for label, spec, fmt, count in runs:
            path = Path(directory) / f"{label}.log"
            write(path, fmt, count)
            elapsed, requests = timed(path, spec)
            print(f"{label:<12} {requests:>9} lines in {elapsed:6.2f}s: {requests / elapsed:>9,.0f} lines/s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (whole run, writing included): {peak:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
