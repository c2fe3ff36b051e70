"""pytest plugin: options, ini keys, markers, fixtures, case generation and reporting (hooks only).

Installed, this module loads in every pytest run, so it imports nothing heavy at import time and
does no work until the suite's cases or fixtures are used (or an --apigw-* option is given). The
logic lives elsewhere: targets.py names targets, cases.py turns them into parameters, session.py
scans each target once and hands out verdicts, report.py and pages.py render the results.

Under pytest-xdist the plugin schedules every case of a target on one worker (xdist_scheduling.py),
so each target is scanned once; workers hand their scans to the controller through xdist's
workeroutput, and the controller writes the same summary and reports as a plain run.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from typing import TYPE_CHECKING, Any, Callable, Iterator

import pytest

if TYPE_CHECKING:
    from .client import EndpointFactory
    from .judgement import CaseVerdict
    from .policy.catalog import Catalog
    from .probing.probes import ProbeSettings
    from .probing.targets import TargetSpec
    from .pytest_side.cases import Case
    from .pytest_side.session import ScanCache
    from .reports.model import CaseLog

_OPTIONS = (
    ("target", "HOST[:PORT]", "run the conformance suite against this target instead of the reference server"),
    ("sni", "NAME", "server name the target is reached by (default: HOST unless it is an IP address)"),
    ("policy", "NAME", "policy the target claims to enforce (required with --apigw-target)"),
    ("access-mode", "BASIC|STRICT", "access mode the target claims (adds the Host/SNI cases)"),
    ("endpoint-type", "REGIONAL|PRIVATE|EDGE", "endpoint type of the target (picks a legacy policy's family)"),
    ("cert-type", "rsa|ecdsa|rsa,ecdsa", "certificate key type(s) of the target (default: detected)"),
    ("targets", "FILE", "TOML file of [[target]] tables: several endpoints and what each should enforce"),
    ("policy-file", "FILE", "TOML file of your own [[policy]] tables, usable as --apigw-policy and in targets"),
    ("json", "FILE", "write a JSON report of every scan and verdict"),
    ("markdown", "FILE", "write a Markdown summary (target x dimension, then each failure with its evidence)"),
    ("html", "FILE", "write a self-contained HTML page of the same matrix"),
)
_TARGET_OPTIONS = ("target", "targets")
STATE_KEY = pytest.StashKey["PluginState"]()
WORKER_OUTPUT_KEY = "apigw_tls"
WORKER_TARGETS_KEY = "apigw_tls_targets"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("apigw-tls", "API Gateway TLS security policy conformance")
    for name, metavar, help_text in _all_options():
        dest = "apigw_" + name.replace("-", "_")
        group.addoption(f"--apigw-{name}", dest=dest, metavar=metavar, help=help_text)
        parser.addini(dest, help_text)


def _all_options() -> tuple[tuple[str, str, str], ...]:
    """(name, metavar, help) of every --apigw-* option: the plugin's own, then the probe settings
    (declared once for the CLI and the plugin, probing/settings.py)."""
    from .probing.settings import SETTINGS

    return (*_OPTIONS, *((s.name, s.metavar, s.help_with_default) for s in SETTINGS))


def _option(config: pytest.Config, name: str) -> str | None:
    dest = "apigw_" + name.replace("-", "_")
    return config.getoption(dest) or config.getini(dest) or None


def _any_option_given(config: pytest.Config) -> bool:
    return any(_option(config, name) for name, _metavar, _help in _all_options())


@dataclasses.dataclass
class PluginState:
    catalog: Catalog  # built-in, extended by --apigw-policy-file: the targets and the reference server read it
    targets: list[TargetSpec]
    settings: ProbeSettings
    total_concurrency: int
    log: CaseLog
    started: datetime.datetime
    cache: ScanCache | None = None
    selected: list[TargetSpec] = dataclasses.field(default_factory=list)  # whose TLS scans to start at once
    late_errors: dict[str, str] = dataclasses.field(default_factory=dict)  # target name -> why its cases error
    worker_documents: dict[str, Any] = dataclasses.field(
        default_factory=lambda: {"scans": {}, "access": {}, "scans_run": 0})


def _build_state(config: pytest.Config) -> PluginState:
    from .policy.catalog import load_catalog
    from .probing.probes import ProbeSettings
    from .probing.settings import read_settings
    from .reports.model import CaseLog

    policy_file = _option(config, "policy-file")
    catalog = load_catalog([policy_file] if policy_file else ())
    values = read_settings(lambda name: _option(config, name), "--apigw-")
    settings, total = ProbeSettings.from_values(values), int(values["total_concurrency"])
    return PluginState(catalog, _targets(config, catalog), settings, total, CaseLog(),
                       datetime.datetime.now(datetime.timezone.utc))


def _targets(config: pytest.Config, catalog: Catalog) -> list[TargetSpec]:
    from .probing.targets import load_targets_file, make_target, reference_targets, unique_names

    address, targets_file = _option(config, "target"), _option(config, "targets")
    if address and targets_file:
        raise pytest.UsageError("apigw-tls: give --apigw-target or --apigw-targets, not both")
    if targets_file:
        return load_targets_file(targets_file, catalog)
    if address:
        policy = _option(config, "policy")
        if not policy:
            raise pytest.UsageError("apigw-tls: --apigw-target needs --apigw-policy NAME")
        target = make_target(address, policy, _option(config, "sni"), _option(config, "endpoint-type"),
                             _option(config, "cert-type"), _option(config, "access-mode"), catalog=catalog)
        return unique_names([target], [False])
    return reference_targets(catalog)


def state_of(config: pytest.Config) -> PluginState:
    """The run's state, built on first use: unrelated test runs never pay for it."""
    from .errors import ApigwTlsError

    if STATE_KEY not in config.stash:
        try:
            config.stash[STATE_KEY] = _build_state(config)
        except ApigwTlsError as error:
            raise pytest.UsageError(f"apigw-tls: {error}") from None
    return config.stash[STATE_KEY]


def pytest_configure(config: pytest.Config) -> None:
    for marker in ("inferred: checks resting on an inferred catalog fact (not stated for API Gateway)",
                   "strict: endpoint access mode (Host/SNI) checks",
                   "pq: checks of post-quantum key-exchange groups (accepted or refused)",
                   "edge: checks of EDGE endpoint policies",
                   "apigw_dimension(name): conformance case generated from the catalog for this dimension"):
        config.addinivalue_line("markers", marker)
    config.pluginmanager.register(_Recorder(config), "apigw-tls-recorder")
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistHooks(), "apigw-tls-xdist")
    if _any_option_given(config):
        state = state_of(config)  # bad options are usage errors now, not after collection
        if any(_option(config, name) for name in _TARGET_OPTIONS) and not config.option.help \
                and not config.option.collectonly:
            _identify_targets(config, state)


def _identify_targets(config: pytest.Config, state: PluginState) -> None:
    """Certificate types decide the expectations, so cases need them before collection. A worker takes
    the controller's findings; elsewhere undeclared types are detected, every target side by side, but
    only for targets that -k / -m can still select. A target that cannot be reached is kept, marked:
    its cases error with the reason, the rest are judged."""
    worker_input = getattr(config, "workerinput", None)
    if worker_input is not None and WORKER_TARGETS_KEY in worker_input:
        found = json.loads(worker_input[WORKER_TARGETS_KEY])
        state.targets = [dataclasses.replace(t, cert_type=found[t.name]["cert_type"],
                                             unreachable=found[t.name]["unreachable"]) for t in state.targets]
        return
    from .pytest_side.selection import may_be_selected

    wanted = [t for t in state.targets if not t.on_reference and not t.cert_type and may_be_selected(config, t)]
    state.targets = _identified(state, wanted)


def _identified(state: PluginState, wanted: list[TargetSpec]) -> list[TargetSpec]:
    """state.targets with `wanted` identified (connected to, certificate types detected), side by side."""
    from .errors import ApigwTlsError
    from .probing.fleet import Fleet, FleetSettings
    from .probing.scan import check_reachable, detect_cert_type

    def identify(target: TargetSpec) -> TargetSpec:
        address = target.resolve(None)
        try:
            check_reachable(address, state.settings.timeout)
            return dataclasses.replace(target, cert_type=detect_cert_type(address, state.settings))
        except ApigwTlsError as error:
            return dataclasses.replace(target, cert_type="rsa", unreachable=str(error))

    def identifying(target: TargetSpec) -> Callable[[object], TargetSpec]:
        return lambda _budget: identify(target)

    if not wanted:
        return state.targets
    with Fleet(FleetSettings(total_probes=state.total_concurrency)) as fleet:
        futures = {t.name: fleet.submit(identifying(t)) for t in wanted}
        found = {name: future.result() for name, future in futures.items()}
    return [found.get(t.name, t) for t in state.targets]


def pytest_report_header(config: pytest.Config) -> list[str]:
    if STATE_KEY not in config.stash:
        return []  # the plugin is installed but not in use: unrelated runs stay unchanged
    from .probing import capabilities

    caps = capabilities.detect()
    missing = "; missing: " + "; ".join(caps.missing) if caps.missing else ""
    state = config.stash[STATE_KEY]
    where = "reference server" if all(t.on_reference for t in state.targets) else \
        f"{len({(t.host, t.port) for t in state.targets})} addresses"
    dead = sum(1 for t in state.targets if t.unreachable)
    return [f"apigw-tls: {caps.openssl_version}{missing}",
            f"apigw-tls: {len(state.targets)} targets on {where}" + (f" ({dead} unreachable)" if dead else "")
            + f"; timeout {state.settings.timeout}s, concurrency {state.settings.concurrency} per target, "
              f"{state.total_concurrency} in all"]


# -- case generation ---------------------------------------------------------------------------------
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("apigw_dimension")
    if marker is None or "apigw_case" not in metafunc.fixturenames:
        return
    from .pytest_side.cases import cases_for, marks_for
    from .vocabulary import Dimension

    try:
        dimension = Dimension(marker.args[0])
    except ValueError:
        raise pytest.UsageError(f"apigw-tls: unknown dimension {marker.args[0]!r} (choose from "
                                f"{', '.join(Dimension)})") from None
    cases = list(cases_for(dimension, state_of(metafunc.config).targets))
    metafunc.parametrize("apigw_case", [pytest.param(c, id=c.test_id, marks=marks_for(c)) for c in cases])


@pytest.hookimpl(trylast=True)  # after -k and -m have deselected: only selected targets are scanned
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    cases = [(item, item.callspec.params["apigw_case"]) for item in items  # type: ignore[attr-defined]
             if "apigw_case" in getattr(getattr(item, "callspec", None), "params", ())]
    if not cases:
        return  # a run without the suite's cases imports nothing more
    from .pytest_side.cases import Case
    from .reports.model import DIMENSION_KEY, TARGET_KEY

    selected: dict[str, TargetSpec] = {}
    scanned: set[str] = set()  # targets whose TLS scan a selected case reads
    for item, case in cases:
        if isinstance(case, Case):
            item.user_properties += [(TARGET_KEY, case.target.name), (DIMENSION_KEY, str(case.dimension))]
            selected.setdefault(case.target.name, case.target)
            if case.dimension.from_tls_scan:
                scanned.add(case.target.name)
    if not selected:
        return
    if not config.pluginmanager.has_plugin("apigw-tls-case-reports"):
        config.pluginmanager.register(_CaseReports(), "apigw-tls-case-reports")
    state = state_of(config)
    late = [t for t in selected.values() if not t.on_reference and not t.cert_type and not t.unreachable
            and not hasattr(config, "workerinput")]
    if late:  # selected after all (by a -k word the prefilter could not see): identify now, refuse a mismatch
        found = {t.name: t for t in _identified(state, late)}
        for name, target in found.items():
            if target.name in selected and target.cert_type != "rsa" and not target.unreachable:
                state.late_errors[name] = (f"its certificate type is {target.cert_type}, detected after -k/-m "
                                           f"selection; its cases assumed rsa: give --apigw-cert-type "
                                           f"{target.cert_type} (or cert_type in the targets file)")
            elif target.unreachable:
                state.late_errors[name] = target.unreachable
    from .probing import capabilities

    if capabilities.detect().missing:
        raise pytest.UsageError("apigw-tls: " + "; ".join(capabilities.detect().missing) + ": "
                                + capabilities.UPGRADE_HINT)
    state.selected = [t for t in selected.values() if t.name not in state.late_errors and t.name in scanned]


# -- fixtures ------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def apigw_ca() -> Any:
    """The trustme CA that signs the reference server's ECDSA certificates (RSA ones chain to an RSA root
    in the same CA file)."""
    import trustme

    return trustme.CA()


@pytest.fixture(scope="session")
def apigw_catalog(request: pytest.FixtureRequest) -> Catalog:
    """The run's policy catalog: the built-in one, extended by --apigw-policy-file."""
    return state_of(request.config).catalog


@pytest.fixture(scope="session")
def apigw_reference_server(apigw_ca: Any, apigw_catalog: Catalog) -> Iterator[Any]:
    """The reference server with its default endpoints (one per policy of the run's catalog and
    certificate type)."""
    from pytest_apigw_tls.reference_server import ReferenceServer
    from pytest_apigw_tls.reference_server.config import default_config

    with ReferenceServer(default_config(apigw_catalog), ca=apigw_ca) as server:
        yield server
        server.check()


@pytest.fixture
def apigw_server(apigw_reference_server: Any) -> Iterator[EndpointFactory]:
    """Factory: `apigw_server(policy, cert_type="rsa", access_mode=None, endpoint_type=None)` -> a
    served endpoint with .url, .hostname, .port, .ca_file, .ssl_context(), .policy and .connections;
    what the test added is removed when it ends."""
    from .client import EndpointFactory

    factory = EndpointFactory(apigw_reference_server)
    yield factory
    factory.remove_all()


@pytest.fixture(scope="session")
def apigw_scans(request: pytest.FixtureRequest) -> Iterator[ScanCache]:
    """The session's scan cache: one scan per target, shared by every case. Outside pytest-xdist the
    scans of every selected target start at once, side by side within the global probe budget."""
    from .probing.fleet import Fleet, FleetSettings
    from .pytest_side.session import ScanCache

    state = state_of(request.config)
    if state.cache is None:
        fleet = Fleet(FleetSettings(total_probes=state.total_concurrency))
        state.cache = ScanCache(state.settings, lambda: request.getfixturevalue("apigw_reference_server"),
                                _announcer(request.config), fleet)
        if not hasattr(request.config, "workerinput"):
            if any(t.on_reference for t in state.selected):
                request.getfixturevalue("apigw_reference_server")
            state.cache.prefetch(state.selected)
    yield state.cache


def _announcer(config: pytest.Config) -> Callable[[str], None] | None:
    """With -v, say when a case waits for a scan: against a rate-limited endpoint a scan takes minutes."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None or config.get_verbosity() < 1:
        return None

    def announce(line: str) -> None:
        with capture.global_and_fixture_disabled():
            reporter.ensure_newline()
            reporter.write_line(line)
    return announce


@pytest.fixture(scope="session")
def apigw_target(request: pytest.FixtureRequest) -> Any:
    """Where the suite connects (address, port, SNI) for the first configured target."""
    spec = state_of(request.config).targets[0]
    return spec.resolve(request.getfixturevalue("apigw_reference_server") if spec.on_reference else None)


@pytest.fixture(scope="session")
def apigw_policy(request: pytest.FixtureRequest) -> Any:
    """The catalog Policy the first configured target claims to enforce."""
    return state_of(request.config).targets[0].policy


@pytest.fixture
def apigw_verdict(apigw_case: Case, apigw_scans: ScanCache, request: pytest.FixtureRequest) -> CaseVerdict:
    """The case's verdict; an inconclusive one is raised here, so pytest reports an error, not a pass."""
    from .pytest_side.cases import judge
    from .pytest_side.session import Inconclusive
    from .vocabulary import INCONCLUSIVE, REPORTED

    if apigw_case.target.on_reference:
        request.getfixturevalue("apigw_reference_server")
    late = state_of(request.config).late_errors.get(apigw_case.target.name)
    if late:
        raise Inconclusive(f"inconclusive: {apigw_case.target.name}: {late}")
    verdict = judge(apigw_scans, apigw_case)
    request.node.user_properties.extend((key, str(value)) for key, value in verdict.properties)  # plain: xdist
    if verdict.verdict == INCONCLUSIVE:
        raise Inconclusive(f"inconclusive: {verdict.message}")
    if verdict.verdict == REPORTED:
        pytest.skip(f"not judged (undocumented fact), reported: {verdict.message}")
    return verdict


class _CaseReports:
    """Registered only in a process that collected the suite's cases: a run without them pays nothing
    per test."""

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        """An inconclusive case is an error with its reason on one line, not a fixture traceback."""
        outcome = yield
        excinfo = call.excinfo
        if excinfo is None:
            return
        from .reports.model import MESSAGE_KEY, TARGET_KEY

        if not any(key == TARGET_KEY for key, _ in item.user_properties):
            return
        from .pytest_side.session import Inconclusive

        report = outcome.get_result()
        if isinstance(excinfo.value, (Inconclusive, pytest.fail.Exception)):  # the report model reads the words
            report.user_properties.append((MESSAGE_KEY, str(excinfo.value)))
        if isinstance(excinfo.value, Inconclusive):
            report.longrepr = str(excinfo.value)


def assert_conforms(verdict: CaseVerdict) -> None:
    """The body of every conformance case."""
    from .vocabulary import FAIL

    if verdict.verdict == FAIL:
        pytest.fail(verdict.message, pytrace=False)


# -- reporting -----------------------------------------------------------------------------------------
class _Recorder:
    """Records each case's outcome from its test report: in a plain run and on the xdist controller
    alike (workers' reports are replayed there), from the user_properties set at collection."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if STATE_KEY in self.config.stash:
            self.config.stash[STATE_KEY].log.record(report)


def _report(config: pytest.Config, state: PluginState) -> dict[str, Any]:
    from .reports.document import run_metadata
    from .reports.model import build_report

    documents: dict[str, Any] = state.cache.documents() if state.cache is not None else {
        "scans": {}, "access": {}, "scans_run": 0}
    for kind in ("scans", "access"):
        documents[kind].update(state.worker_documents[kind])
    documents["scans_run"] += state.worker_documents["scans_run"]
    documents["identities"] = {t.name: t.report_identity for t in state.targets}
    settings = {"timeout": state.settings.timeout, "concurrency": state.settings.concurrency,
                "total_concurrency": state.total_concurrency, "delay": state.settings.delay,
                "retries": state.settings.retries, "deadline": state.settings.deadline, "targets": len(state.targets)}
    return build_report(state.log, documents, run_metadata(settings, state.started, "pytest", state.catalog))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    state = config.stash.get(STATE_KEY, None)
    if state is None or not state.log.outcomes or hasattr(config, "workerinput"):
        return
    from .reports.model import summary_lines

    terminalreporter.write_sep("=", "apigw-tls conformance")
    for line in summary_lines(_report(config, state)):
        terminalreporter.write_line(line)


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    state = config.stash.get(STATE_KEY, None)
    if state is None:
        return
    worker_output = getattr(config, "workeroutput", None)
    if worker_output is not None:  # an xdist worker: hand the scans to the controller
        if state.cache is not None:
            worker_output[WORKER_OUTPUT_KEY] = json.dumps(state.cache.documents())
    else:
        _write_reports(config, state)
    if state.cache is not None:
        state.cache.close()


def _write_reports(config: pytest.Config, state: PluginState) -> None:
    paths = {kind: _option(config, kind) for kind in ("json", "markdown", "html")}
    if not any(paths.values()):
        return
    from .errors import ConfigError
    from .reports.document import write_json, write_text
    from .reports.pages import render_html, render_markdown

    report = _report(config, state)
    try:
        if json_path := paths["json"]:
            write_json(json_path, report)
        for kind, render in (("markdown", render_markdown), ("html", render_html)):
            if page_path := paths[kind]:
                write_text(page_path, render(report))
    except ConfigError as error:
        raise pytest.UsageError(f"apigw-tls: {error}") from None


def _reference_name_heads(config: pytest.Config) -> frozenset[str] | None:
    """With no apigw option the targets are the reference server's, each named "<policy id>-<label>"
    (probing/targets.py): the ids their names start with. None when options may name other targets."""
    if _any_option_given(config):
        return None
    from .policy.catalog import builtin_policy_ids

    return builtin_policy_ids()


class _XdistHooks:
    """pytest-xdist's own hooks, registered only when xdist is installed."""

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        """With -n (--dist load, the default) every case of a target goes to one worker: one scan; a run
        without the suite's cases keeps xdist's own load scheduling."""
        if config.getvalue("dist") != "load":
            return None
        from .pytest_side.xdist_scheduling import DeferredScheduling

        return DeferredScheduling(config, log, lambda: [t.name for t in state_of(config).targets],
                                  lambda: _reference_name_heads(config))

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        state = node.config.stash.get(STATE_KEY, None)
        if state is not None:
            node.workerinput[WORKER_TARGETS_KEY] = json.dumps(
                {t.name: {"cert_type": t.cert_type, "unreachable": t.unreachable} for t in state.targets})

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        output = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT_KEY)
        if output is None:
            return
        state = state_of(node.config)
        documents = json.loads(output)
        for kind in ("scans", "access"):
            state.worker_documents[kind].update(documents[kind])
        state.worker_documents["scans_run"] += documents["scans_run"]
