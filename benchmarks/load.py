"""Handshakes plus requests per second: the reference server, and nginx on the same machine in the
same run where nginx is installed, printed as a ratio.

    .venv/bin/python benchmarks/load.py [--clients 500] [--concurrency 50]

Both servers get the same policy, certificate type and client (pyOpenSSL, one TLS 1.3 handshake and
one HTTPS request per connection), so the ratio compares the servers; the Python client caps both.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import pathlib
import shutil
import sys
import time

from pytest_apigw_tls.reference_server import Endpoint, ReferenceServer, ServerConfig

from pytest_apigw_tls.policy.catalog import load_catalog
from pytest_apigw_tls.probing.access import http_probe
from pytest_apigw_tls.probing.probes import Target

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "examples" / "nginx"))
from nginx_policy import HOSTNAME, running_nginx  # noqa: E402

POLICY = "SecurityPolicy_TLS13_1_2_2021_06"


def hammer(target: Target, clients: int, concurrency: int) -> tuple[float, int, int]:
    """(seconds, completed, failed) for `clients` handshake+request connections."""
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        statuses = list(pool.map(lambda _: http_probe(target, target.sni, 30.0).status, range(clients)))
    elapsed = time.monotonic() - started
    completed = sum(status == 200 for status in statuses)
    return elapsed, completed, clients - completed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    config = ServerConfig((Endpoint(HOSTNAME, POLICY, access_mode="BASIC"),))
    with ReferenceServer(config) as server:
        ours, ok, failed = hammer(Target(*server.address, HOSTNAME), args.clients, args.concurrency)
    print(f"reference server: {args.clients} connections in {ours:.2f}s = {ok / ours:.0f} handshakes+requests/s "
          f"({ok} completed, {failed} failed cleanly)")
    if not (shutil.which("nginx") or pathlib.Path("/usr/sbin/nginx").exists()):
        print("nginx: not installed here (make nginx-example installs it); no ratio")
        return 0
    with running_nginx(load_catalog().policy(POLICY)) as address:
        theirs, ok_nginx, failed_nginx = hammer(Target(*address, HOSTNAME), args.clients, args.concurrency)
    print(f"nginx: {args.clients} connections in {theirs:.2f}s = {ok_nginx / theirs:.0f} handshakes+requests/s "
          f"({ok_nginx} completed, {failed_nginx} failed cleanly)")
    print(f"ratio reference / nginx throughput: {(ok / ours) / (ok_nginx / theirs):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
