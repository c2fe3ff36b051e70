"""One worker per target under pytest-xdist, so each target is scanned once; xdist's own scheduler
everywhere else.

A scheduler of xdist's own kind (its `pytest_xdist_make_scheduler` hook). The controller collects
nothing, so whether a run holds the suite's cases is known only when the workers' collections arrive:
until `schedule()`, `DeferredScheduling` tells both candidates every node and collection; then it keeps
`TargetScheduling` if some case id names a target, and xdist's `LoadScheduling` otherwise (an unrelated
suite keeps xdist's speed). Target names are asked for only when the collection has parametrized ids
some of which start as a target's name can (with no apigw option, the reference server's targets,
named "<policy id>-<label>": the policy ids are read without building the catalog).

`TargetScheduling` is xdist's load-scope scheduling with a case's scope being its target (every case id
starts with the target's name) and every other test its own scope. It does not rely on --dist
loadgroup, which silently stops grouping on pytest 9.2 (pytest-xdist issue #1386).
"""

from __future__ import annotations

from typing import Any, Callable

from xdist.scheduler import LoadScheduling, LoadScopeScheduling

TARGET_SCOPE = "apigw-target:"


class TargetScheduling(LoadScopeScheduling):
    def __init__(self, config: Any, log: Any, target_names: list[str]) -> None:
        super().__init__(config, log)
        self.target_names = sorted(target_names, key=len, reverse=True)  # the longest name that matches wins

    def _split_scope(self, nodeid: str) -> str:
        parameters = nodeid.partition("[")[2]
        for name in self.target_names:
            if parameters.startswith(f"{name}-"):
                return TARGET_SCOPE + name
        return nodeid

    def holds_targets(self, collection: list[str]) -> bool:
        return any(self._split_scope(nodeid).startswith(TARGET_SCOPE) for nodeid in collection if "[" in nodeid)


class DeferredScheduling:
    """Both candidates hear every node and collection until `schedule()` picks one; then only it."""

    def __init__(self, config: Any, log: Any, target_names: Callable[[], list[str]],
                 name_heads: Callable[[], frozenset[str] | None] = lambda: None) -> None:
        self.config, self.log, self.target_names, self.name_heads = config, log, target_names, name_heads
        self.load = LoadScheduling(config, log)
        self.by_target: TargetScheduling | None = None
        self.nodes_seen: list[Any] = []
        self.collections: list[tuple[Any, Any]] = []
        self.chosen: Any = None

    def __getattr__(self, name: str) -> Any:  # properties and calls after the choice, or read before it
        return getattr(self.chosen or self.load, name)

    def add_node(self, node: Any) -> None:
        if self.chosen is not None:
            return self.chosen.add_node(node)
        self.nodes_seen.append(node)
        self.load.add_node(node)

    def add_node_collection(self, node: Any, collection: Any) -> None:
        if self.chosen is not None:
            return self.chosen.add_node_collection(node, collection)
        self.collections.append((node, collection))
        self.load.add_node_collection(node, collection)

    def remove_node(self, node: Any) -> Any:
        if self.chosen is not None:
            return self.chosen.remove_node(node)
        self.nodes_seen.remove(node)
        self.collections = [(n, c) for n, c in self.collections if n is not node]
        return self.load.remove_node(node)

    def schedule(self) -> None:
        if self.chosen is None:
            self.chosen = self._choose()
        self.chosen.schedule()

    def _choose(self) -> Any:
        collection = list(self.collections[0][1]) if self.collections else []
        if not any("[" in nodeid for nodeid in collection):
            return self.load
        heads = self.name_heads()  # what every target name starts with before its first "-", when known
        if heads is not None and not any(nodeid.partition("[")[2].split("-", 1)[0] in heads
                                         for nodeid in collection if "[" in nodeid):
            return self.load  # no id can start with a target's name: known without building the targets
        by_target = TargetScheduling(self.config, self.log, self.target_names())
        if not by_target.holds_targets(collection):
            return self.load
        for node in self.nodes_seen:
            by_target.add_node(node)
        for node, node_collection in self.collections:
            by_target.add_node_collection(node, node_collection)
        return by_target
