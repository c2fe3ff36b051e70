"""The parse cache of packaged data files: used only while it matches the file, never in the way."""

import datetime
import os
import tomllib

from pytest_apigw_tls.policy import datacache
from pytest_apigw_tls.policy.catalog import builtin_catalog, parse_catalog
from pytest_apigw_tls.policy.universe import DATA


class CountingParse:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, text: str) -> object:
        self.calls += 1
        return tomllib.loads(text)


def test_a_file_is_parsed_once_then_read_back(tmp_path):
    path = tmp_path / "data.toml"
    path.write_text('a = [1, 2]\nb = { c = "d" }\n')
    parse = CountingParse()
    first = datacache.parsed(path, parse)
    second = datacache.parsed(path, parse)
    assert first == second == {"a": [1, 2], "b": {"c": "d"}}
    assert parse.calls == 1
    assert datacache.cache_path(path).is_file()


def test_a_changed_file_is_parsed_again(tmp_path):
    path = tmp_path / "data.toml"
    path.write_text("a = 1\n")
    parse = CountingParse()
    datacache.parsed(path, parse)
    path.write_text("a = 22\n")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    assert datacache.parsed(path, parse) == {"a": 22}
    assert parse.calls == 2


def test_a_damaged_cache_is_parsed_over(tmp_path):
    path = tmp_path / "data.toml"
    path.write_text("a = 1\n")
    parse = CountingParse()
    datacache.parsed(path, parse)
    datacache.cache_path(path).write_bytes(b"\x00not marshal")
    assert datacache.parsed(path, parse) == {"a": 1}
    assert datacache.parsed(path, parse) == {"a": 1}
    assert parse.calls == 2


def test_a_folder_that_cannot_hold_the_cache_only_costs_a_parse_each_time(tmp_path):
    (tmp_path / "__pycache__").write_text("a file where the folder would go")
    path = tmp_path / "data.toml"
    path.write_text("a = 1\n")
    parse = CountingParse()
    assert datacache.parsed(path, parse) == datacache.parsed(path, parse) == {"a": 1}
    assert parse.calls == 2


def test_a_value_marshal_cannot_hold_is_returned_and_not_cached(tmp_path):
    path = tmp_path / "data.toml"
    path.write_text("when = 2026-11-26\n")
    assert datacache.parsed(path, tomllib.loads) == {"when": datetime.date(2026, 11, 26)}
    assert not datacache.cache_path(path).exists()
    assert not list((tmp_path / "__pycache__").iterdir())  # no partial file left behind


def test_the_packaged_catalog_from_the_cache_is_the_catalog_parsed_afresh():
    assert builtin_catalog() == parse_catalog((DATA / "catalog.toml").read_text("utf-8"))
