"""One scan per target per session: conformance cases read verdicts from here, they open no sockets."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import threading
from typing import TYPE_CHECKING, Any, Callable

from ..errors import ApigwTlsError
from ..judgement import CaseVerdict, alignment_verdict, cert_verdict, sni_verdict
from ..policy.catalog import load_catalog
from ..policy.expectations import AccessExpectation, Expectation, expectations_for
from ..probing.fleet import Fleet
from ..probing.probes import ProbeSettings
from ..probing.scan import ScanResult, detect_cert_type, scan
from ..probing.targets import TargetSpec

if TYPE_CHECKING:
    from ..probing.access import AccessVerdict


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
        if self.dimension == "alignment":
            return f"{self.target.name}-default-endpoint"
        return f"{self.target.name}-{self.expectation.test_id}"  # type: ignore[union-attr]


class ScanCache:
    """Runs each target's TLS scan and access checks once, keeps errors too, and can start the scans
    of many targets at once (a fleet) so that cases read results as they complete."""

    def __init__(self, settings: ProbeSettings, reference: Callable[[], Any] | None,
                 announce: Callable[[str], None] | None = None, fleet: Fleet | None = None) -> None:
        self.settings = settings
        self.reference = reference  # returns the running reference server, started on first use
        self.announce = announce  # told when a case waits for a scan (progress on long runs)
        self.fleet = fleet or Fleet()
        self._lock = threading.Lock()
        self._futures: dict[tuple[str, tuple[object, ...]], tuple[str, concurrent.futures.Future[Any]]] = {}

    def _future(self, kind: str, spec: TargetSpec, compute: Callable[[threading.Semaphore], Any]
                ) -> concurrent.futures.Future[Any]:
        key = (kind, spec.identity)
        with self._lock:
            if key not in self._futures:
                self._futures[key] = (spec.name, self.fleet.submit(compute))
            return self._futures[key][1]

    def _once(self, kind: str, spec: TargetSpec, compute: Callable[[threading.Semaphore], Any]) -> Any:
        if spec.unreachable:
            raise Inconclusive(f"{spec.name}: {spec.unreachable}")
        future = self._future(kind, spec, compute)
        if not future.done() and self.announce:
            self.announce(f"apigw-tls: waiting for the {kind} scan of {spec.name} ...")
        try:
            result = future.result()
        except ApigwTlsError as error:
            raise Inconclusive(f"{spec.name}: {error}") from None
        if self.announce and kind == "tls":
            self.announce(f"apigw-tls: {kind} scan of {spec.name}: {result.probes} probes, {result.elapsed:.1f}s")
        return result

    def _reference_for(self, spec: TargetSpec) -> Any:
        return self.reference() if spec.on_reference and self.reference else None

    def _target(self, spec: TargetSpec) -> Any:
        return spec.resolve(self._reference_for(spec))

    def _tls_work(self, spec: TargetSpec) -> Callable[[threading.Semaphore], ScanResult]:
        target = self._target(spec)  # resolved here, in the caller's thread (it may start the reference server)
        return lambda budget: scan(target, spec.policy, spec.cert_type, self.settings, budget=budget)

    def prefetch(self, specs: list[TargetSpec]) -> None:
        """Start the TLS scans of `specs` side by side (within the fleet's budget)."""
        for spec in specs:
            if not spec.unreachable and not spec.access_only:
                self._future("tls", spec, self._tls_work(spec))

    def tls(self, spec: TargetSpec) -> ScanResult:
        return self._once("tls", spec, self._tls_work(spec))

    def access(self, spec: TargetSpec) -> tuple[AccessVerdict, ...]:
        target, other = self._target(spec), spec.resolve_other_path(self._reference_for(spec))
        from ..probing.access import access_scan  # h11 and the HTTP probes: only for targets that claim a mode

        return self._once("access", spec, lambda budget: access_scan(
            target, spec.access_mode, self.settings.timeout, spec.strict_status, other_arrival_path=other))

    def cert_type(self, spec: TargetSpec) -> str:
        target = self._target(spec)
        return self._once("cert", spec, lambda budget: detect_cert_type(target, self.settings))

    def documents(self) -> dict[str, Any]:
        """Finished scans as report data: {"scans": {name: ...}, "access": {name: [...]}}."""
        out: dict[str, Any] = {"scans": {}, "access": {}}
        with self._lock:
            entries = list(self._futures.items())
        out["scans_run"] = sum(1 for (kind, _identity), _ in entries if kind == "tls")
        for (kind, _identity), (name, future) in entries:
            if not future.done() or future.exception() is not None:
                continue
            if kind == "tls":
                out["scans"][name] = future.result().to_dict()
            elif kind == "access":
                out["access"][name] = [v.to_dict() for v in future.result()]
        return out

    def close(self) -> None:
        self.fleet.close()

    # -- verdicts for cases ------------------------------------------------------------------------
    def verdict(self, case: Case) -> CaseVerdict:
        if case.dimension in ("version", "suite", "group"):
            return self._tls_verdict(case)
        if case.dimension == "access":
            return self._access_verdict(case)
        if case.dimension == "sni":
            return self._sni_verdict(case)
        if case.dimension == "alignment":
            return self._alignment_verdict(case)
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
        """Both targets share an address; the item on which their policies differ must follow each SNI.
        This target's side is read from its own scan (one scan per target); the partner's is its own case."""
        assert case.partner is not None
        key = discriminating_key(case.target, case.partner)
        result = self.tls(case.target)
        own = next(v for v in result.verdicts if v.expectation.key == key)
        return sni_verdict(case.target, case.partner, own)

    def _alignment_verdict(self, case: Case) -> CaseVerdict:
        behind = case.target.resolve_default_endpoint()
        assert behind is not None
        return alignment_verdict(case.target, behind, self.tls(behind))

    def _cert_verdict(self, case: Case) -> CaseVerdict:
        return cert_verdict(case.target, self.cert_type(case.target))


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

