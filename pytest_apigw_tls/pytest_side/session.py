"""One scan per target per session: conformance cases (cases.py) read their verdicts from here and
open no sockets."""

from __future__ import annotations

import concurrent.futures
import threading
from typing import TYPE_CHECKING, Any, Callable

from ..errors import ApigwTlsError
from ..probing.fleet import Fleet
from ..probing.probes import ProbeSettings
from ..probing.scan import ScanResult, detect_cert_type, scan
from ..probing.targets import TargetSpec

if TYPE_CHECKING:
    from ..probing.access import AccessVerdict


class Inconclusive(ApigwTlsError):
    """A verdict we could not reach: reported as a pytest error with its reason, never a pass."""


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
        return lambda budget: scan(target, spec.policy, spec.cert_type, self.settings, spec.catalog, budget=budget)

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
