"""The words every layer shares, as types: what a case is about (Dimension), how a case ends
(CaseOutcome), what a policy expects of an item (Expected), and how a target ends (TargetVerdict).

Each is a str Enum, so a member is its own JSON and text form ("pass", "version"); the short names
below are the members code reads most (PASS, not "pass").
"""

from __future__ import annotations

from enum import StrEnum


class Dimension(StrEnum):
    """What a conformance case is about; the declaration order is the order of report columns."""

    VERSION = "version"
    SUITE = "suite"
    GROUP = "group"
    SNI = "sni"
    ACCESS = "access"
    CERT = "cert"
    ALIGNMENT = "alignment"

    @property
    def from_tls_scan(self) -> bool:
        """Judged from the target's own TLS scan, one case per expectation of its policy."""
        return self in (Dimension.VERSION, Dimension.SUITE, Dimension.GROUP)


class CaseOutcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"  # no verdict could be reached: an error with its reason, never a pass
    REPORTED = "reported"  # an undocumented fact: what the target does, neither pass nor fail
    SKIPPED = "skipped"  # not judged by choice (a report document's word for a reported fact or a skip)


class Expected(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    UNKNOWN = "unknown"  # a fact no source states: what the target does is reported, not judged


class TargetVerdict(StrEnum):
    CONFORMS = "conforms"
    VIOLATIONS = "violations"
    ERRORS = "errors"


PASS, FAIL, INCONCLUSIVE = CaseOutcome.PASS, CaseOutcome.FAIL, CaseOutcome.INCONCLUSIVE
REPORTED, SKIPPED = CaseOutcome.REPORTED, CaseOutcome.SKIPPED
