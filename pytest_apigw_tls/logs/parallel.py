"""Large plain log files read by one process per core: the file is cut at line boundaries, each piece
read in order of the file, and the readings merged (logs.merge). Small, compressed or structured
inputs (JSON documents, Insights CSV) are read in one process, as before. With DuckDB installed (or
`--engine duckdb`), large JSON-lines files are read by it first (logs.engine), the reader taking
over any file it cannot read exactly."""

from __future__ import annotations

import concurrent.futures
import datetime
import os
import sys
from typing import TYPE_CHECKING, Iterator

from .readiness import Readiness, assess, merge
from .sources import GZIP_MAGIC, Item, expand, is_gzip, is_plain_lines, items

if TYPE_CHECKING:
    from ..policy.catalog import Catalog, Policy
    from .engine import Grouped
    from .formats import LogFormat

PARALLEL_ABOVE = 16 * 1024 * 1024  # bytes: below this, starting processes costs more than it saves
BLOCK = 1024 * 1024  # read and decoded a block at a time: memory stays flat whatever the file's size


def _pieces(path: str, count: int) -> list[tuple[int, int]]:
    """(start byte, end byte) of `count` pieces, each cut just after a newline."""
    size = os.path.getsize(path)
    cuts = [0]
    with open(path, "rb") as handle:
        for index in range(1, count):
            handle.seek(size * index // count)
            handle.readline()
            cuts.append(min(handle.tell(), size))
    cuts.append(size)
    return [(start, end) for start, end in zip(cuts, cuts[1:]) if end > start]


def _lines_before(path: str, pieces: list[tuple[int, int]]) -> list[int]:
    """How many lines come before each piece (for the line numbers of examples), a block at a time."""
    out, total = [], 0
    with open(path, "rb") as handle:
        for start, end in pieces:
            out.append(total)
            handle.seek(start)
            left = end - start
            while left > 0:
                block = handle.read(min(BLOCK, left))
                total, left = total + block.count(b"\n"), left - len(block)
    return out


def _piece_items(path: str, start: int, end: int) -> Iterator[Item]:
    """The piece's lines, numbered from 1, streamed (memory stays flat whatever the file's size)."""
    number, carry = 1, b""
    with open(path, "rb") as handle:
        handle.seek(start)
        left = end - start
        while left > 0:
            block = carry + handle.read(min(BLOCK, left))
            left -= len(block) - len(carry)
            cut = block.rfind(b"\n") + 1 if left > 0 else len(block)
            block, carry = block[:cut], block[cut:]
            lines = block.decode("utf-8", errors="replace").split("\n")
            if block.endswith(b"\n"):
                lines.pop()  # the split's empty tail after the last newline is not a line
            for line in lines:
                if line:
                    yield path, number, line.rstrip("\r")
                number += 1


def _read_piece(path: str, start: int, end: int, spec: str | None, policy_id: str,
                endpoint_type: str | None, strict: bool, server_name: str | None,
                split_at: datetime.datetime | None, policy_files: tuple[str, ...]) -> Readiness:
    from ..policy.catalog import load_catalog
    from .formats import log_format

    catalog = load_catalog(policy_files)  # a worker process builds the run's catalog from the same files
    return assess(_piece_items(path, start, end), log_format(spec),
                  catalog.policy(policy_id, endpoint_type), catalog, strict, server_name, split_at)


def _plain_and_large(path: str) -> bool:
    if path == "-" or os.path.getsize(path) < PARALLEL_ABOVE:
        return False
    with open(path, "rb") as handle:
        head = handle.read(4096)
    first = head.split(b"\n", 1)[0].decode("utf-8", errors="replace")
    return not head.startswith(GZIP_MAGIC) and is_plain_lines(first)


def content_size(path: str) -> int:
    """The bytes of text a file holds: for gzip, the size its trailer gives (modulo 2^32, so never
    taken below the compressed size); 1M log lines, 500 MB of text, gzip to 8 MB."""
    size = os.path.getsize(path)
    if size < 18 or not is_gzip(path):
        return size
    with open(path, "rb") as handle:
        handle.seek(-4, os.SEEK_END)
        return max(size, int.from_bytes(handle.read(4), "little"))


def _engine_reading(path: str, engine: str, fmt: LogFormat, policy: Policy, catalog: Catalog,
                    grouped: dict[str, Grouped | None]) -> Readiness | None:
    """DuckDB's reading of `path` (logs.engine), or None: the reader reads it. `grouped` keeps a file's
    grouping for the next policy (`logs --plan`)."""
    from . import engine as duckdb_engine

    if engine == "python" or path == "-" or engine == "auto" and (
            content_size(path) < PARALLEL_ABOVE or not duckdb_engine.available()):
        return None
    if path not in grouped:
        grouped[path] = duckdb_engine.read(path, fmt)
    reading = grouped[path]
    return reading.readiness(policy, catalog) if reading else None


def _say(progress: bool, text: str) -> None:
    if progress:
        sys.stderr.write(f"\r  reading: {text}\033[K")
        sys.stderr.flush()


def assess_inputs(paths: list[str], spec: str | None, policy_id: str, endpoint_type: str | None, strict: bool,
                  server_name: str | None, split_at: datetime.datetime | None,
                  progress: bool = False, policy_files: tuple[str, ...] = (), engine: str = "auto",
                  grouped: dict[str, Grouped | None] | None = None) -> Readiness:
    """Every input in order; large plain files in parallel pieces (or by DuckDB); with `progress`, a line
    on stderr."""
    from ..policy.catalog import load_catalog
    from .formats import log_format

    if engine == "duckdb":
        from .engine import require
        require()
    if strict or split_at is not None:
        engine = "python"  # the engine groups by client and pair only
    grouped = {} if grouped is None else grouped
    catalog = load_catalog(policy_files)
    policy = catalog.policy(policy_id, endpoint_type)
    fmt = log_format(spec)
    workers = max(1, min(os.cpu_count() or 1, 8))
    parts, offsets = [], []
    inputs = expand(paths)
    with concurrent.futures.ProcessPoolExecutor(workers) as pool:
        for number, path in enumerate(inputs, 1):
            where = f"{number}/{len(inputs)} {path}"
            _say(progress, where)
            reading = _engine_reading(path, engine, fmt, policy, catalog, grouped)
            if reading is not None:
                parts.append(reading)
                offsets.append(0)
            elif workers > 1 and _plain_and_large(path):
                pieces = _pieces(path, workers)
                _say(progress, f"{where} ({os.path.getsize(path) >> 20} MiB in {len(pieces)} pieces)")
                futures = [pool.submit(_read_piece, path, *piece, spec, policy_id, endpoint_type, strict,
                                       server_name, split_at, policy_files) for piece in pieces]
                offsets += _lines_before(path, pieces)  # counted while the pieces are being read
                for done, future in enumerate(futures, 1):
                    parts.append(future.result())
                    _say(progress, f"{where}: piece {done}/{len(pieces)} read")
            else:
                parts.append(assess(items([path]), fmt, policy, catalog, strict, server_name, split_at))
                offsets.append(0)
    _say(progress, f"{len(inputs)} inputs read\n")
    return merge(parts, offsets) if parts else Readiness(policy)
