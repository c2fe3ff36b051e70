"""`apigw-tls scan`: verdict tables for one target or a targets file; exit 0 conforms, 1 violations, 2 errors.

With --targets the scans run side by side within one global probe budget (fleet.py), exactly as the
pytest plugin runs them, from the same file format, to the same verdicts.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import sys
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from ..errors import ApigwTlsError, ConfigError
from ..vocabulary import FAIL, INCONCLUSIVE, PASS, REPORTED, Dimension

if TYPE_CHECKING:  # imported when a scan runs: `apigw-tls --help` and other subcommands skip OpenSSL and h11
    import threading

    from ..probing.access import AccessVerdict
    from ..probing.probes import ProbeSettings
    from ..probing.scan import ScanResult
    from ..probing.targets import TargetSpec


def register(commands: Any) -> None:
    from ..probing.settings import SETTINGS
    from .main import endpoint_type_arg

    parser = commands.add_parser("scan", help="probe targets and judge each against its policy",
                                 description="Probe HOST[:PORT] (or every target of --targets FILE) for every "
                                             "version, suite and group of a policy; exit 0 when all conform, 1 on "
                                             "violations, 2 on errors, unreachable targets or inconclusive probes.")
    parser.add_argument("target", metavar="HOST[:PORT]", nargs="?", help="one target (or use --targets)")
    parser.add_argument("--targets", metavar="FILE", help="TOML file of [[target]] tables, as for the plugin")
    parser.add_argument("--policy", help="policy name or catalog id (see `apigw-tls policies`)")
    parser.add_argument("--sni", help="server name to send (default: HOST unless it is an IP address)")
    parser.add_argument("--cert-type", metavar="rsa|ecdsa|rsa,ecdsa",
                        help="certificate key type(s) (default: detected)")
    parser.add_argument("--endpoint-type", type=endpoint_type_arg, metavar="REGIONAL|PRIVATE|EDGE",
                        help="picks the family of a legacy policy name (default REGIONAL)")
    parser.add_argument("--access-mode", choices=("BASIC", "STRICT"), type=str.upper,
                        help="also check the Host/SNI rules of this access mode over HTTPS")
    parser.add_argument("--other-path", metavar="HOST:PORT",
                        help="an arrival path of another endpoint type: STRICT must refuse requests through it")
    parser.add_argument("--strict-status", type=int, default=421, help="status of a STRICT refusal (default 421)")
    parser.add_argument("--json", metavar="FILE", help="write the full result as JSON ('-': standard output)")
    for setting in SETTINGS:
        parser.add_argument(f"--{setting.name}", metavar=setting.metavar, help=setting.help_with_default)
    parser.add_argument("-v", "--verbose", action="store_true", help="list passing verdicts too")
    parser.set_defaults(run=run_scan)


class OtherCase(NamedTuple):
    """A case beside the TLS scan's own: access, sni, alignment or cert."""

    dimension: Dimension
    test_id: str
    verdict: str
    message: str


def _print_table(out: Any, name: str, result: ScanResult, others: list[OtherCase], verbose: bool) -> None:
    print(f"{name}: {result.target} policy {result.policy_id} ({result.cert_type} certificate): "
          f"{result.probes} probes in {result.elapsed:.2f}s", file=out)
    for note in result.notes:
        print(f"  note: {note}", file=out)
    for verdict in result.verdicts:
        if verbose or verdict.verdict != PASS:
            e = verdict.expectation
            mark = {"inferred": " [inferred]", "unknown": " [undocumented]"}.get(e.provenance, "")
            print(f"  {verdict.verdict.upper():<12} {e.dimension:<8} {e.test_id:<58} observed {verdict.observed}: "
                  f"{verdict.evidence}{mark}", file=out)
    for case in others:
        if verbose or case.verdict != PASS:
            print(f"  {case.verdict.upper():<12} {case.dimension:<8} {case.test_id:<58} {case.message}", file=out)
    groups: dict[str, list[str]] = {}
    for verdict in result.verdicts:
        groups.setdefault(verdict.expectation.dimension, []).append(verdict.verdict)
    for case in others:
        groups.setdefault(case.dimension, []).append(case.verdict)
    for dimension, verdicts in sorted(groups.items()):
        print(f"  {dimension:<9} " + "  ".join(f"{k} {verdicts.count(k)}" for k in (PASS, FAIL, INCONCLUSIVE, REPORTED)
                                                if k != REPORTED or k in verdicts), file=out)


def _progress(done: int, total: int) -> None:
    """A one-line counter on a terminal: real endpoints with --delay take minutes."""
    sys.stderr.write(f"\r  probing: {done}/{total} probe groups done" + ("\n" if done == total else ""))
    sys.stderr.flush()


def _specs(args: argparse.Namespace) -> list[TargetSpec]:
    from ..probing.targets import load_targets_file, make_target, unique_names

    if args.targets:
        if args.target or args.policy:
            raise ConfigError("give HOST[:PORT] with --policy, or --targets FILE, not both")
        return load_targets_file(args.targets, args.catalog)
    if not args.target or not args.policy:
        raise ConfigError("give HOST[:PORT] and --policy NAME (or --targets FILE)")
    spec = make_target(args.target, args.policy, args.sni, args.endpoint_type, args.cert_type, args.access_mode,
                       args.strict_status, catalog=args.catalog)
    if args.other_path:
        from ..probing.targets import parse_host_port

        parse_host_port(args.other_path)
        spec = dataclasses.replace(spec, other_path=args.other_path)
    return unique_names([spec], [False])


def run_scan(args: argparse.Namespace) -> int:
    from ..probing.fleet import Fleet, FleetSettings
    from ..probing.probes import ProbeSettings
    from ..probing.scan import scan
    from ..probing.settings import read_settings

    args.settings = read_settings(lambda name: getattr(args, name.replace("-", "_")), "--")
    specs = _specs(args)
    settings = ProbeSettings.from_values(args.settings)
    progress = _progress if sys.stderr.isatty() and len(specs) == 1 else None
    scanned = specs + [b for s in specs if (b := s.resolve_default_endpoint()) is not None]

    def scanning(spec: TargetSpec) -> Callable[[threading.Semaphore], ScanResult]:
        return lambda budget: scan(spec.resolve(), spec.policy, spec.cert_type, settings, spec.catalog,
                                   progress=progress, budget=budget)

    def detecting(spec: TargetSpec) -> Callable[[threading.Semaphore], str | ApigwTlsError]:
        return lambda _budget: _detection(spec, settings)

    def checking_access(spec: TargetSpec) -> Callable[[threading.Semaphore], tuple[AccessVerdict, ...]]:
        return lambda _budget: _access(spec, settings.timeout)

    with Fleet(FleetSettings(total_probes=int(args.settings["total_concurrency"]))) as fleet:
        futures = {spec.name: fleet.submit(scanning(spec)) for spec in scanned}
        detections = {spec.name: fleet.submit(detecting(spec)) for spec in specs}
        # a fleet's access checks side by side too, as the plugin asks them (they ran one after another)
        accesses = {spec.name: fleet.submit(checking_access(spec)) for spec in specs if spec.access_mode}
        results: dict[str, ScanResult | ApigwTlsError] = {}
        names = {future: name for name, future in futures.items()}
        for done, future in enumerate(concurrent.futures.as_completed(names), 1):
            try:
                results[names[future]] = future.result()
            except ApigwTlsError as error:
                results[names[future]] = error
            if args.targets and sys.stderr.isatty():  # a fleet of real endpoints takes minutes: show it moving
                sys.stderr.write(f"\r  scanned {done}/{len(futures)}: {names[future]}\033[K")
                sys.stderr.flush()
        if args.targets and sys.stderr.isatty():
            sys.stderr.write("\n")
        detected = {name: future.result() for name, future in detections.items()}
        accessed = {name: future.result() for name, future in accesses.items()}
    first = results[specs[0].name]
    if not args.targets and isinstance(first, ApigwTlsError):
        if args.json:  # the file a pipeline waits for says why there is no verdict
            _write_document(args, {specs[0].name: {"identity": specs[0].report_identity, "verdict": "errors",
                                                   "conforms": False, "dimensions": {}, "error": str(first)}}, [])
        raise first  # one target: its error is the one line the user sees
    out = sys.stderr if args.json == "-" else sys.stdout
    return _report(specs, results, detected, accessed, args, out)


def _detection(spec: TargetSpec, settings: ProbeSettings) -> str | ApigwTlsError:
    """The certificate types the target serves, detected on connections of their own (the cert case
    must not compare the scan's detection with itself); asked beside the scan, not after it."""
    from ..probing.scan import detect_cert_type

    try:
        return detect_cert_type(spec.resolve(), settings)
    except ApigwTlsError as error:
        return error


def _other_cases(spec: TargetSpec, specs: list[TargetSpec], results: dict[str, Any], detected: str | ApigwTlsError,
                 access: tuple[AccessVerdict, ...]) -> list[OtherCase]:
    """The cases the plugin asks beside the TLS scan, judged by the same rules (judgement.py)."""
    from ..judgement import (
        CaseVerdict,
        alignment_case_id,
        alignment_verdict,
        cert_case_id,
        cert_verdict,
        discriminating_key,
        sni_case_id,
        sni_partners,
        sni_verdict,
    )

    result: ScanResult = results[spec.name]
    others = [OtherCase(Dimension.ACCESS, v.expectation.test_id, v.verdict, v.evidence) for v in access]
    typed = [dataclasses.replace(s, cert_type=s.cert_type or results[s.name].cert_type)  # as the plugin pairs them
             for s in specs if not isinstance(results[s.name], ApigwTlsError)]
    for target, partner in sni_partners(typed):
        if target.name == spec.name:
            key = discriminating_key(target, partner)
            own = next(v for v in result.verdicts if v.expectation.key == key)
            case = sni_verdict(target, partner, own)
            others.append(OtherCase(Dimension.SNI, sni_case_id(target, partner), case.verdict, case.message))
    behind = spec.resolve_default_endpoint()
    if behind is not None:
        behind_result = results[behind.name]
        case = alignment_verdict(spec, behind, behind_result) if not isinstance(behind_result, ApigwTlsError) \
            else CaseVerdict(INCONCLUSIVE, str(behind_result))
        others.append(OtherCase(Dimension.ALIGNMENT, alignment_case_id(spec), case.verdict, case.message))
    # the type claimed, or the one the scan detected (as the plugin detects it before collection), against
    # a detection of its own
    claimed = dataclasses.replace(spec, cert_type=spec.cert_type or result.cert_type)
    case = cert_verdict(claimed, detected) if isinstance(detected, str) else CaseVerdict(INCONCLUSIVE, str(detected))
    others.append(OtherCase(Dimension.CERT, cert_case_id(claimed), case.verdict, case.message))
    return others


def _access(spec: TargetSpec, timeout: float) -> tuple[AccessVerdict, ...]:
    from ..probing.access import access_scan

    return access_scan(spec.resolve(), spec.access_mode, timeout, spec.strict_status,
                       other_arrival_path=spec.resolve_other_path())


def _report(specs: list[TargetSpec], results: dict[str, Any], detected: dict[str, str | ApigwTlsError],
            accessed: dict[str, tuple[AccessVerdict, ...]], args: argparse.Namespace, out: Any) -> int:
    from ..judgement import CONFORMS, ERRORS, VIOLATIONS, dimension_counts, exit_status, target_verdict

    verdicts, targets, cases = [], {}, []
    for spec in specs:
        result = results[spec.name]
        if isinstance(result, ApigwTlsError):
            print(f"{spec.name}: ERROR: {result}", file=out)
            verdicts.append(ERRORS)
            targets[spec.name] = {"identity": spec.report_identity, "verdict": ERRORS, "conforms": False,
                                  "dimensions": {}, "error": str(result)}
            continue
        access = accessed.get(spec.name, ())
        others = _other_cases(spec, specs, results, detected[spec.name], access)
        _print_table(out, spec.name, result, others, args.verbose)
        own = [(v.expectation.dimension, v.expectation.test_id, v.verdict, v.evidence) for v in result.verdicts] + \
            [(c.dimension, c.test_id, c.verdict, c.message) for c in others]
        verdict = target_verdict(outcome for _dimension, _id, outcome, _message in own)
        verdicts.append(verdict)
        own_cases = [_case(spec.name, *case) for case in own]
        targets[spec.name] = {"identity": {**spec.report_identity, "cert_type": spec.cert_type or result.cert_type},
                              "verdict": verdict, "conforms": verdict == CONFORMS,
                              "dimensions": dimension_counts((c["dimension"], c["outcome"]) for c in own_cases),
                              "scan": result.to_dict(), "access": [v.to_dict() for v in access]}
        cases += own_cases
        behind = spec.resolve_default_endpoint()
        if behind is not None and not isinstance(results[behind.name], ApigwTlsError):
            targets[spec.name]["default_endpoint_scan"] = results[behind.name].to_dict()
    if len(specs) > 1:
        print(f"{len(specs)} targets: {verdicts.count(CONFORMS)} conform, {verdicts.count(VIOLATIONS)} with "
              f"violations, {verdicts.count(ERRORS)} with errors (unreachable or inconclusive)", file=out)
    if args.json:
        _write_document(args, targets, cases)
    status = exit_status(verdicts)
    if status == 2:
        print("apigw-tls: some targets could not be judged: no verdict on those", file=sys.stderr)
    return status


def _case(target: str, dimension: str, case_id: str, outcome: str, message: str) -> dict[str, Any]:
    from ..reports.document import SKIPPED, case_entry

    return case_entry(target, dimension, case_id, SKIPPED if outcome == REPORTED else outcome, message)


def _write_document(args: argparse.Namespace, targets: dict[str, Any], cases: list[dict[str, Any]]) -> None:
    """The report document (document.py), the same schema the plugin's --apigw-json writes."""
    import datetime

    from ..reports.document import document, run_metadata, write_json

    settings = {**args.settings, "targets": len(targets)}
    started = datetime.datetime.now(datetime.timezone.utc)
    write_json(args.json, document(run_metadata(settings, started, "scan", args.catalog), targets, cases))
