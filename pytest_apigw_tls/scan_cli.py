"""`apigw-tls scan`: verdict table for one target and policy; exit 0 conforms, 1 violations, 2 errors."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from typing import TYPE_CHECKING

from .catalog import CERT_TYPES, load_catalog
from .errors import ConfigError
from .targets import is_ip_address, parse_host_port
from .verdicts import FAIL, INCONCLUSIVE, PASS

if TYPE_CHECKING:  # imported when a scan runs: `apigw-tls --help` and other subcommands skip OpenSSL and h11
    from .access import AccessVerdict
    from .scan import ScanResult


def register(commands: Any) -> None:
    from .cli import endpoint_type_arg

    parser = commands.add_parser("scan", help="probe a target and judge it against a policy",
                                 description="Probe HOST[:PORT] for every version, suite and group of a policy; "
                                             "exit 0 when it conforms, 1 on violations, 2 on errors or "
                                             "inconclusive probes.")
    parser.add_argument("target", metavar="HOST[:PORT]")
    parser.add_argument("--policy", required=True, help="policy name or catalog id (see `apigw-tls policies`)")
    parser.add_argument("--sni", help="server name to send (default: HOST unless it is an IP address)")
    parser.add_argument("--cert-type", choices=CERT_TYPES, help="certificate key type (default: detected)")
    parser.add_argument("--endpoint-type", type=endpoint_type_arg, metavar="REGIONAL|PRIVATE|EDGE",
                        help="picks the family of a legacy policy name (default REGIONAL)")
    parser.add_argument("--access-mode", choices=("BASIC", "STRICT"), type=str.upper,
                        help="also check the Host/SNI rules of this access mode over HTTPS")
    parser.add_argument("--strict-status", type=int, default=421, help="status of a STRICT refusal (default 421)")
    parser.add_argument("--json", metavar="FILE", help="write the full result as JSON")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per probe (default 5)")
    parser.add_argument("--retries", type=int, default=1, help="retries of an inconclusive probe (default 1)")
    parser.add_argument("--concurrency", type=int, default=8, help="probes in flight (default 8)")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds between probe starts (default 0)")
    parser.add_argument("-v", "--verbose", action="store_true", help="list passing verdicts too")
    parser.set_defaults(run=run_scan)


def _print_table(result: ScanResult, access: tuple[AccessVerdict, ...], verbose: bool) -> None:
    print(f"{result.target} policy {result.policy_id} ({result.cert_type} certificate): "
          f"{result.probes} probes in {result.elapsed:.2f}s")
    for verdict in result.verdicts:
        if verbose or verdict.verdict != PASS:
            e = verdict.expectation
            mark = " [inferred]" if e.provenance == "inferred" else ""
            print(f"  {verdict.verdict.upper():<12} {e.dimension:<8} {e.test_id:<58} observed {verdict.observed}: "
                  f"{verdict.evidence}{mark}")
    for access_verdict in access:
        if verbose or access_verdict.verdict != PASS:
            print(f"  {access_verdict.verdict.upper():<12} access   {access_verdict.expectation.test_id:<58} "
                  f"{access_verdict.evidence}")
    groups: dict[str, list[str]] = {}
    for verdict in result.verdicts:
        groups.setdefault(verdict.expectation.dimension, []).append(verdict.verdict)
    if access:
        groups["access"] = [v.verdict for v in access]
    for dimension, verdicts in sorted(groups.items()):
        print(f"  {dimension:<8} " + "  ".join(f"{k} {verdicts.count(k)}" for k in (PASS, FAIL, INCONCLUSIVE)))


def _progress(done: int, total: int) -> None:
    """A one-line counter on a terminal: real endpoints with --delay take minutes."""
    sys.stderr.write(f"\r  probing: {done}/{total} probe groups done" + ("\n" if done == total else ""))
    sys.stderr.flush()


def run_scan(args: argparse.Namespace) -> int:
    from .probes import ProbeSettings, Target
    from .scan import scan

    host, port = parse_host_port(args.target)
    sni = args.sni or (None if is_ip_address(host) else host)
    policy = load_catalog().policy(args.policy, args.endpoint_type)
    if args.timeout <= 0 or args.concurrency < 1 or args.retries < 0 or args.delay < 0:
        raise ConfigError("--timeout must be > 0, --concurrency >= 1, --retries and --delay >= 0")
    settings = ProbeSettings(args.timeout, args.retries, args.concurrency, args.delay)
    target = Target(host, port, sni)
    result = scan(target, policy, args.cert_type, settings, progress=_progress if sys.stderr.isatty() else None)
    access: tuple[AccessVerdict, ...] = ()
    if args.access_mode:
        from .access import access_scan

        access = access_scan(target, args.access_mode, args.timeout, args.strict_status)
    _print_table(result, access, args.verbose)
    if args.json:
        document = {**result.to_dict(), "access": [v.to_dict() for v in access]}
        try:
            with open(args.json, "w", encoding="utf-8") as handle:
                json.dump(document, handle, indent=2)
        except OSError as error:
            raise ConfigError(f"cannot write {args.json}: {error.strerror}") from None
    verdicts = [v.verdict for v in result.verdicts] + [v.verdict for v in access]
    if INCONCLUSIVE in verdicts:
        print(f"apigw-tls: {verdicts.count(INCONCLUSIVE)} inconclusive probes: no verdict on those", file=sys.stderr)
        return 2
    return 1 if FAIL in verdicts else 0
