"""pytest plugin: options, ini keys, markers, fixtures, case generation and reporting (hooks only).

The logic lives elsewhere: targets.py names targets, session.py scans them once and hands out
verdicts, report.py renders the summary and the JSON report.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterator

import pytest

from . import capabilities
from .catalog import CERT_TYPES, ENDPOINT_TYPES, load_catalog
from .errors import ApigwTlsError
from .expectations import Expectation, access_expectations, expectations_for
from .probes import ProbeSettings
from .report import CaseLog, summary_lines, write_json_report
from .scan import FAIL, INCONCLUSIVE, REPORTED, check_reachable, detect_cert_type
from .session import Case, CaseVerdict, Inconclusive, ScanCache, sni_partners
from .targets import TargetSpec, load_targets_file, make_target, reference_targets

DIMENSIONS = ("version", "suite", "group", "sni", "access", "cert")
_OPTIONS = (
    ("target", "HOST[:PORT]", "run the conformance suite against this target instead of the reference server"),
    ("sni", "NAME", "server name the target is reached by (default: HOST unless it is an IP address)"),
    ("policy", "NAME", "policy the target claims to enforce (required with --apigw-target)"),
    ("access-mode", "BASIC|STRICT", "access mode the target claims (adds the Host/SNI cases)"),
    ("endpoint-type", "|".join(ENDPOINT_TYPES), "endpoint type of the target (picks a legacy policy's family)"),
    ("cert-type", "|".join(CERT_TYPES), "certificate key type of the target (default: detected)"),
    ("targets", "FILE", "TOML file of [[target]] tables: several endpoints and what each should enforce"),
    ("json", "FILE", "write a JSON report of every scan and verdict"),
    ("timeout", "SECONDS", "timeout of one probe (default 5)"),
    ("concurrency", "N", "probes in flight per target (default 8)"),
    ("delay", "SECONDS", "pause between probe starts, for endpoints that rate-limit (default 0)"),
)
CASES_KEY = pytest.StashKey[dict[str, Case]]()
STATE_KEY = pytest.StashKey["PluginState"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("apigw-tls", "API Gateway TLS security policy conformance")
    for name, metavar, help_text in _OPTIONS:
        dest = "apigw_" + name.replace("-", "_")
        group.addoption(f"--apigw-{name}", dest=dest, metavar=metavar, help=help_text)
        parser.addini(dest, help_text)


def _option(config: pytest.Config, name: str) -> str | None:
    dest = "apigw_" + name.replace("-", "_")
    return config.getoption(dest) or config.getini(dest) or None


@dataclasses.dataclass
class PluginState:
    targets: list[TargetSpec]
    settings: ProbeSettings
    log: CaseLog = dataclasses.field(default_factory=CaseLog)
    cache: ScanCache | None = None


def _settings(config: pytest.Config) -> ProbeSettings:
    try:
        timeout = float(_option(config, "timeout") or 5.0)
        concurrency = int(_option(config, "concurrency") or 8)
        delay = float(_option(config, "delay") or 0.0)
    except ValueError as error:
        raise pytest.UsageError(f"apigw-tls: --apigw-timeout / --apigw-concurrency / --apigw-delay: {error}") from None
    if timeout <= 0 or concurrency < 1 or delay < 0:
        raise pytest.UsageError("apigw-tls: --apigw-timeout must be > 0, --apigw-concurrency >= 1, --apigw-delay >= 0")
    return ProbeSettings(timeout=timeout, concurrency=concurrency, delay=delay)


def _targets(config: pytest.Config) -> list[TargetSpec]:
    address, targets_file = _option(config, "target"), _option(config, "targets")
    if address and targets_file:
        raise pytest.UsageError("apigw-tls: give --apigw-target or --apigw-targets, not both")
    if targets_file:
        return load_targets_file(targets_file)
    if address:
        policy = _option(config, "policy")
        if not policy:
            raise pytest.UsageError("apigw-tls: --apigw-target needs --apigw-policy NAME")
        return [make_target(address, policy, _option(config, "sni"), _option(config, "endpoint-type"),
                            _option(config, "cert-type"), _option(config, "access-mode"))]
    return reference_targets()


def pytest_configure(config: pytest.Config) -> None:
    for marker in ("inferred: checks resting on an inferred catalog fact (not stated for API Gateway)",
                   "strict: endpoint access mode (Host/SNI) checks",
                   "pq: checks of post-quantum key-exchange groups (accepted or refused)",
                   "edge: checks of EDGE endpoint policies",
                   "apigw_dimension(name): conformance case generated from the catalog for this dimension"):
        config.addinivalue_line("markers", marker)
    try:
        state = PluginState(_targets(config), _settings(config))
        if not config.option.help and not config.option.collectonly:
            _check_user_targets(state)
    except ApigwTlsError as error:
        raise pytest.UsageError(f"apigw-tls: {error}") from None
    config.stash[STATE_KEY] = state


def pytest_report_header(config: pytest.Config) -> list[str]:
    caps = capabilities.detect()
    missing = "; missing: " + "; ".join(caps.missing) if caps.missing else ""
    state = config.stash[STATE_KEY]
    where = "reference server" if all(t.on_reference for t in state.targets) else \
        ", ".join(sorted({f"{t.host}:{t.port}" for t in state.targets}))
    return [f"apigw-tls: {caps.openssl_version}{missing}",
            f"apigw-tls: {len(state.targets)} targets on {where}; timeout {state.settings.timeout}s, "
            f"concurrency {state.settings.concurrency}"]


# -- case generation ---------------------------------------------------------------------------------
def _check_user_targets(state: PluginState) -> None:
    """Fail fast and in one line when a named target is unreachable; detect missing certificate types
    (expectations depend on them, and cases are generated from expectations)."""
    resolved = []
    for target in state.targets:
        if not target.on_reference:
            address = target.resolve(None)
            check_reachable(address, state.settings.timeout)
            if not target.cert_type:
                target = dataclasses.replace(target, cert_type=detect_cert_type(address, state.settings))
        resolved.append(target)
    state.targets = resolved


def _cases(dimension: str, targets: list[TargetSpec]) -> Iterator[Case]:
    catalog = load_catalog()
    tls_targets = [t for t in targets if not t.access_only]
    if dimension == "sni":
        yield from (Case(a, "sni", partner=b) for a, b in sni_partners(tls_targets))
    elif dimension == "cert":
        yield from (Case(t, "cert") for t in tls_targets)
    elif dimension == "access":
        for target in targets:
            if target.sni and (target.access_mode or target.on_reference):
                other_path = bool(target.other_path) or target.on_reference  # the reference has every path
                yield from (Case(target, "access", e) for e in access_expectations(target.access_mode, other_path))
    else:
        for target in tls_targets:
            for expectation in expectations_for(target.policy, target.cert_type or "rsa", catalog):
                if expectation.dimension == dimension:
                    yield Case(target, dimension, expectation)


def _marks(case: Case) -> list[pytest.MarkDecorator]:
    marks = []
    if getattr(case.expectation, "provenance", None) == "inferred":
        marks.append(pytest.mark.inferred)
    if case.dimension == "access":
        marks.append(pytest.mark.strict)
    if case.dimension == "group" and _post_quantum(case.expectation):  # type: ignore[arg-type]
        marks.append(pytest.mark.pq)
    if case.target.endpoint_type == "EDGE":
        marks.append(pytest.mark.edge)
    return marks


def _post_quantum(expectation: Expectation) -> bool:
    catalog = load_catalog()
    if expectation.members:
        return any((g := catalog.universe.group(code)) is not None and g.kind in ("mlkem", "hybrid")
                   for code in expectation.members)
    return catalog.group(expectation.item).is_post_quantum


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("apigw_dimension")
    if marker is None or "apigw_case" not in metafunc.fixturenames:
        return
    dimension = marker.args[0]
    if dimension not in DIMENSIONS:
        raise pytest.UsageError(f"apigw-tls: unknown dimension {dimension!r} (choose from {', '.join(DIMENSIONS)})")
    cases = list(_cases(dimension, metafunc.config.stash[STATE_KEY].targets))
    metafunc.parametrize("apigw_case", [pytest.param(c, id=c.test_id, marks=_marks(c)) for c in cases])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    cases = {item.nodeid: item.callspec.params["apigw_case"] for item in items
             if isinstance(getattr(item, "callspec", None) and item.callspec.params.get("apigw_case"), Case)}
    config.stash[CASES_KEY] = cases
    if cases and capabilities.detect().missing:
        raise pytest.UsageError("apigw-tls: " + "; ".join(capabilities.detect().missing) + ": "
                                + capabilities.UPGRADE_HINT)


# -- fixtures ------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def apigw_ca() -> Any:
    """The trustme CA that signs the reference server's certificates."""
    import trustme

    return trustme.CA()


@pytest.fixture(scope="session")
def apigw_reference_server(apigw_ca: Any) -> Iterator[Any]:
    """The reference server with its default endpoints (one per policy and certificate type)."""
    from reference_server import ReferenceServer

    with ReferenceServer(ca=apigw_ca) as server:
        yield server
        server.check()


@pytest.fixture(scope="session")
def apigw_scans(request: pytest.FixtureRequest) -> ScanCache:
    """The session's scan cache: one scan per target, shared by every case."""
    state: PluginState = request.config.stash[STATE_KEY]
    if state.cache is None:
        state.cache = ScanCache(state.settings, lambda: request.getfixturevalue("apigw_reference_server"),
                                _announcer(request.config))
    return state.cache


def _announcer(config: pytest.Config) -> Callable[[str], None] | None:
    """With -v, say when a scan starts and ends: against a rate-limited endpoint a scan takes minutes."""
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
    spec = request.config.stash[STATE_KEY].targets[0]
    return spec.resolve(request.getfixturevalue("apigw_reference_server") if spec.on_reference else None)


@pytest.fixture(scope="session")
def apigw_policy(request: pytest.FixtureRequest) -> Any:
    """The catalog Policy the first configured target claims to enforce."""
    return request.config.stash[STATE_KEY].targets[0].policy


@pytest.fixture
def apigw_verdict(apigw_case: Case, apigw_scans: ScanCache, request: pytest.FixtureRequest) -> CaseVerdict:
    """The case's verdict; an inconclusive one is raised here, so pytest reports an error, not a pass."""
    if apigw_case.target.on_reference:
        request.getfixturevalue("apigw_reference_server")
    verdict = apigw_scans.verdict(apigw_case)
    request.node.user_properties.extend(verdict.properties)
    if verdict.verdict == INCONCLUSIVE:
        raise Inconclusive(f"inconclusive: {verdict.message}")
    if verdict.verdict == REPORTED:
        pytest.skip(f"not judged (undocumented fact), reported: {verdict.message}")
    return verdict


def assert_conforms(verdict: CaseVerdict) -> None:
    """The body of every conformance case."""
    if verdict.verdict == FAIL:
        pytest.fail(verdict.message, pytrace=False)


# -- reporting -----------------------------------------------------------------------------------------
@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    case = item.config.stash.get(CASES_KEY, {}).get(item.nodeid)
    if case is not None:
        item.config.stash[STATE_KEY].log.record(case, report)
    return report


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    state = config.stash.get(STATE_KEY, None)
    if state is None or not state.log.outcomes:
        return
    terminalreporter.write_sep("=", "apigw-tls conformance")
    for line in summary_lines(state.log, state.cache):
        terminalreporter.write_line(line)


def pytest_sessionfinish(session: pytest.Session) -> None:
    state = session.config.stash.get(STATE_KEY, None)
    path = _option(session.config, "json")
    if state is not None and path:
        write_json_report(path, state.log, state.cache)
