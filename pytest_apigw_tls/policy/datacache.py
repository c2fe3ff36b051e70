"""Packaged data files, parsed once per installation and kept beside them like bytecode.

tomllib is pure Python: parsing the catalog took 4-5 ms of every `apigw-tls scan`. The parsed value
is stored with marshal in the data folder's __pycache__, keyed by the file's size and modification
time, and read back while both are unchanged. A folder that cannot be written (a read-only
install) only means the file is parsed each time.
"""

from __future__ import annotations

import marshal
import os
import pathlib
import sys
from typing import Any, Callable


def cache_path(path: pathlib.Path) -> pathlib.Path:
    return path.parent / "__pycache__" / f"{path.name}.{sys.implementation.cache_tag}.marshal"


def parsed(path: pathlib.Path, parse: Callable[[str], Any]) -> Any:
    """`parse(text of path)`, from the cache when it was made from this very file."""
    stat = path.stat()
    key = (stat.st_size, stat.st_mtime_ns)
    cache = cache_path(path)
    try:
        stored_key, value = marshal.loads(cache.read_bytes())
        if tuple(stored_key) == key:
            return value
    except (OSError, EOFError, ValueError, TypeError):
        pass  # absent, unreadable or not ours: parse
    value = parse(path.read_text("utf-8"))
    _store(cache, key, value)
    return value


def _store(cache: pathlib.Path, key: tuple[int, int], value: Any) -> None:
    partial = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
    try:
        cache.parent.mkdir(exist_ok=True)
        partial.write_bytes(marshal.dumps((key, value)))
        os.replace(partial, cache)  # whole or not at all: a concurrent reader never sees half a file
    except (OSError, ValueError):  # read-only, or a value marshal cannot hold: parse next time too
        try:
            partial.unlink(missing_ok=True)
        except OSError:
            pass
