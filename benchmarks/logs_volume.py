"""How fast `apigw-tls logs` reads, against DuckDB on the same file, measured in one run on this machine.

    .venv/bin/python benchmarks/logs_volume.py [--lines 1000000] [--many-clients 50000]

Writes LINES access-log lines in the reference server's JSON form (mixed TLS 1.0 CBC, TLS 1.2 and TLS
1.3 requests, over one day) from 256 clients, plain and gzipped, and again from MANY_CLIENTS clients
(plain), and times on each, side by side: DuckDB running the
generated Athena SQL (`logs --query athena`) over the file, `apigw-tls logs`' DuckDB engine
(logs/engine.py) and its reader alone (`--engine python`). The three must give the same clients at
risk, and the engine the reader's whole report (first and last seen included); the ratios to DuckDB
are printed. Then a tenth as many lines in each console preset with the TLS variables, read by the
reader (DuckDB reads the JSON preset), in lines per second. Peak memory at the end.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pytest_apigw_tls.reference_server.accesslog import format_line  # noqa: E402

from pytest_apigw_tls.logs.formats import log_format  # noqa: E402
from pytest_apigw_tls.logs.parallel import assess_inputs  # noqa: E402
from pytest_apigw_tls.logs.queries import athena_sql, rules_for  # noqa: E402
from pytest_apigw_tls.policy.catalog import builtin_catalog  # noqa: E402
from tests.helpers import duckdb_over_json_logs  # noqa: E402

POLICY = "SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09"
CLIENTS = [("TLSv1", "AES128-SHA"), ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256"), ("TLSv1.2", "AES256-SHA256"),
           ("TLSv1.3", "TLS_AES_128_GCM_SHA256")]


def write(path: Path, fmt: str, count: int, clients: int = 256) -> None:
    """`count` requests from `clients` addresses, spread over one day, as a busy API logs them."""
    rng = random.Random(7)
    start = datetime.datetime(2026, 11, 20, tzinfo=datetime.timezone.utc)
    with path.open("w") as handle:
        for index in range(count):
            version, suite = CLIENTS[index % len(CLIENTS)]
            when = start + datetime.timedelta(seconds=index * 86400 // count)
            handle.write(format_line(fmt, {
                "requestId": f"{index:08x}-0000-4000-8000-000000000000",
                "requestTime": when.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "identity.sourceIp": _address(rng.randrange(clients)), "identity.userAgent": "client/1.0",
                "httpMethod": "GET", "path": "/pets", "resourcePath": "/pets", "protocol": "HTTP/1.1",
                "status": 200, "responseLength": 42, "tlsVersion": version, "cipherSuite": suite,
                "host": "api.example.com", "sni": "api.example.com"}) + "\n")


def _address(number: int) -> str:
    return f"198.51.100.{number}" if number < 256 else f"10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}"


def by_duckdb(path: Path) -> tuple[float, dict[str, int]]:
    """DuckDB's own time for the same answer: the generated Athena SQL over a view of the file."""
    catalog = builtin_catalog()
    started = time.perf_counter()
    connection = duckdb_over_json_logs(path)
    rows = connection.execute(athena_sql(rules_for(catalog.policy(POLICY), catalog))).fetchall()
    refused: dict[str, int] = {}
    for ip, _agent, requests, _unjudged in rows:
        refused[ip] = refused.get(ip, 0) + requests
    return time.perf_counter() - started, refused


def by_us(path: Path, engine: str) -> tuple[float, dict[str, int], dict[str, Any]]:
    started = time.perf_counter()
    readiness = assess_inputs([str(path)], None, POLICY, None, False, None, None, engine=engine)
    elapsed = time.perf_counter() - started
    assert readiness.unread == 0, readiness.examples
    refused: dict[str, int] = {}
    for (ip, _agent), client in readiness.at_risk.items():
        refused[ip] = refused.get(ip, 0) + client.requests
    return elapsed, refused, readiness.to_dict()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--many-clients", type=int, default=50_000,
                        help="distinct addresses of the last run (the report then lists tens of thousands)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        plain = Path(directory) / "access.log"
        write(plain, "json", args.lines)
        gzipped = Path(directory) / "access.log.gz"
        with plain.open("rb") as source, gzip.open(gzipped, "wb", compresslevel=6) as target:
            shutil.copyfileobj(source, target)
        print(f"{args.lines:,} JSON lines, policy {POLICY}")
        many = Path(directory) / "many.log"
        write(many, "json", args.lines, args.many_clients)
        print(f"{'input':<24} {'DuckDB SQL':>11} {'engine':>8} {'ratio':>6} {'reader':>8} {'ratio':>6}")
        for label, path in (("plain, 256 clients", plain), ("gzip, 256 clients", gzipped),
                            (f"plain, {args.many_clients:,} clients", many)):
            duckdb_time, expected = by_duckdb(path)
            engine_time, engine_answer, engine_report = by_us(path, "duckdb")
            reader_time, reader_answer, reader_report = by_us(path, "python")
            assert engine_answer == reader_answer == expected, "the three readings differ"
            assert engine_report == reader_report, "the engine's report is not the reader's"
            print(f"{label:<24} {duckdb_time:>10.2f}s {engine_time:>7.2f}s {engine_time / duckdb_time:>5.2f}x "
                  f"{reader_time:>7.2f}s {reader_time / duckdb_time:>5.2f}x")
        runs = [(f"{name}+tls", f"{name}+tls", log_format(f"{name}+tls").source, args.lines // 10)
                for name in ("clf", "json", "csv", "xml")]
        for label, spec, fmt, count in runs:
            path = Path(directory) / f"{label}.log"
            write(path, fmt, count)
            started = time.perf_counter()
            readiness = assess_inputs([str(path)], spec, POLICY, None, False, None, None)
            elapsed = time.perf_counter() - started
            assert readiness.unread == 0, readiness.examples
            print(f"{label:<12} {readiness.requests:>9} lines in {elapsed:6.2f}s: "
                  f"{readiness.requests / elapsed:>9,.0f} lines/s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (whole run, writing included): {peak:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
