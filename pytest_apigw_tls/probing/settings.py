"""How hard and how fast to probe, declared once: each setting's name, type, default, bounds and help.

`apigw-tls scan --NAME` and the plugin's `--apigw-NAME` (and its ini key) are generated from this
table and checked by `read_settings`, so both front-ends offer the same settings with the same
defaults, limits and one-line errors.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

from ..errors import ConfigError

MAX_SECONDS = 86_400.0  # the longest timeout, delay or deadline: longer waits overflow socket timeouts


class Setting(NamedTuple):
    name: str  # the option's name after its prefix: --timeout, --apigw-timeout
    kind: type  # int or float
    default: float
    low: float
    high: float
    metavar: str
    help: str

    @property
    def field(self) -> str:
        return self.name.replace("-", "_")

    @property
    def help_with_default(self) -> str:
        return f"{self.help} (default {self.default:g})"


SETTINGS = (
    Setting("timeout", float, 5.0, 0.001, MAX_SECONDS, "SECONDS", "seconds to wait for one probe's answer"),
    Setting("retries", int, 1, 0, 100, "N",
            "retries of a probe that timed out, was reset or got bytes it could not parse"),
    Setting("concurrency", int, 8, 1, 1024, "N", "probes in flight per target"),
    Setting("total-concurrency", int, 32, 1, 4096, "N", "probes in flight across all targets"),
    Setting("delay", float, 0.0, 0.0, MAX_SECONDS, "SECONDS",
            "pause between probe starts, for endpoints that rate-limit"),
    Setting("deadline", float, 300.0, 0.001, MAX_SECONDS, "SECONDS",
            "the most one target's scan may take; questions not asked by then are inconclusive"),
    Setting("backoff-pause", float, 1.0, 0.0, MAX_SECONDS, "SECONDS",
            "quiet before allowed items a target refused, or a target that answered both ways, are asked again "
            "(a rate limiter's window)"),
)
DEFAULTS = {setting.field: setting.default for setting in SETTINGS}


def read_settings(given: Callable[[str], str | None], prefix: str) -> dict[str, float]:
    """field -> value for every setting, from `given(name)` (text, or None for the default); a value
    that is not a number or out of bounds is one ConfigError line naming `prefix + name`."""
    values: dict[str, float] = {}
    for setting in SETTINGS:
        text = given(setting.name)
        if text is None:
            values[setting.field] = setting.kind(setting.default)
            continue
        try:
            value = setting.kind(text)
        except ValueError:
            raise ConfigError(f"{prefix}{setting.name}: not {'an integer' if setting.kind is int else 'a number'}: "
                              f"{text!r}") from None
        if not (math.isfinite(value) and setting.low <= value <= setting.high):
            raise ConfigError(f"{prefix}{setting.name} must be a finite number from {setting.low:g} to "
                              f"{setting.high:g}, not {text}")
        values[setting.field] = value
    return values
