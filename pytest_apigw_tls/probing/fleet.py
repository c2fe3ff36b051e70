"""Fleets: the scans of many targets run side by side within one global probe budget.

Each target keeps its own concurrency and delay (ProbeSettings); on top of that at most
`parallel_targets` scans run at once and at most `total_probes` probes are in flight across all of
them, so 500 endpoints behind one rate limit do not become 4,000 simultaneous connections.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import threading
from typing import Any, Callable

from .settings import DEFAULTS

DEFAULT_PARALLEL_TARGETS = 8
DEFAULT_TOTAL_PROBES = int(DEFAULTS["total_concurrency"])


@dataclasses.dataclass(frozen=True)
class FleetSettings:
    """parallel_targets: scans at once; total_probes: probes in flight across every target."""

    parallel_targets: int = DEFAULT_PARALLEL_TARGETS
    total_probes: int = DEFAULT_TOTAL_PROBES


class Fleet:
    """A pool for whole scans and the semaphore every probe of every scan acquires."""

    def __init__(self, settings: FleetSettings | None = None) -> None:
        self.settings = settings or FleetSettings()
        self.budget = threading.BoundedSemaphore(max(1, self.settings.total_probes))
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, self.settings.parallel_targets),
                                                           thread_name_prefix="apigw-tls-scan")

    def submit(self, work: Callable[[threading.Semaphore], Any]) -> concurrent.futures.Future[Any]:
        """Run `work(budget)` in the pool; exceptions stay in the future."""
        return self._pool.submit(work, self.budget)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "Fleet":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
