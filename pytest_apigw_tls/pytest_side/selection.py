"""Which targets -k and -m can still select, decided before anything connects.

A target's cases exist only once its certificate type is known, but connecting to find it out is
what a deselected target must not cost. So each target's possible case ids and marks (for every
certificate type it could have) are matched against the expressions with pytest's own matcher; a
target none of whose possible cases can match is left alone. pytest's expression module is private:
without it, every target is taken as possibly selected.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..probing.targets import TargetSpec


def _compiled(text: str | None) -> Any:
    if not text:
        return None
    try:
        from _pytest.mark.expression import Expression
    except ImportError:  # private API gone: be safe, select everything
        return False
    return Expression.compile(text)


def may_be_selected(config: Any, target: TargetSpec) -> bool:
    keyword, markexpr = _compiled(config.option.keyword), _compiled(config.option.markexpr)
    if keyword is False or markexpr is False:
        return True
    if keyword is None and markexpr is None:
        return True
    from .cases import RULES, marks_for

    for cert_type in ("rsa", "ecdsa", "rsa,ecdsa"):
        variant = dataclasses.replace(target, cert_type=cert_type)
        for rules in RULES.values():
            test = rules.test
            for case in rules.cases([variant]):
                names = [f"{test}[{case.test_id}]", test, *(m.name for m in marks_for(case))]
                keyword_ok = keyword is None or keyword.evaluate(
                    lambda sub, **_: any(sub.lower() in name.lower() for name in names))
                marks = {m.name for m in marks_for(case)}
                mark_ok = markexpr is None or markexpr.evaluate(lambda name, **_: name in marks)
                if keyword_ok and mark_ok:
                    return True
    return False
