"""`apigw-tls`: one console script, one subcommand per job.

Every error the user can cause ends as one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ..errors import ApigwTlsError
from ..policy.catalog import ENDPOINT_TYPES, Policy, load_catalog


class _Parser(argparse.ArgumentParser):
    """argparse that reports misuse in one line (no usage dump) and exits 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def endpoint_type_arg(text: str) -> str:
    upper = text.upper()
    if upper not in ENDPOINT_TYPES:
        raise argparse.ArgumentTypeError(f"unknown endpoint type {text!r} (choose from {', '.join(ENDPOINT_TYPES)})")
    return upper


def add_policy_file_option(parser: argparse.ArgumentParser) -> None:
    """--policy-file FILE (repeatable): your own policies, usable wherever the catalog's are."""
    parser.add_argument("--policy-file", action="append", metavar="FILE",
                        help="a TOML file of your own [[policy]] tables (the catalog's schema); repeatable")


def _policy_row(policy: Policy) -> str:
    versions = ",".join(v.label.removeprefix("TLSv") for v in policy.versions.value)
    inferred = [name for name, fact in (("versions", policy.versions), ("tls1.3", policy.tls13_suites),
                                        ("tls1.2", policy.tls12_suites), ("groups", policy.groups))
                if fact.inferred]
    def count(fact: object) -> str:
        return "?" if fact.unknown else str(len(fact.value))  # type: ignore[attr-defined]
    groups = "unknown" if policy.groups.unknown else "PQ" if policy.is_post_quantum else "classic"
    marks = ",".join(inferred) or "-"
    if policy.unknown_facts:
        marks += "; unknown: " + ",".join(policy.unknown_facts)
    return (f"{policy.id:<44} {'/'.join(policy.endpoint_types):<16} {versions:<16} "
            f"{count(policy.tls13_suites):>3} {count(policy.tls12_suites):>4} {groups:<8} {marks}")


def run_policies(args: argparse.Namespace) -> int:
    if args.from_scan:
        from ..reports.derive import policy_from_scan
        from ..reports.document import write_text

        write_text(args.output or "-", policy_from_scan(args.from_scan, args.name))
        return 0
    policies = args.catalog.policies_for(args.endpoint_type)
    if args.json:
        import json

        json.dump([p.to_dict() for p in policies], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    print(f"{'policy':<44} {'endpoint types':<16} {'versions':<16} {'1.3':>3} {'1.2-':>4} {'groups':<8} inferred")
    for policy in policies:
        print(_policy_row(policy))
    print(f"{len(policies)} policies; suite columns count TLS 1.3 and TLS 1.2-and-below suites (? undocumented)")
    return 0


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    parser = _Parser(prog="apigw-tls", description="Prove what a TLS endpoint accepts under an API Gateway "
                                                   "TLS security policy.")
    parser.add_argument("--version", action=_VersionAction, nargs=0, help="show the version and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    policies = commands.add_parser("policies", help="list the policy catalog")
    policies.add_argument("--json", action="store_true", help="print the catalog as JSON")
    policies.add_argument("--endpoint-type", type=endpoint_type_arg, metavar="REGIONAL|PRIVATE|EDGE",
                          help="only the policies valid for this endpoint type")
    policies.add_argument("--from-scan", metavar="REPORT.json",
                          help="write the policy file a scanned server actually enforces (from `apigw-tls scan "
                               "--json` or a plugin --apigw-json report), to pin today's behaviour")
    policies.add_argument("--name", help="the id of the derived policy (default: Observed-<target>)")
    policies.add_argument("--output", metavar="FILE", help="write the derived policy file here (default: stdout)")
    add_policy_file_option(policies)
    policies.set_defaults(run=run_policies)

    chosen = _chosen_command(sys.argv[1:] if argv is None else argv)
    for name, module in SUBCOMMANDS.items():
        if chosen in (None, name):
            importlib.import_module(module).register(commands)
            if name in ("scan", "serve", "logs", "matrix"):
                add_policy_file_option(commands.choices[name])
        else:  # never parsed: argparse hands the arguments to the chosen command's parser only
            commands.add_parser(name)
    return parser


SUBCOMMANDS = {  # command: the module beside its subject (server, scanner) that registers it
    "serve": "pytest_apigw_tls.reference_server.cli",
    "scan": "pytest_apigw_tls.cli.scan",
    "logs": "pytest_apigw_tls.cli.logs",
    "matrix": "pytest_apigw_tls.cli.matrix",
    "diff": "pytest_apigw_tls.cli.diff",
    "discover": "pytest_apigw_tls.cli.discover",
    "admin": "pytest_apigw_tls.reference_server.admin_cli",
}


def _chosen_command(argv: Sequence[str]) -> str | None:
    """The subcommand asked for, when argv names one; None (register them all) for --help or a typo.

    Importing only the chosen module keeps `apigw-tls scan` from loading the reference server."""
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    return first if first in SUBCOMMANDS or first == "policies" else None


class _VersionAction(argparse.Action):
    """--version, looked up only when asked for (importlib.metadata costs a scan 25 ms of start-up)."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(f"{parser.prog} {_version()}")
        parser.exit()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pytest-apigw-tls")
    except PackageNotFoundError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser(argv).parse_args(argv)
    try:
        if hasattr(args, "policy_file"):  # the commands that read policies: the run's catalog, built once
            args.catalog = load_catalog(args.policy_file or ())
        return int(args.run(args))
    except ApigwTlsError as error:
        print(f"apigw-tls: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `apigw-tls ... | head`: the reader has gone; end quietly, as Unix tools do
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


def run() -> None:
    """The console script: main(), then an exit without the interpreter's teardown.

    Every command has closed its files and joined its threads when main() returns, and the standard
    streams are flushed here; the teardown only frees what the OS frees anyway, and took 20-25 ms of
    a 0.2 s scan. An exception still ends the ordinary way, with its traceback."""
    import os

    status = main()
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # the reader has gone (see main): end quietly
        status = status or 1
    try:
        sys.stderr.flush()
    except BrokenPipeError:
        pass
    os._exit(status)


if __name__ == "__main__":
    run()
