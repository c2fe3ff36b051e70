"""`apigw-tls logs`: migration readiness from access logs, as a table or JSON."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Iterator, TextIO

from .catalog import load_catalog
from .errors import ConfigError
from .logs import LogFormat, Readiness, assess


def register(commands: Any) -> None:
    from .cli import endpoint_type_arg

    parser = commands.add_parser("logs", help="which clients a target policy (and STRICT) would refuse",
                                 description="Read API Gateway access logs (JSON lines, or --format) and report "
                                             "the clients, versions and suites a target policy would refuse, and "
                                             "for --strict the requests whose Host differs from the server name.")
    parser.add_argument("files", nargs="+", metavar="FILE", help="access-log files ('-' for standard input)")
    parser.add_argument("--policy", required=True, help="the policy you plan to move to")
    parser.add_argument("--endpoint-type", type=endpoint_type_arg, metavar="REGIONAL|PRIVATE|EDGE")
    parser.add_argument("--strict", action="store_true", help="also report Host/server-name mismatches")
    parser.add_argument("--server-name", help="the hostname clients connect to, when the logs carry no SNI")
    parser.add_argument("--format", help="the access-log format: a $context.* string, or the JSON template")
    parser.add_argument("--json", metavar="FILE", help="write the report as JSON")
    parser.set_defaults(run=run_logs)


def _open_all(paths: list[str]) -> list[TextIO]:
    """Open every file before reading any, so an unreadable one stops us before, not halfway."""
    handles: list[TextIO] = []
    for path in paths:
        try:
            handles.append(sys.stdin if path == "-" else open(path, encoding="utf-8", errors="replace"))
        except OSError as error:
            for handle in handles:
                handle.close()
            raise ConfigError(f"cannot read {path}: {error.strerror}") from None
    return handles


def _lines(handles: list[TextIO]) -> Iterator[tuple[int, str]]:
    for handle in handles:
        with handle:
            yield from enumerate(handle, 1)


def _print(readiness: Readiness, strict: bool) -> None:
    print(f"{readiness.requests} requests read; target policy {readiness.policy.id}")
    if readiness.unparsable:
        shown = ", ".join(map(str, readiness.unparsable[:5]))
        more = "..." if len(readiness.unparsable) > 5 else ""
        print(f"  {len(readiness.unparsable)} lines could not be parsed (lines {shown}{more})")
    print("  versions: " + ", ".join(f"{v} {n}{' REFUSED' if v in readiness.refused_versions else ''}"
                                     for v, n in readiness.per_version.most_common()))
    print("  suites:   " + ", ".join(f"{s} {n}{' REFUSED' if s in readiness.refused_suites else ''}"
                                     for s, n in readiness.per_suite.most_common()))
    if readiness.at_risk:
        print(f"  clients at risk ({len(readiness.at_risk)}): refused unless they also offer what the policy allows")
        for (ip, agent), reasons in sorted(readiness.at_risk.items(), key=lambda item: -sum(item[1].values())):
            print(f"    {ip:<40} {sum(reasons.values()):>6}  {'; '.join(reasons)}  [{agent}]")
    else:
        print("  no client negotiated anything the policy refuses")
    if strict:
        if readiness.strict_mismatches:
            print(f"  STRICT would refuse {sum(readiness.strict_mismatches.values())} requests (Host differs):")
            for (ip, name, host), count in readiness.strict_mismatches.most_common():
                print(f"    {ip:<40} {count:>6}  server name {name}, Host {host}")
        else:
            print("  STRICT: every request's Host matched its server name")


def run_logs(args: argparse.Namespace) -> int:
    catalog = load_catalog()
    policy = catalog.policy(args.policy, args.endpoint_type)
    fmt = LogFormat(args.format)
    readiness = assess(_lines(_open_all(args.files)), fmt, policy, catalog, args.strict, args.server_name)
    _print(readiness, args.strict)
    if args.json:
        try:
            with open(args.json, "w", encoding="utf-8") as handle:
                json.dump(readiness.to_dict(), handle, indent=2)
        except OSError as error:
            raise ConfigError(f"cannot write {args.json}: {error.strerror}") from None
    return 0
