"""Which policy can an endpoint move to today: every candidate policy judged on the same access logs.

Each candidate valid for the endpoint type (built-in and from policy files) is read against the logs
by the same reader as `apigw-tls logs --policy`, with the same unread-input rules: a request whose
deciding variable is not logged makes a candidate undecided, never safe. Candidates are ordered from
the most permissive (most version and suite pairs accepted) to the least; the strictest safe one is
the least permissive that refuses no more than the allowed share of requests and leaves nothing
undecided.
"""

from __future__ import annotations

import dataclasses
import datetime
import sys
from typing import TYPE_CHECKING, Any

from ..policy.catalog import Catalog, Policy
from ..policy.codepoints import TlsVersion
from .parallel import PARALLEL_ABOVE, assess_inputs, content_size
from .readiness import Readiness
from .sources import expand

if TYPE_CHECKING:
    from .engine import Grouped


@dataclasses.dataclass
class Candidate:
    policy: Policy
    readiness: Readiness

    @property
    def undecided(self) -> int:
        """Requests this candidate cannot judge: lines not read, or no $context.cipherSuite where it decides."""
        return self.readiness.unread

    def safe(self, max_refused: float) -> bool:
        return self.undecided == 0 and self.readiness.share_at_risk <= max_refused

    def to_dict(self, max_refused: float) -> dict[str, Any]:
        r = self.readiness
        needed = needed_change(self.policy)  # the same for each of its clients
        return {"policy": self.policy.id, "permissiveness": permissiveness(self.policy),
                "requests": r.requests, "requests_refused": r.requests_at_risk,
                "share_refused": round(r.share_at_risk, 6), "clients_refused": len(r.at_risk),
                "undecided": self.undecided, "safe": self.safe(max_refused), "needed": needed,
                "clients": [{"source_ip": ip, "user_agent": agent, "requests": c.requests,
                             "reasons": sorted(c.reasons), "needs": needed}
                            for (ip, agent), c in r.ranked_clients()]}


def permissiveness(policy: Policy) -> int:
    """How much a policy lets through: its (version, suite) pairs for an RSA certificate."""
    return sum(len(policy.accepted_suites(version, "rsa")) for version in policy.versions.value)


def needed_change(policy: Policy) -> str:
    """The smallest change that makes a refused client pass: what it must be able to offer."""
    parts = []
    for version in sorted(policy.versions.value, reverse=True):
        suites = [s.openssl for s in policy.accepted_suites(version, "rsa")]
        if version is TlsVersion.TLSv1_3:
            parts.append("TLSv1.3")
        elif suites:
            shown = ", ".join(suites[:4]) + (f" (or {len(suites) - 4} more)" if len(suites) > 4 else "")
            parts.append(f"{version.label} with one of {shown}")
    return " or ".join(parts)


def candidates(catalog: Catalog, endpoint_type: str | None) -> list[Policy]:
    """Every enforceable policy valid for `endpoint_type`, most permissive first."""
    return sorted((p for p in catalog.policies_for(endpoint_type) if p.enforceable),
                  key=lambda policy: (-permissiveness(policy), policy.id))


def plan(paths: list[str], spec: str | None, endpoint_type: str | None, catalog: Catalog,
         policy_files: tuple[str, ...], split_at: datetime.datetime | None = None,
         progress: bool = False, engine: str = "auto") -> list[Candidate]:
    """Every candidate judged on the logs, most permissive first (DuckDB, where it reads a file,
    groups it once for all of them; the reader reads it once per candidate, and says so when that is
    long and DuckDB, which would read JSON lines once, is missing)."""
    from .engine import available
    from .formats import log_format

    grouped: dict[str, Grouped | None] = {}
    policies = candidates(catalog, endpoint_type)
    if engine == "auto" and log_format(spec).kind == "json" and not available() and sum(
            content_size(path) for path in expand(paths) if path != "-") >= PARALLEL_ABOVE:
        sys.stderr.write(f"note: without DuckDB the logs are read once for each of {len(policies)} candidates; "
                         "pip install 'pytest-apigw-tls[logs]' reads them once\n")
    return [Candidate(policy, assess_inputs(paths, spec, policy.id, endpoint_type, False, None, split_at,
                                            progress=progress, policy_files=policy_files, engine=engine,
                                            grouped=grouped))
            for policy in policies]


def strictest_safe(candidates: list[Candidate], max_refused: float) -> Candidate | None:
    safe = [c for c in candidates if c.safe(max_refused)]
    return safe[-1] if safe else None
