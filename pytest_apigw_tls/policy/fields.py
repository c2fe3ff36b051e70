"""Field types checked for every dataclass built from user input (server configs, settings), in one place.

TOML gives booleans, integers, floats, strings, lists and tables; a dataclass field's annotation says
which it must be. A bool is never an int here (`port = true` would bind port 1), NaN and infinity are
never numbers (`idle_timeout = nan` would reset every connection), and an int is a fine float.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from typing import Any

from ..errors import ConfigError


def _accepts(annotation: Any, value: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return any(_accepts(member, value) for member in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if annotation is str:
        return isinstance(value, str)
    if origin is dict:
        key_type, value_type = typing.get_args(annotation)
        return isinstance(value, dict) and all(_accepts(key_type, k) and _accepts(value_type, v)
                                               for k, v in value.items())
    if origin in (tuple, list):
        return isinstance(value, (tuple, list))
    return True


def _describe(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) or str(annotation)
    return {"str": "a string", "int": "a whole number", "float": "a finite number", "bool": "true or false"}.get(
        text, text.replace("NoneType", "None"))


def check_fields(cls: type, raw: dict[str, Any], where: str) -> None:
    """One-line ConfigError for a key that is not a field of dataclass `cls`, or a value of the wrong type."""
    hints = typing.get_type_hints(cls)
    check_values({f.name: hints[f.name] for f in dataclasses.fields(cls)}, raw, where)


def check_values(types: dict[str, Any], raw: dict[str, Any], where: str) -> None:
    """One-line ConfigError for a key `types` does not name, or a value not of the type it gives."""
    unknown = set(raw) - set(types)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {', '.join(sorted(unknown))} (known: {', '.join(sorted(types))})")
    for key, value in raw.items():
        if not _accepts(types[key], value):
            raise ConfigError(f"{where}: {key} must be {_describe(types[key])}, not {value!r}")


def read_toml(path: str, what: str) -> dict[str, Any]:
    """A user's TOML file, or one ConfigError line (unreadable, not UTF-8, malformed)."""
    import tomllib

    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except OSError as error:
        raise ConfigError(f"cannot read {what} {path}: {error.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: malformed TOML: {error}") from None
