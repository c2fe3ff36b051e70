"""`apigw-tls matrix -- COMMAND ...`: any client program, once per policy, and what the server saw.

Answers the migration question for clients that are not Python (curl, openssl s_client, a Java or
Go program): each policy gets an endpoint of its own on the reference server, the command runs with
{url}, {host}, {port} and {ca} substituted, and the server's record of the connection says whether
the client connected (and with what) or was refused (and why). A client that sends no SNI for a
single-label name (Java) runs as in production with {dotted_url} (the endpoint's own hostname) and
{hosts_file} (a hosts file resolving it: java -Djdk.net.hosts.file={hosts_file}).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from typing import Any

from ..errors import ConfigError

PLACEHOLDERS = ("{url}", "{host}", "{port}", "{ca}", "{dotted_url}", "{hosts_file}")


def register(commands: Any) -> None:
    from .main import endpoint_type_arg

    parser = commands.add_parser(
        "matrix", help="run a client command once per policy and say which policies it can connect under",
        description="Run COMMAND once per policy against a reference-server endpoint for it, with {url}, {host}, "
                    "{port} and {ca} substituted ({dotted_url} and {hosts_file} for clients that need a dotted "
                    "name to send SNI, e.g. Java); print what each connection negotiated or why it was refused. "
                    "Exit 0 when the client connected under every policy asked, 1 when some refused it, 2 when "
                    "the command did not reach the server. "
                    "Example: apigw-tls matrix -- curl -s -o /dev/null --cacert {ca} {url}")
    parser.add_argument("--endpoint-type", type=endpoint_type_arg, metavar="REGIONAL|PRIVATE|EDGE",
                        help="only the policies of this endpoint type")
    parser.add_argument("--cert-type", choices=("rsa", "ecdsa"), default="rsa", help="certificate type (default rsa)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds the command may take (default 30)")
    parser.add_argument("--policy", action="append", metavar="NAME",
                        help="only this policy (repeatable; default: every policy of the endpoint type)")
    parser.add_argument("--json", metavar="FILE", help="write the matrix as JSON ('-': standard output)")
    parser.add_argument("command", nargs=argparse.REMAINDER, metavar="-- COMMAND ...")
    parser.set_defaults(run=run_matrix)


def _outcome(connections: list[dict[str, Any]]) -> tuple[str, str]:
    if not connections:
        return "no connection", "the server saw no TLS connection from the command"
    last = connections[-1]
    if "refused" in last:
        return "refused", f"{last['refused']}: {last['reason']}"
    return "connected", f"{last['tlsVersion']} {last['cipherSuite']} {last.get('tlsGroup') or ''}".strip()


def run_matrix(args: argparse.Namespace) -> int:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise ConfigError("give the client command after --, e.g. -- curl -s --cacert {ca} {url}")
    if not any(p in part for part in command for p in PLACEHOLDERS):
        raise ConfigError("the command names no {url}, {host}, {port} or {ca}: it would not reach the server")
    from ..client import policies, serve
    from ..reference_server import ReferenceServer
    from ..reference_server.config import default_config

    asked = [args.catalog.policy(name, args.endpoint_type).id for name in args.policy] if args.policy else \
        policies(args.endpoint_type)  # an unknown name: one line with a did-you-mean
    rows = []
    with ReferenceServer(default_config(args.catalog)) as server:
        for policy in asked:
            endpoint = serve(server, policy, args.cert_type)
            argv = [part.replace("{url}", endpoint.url).replace("{host}", endpoint.hostname)
                    .replace("{port}", str(endpoint.port)).replace("{ca}", endpoint.ca_file)
                    .replace("{dotted_url}", endpoint.dotted_url).replace("{hosts_file}", endpoint.hosts_file)
                    for part in command]
            try:
                status: int | str = subprocess.run(argv, capture_output=True, timeout=args.timeout).returncode
            except FileNotFoundError:
                raise ConfigError(f"cannot run {argv[0]!r}: not found") from None
            except subprocess.TimeoutExpired:
                status = "timeout"
            result, detail = _outcome(endpoint.connections)
            rows.append({"policy": policy, "exit_status": status, "result": result, "detail": detail})
    out = sys.stderr if args.json == "-" else sys.stdout
    print(f"{'policy':<44} {'exit':>5}  {'result':<13} negotiated / why refused", file=out)
    for row in rows:
        print(f"{row['policy']:<44} {row['exit_status']!s:>5}  {row['result']:<13} {row['detail']}", file=out)
    connected = sum(row["result"] == "connected" for row in rows)
    print(f"{connected} of {len(rows)} policies let this client connect", file=out)
    if args.json:
        from ..reports.document import write_json

        write_json(args.json, rows)
    if any(row["result"] == "no connection" for row in rows):
        return 2
    return 0 if connected == len(rows) else 1
