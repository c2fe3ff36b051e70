"""`apigw-tls logs`: migration readiness from access logs, as a table, JSON or Markdown.

Exit status: 0 every request was read and no client would be refused (with --plan: a candidate is
safe); 1 clients would be refused, a pipeline gate (with --plan: no candidate is safe); 2 bad
input, or nothing in the input parsed as a request; 3 the reading is incomplete (unparsable lines,
duplicate keys or requests without the TLS variables above --max-unread), so "nobody at risk"
cannot be said (with --plan: no candidate can be judged).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..errors import ConfigError

READY, AT_RISK, ERROR, INCOMPLETE = 0, 1, 2, 3


def register(commands: Any) -> None:
    from .main import endpoint_type_arg

    parser = commands.add_parser(
        "logs", help="which clients a target policy (and STRICT) would refuse",
        description="Read API Gateway access logs (files, directories, .gz, '-' for standard input, CloudWatch "
                    "Logs exports, `aws logs filter-log-events`/`tail` output, Logs Insights CSV) and report the "
                    "clients, versions and suites a target policy would refuse. Exit 0 ready, 1 clients at risk, "
                    "2 bad input or nothing parsed, 3 incomplete reading.")
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help="access-log files or directories ('-': standard input)")
    parser.add_argument("--policy", help="the policy you plan to move to (or --plan: every candidate)")
    parser.add_argument("--plan", action="store_true",
                        help="judge every policy valid for the endpoint type (and your policy files) on these logs, "
                             "most permissive first, and name the strictest that refuses no one")
    parser.add_argument("--query", choices=("athena", "insights"),
                        help="with --policy: print the query that computes the clients at risk where the logs live "
                             "(Athena/Trino SQL over the table of the README's DDL, or CloudWatch Logs Insights) "
                             "instead of reading FILEs; with --plan (athena): every candidate in one query; with "
                             "--strict and no policy (athena): the requests STRICT would refuse")
    parser.add_argument("--max-refused", type=float, default=0.0, metavar="SHARE",
                        help="with --plan: the share of requests a policy may refuse and still count as safe "
                             "(default 0)")
    parser.add_argument("--endpoint-type", type=endpoint_type_arg, metavar="REGIONAL|PRIVATE|EDGE")
    parser.add_argument("--strict", action="store_true", help="also report Host/server-name mismatches")
    parser.add_argument("--server-name", help="the hostname clients connect to, when the logs carry no SNI")
    parser.add_argument("--format", help="the access-log format: a console preset (clf, json, xml, csv; add +tls "
                                         "when you appended the two TLS variables), a $context string, or the JSON "
                                         "template (default: JSON lines keyed by variable name)")
    parser.add_argument("--max-unread", type=float, default=0.0, metavar="SHARE",
                        help="share of lines that may go unread before the exit status says so (default 0)")
    parser.add_argument("--split-at", metavar="TIME", help="compare the traffic at risk before and after this time "
                                                           "(ISO 8601): is the legacy traffic going down?")
    parser.add_argument("--engine", choices=("auto", "duckdb", "python"), default="auto",
                        help="who reads large JSON-lines files: DuckDB (pip install 'pytest-apigw-tls[logs]'), "
                             "with the reader taking over any file it cannot read exactly, or the reader alone; "
                             "auto: DuckDB for files holding 16 MiB of text and more when it is installed (default)")
    parser.add_argument("--json", metavar="FILE", help="write the report as JSON ('-': standard output)")
    parser.add_argument("--markdown", metavar="FILE", help="write the report as Markdown (for a change ticket)")
    parser.set_defaults(run=run_logs)


def _print(readiness: Any, strict: bool, out: Any) -> None:
    from ..logs.readiness import printable, ranked

    print(f"{readiness.requests} requests read from {readiness.lines} lines; target policy {readiness.policy.id}",
          file=out)
    if readiness.unread:
        print(f"  NOT READ: {readiness.unparsable} unparsable lines, {readiness.duplicate_keys} with duplicate keys, "
              f"{readiness.without_tls} requests without $context.tlsVersion, {readiness.without_suite} without the "
              "$context.cipherSuite that decides them: they could hide clients", file=out)
        for example in readiness.shown_examples():
            print(f"    {example}", file=out)
    print("  versions: " + ", ".join(f"{printable(v)} {n}{' REFUSED' if v in readiness.refused_versions else ''}"
                                     for v, n in ranked(readiness.per_version)), file=out)
    print("  suites:   " + ", ".join(f"{printable(s)} {n}{' REFUSED' if s in readiness.refused_suites else ''}"
                                     for s, n in ranked(readiness.per_suite)), file=out)
    if readiness.at_risk:
        print(f"  clients at risk ({len(readiness.at_risk)}, {readiness.requests_at_risk} requests, "
              f"{readiness.share_at_risk:.2%} of traffic): refused unless they also offer what the policy allows",
              file=out)
        for (ip, agent), client in readiness.ranked_clients():
            seen = f" {client.first_seen} .. {client.last_seen}" if client.first_seen else ""
            reasons = "; ".join(reason for reason, _count in ranked(client.reasons))
            print(f"    {ip:<40} {client.requests:>7}  {reasons}  [{agent}]{seen}", file=out)
    elif readiness.unread:
        print("  no client read negotiated anything the policy refuses; the lines not read could", file=out)
    else:
        print("  no client negotiated anything the policy refuses", file=out)
    for label, (requests, at_risk) in readiness.windows.items():
        print(f"  {label} --split-at: {at_risk} of {requests} requests at risk", file=out)
    if strict:
        if readiness.strict_mismatches:
            refused = sum(readiness.strict_mismatches.values())
            print(f"  STRICT would refuse {refused} requests (Host differs):", file=out)
            for (ip, name, host), count in readiness.strict_mismatches.most_common():
                print(f"    {ip:<40} {count:>6}  server name {name}, Host {host}", file=out)
        else:
            print("  STRICT: every request's Host matched its server name", file=out)


def markdown(readiness: Any) -> str:
    data = readiness.to_dict()
    lines = [f"# Migration readiness: {data['policy']}", "",
             f"{data['requests']} requests read from {data['lines']} lines; {data['requests_at_risk']} at risk "
             f"({data['share_at_risk']:.2%}).", ""]
    unread = data["unread"]
    if readiness.unread:
        lines += [f"**Incomplete:** {unread['unparsable']} unparsable lines, {unread['duplicate_keys']} with duplicate "
                  f"keys, {unread['without_tls_values']} requests without the TLS variables, "
                  f"{unread['without_cipher_suite']} without the cipher suite that decides them.", ""]
    lines += ["| client | user agent | requests | why | first seen | last seen |", "|---|---|---|---|---|---|"]
    for client in data["clients_at_risk"]:
        cells = [client["source_ip"], client["user_agent"], str(client["requests"]), "; ".join(client["reasons"]),
                 client["first_seen"] or "-", client["last_seen"] or "-"]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def run_logs(args: argparse.Namespace) -> int:
    from ..logs.formats import log_format
    from ..logs.parallel import assess_inputs
    from ..logs.readiness import parse_time

    if args.query and args.strict and not (args.policy or args.plan):
        return _print_strict_query(args)
    if bool(args.policy) == bool(args.plan):
        raise ConfigError("give --policy NAME (one target policy) or --plan (every candidate), one of them")
    if args.query:
        return _print_query(args)
    if not args.files:
        raise ConfigError("give the access-log FILEs to read (or --query to print a query instead)")
    fmt = log_format(args.format)
    split_at = None
    if args.split_at:
        split_at = parse_time(args.split_at)
        if split_at is None:
            raise ConfigError(f"--split-at {args.split_at!r} is not a time (ISO 8601, e.g. 2026-11-20T00:00:00Z)")
    if not 0 <= args.max_unread <= 1 or not 0 <= args.max_refused <= 1:
        raise ConfigError("--max-unread and --max-refused are shares between 0 and 1")
    if args.plan:
        return _run_plan(args, split_at)
    policy = args.catalog.policy(args.policy, args.endpoint_type)
    readiness = assess_inputs(args.files, args.format, policy.id, args.endpoint_type, args.strict, args.server_name,
                              split_at, progress=sys.stderr.isatty(), policy_files=tuple(args.policy_file or ()),
                              engine=args.engine)
    out = sys.stderr if args.json == "-" else sys.stdout
    _print(readiness, args.strict, out)
    _write(args.json, json.dumps(readiness.to_dict(), indent=2) + "\n")
    _write(args.markdown, markdown(readiness))
    if readiness.requests == 0:
        raise ConfigError(f"no line of the input parsed as a request in the format {fmt.kind!r} "
                          f"({readiness.lines} lines read): nothing can be said about any client")
    if readiness.at_risk or readiness.strict_mismatches and args.strict:
        return AT_RISK
    if readiness.lines and readiness.unread / readiness.lines > args.max_unread:
        print(f"apigw-tls: {readiness.unread} of {readiness.lines} lines not read: the reading is incomplete",
              file=sys.stderr)
        return INCOMPLETE
    return READY


def _write(path: str | None, text: str) -> None:
    from ..reports.document import write_text

    if path:
        write_text(path, text)


PLAN_CLIENTS_SHOWN = 20  # per candidate in the text: a plan over every candidate, not a client list


def _run_plan(args: argparse.Namespace, split_at: Any) -> int:
    """`logs --plan`: every candidate on the same logs. Exit 0 when a candidate is safe, 1 when none is
    (each refuses too much or cannot be judged), 3 when no candidate can be judged at all."""
    from ..logs.plan import needed_change, plan, strictest_safe

    candidates = plan(args.files, args.format, args.endpoint_type, args.catalog, tuple(args.policy_file or ()),
                      split_at, progress=sys.stderr.isatty(), engine=args.engine)
    if not candidates or candidates[0].readiness.requests == 0:
        raise ConfigError("no line of the input parsed as a request: no policy can be judged")
    best = strictest_safe(candidates, args.max_refused)
    out = sys.stderr if args.json == "-" else sys.stdout
    first = candidates[0].readiness
    print(f"{first.requests} requests read from {first.lines} lines; {len(candidates)} candidate policies, "
          "most permissive first", file=out)
    print(f"  {'policy':<44} {'refused':>8} {'share':>8} {'clients':>7} {'undecided':>9}", file=out)
    for candidate in candidates:
        r = candidate.readiness
        mark = "  <- strictest safe" if candidate is best else ""
        print(f"  {candidate.policy.id:<44} {r.requests_at_risk:>8} {r.share_at_risk:>8.2%} {len(r.at_risk):>7} "
              f"{candidate.undecided:>9}{mark}", file=out)
    if best is None:
        print(f"  no candidate refuses at most {args.max_refused:.2%} of requests with nothing undecided", file=out)
    for candidate in candidates:
        if candidate.readiness.at_risk and (best is None or candidate.policy is not best.policy):
            print(f"  under {candidate.policy.id}, these clients must offer {needed_change(candidate.policy)}:",
                  file=out)
            ranked = candidate.readiness.ranked_clients()
            for (ip, agent), client in ranked[:PLAN_CLIENTS_SHOWN]:
                print(f"    {ip:<40} {client.requests:>7}  {'; '.join(sorted(client.reasons))}  [{agent}]", file=out)
            if len(ranked) > PLAN_CLIENTS_SHOWN:
                print(f"    ... and {len(ranked) - PLAN_CLIENTS_SHOWN} more (--json or --markdown lists them all)",
                      file=out)
    if args.json or args.markdown:
        document = {"requests": first.requests, "lines": first.lines, "max_refused": args.max_refused,
                    "strictest_safe": best.policy.id if best else None,
                    "candidates": [c.to_dict(args.max_refused) for c in candidates]}
        _write(args.json, json.dumps(document, indent=2) + "\n")
        _write(args.markdown, _plan_markdown(document))
    if all(c.undecided for c in candidates):
        return INCOMPLETE
    return READY if best is not None else AT_RISK


def _plan_markdown(document: dict[str, Any]) -> str:
    lines = ["# Migration plan", "",
             f"{document['requests']} requests read; strictest policy refusing at most "
             f"{document['max_refused']:.2%}: **{document['strictest_safe'] or 'none'}**.", "",
             "| policy | refused | share | clients | undecided | safe |", "|---|---|---|---|---|---|"]
    for c in document["candidates"]:
        lines.append(f"| {c['policy']} | {c['requests_refused']} | {c['share_refused']:.2%} | {c['clients_refused']} "
                     f"| {c['undecided']} | {'yes' if c['safe'] else 'no'} |")
    for c in document["candidates"]:
        if c["clients"]:
            lines += ["", f"## Under {c['policy']}, clients must offer {c['needed']}", "",
                      "| client | user agent | requests | why |", "|---|---|---|---|"]
            lines += [f"| {x['source_ip']} | {x['user_agent'].replace('|', chr(92) + '|')} | {x['requests']} | "
                      f"{'; '.join(x['reasons'])} |" for x in c["clients"]]
    return "\n".join(lines) + "\n"


def _print_strict_query(args: argparse.Namespace) -> int:
    from ..logs.queries import athena_strict_sql

    if args.query == "insights":
        raise ConfigError("the STRICT query needs each Host normalized as API Gateway compares it, which Logs "
                          "Insights cannot express: use --strict --query athena, or read the logs with --strict")
    sys.stdout.write(athena_strict_sql(args.server_name))
    return 0


def _print_query(args: argparse.Namespace) -> int:
    from ..logs.plan import candidates
    from ..logs.queries import athena_plan_sql, athena_sql, insights_query, rules_for

    if args.plan:
        if args.query == "insights":
            raise ConfigError("Logs Insights cannot judge several policies in one query: print one per policy "
                              "with --query insights --policy NAME (or --plan --query athena)")
        policies = candidates(args.catalog, args.endpoint_type)
        sys.stdout.write(athena_plan_sql([rules_for(policy, args.catalog) for policy in policies]))
        return 0
    rules = rules_for(args.catalog.policy(args.policy, args.endpoint_type), args.catalog)
    sys.stdout.write(athena_sql(rules) if args.query == "athena" else insights_query(rules))
    return 0

