"""False verdicts behind hostile fronts, counted over seeded runs, and the memory a hostile peer costs.

Part 1: a faithful server and a wrong one (TLS_1_2 that also accepts one registry suite: one FAIL on a
direct scan) are scanned through a front that drops a share of connections after the ClientHello
(FIN, RST or a handshake_failure alert), with a different seed each run. A false pass is a scan of the
wrong server exiting 0; a false fail is a scan of the faithful one exiting 1. Both must be 0.

Part 2: `apigw-tls scan` in a child process against peers sending oversized first flights (a
ServerHello or a Certificate whose header claims 16 MiB, then the bytes, slowly); peak RSS must stay
under 100 MB at --timeout 15 --concurrency 16.

Usage: python benchmarks/flaky_fronts.py [--runs 200] [--rates 0.05,0.1,0.2] [--kinds fin,rst,alert]
"""

from __future__ import annotations

import argparse
import collections
import pathlib
import resource
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from pytest_apigw_tls.reference_server import ReferenceServer  # noqa: E402
from pytest_apigw_tls.reference_server.config import policy_slug  # noqa: E402
from pytest_apigw_tls.reference_server.mutants import mutant_server  # noqa: E402

from pytest_apigw_tls.policy.catalog import load_catalog  # noqa: E402
from pytest_apigw_tls.probing.probes import ProbeSettings, Target  # noqa: E402
from pytest_apigw_tls.probing.scan import scan  # noqa: E402
from tests.fronts import FrontBehaviour, HostileFront  # noqa: E402
from tests.hostile import HostileServer, read_hello, server_hello  # noqa: E402

POLICY = load_catalog().policy("TLS_1_2")
SNI = f"{policy_slug(POLICY)}.rsa.apigw.test"


def exit_status(result) -> int:
    return 0 if result.conforms else 1 if result.count("fail") else 2


def false_verdicts(runs: int, rates: list[float], kinds: list[str]) -> None:
    """Per drop rate, `runs` seeded runs, the drop kind cycling through `kinds` with the seed."""
    print(f"{'drop':>5} {'runs':>5} {'false pass':>11} {'false fail':>11} {'wrong exit 1/2':>15} "
          f"{'faithful exit 0/2':>18} {'s/scan':>7}  (kinds: {','.join(kinds)})")
    with ReferenceServer() as faithful, mutant_server("registry-suite") as wrong:
        for rate in rates:
            counts: collections.Counter[str] = collections.Counter()
            started = time.monotonic()
            for seed in range(runs):
                behaviour = FrontBehaviour(drop_rate=rate, drop_with=kinds[seed % len(kinds)], seed=seed)
                for name, server in (("wrong", wrong), ("faithful", faithful)):
                    with HostileFront(server.address, behaviour) as front:
                        result = scan(Target(*front.address, SNI), POLICY, "rsa", ProbeSettings(timeout=2))
                    counts[f"{name}-{exit_status(result)}"] += 1
            per_scan = (time.monotonic() - started) / (2 * runs)
            print(f"{rate:>5.2f} {runs:>5} {counts['wrong-0']:>11} {counts['faithful-1']:>11} "
                  f"{counts['wrong-1']:>9}/{counts['wrong-2']:<5} {counts['faithful-0']:>12}/{counts['faithful-2']:<5} "
                  f"{per_scan:>7.2f}", flush=True)


def oversized_server_hello(sock) -> None:
    read_hello(sock)
    sock.sendall(b"\x16\x03\x03\x00\x04\x02\xff\xff\xff")  # a record whose ServerHello claims 16 MiB
    _trickle(sock)


def oversized_certificate(sock) -> None:
    read_hello(sock)
    sock.sendall(server_hello(0x0303, 0xC02F) + b"\x16\x03\x03\x00\x04\x0b\xff\xff\xff")  # Certificate: 16 MiB
    _trickle(sock)


def _trickle(sock) -> None:
    for _ in range(1024):  # 16 MiB in 16 KiB records, as slowly as a timeout allows
        sock.sendall(b"\x16\x03\x03\x40\x00" + b"\x00" * 0x4000)
        time.sleep(0.01)


def peak_rss(behaviour) -> tuple[float, int]:
    """Peak RSS (MB) of one `apigw-tls scan` child against `behaviour`, and its exit status."""
    with HostileServer(behaviour) as server:
        host, port = server.address
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        command = [sys.executable, "-m", "pytest_apigw_tls.cli.main", "scan", f"{host}:{port}", "--sni", SNI,
                   "--policy", "SecurityPolicy_TLS13_1_2_2021_06", "--cert-type", "rsa", "--timeout", "15",
                   "--concurrency", "16"]
        status = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(before, after) / 1024, status


def memory() -> None:
    for name, behaviour in (("ServerHello claiming 16 MiB", oversized_server_hello),
                            ("Certificate claiming 16 MiB", oversized_certificate)):
        started = time.monotonic()
        rss, status = peak_rss(behaviour)
        print(f"{name}: peak RSS {rss:.0f} MB (goal < 100), exit {status}, {time.monotonic() - started:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200,
                        help="seeded runs per drop rate, the kinds taking turns (default 200)")
    parser.add_argument("--rates", default="0.05,0.1,0.2", help="drop rates (default 0.05,0.1,0.2)")
    parser.add_argument("--kinds", default="fin,rst,alert", help="how a drop ends (default fin,rst,alert)")
    args = parser.parse_args()
    memory()
    false_verdicts(args.runs, [float(r) for r in args.rates.split(",")], args.kinds.split(","))


if __name__ == "__main__":
    main()
