"""One worker per target under pytest-xdist, so each target is scanned once.

A scheduler of xdist's own kind (its `pytest_xdist_make_scheduler` hook): xdist's load-scope
scheduling, with a case's scope being its target (every case id starts with the target's name) and
every other test its own scope, so unrelated tests are spread as with --dist load. It does not rely
on --dist loadgroup, which silently stops grouping on pytest 9.2 (pytest-xdist issue #1386).
"""

from __future__ import annotations

from typing import Any

from xdist.scheduler import LoadScopeScheduling


class TargetScheduling(LoadScopeScheduling):
    def __init__(self, config: Any, log: Any, target_names: list[str]) -> None:
        super().__init__(config, log)
        self.target_names = sorted(target_names, key=len, reverse=True)  # the longest name that matches wins

    def _split_scope(self, nodeid: str) -> str:
        parameters = nodeid.partition("[")[2]
        for name in self.target_names:
            if parameters.startswith(f"{name}-"):
                return f"apigw-target:{name}"
        return nodeid
