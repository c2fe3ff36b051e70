"""Access-log formats: API Gateway's console presets and any `$context` format, each read by its own syntax.

A format is JSON (a template of `"key": "$context.x"`), XML (elements and attributes holding
variables), CSV (comma-separated variables, RFC 4180 quoting) or text (CLF and anything else: the
literal text between variables delimits them; a quoted variable may hold escaped quotes). A line
yields {variable: value}, or a reason why it does not parse: nothing is guessed.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import re
import xml.etree.ElementTree as ElementTree
from typing import Any, Callable

from ..errors import ConfigError

_VARIABLE = re.compile(r"\$context\.([A-Za-z0-9_.]+)")
TLS = "$context.tlsVersion $context.cipherSuite"
# The console's presets (API Gateway Developer Guide, "Access log formats"); add the TLS variables anywhere.
PRESETS = {
    "clf": ("$context.identity.sourceIp $context.identity.caller $context.identity.user [$context.requestTime]"
            "\"$context.httpMethod $context.resourcePath $context.protocol\" $context.status "
            "$context.responseLength $context.requestId $context.extendedRequestId"),
    "json": ('{ "requestId":"$context.requestId", "extendedRequestId":"$context.extendedRequestId",'
             '"ip": "$context.identity.sourceIp", "caller":"$context.identity.caller", '
             '"user":"$context.identity.user", "requestTime":"$context.requestTime", '
             '"httpMethod":"$context.httpMethod", "resourcePath":"$context.resourcePath", '
             '"status":"$context.status", "protocol":"$context.protocol", '
             '"responseLength":"$context.responseLength" }'),
    "xml": ('<request id="$context.requestId"> <extendedRequestId>$context.extendedRequestId</extendedRequestId> '
            '<ip>$context.identity.sourceIp</ip> <caller>$context.identity.caller</caller> '
            '<user>$context.identity.user</user> <requestTime>$context.requestTime</requestTime> '
            '<httpMethod>$context.httpMethod</httpMethod> <resourcePath>$context.resourcePath</resourcePath> '
            '<status>$context.status</status> <protocol>$context.protocol</protocol> '
            '<responseLength>$context.responseLength</responseLength> </request>'),
    "csv": ("$context.identity.sourceIp,$context.identity.caller,$context.identity.user,$context.requestTime,"
            "$context.httpMethod,$context.resourcePath,$context.protocol,$context.status,"
            "$context.responseLength,$context.requestId,$context.extendedRequestId"),
}


class Unparsable(ValueError):
    """A line that does not fit the format; the message says where."""


class DuplicateKeys(Unparsable):
    """A JSON line naming one key twice: which value counts is a guess, so the line is not counted."""


@dataclasses.dataclass
class LogFormat:
    """How to read a line. `parse(line)` -> {$context variable name: value}; raises Unparsable."""

    source: str
    kind: str
    parse: Callable[[str], dict[str, Any]]
    keys: dict[str, str] | None = None  # JSON only: line key -> variable, where the template renames them


def log_format(spec: str | None) -> LogFormat:
    """A preset name (clf, json, xml, csv, optionally "+tls" appended), a `$context` format string, or
    None: JSON lines whose keys are the variable names (the reference server's own log)."""
    if spec is None:
        return LogFormat("json lines", "json", _json_parser(None))
    name = spec.strip().lower()
    if name.removesuffix("+tls") in PRESETS:
        preset = PRESETS[name.removesuffix("+tls")]
        spec = _with_tls(name.removesuffix("+tls"), preset) if name.endswith("+tls") else preset
    stripped = spec.strip()
    template = None
    if stripped.startswith("{"):
        try:
            template = json.loads(stripped)
        except ValueError as error:
            raise ConfigError(f"--format looks like JSON but is not: {error}") from None
    if not _VARIABLE.search(stripped):
        raise ConfigError(f"--format has no $context variables (or name a preset: {', '.join(PRESETS)})")
    if isinstance(template, dict):
        keys = {key: m.group(1) for key, value in template.items()
                if isinstance(value, str) and (m := _VARIABLE.fullmatch(value.strip()))}
        return LogFormat(spec, "json", _json_parser(keys), keys)
    if stripped.startswith("<"):
        return LogFormat(spec, "xml", _xml_parser(stripped))
    if "," in stripped and " " not in stripped:
        return LogFormat(spec, "csv", _csv_parser(stripped))
    return LogFormat(spec, "text", _text_parser(stripped))


def _with_tls(name: str, preset: str) -> str:
    if name == "json":
        return preset.rstrip(" }") + ', "tlsVersion":"$context.tlsVersion", "cipherSuite":"$context.cipherSuite" }'
    if name == "xml":
        return preset.replace(" </request>", " <tlsVersion>$context.tlsVersion</tlsVersion> "
                                             "<cipherSuite>$context.cipherSuite</cipherSuite> </request>")
    if name == "csv":
        return preset + ",$context.tlsVersion,$context.cipherSuite"
    return f"{preset} {TLS}"


def _pairs_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        twice = next(key for key, _value in pairs if key in seen or seen.add(key))  # type: ignore[func-returns-value]
        raise DuplicateKeys(f"key {twice!r} appears twice")
    return result


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs_without_duplicates)


def _json_parser(keys: dict[str, str] | None) -> Callable[[str], dict[str, Any]]:
    scan = _DECODER.scan_once  # type: ignore[attr-defined]  # the C scanner, without decode()'s two Python layers (one call per line)

    def parse(line: str) -> dict[str, Any]:
        text = line.strip()
        try:
            data, end = scan(text, 0)
        except DuplicateKeys:
            raise
        except StopIteration:
            raise Unparsable("not JSON") from None
        except ValueError as error:
            raise Unparsable(f"not JSON: {error}") from None
        if end != len(text):
            raise Unparsable(f"not JSON: extra data at column {end + 1}")
        if not isinstance(data, dict):
            raise Unparsable("not a JSON object")
        return {keys[key] if key in keys else key: value for key, value in data.items()} if keys else data
    return parse


def _xml_parser(template: str) -> Callable[[str], dict[str, Any]]:
    try:
        root = ElementTree.fromstring(template)
    except ElementTree.ParseError as error:
        raise ConfigError(f"--format looks like XML but is not: {error}") from None
    paths: dict[tuple[str, ...], str] = {}  # (tag path..., "@attr" or "") -> variable

    def walk(element: ElementTree.Element, path: tuple[str, ...]) -> None:
        here = path + (element.tag,)
        for attribute, value in element.attrib.items():
            if m := _VARIABLE.fullmatch(value.strip()):
                paths[here + ("@" + attribute,)] = m.group(1)
        if element.text and (m := _VARIABLE.fullmatch(element.text.strip())):
            paths[here + ("",)] = m.group(1)
        for child in element:
            walk(child, here)
    walk(root, ())

    def parse(line: str) -> dict[str, Any]:
        try:
            element = ElementTree.fromstring(line)
        except ElementTree.ParseError as error:
            raise Unparsable(f"not XML: {error}") from None
        values: dict[str, Any] = {}
        for path, variable in paths.items():
            node: ElementTree.Element | None = element if element.tag == path[0] else None
            for tag in path[1:-1]:
                node = node.find(tag) if node is not None else None
            if node is None:
                raise Unparsable(f"no <{'/'.join(path[:-1])}> element")
            values[variable] = node.get(path[-1][1:]) if path[-1] else (node.text or "")
        return values
    return parse


def _csv_parser(template: str) -> Callable[[str], dict[str, Any]]:
    columns = [(_VARIABLE.fullmatch(cell.strip()) or None) for cell in template.split(",")]
    names = [m.group(1) if m else None for m in columns]

    def parse(line: str) -> dict[str, Any]:
        try:
            cells = next(csv.reader([line], strict=True))
        except csv.Error as error:
            raise Unparsable(f"not CSV: {error}") from None
        if len(cells) != len(names):
            raise Unparsable(f"{len(cells)} columns, the format has {len(names)}")
        return {name: cell for name, cell in zip(names, cells) if name}
    return parse


_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|.)")


def _unescape(value: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1)[1:], 16)) if m.group(1)[0] == "x" and len(m.group(1)) == 3
                       else m.group(1), value)


def _text_parser(template: str) -> Callable[[str], dict[str, Any]]:
    """CLF and custom formats: each variable runs up to the literal text that follows it (so
    `[$context.requestTime]` may hold a space); a quoted one may hold backslash-escaped quotes."""
    parts, names, position = [], [], 0
    matches = list(_VARIABLE.finditer(template))
    for index, match in enumerate(matches):
        literal = template[position:match.start()]
        if index and not literal:
            raise ConfigError(f"--format: $context.{matches[index - 1].group(1)} and $context.{match.group(1)} "
                              "have nothing between them, so their values cannot be told apart")
        parts.append(re.escape(literal))
        following = template[match.end():match.end() + 1]
        quoted = match.start() > 0 and template[match.start() - 1] in "\"'"
        if not following:
            parts.append("(.*?)" if quoted else "(\\S*)")
        elif quoted:  # a quoted value may hold spaces, escaped quotes, even a raw quote (the match backtracks)
            parts.append("(.*?)")
        elif following.isspace():  # an unquoted value ends at the space after it
            parts.append("((?:[^\\s\\\\]|\\\\.)*)")
        else:  # e.g. [$context.requestTime]: up to the closing bracket, spaces included
            parts.append(f"((?:[^{re.escape(following)}\\\\]|\\\\.)*)")
        names.append(match.group(1))  # a repeated variable: the first occurrence counts
        position = match.end()
    parts.append(re.escape(template[position:]))
    pattern = re.compile("".join(parts))

    def parse(line: str) -> dict[str, Any]:
        match = pattern.fullmatch(line.rstrip("\r\n"))
        if match is None:
            raise Unparsable("does not match the format")
        values: dict[str, Any] = {}
        for name, value in zip(names, match.groups()):
            values.setdefault(name, _unescape(value))
        return values
    return parse
