"""One scan per target per session: conformance cases read verdicts from here, they open no sockets."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any, Callable

from .access import AccessVerdict, access_scan
from .catalog import load_catalog
from .errors import ApigwTlsError
from .expectations import AccessExpectation, Expectation, expectations_for
from .probes import ProbeSettings
from .scan import FAIL, INCONCLUSIVE, PASS, ScanResult, detect_cert_type, scan
from .targets import TargetSpec


class Inconclusive(ApigwTlsError):
    """A verdict we could not reach: reported as a pytest error with its reason, never a pass."""


@dataclasses.dataclass(frozen=True)
class Case:
    """One conformance case: a target, a dimension and what is expected (partner: the other SNI)."""

    target: TargetSpec
    dimension: str
    expectation: Expectation | AccessExpectation | None = None
    partner: TargetSpec | None = None

    @property
    def test_id(self) -> str:
        if self.dimension == "sni":
            return f"{self.target.name}-vs-{self.partner.name}" if self.partner else self.target.name
        if self.dimension == "cert":
            return f"{self.target.name}-{self.target.cert_type}"
        return f"{self.target.name}-{self.expectation.test_id}"  # type: ignore[union-attr]


@dataclasses.dataclass(frozen=True)
class CaseVerdict:
    verdict: str
    message: str
    properties: tuple[tuple[str, str], ...] = ()


class ScanCache:
    """Runs each target's TLS scan and access checks once, on first use, and keeps errors too."""

    def __init__(self, settings: ProbeSettings, reference: Callable[[], Any] | None,
                 announce: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.reference = reference  # returns the running reference server, started on first use
        self.announce = announce  # told when a scan starts and ends (progress on long runs)
        self._lock = threading.Lock()
        self._results: dict[tuple[str, str], Any] = {}

    def _once(self, kind: str, spec: TargetSpec, compute: Callable[[], Any]) -> Any:
        key = (kind, spec.name)
        with self._lock:
            if key not in self._results:
                if self.announce:
                    self.announce(f"apigw-tls: {kind} scan of {spec.name} ...")
                try:
                    self._results[key] = compute()
                except ApigwTlsError as error:
                    self._results[key] = error
                if self.announce:
                    self.announce(f"apigw-tls: {kind} scan of {spec.name} done")
            result = self._results[key]
        if isinstance(result, ApigwTlsError):
            raise Inconclusive(f"{spec.name}: {result}")
        return result

    def _reference_for(self, spec: TargetSpec) -> Any:
        return self.reference() if spec.on_reference and self.reference else None

    def _target(self, spec: TargetSpec) -> Any:
        return spec.resolve(self._reference_for(spec))

    def tls(self, spec: TargetSpec) -> ScanResult:
        return self._once("tls", spec, lambda: scan(self._target(spec), spec.policy, spec.cert_type, self.settings))

    def access(self, spec: TargetSpec) -> tuple[AccessVerdict, ...]:
        return self._once("access", spec, lambda: access_scan(
            self._target(spec), spec.access_mode, self.settings.timeout, spec.strict_status,
            other_arrival_path=spec.resolve_other_path(self._reference_for(spec))))

    def cert_type(self, spec: TargetSpec) -> str:
        return self._once("cert", spec, lambda: detect_cert_type(self._target(spec), self.settings))

    def scans(self) -> dict[str, ScanResult]:
        return {name: r for (kind, name), r in self._results.items() if kind == "tls" and isinstance(r, ScanResult)}

    def access_results(self) -> dict[str, tuple[AccessVerdict, ...]]:
        return {name: r for (kind, name), r in self._results.items() if kind == "access" and isinstance(r, tuple)}

    # -- verdicts for cases ------------------------------------------------------------------------
    def verdict(self, case: Case) -> CaseVerdict:
        if case.dimension in ("version", "suite", "group"):
            return self._tls_verdict(case)
        if case.dimension == "access":
            return self._access_verdict(case)
        if case.dimension == "sni":
            return self._sni_verdict(case)
        return self._cert_verdict(case)

    def _tls_verdict(self, case: Case) -> CaseVerdict:
        result = self.tls(case.target)
        verdict = result.verdict_for(case.expectation)  # type: ignore[arg-type]
        e = verdict.expectation
        where = f"{result.target} under {result.policy_id} ({result.cert_type} certificate)"
        message = (f"{where}: {e.dimension} {e.item} at {e.version.label}: expected {e.expected} ({e.reason}), "
                   f"observed {verdict.observed}: {verdict.evidence}")
        if e.dimension == "version":
            message = f"{where}: {e.item}: expected {e.expected}, observed {verdict.observed}: {verdict.evidence}"
        props = (("expected", e.expected), ("observed", verdict.observed), ("evidence", verdict.evidence),
                 ("provenance", e.provenance))
        return CaseVerdict(verdict.verdict, message, props)

    def _access_verdict(self, case: Case) -> CaseVerdict:
        wanted: AccessExpectation = case.expectation  # type: ignore[assignment]
        verdict = next(v for v in self.access(case.target) if v.expectation == wanted)
        message = (f"{case.target.sni} ({wanted.access_mode}) with Host {verdict.host_header!r}: expected "
                   f"{wanted.expected}, got {verdict.evidence}")
        return CaseVerdict(verdict.verdict, message, (("expected", wanted.expected), ("evidence", verdict.evidence)))

    def _sni_verdict(self, case: Case) -> CaseVerdict:
        """Both targets share an address; the item on which their policies differ must follow each SNI."""
        assert case.partner is not None
        key = discriminating_key(case.target, case.partner)
        ours, theirs = self.tls(case.target), self.tls(case.partner)
        pair = [next(v for v in scan_.verdicts if v.expectation.key == key) for scan_ in (ours, theirs)]
        if any(v.verdict == INCONCLUSIVE for v in pair):
            return CaseVerdict(INCONCLUSIVE, "; ".join(v.evidence for v in pair))
        ok = all(v.verdict == PASS for v in pair)
        ours_expected = pair[0].expectation
        item = ours_expected.item + ("" if key[0] == "version" else f" at {ours_expected.version.label}")
        message = (f"{item}: SNI {case.target.sni} expected {pair[0].expectation.expected}, observed "
                   f"{pair[0].observed}; SNI {case.partner.sni} expected {pair[1].expectation.expected}, observed "
                   f"{pair[1].observed} (the policy must follow the SNI)")
        return CaseVerdict(PASS if ok else FAIL, message)

    def _cert_verdict(self, case: Case) -> CaseVerdict:
        observed = self.cert_type(case.target)
        expected = case.target.cert_type
        return CaseVerdict(PASS if observed == expected else FAIL,
                           f"{case.target.sni}: expected an {expected} certificate, got {observed}")


def discriminating_key(a: TargetSpec, b: TargetSpec) -> tuple[str, int, str]:
    """The first version (else suite, else group) on which the two targets' expectations differ."""
    catalog = load_catalog()
    ours = {e.key: e for e in expectations_for(a.policy, a.cert_type or "rsa", catalog)}
    theirs = {e.key: e for e in expectations_for(b.policy, b.cert_type or "rsa", catalog)}
    for key, expectation in ours.items():
        if key in theirs and theirs[key].expected != expectation.expected:
            return key
    raise KeyError(f"{a.name} and {b.name} expect the same everywhere")


def sni_partners(targets: list[TargetSpec]) -> list[tuple[TargetSpec, TargetSpec]]:
    """Pair each target with the next one on the same address whose policy differs somewhere."""
    pairs = []
    for index, target in enumerate(targets):
        same_address = [t for t in targets[index + 1:] + targets[:index]
                        if (t.host, t.port) == (target.host, target.port) and t.sni != target.sni
                        and t.cert_type == target.cert_type]
        for partner in same_address:
            try:
                discriminating_key(target, partner)
            except KeyError:
                continue
            pairs.append((target, partner))
            break
    return pairs

