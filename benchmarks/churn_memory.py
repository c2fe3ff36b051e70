"""Memory under control-plane churn: create a domain name, serve a handshake on it, update its policy,
delete it; again and again. RSS must reach a plateau, not grow with every domain's life.

    .venv/bin/python benchmarks/churn_memory.py [--cycles 6000]

Prints the process's RSS every tenth of the run (after a collection), and the growth from the first
reading to the last per 1,000 cycles.
"""

from __future__ import annotations

import argparse
import gc
import sys

from pytest_apigw_tls.reference_server import Endpoint, ReferenceServer, ServerConfig
from pytest_apigw_tls.reference_server.control import DOMAIN_NAME, ControlPlane

from pytest_apigw_tls.policy.codepoints import TlsVersion
from pytest_apigw_tls.probing.handshake import handshake_probe
from pytest_apigw_tls.probing.probes import Outcome, Target


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=6000)
    args = parser.parse_args()
    readings = []
    with ReferenceServer(ServerConfig((Endpoint("anchor.example.test", "TLS_1_2"),))) as server:
        plane = ControlPlane(server)
        for cycle in range(1, args.cycles + 1):
            name = f"d{cycle}.example.test"
            plane.create(DOMAIN_NAME, {"domainName": name, "securityPolicy": "TLS_1_2",
                                       "endpointConfiguration": {"types": ["REGIONAL"]}})
            answer = handshake_probe(Target(*server.address, name), 5, TlsVersion.TLSv1_2)
            assert answer.outcome is Outcome.ACCEPTED, answer.evidence
            plane.update(DOMAIN_NAME, name, [{"op": "replace", "path": "/securityPolicy",
                                              "value": "SecurityPolicy_TLS13_1_3_2025_09"},
                                             {"op": "replace", "path": "/endpointAccessMode", "value": "BASIC"}])
            plane.delete(DOMAIN_NAME, name)
            if cycle % max(1, args.cycles // 10) == 0:
                gc.collect()
                readings.append((cycle, rss_mb()))
                print(f"{cycle:>6} cycles: RSS {readings[-1][1]:.1f} MB", flush=True)
    (first_cycle, first), (last_cycle, last) = readings[0], readings[-1]
    per_thousand = (last - first) / max(1, last_cycle - first_cycle) * 1000
    print(f"growth from cycle {first_cycle} to {last_cycle}: {last - first:+.1f} MB ({per_thousand:+.2f} MB per 1,000 "
          "cycles; the earlier rise was 35 MB per 1,000)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
