"""The four verdicts a case can end with; every front-end (pytest, CLI, reports) reads these words."""

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"
REPORTED = "reported"  # an undocumented fact: what the target does, neither pass nor fail
VERDICTS = (PASS, FAIL, INCONCLUSIVE, REPORTED)
