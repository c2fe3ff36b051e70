"""Where access logs come from: files, directories, gzip, standard input, and how CloudWatch hands them out.

Yields what each input holds, one item per log event: a line of text, or (CloudWatch Logs Insights
CSV export) a row of named columns; an export of the console's default query (@timestamp,@message)
yields each @message as its line. Wrappers are undone here: the timestamp CloudWatch puts before
each line of an S3 export, `aws logs tail`'s timestamp and stream name, the JSON document of
`aws logs filter-log-events`. Nothing is decided here about whether an item is a request.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import sys
from typing import IO, Iterator

from ..errors import ConfigError

Item = tuple[str, int, "str | dict[str, str]"]  # (input name, line number, text or named columns)
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:?\d{2})? ")
_INSIGHTS_COLUMNS = ("tlsVersion", "cipherSuite")
_MESSAGE_COLUMN = "@message"


def expand(paths: list[str]) -> list[str]:
    """Files as given, directories as every file below them (sorted); unreadable ones are one error."""
    out = []
    for path in paths:
        if path == "-":
            out.append(path)
        elif os.path.isdir(path):
            out += sorted(os.path.join(root, name) for root, _dirs, names in os.walk(path) for name in names)
        elif os.path.exists(path):
            out.append(path)
        else:
            raise ConfigError(f"cannot read {path}: No such file or directory")
    for path in out:
        if path != "-" and not os.access(path, os.R_OK):
            raise ConfigError(f"cannot read {path}: Permission denied")
    return out


GZIP_MAGIC = b"\x1f\x8b"


def is_gzip(path: str) -> bool:
    with open(path, "rb") as probe:
        return probe.read(2) == GZIP_MAGIC


def open_text(path: str) -> IO[str]:
    """An input's text, gzipped or not ('-': standard input); bytes that are not UTF-8 replaced."""
    if path == "-":
        return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
    if is_gzip(path):
        return io.TextIOWrapper(gzip.open(path), encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def items(paths: list[str]) -> Iterator[Item]:
    for path in expand(paths):
        name = "<stdin>" if path == "-" else path
        try:
            with open_text(path) as handle:
                yield from _items_of(name, handle)
        except (OSError, EOFError) as error:  # a truncated .gz: what was read counts, the rest is said
            yield name, -1, f"\x00unreadable: {error}"


def _is_document(first: str) -> bool:
    """A JSON document (`aws logs filter-log-events`), not JSON lines."""
    return first.strip() in ("{", "[") or first.lstrip().startswith('{"events"')


def is_plain_lines(first: str) -> bool:
    """Whether an input whose first line is `first` is read line by line (not unwrapped as an export)."""
    return not (_is_document(first) or _is_message_export(first) or is_insights_header(first))


def _items_of(name: str, handle: IO[str]) -> Iterator[Item]:
    first = handle.readline()
    if _is_document(first):
        text = first + handle.read()
        yield from _filter_log_events(name, text)
        return
    if _is_message_export(first):  # the console's default query: @timestamp,@message (the line itself)
        reader = csv.DictReader(handle, fieldnames=next(csv.reader([first])))
        for number, row in enumerate(reader, 2):
            message = row.get(_MESSAGE_COLUMN)
            yield name, number, message.rstrip("\r\n") if isinstance(message, str) else "\x00not a log event"
        return
    if is_insights_header(first):
        reader = csv.DictReader(handle, fieldnames=next(csv.reader([first])))
        for number, row in enumerate(reader, 2):
            yield name, number, {k: v for k, v in row.items() if k is not None}
        return
    if first:
        yield name, 1, first.rstrip("\r\n")
    for number, line in enumerate(handle, 2):
        yield name, number, line.rstrip("\r\n")


def _is_message_export(line: str) -> bool:
    return _MESSAGE_COLUMN in (cell.strip() for cell in next(csv.reader([line]), []))


def is_insights_header(line: str) -> bool:
    cells = next(csv.reader([line]), [])
    return any(c.strip() in _INSIGHTS_COLUMNS for c in cells) and not any("$context" in c for c in cells)


def _filter_log_events(name: str, text: str) -> Iterator[Item]:
    try:
        document = json.loads(text)
        events = document["events"]
    except (ValueError, KeyError, TypeError):
        yield name, 1, text.splitlines()[0] if text else ""
        return
    for number, event in enumerate(events, 1):
        message = event.get("message") if isinstance(event, dict) else None
        yield name, number, message.rstrip("\r\n") if isinstance(message, str) else "\x00not a log event"


def unwrapped(line: str) -> list[str]:
    """The line, and what it may be under CloudWatch's prefixes: an S3 export's timestamp, or
    `aws logs tail`'s timestamp and log stream name. The reader tries them in this order."""
    match = _TIMESTAMP.match(line)
    if not match:
        return [line]
    rest = line[match.end():]
    _stream, _, message = rest.partition(" ")
    return [line, rest, message] if message else [line, rest]
