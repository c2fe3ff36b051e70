"""DuckDB's reading of an access log (logs.engine) is the reader's, byte for byte, on every preset and
input kind; it reads the clean files itself, and hands every file with a line it could read
otherwise back to the reader."""

import gzip
import json
import os
import random
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_apigw_tls.reference_server.accesslog import format_line

from pytest_apigw_tls.cli.main import main
from pytest_apigw_tls.logs import engine
from pytest_apigw_tls.logs.formats import log_format
from pytest_apigw_tls.logs.parallel import assess_inputs

pytest.importorskip("duckdb")

POLICIES = ["TLS_1_0", "SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09", "SecurityPolicy_TLS13_1_3_2025_09"]
CLIENTS = [("TLSv1", "AES128-SHA"), ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256"), ("TLSv1.2", "AES256-SHA256"),
           ("TLSv1.3", "TLS_AES_128_GCM_SHA256"), ("TLSv1.1", "ECDHE-RSA-AES128-SHA"),
           ("tlsv1.2", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"), ("TLSv1.2", "NOT-A-SUITE"), ("SSLv3", "RC4-SHA")]
TIMES = ["20/Nov/2026:10:00:00 +0000", "19/Nov/2026:23:59:59 -0500", "20/Nov/2026:04:00:00 +0100",
         "1763632800000", "1763632799", None]


def request(index, rng, version=None, suite=None):
    version_and_suite = rng.choice(CLIENTS)
    return {"requestId": f"{index:08x}", "requestTime": rng.choice(TIMES),
            "identity.sourceIp": f"198.51.100.{rng.randrange(6)}", "identity.userAgent": rng.choice(["a/1", "b/2"]),
            "httpMethod": "GET", "path": "/pets", "status": 200, "protocol": "HTTP/1.1",
            "tlsVersion": version or version_and_suite[0], "cipherSuite": suite or version_and_suite[1]}


def write(path, fmt, count, seed=1, extra=()):
    rng = random.Random(seed)
    lines = [format_line(fmt, request(index, rng)) for index in range(count)] + list(extra)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module", autouse=True)
def _duckdb_kept_open(tmp_path_factory):
    """The engine closes its DuckDB instance with the last reading alive (25 ms to open again): one
    reading held for the module keeps it open between tests. Closing is tested in a fresh process."""
    yield engine.read(str(write(tmp_path_factory.mktemp("held") / "held.log", "json", 5)), log_format(None))


def duckdb_reads(path, policy, spec=None):
    """Whether DuckDB gives this reading itself (not handing the file to the reader)."""
    grouped = engine.read(str(path), log_format(spec))
    return grouped is not None and grouped.readiness(*_policy(policy)) is not None


def both(path, policy, spec=None):
    """(DuckDB's reading, the reader's reading) as the JSON report writes them."""
    return tuple(assess_inputs([str(path)], spec, policy, None, False, None, None, engine=name).to_dict()
                 for name in ("duckdb", "python"))


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("suffix", [".log", ".gz"])
def test_duckdb_reads_the_servers_json_lines_and_gives_the_readers_answer(tmp_path, policy, suffix):
    path = write(tmp_path / f"access{suffix}", "json", 3000)
    assert duckdb_reads(path, policy)  # DuckDB read it, not the reader
    by_duckdb, by_reader = both(path, policy)
    assert by_duckdb == by_reader and by_reader["clients_at_risk"] and by_reader["requests"] == 3000


@pytest.mark.parametrize("preset", ["json+tls", "clf+tls", "csv+tls", "xml+tls"])
def test_every_console_preset_gets_the_readers_answer(tmp_path, preset):
    path = write(tmp_path / "access.log", log_format(preset).source, 500)
    policy = "SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09"
    assert duckdb_reads(path, policy, preset) == (preset == "json+tls")
    by_duckdb, by_reader = both(path, policy, preset)
    assert by_duckdb == by_reader and by_reader["requests"] == 500


_TLS = '"tlsVersion":"TLSv1","cipherSuite":"AES128-SHA"'
ODD_LINES = {  # one line DuckDB reads otherwise than the reader: the whole file goes to the reader
    "NaN in a string": '{"identity.userAgent":"x: NaN",' + _TLS + '}',  # the checks read bytes: they decline
    "brackets in a string": '{"identity.userAgent":"[x]",' + _TLS + '}',
    "duplicate key": '{"tlsVersion":"TLSv1.2","tlsVersion":"TLSv1","cipherSuite":"AES128-SHA"}',
    "duplicate key, one escaped": '{"tls\\u0056ersion":"TLSv1.2",' + _TLS + '}',
    "duplicate key elsewhere": '{' + _TLS + ',"x":1,"x":2}',
    "trailing comma": '{' + _TLS + ',}',
    "trailing comma and spaces": '{' + _TLS + ', \t }',
    "nested value": '{' + _TLS + ',"x":{"y":1}}',
    "nested value after a space": '{' + _TLS + ',"x": {"y":1,"y":2}}',
    "array": '["TLSv1"]',
    "array value": '{' + _TLS + ',"x":[1,]}',
    "nan": '{' + _TLS + ',"x":nan}',
    "-Inf": '{' + _TLS + ',"x": -Inf}',
    "infinity": '{' + _TLS + ',"x":infinity}',
    "number for a version": '{"tlsVersion":1.2,"cipherSuite":"AES128-SHA"}',
    "boolean for an address": '{"identity.sourceIp":true,' + _TLS + '}',
    "no TLS version": '{"identity.sourceIp":"192.0.2.1"}',
    "ISO time": '{"requestTime":"2026-11-20T10:00:00Z",' + _TLS + '}',
    "offset beyond a day": '{"requestTime":"20/Nov/2026:10:00:00 +9959",' + _TLS + '}',
    "hour 24": '{"requestTime":"20/Nov/2026:24:00:00 +0000",' + _TLS + '}',
    "ms epoch past 2^32 s": '{"requestTime":"4294967296001",' + _TLS + '}',
    "lone carriage return": '{"tlsVersion":"TLSv1",\r"cipherSuite":"AES128-SHA"}',
    "CloudWatch prefix": '2026-11-20T10:00:00.000Z {' + _TLS + '}',
    "not JSON": "GET /pets 200",
    "NUL": '{' + _TLS + ',"x":"\x00"}',
    "epoch beyond a datetime": '{"requestTime":"999999999999999",' + _TLS + '}',
}
READ_ALIKE = {  # lines DuckDB reads itself, as the reader does
    "control character": '{"identity.userAgent":"a\\u0007b",' + _TLS + '}',
    "not ASCII": '{"identity.userAgent":"caf\\u00e9 \u00e9",' + _TLS + '}',
    "escaped quote and slash": '{"identity.userAgent":"a\\"b\\\\c\\/d",' + _TLS + '}',
    "escaped key": '{"tls\\u0056ersion":"TLSv1","cipherSuite":"AES128-SHA"}',
    "escaped NUL": '{' + _TLS + ',"x":"\\u0000"}',
    "escaped time": '{"requestTime":"20\\/Nov/2026:10:00:00 +0000",' + _TLS + '}',
    "braces in a string": '{"identity.userAgent":"{z}, x,}",' + _TLS + '}',
    "ms epoch with a fraction": '{"requestTime":"1763632800123",' + _TLS + '}',
    "epoch as a number": '{"requestTime":1763632801,' + _TLS + '}',
    "spaces around colons": '{ "tlsVersion" : "TLSv1" , "cipherSuite" : "AES128-SHA" }',
    "a boolean for an accepted client's address": '{"identity.sourceIp":true,' + _TLS + '}',
    "dash and empty values": '{"identity.sourceIp":"-","identity.userAgent":"",' + _TLS + '}',
}


@pytest.mark.parametrize("kind", ODD_LINES)
def test_a_file_with_a_line_duckdb_reads_otherwise_goes_to_the_reader(tmp_path, kind):
    """Under a policy refusing the line's TLS 1.0 (a client's values are decoded only where refused)."""
    path = write(tmp_path / "access.log", "json", 60, extra=[ODD_LINES[kind]])
    assert not duckdb_reads(path, "SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09")
    by_duckdb, by_reader = both(path, "SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09")
    assert by_duckdb == by_reader


@pytest.mark.parametrize("kind", READ_ALIKE)
def test_a_line_both_read_alike_stays_with_duckdb(tmp_path, kind):
    path = write(tmp_path / "access.log", "json", 60, extra=[READ_ALIKE[kind]])
    assert duckdb_reads(path, "TLS_1_0")
    by_duckdb, by_reader = both(path, "SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09")
    assert by_duckdb == by_reader and by_reader["requests"] == 61 and by_reader["unread"]["unparsable"] == 0


def test_a_byte_order_mark_goes_to_the_reader(tmp_path):
    path = tmp_path / "access.log"
    path.write_bytes(b"\xef\xbb\xbf" + write(tmp_path / "plain.log", "json", 50).read_bytes())
    assert not duckdb_reads(path, "TLS_1_0")
    by_duckdb, by_reader = both(path, "TLS_1_0")
    assert by_duckdb == by_reader


def test_unjudged_requests_go_to_the_reader_with_their_line_numbers(tmp_path):
    """A policy that narrows TLS 1.3 suites (FIPS) cannot judge a TLS 1.3 request without
    $context.cipherSuite; one that allows every TLS 1.3 suite can."""
    path = write(tmp_path / "access.log", "json", 100, extra=['{"tlsVersion":"TLSv1.3"}'])
    narrowing = "SecurityPolicy_TLS13_1_3_FIPS_2025_09"
    assert duckdb_reads(path, "SecurityPolicy_TLS13_1_3_2025_09") and not duckdb_reads(path, narrowing)
    by_duckdb, by_reader = both(path, narrowing)
    assert by_duckdb == by_reader and by_reader["unread"]["examples"][0].endswith(
        f"access.log:101: no $context.cipherSuite, and {narrowing} refuses suites "
        "API Gateway negotiates at TLSv1.3: {'tlsVersion': 'TLSv1.3'}")


def _policy(name):
    from pytest_apigw_tls.policy.catalog import builtin_catalog

    catalog = builtin_catalog()
    return catalog.policy(name), catalog


TIME_TEXT = st.builds("{:02d}/{}/2026:{:02d}:{:02d}:00 {}{:02d}{:02d}".format, st.integers(0, 39),
                      st.sampled_from(["Nov", "nov", "Foo"]), st.integers(0, 29), st.integers(0, 69),
                      st.sampled_from("+-"), st.integers(0, 99), st.integers(0, 69))
VALUE = st.one_of(st.none(), st.sampled_from(["", "-", "TLSv1.2", "TLSv1", "AES128-SHA", "x y", 'q"q']), TIME_TEXT,
                  st.integers(-5, 2 * 10 ** 13), st.booleans(), st.text(max_size=4))
KEY = st.sampled_from(["tlsVersion", "tls_version", "cipherSuite", "cipher_suite", "identity.sourceIp", "ip",
                       "clientIp", "userAgent", "requestTime", "requestTimeEpoch", "timestamp", "other"])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.dictionaries(KEY, VALUE, max_size=6), min_size=1, max_size=8), seed=st.integers(0, 99))
def test_drawn_lines_never_make_the_two_readings_differ(tmp_path, lines, seed):
    """Whatever the keys, aliases and value types, DuckDB either gives the reader's answer or declines."""
    path = write(tmp_path / "drawn.log", "json", 40, seed=seed, extra=[json.dumps(line) for line in lines])
    for policy in ("TLS_1_0", "SecurityPolicy_TLS13_1_3_2025_09"):
        by_duckdb, by_reader = both(path, policy)
        assert by_duckdb == by_reader


MUTATED_FROM = [
    '{"requestTime":"20/Nov/2026:10:00:00 +0000","identity.sourceIp":"198.51.100.1","identity.userAgent":"a/1",'
    '"tlsVersion":"TLSv1","cipherSuite":"AES128-SHA","status":200,"x":null}',
    '{ "requestTime":"1763632800123", "identity.sourceIp":"198.51.100.2", "identity.userAgent":"b, c", '
    '"tlsVersion":"TLSv1.2", "cipherSuite":"AES256-SHA256" }']
SWAPS = [("null", "nan"), ("200", "-Inf"), ("200", "Infinity"), ("null", "NaN"), ("null}", "null,}"), (" }", ", }"),
         ("null", "[1,]"), ("null", '{"y":1,"y":2}'), ("null", " {}"), ('"x"', '"status"'), ('"x"', '"tls_version"'),
         ('"1763632800123"', "1763632800"), ('"1763632800123"', '"4294967296001"'), ("+0000", "+2400"),
         ('"a/1"', '"a\\u00e9"'), ('"a/1"', '"-"'), ('"a/1"', "null"), ('"TLSv1"', '"TLS\\u0076 1"'),
         ('"tlsVersion"', '"tls\\u0056ersion"'), ('"TLSv1.2"', "1.2"), ('"198.51.100.1"', "true"), ("Nov", "nov"),
         ("10:00:00", "10:00:60")]
INSERTED = [",", " ", "\t", "{", "}", "[", "nan", "Infinity", '"', "\\", "\\u0041", "\r", ":", '"x":1', ',"x":2',
            ',"tlsVersion":"TLSv1.3"', "\x00", "\u00e9", "\\/"]


@st.composite
def mutated_lines(draw):
    """A server's line with values swapped for ones Python's json and DuckDB's yyjson may read
    differently (NaN spellings, trailing commas, nested values, escapes, odd times) and bytes inserted."""
    line = draw(st.sampled_from(MUTATED_FROM))
    for old, new in draw(st.lists(st.sampled_from(SWAPS), max_size=2)):
        line = line.replace(old, new, 1)
    for at, text in draw(st.lists(st.tuples(st.integers(0, 400), st.sampled_from(INSERTED)), max_size=2)):
        line = line[:at] + text + line[at:]
    return line


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(mutated_lines(), min_size=1, max_size=3), seed=st.integers(0, 99))
def test_mutated_lines_never_make_the_two_readings_differ(tmp_path, lines, seed):
    """Byte-level odd lines: DuckDB either gives the reader's answer or declines (before, a lowercase
    nan or -Inf in any value made it count a line the reader calls unparsable)."""
    path = write(tmp_path / "mutated.log", "json", 30, seed=seed, extra=lines)
    for policy in ("TLS_1_0", "SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09"):
        by_duckdb, by_reader = both(path, policy)
        assert by_duckdb == by_reader


TEMPLATE = ('{"src":"$context.identity.sourceIp","ip2":"$context.identity.sourceIp","v":"$context.tlsVersion",'
            '"s":"$context.cipherSuite","t":"$context.requestTime","t2":"$context.requestTime"}')


@pytest.mark.parametrize("both_named, duckdb_reads_it", [(False, True), (True, False)])
def test_a_template_renaming_keys_is_read_by_its_names(tmp_path, both_named, duckdb_reads_it):
    """A --format template renames keys (src is the address, t the time); a line holding two keys the
    template names alike (src and ip2) is the reader's to judge: which one wins depends on key order."""
    rng = random.Random(3)
    lines = []
    for index in range(300):
        version, suite = rng.choice(CLIENTS)
        line = {"src": f"198.51.100.{rng.randrange(4)}", "v": version, "s": suite, "t": rng.choice(TIMES[:3])}
        if both_named and index == 150:
            line["ip2"] = "203.0.113.1"
        lines.append(json.dumps(line))
    path = tmp_path / "access.log"
    path.write_text("\n".join(lines) + "\n")
    policy = "SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09"
    assert duckdb_reads(path, policy, TEMPLATE) == duckdb_reads_it
    by_duckdb, by_reader = both(path, policy, TEMPLATE)
    assert by_duckdb == by_reader and by_reader["clients_at_risk"][0]["first_seen"]


def test_logs_plan_reads_a_file_once_for_every_candidate(tmp_path, capsys, monkeypatch):
    path = write(tmp_path / "access.log", "json", 400)
    reads = []
    monkeypatch.setattr(engine, "read", lambda *args, real=engine.read: reads.append(args) or real(*args))
    assert main(["logs", "--plan", "--engine", "duckdb", "--json", "-", str(path)]) in (0, 1)
    by_duckdb = json.loads(capsys.readouterr().out)
    assert len(reads) == 1
    assert main(["logs", "--plan", "--engine", "python", "--json", "-", str(path)]) in (0, 1)
    assert by_duckdb == json.loads(capsys.readouterr().out)


def test_a_later_line_with_another_alias_is_read_with_every_key(tmp_path):
    """DuckDB extracts the consulted keys of the first line; a later line naming the address under
    another key the reader knows (clientIp) makes it read the file again with all of them."""
    later = '{"clientIp":"203.0.113.9","tlsVersion":"TLSv1","cipherSuite":"AES128-SHA"}'
    path = write(tmp_path / "access.log", "json", 100, extra=[later])
    policy = "SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09"
    assert duckdb_reads(path, policy)
    by_duckdb, by_reader = both(path, policy)
    assert by_duckdb == by_reader and "203.0.113.9" in {c["source_ip"] for c in by_reader["clients_at_risk"]}


def test_auto_reads_large_files_with_duckdb_and_small_ones_with_the_reader(tmp_path, monkeypatch):
    from pytest_apigw_tls.logs import parallel

    path = write(tmp_path / "access.log", "json", 50)
    reads = []
    monkeypatch.setattr(engine, "read", lambda *args, real=engine.read: reads.append(args) or real(*args))
    assess_inputs([str(path)], None, "TLS_1_0", None, False, None, None)
    assert reads == []  # 50 lines: under the size where DuckDB's start-up pays
    monkeypatch.setattr(parallel, "PARALLEL_ABOVE", 0)
    assess_inputs([str(path)], None, "TLS_1_0", None, False, None, None)
    assert len(reads) == 1


def test_auto_weighs_a_gzipped_file_by_the_text_it_holds(tmp_path, monkeypatch):
    """3,000 lines gzip to a few dozen KB: auto reads them with DuckDB when their text is large."""
    from pytest_apigw_tls.logs import parallel

    path = write(tmp_path / "access.log.gz", "json", 3000)
    monkeypatch.setattr(parallel, "PARALLEL_ABOVE", 200_000)
    assert path.stat().st_size < parallel.PARALLEL_ABOVE < len(gzip.decompress(path.read_bytes()))
    reads = []
    monkeypatch.setattr(engine, "read", lambda *args, real=engine.read: reads.append(args) or real(*args))
    assess_inputs([str(path)], None, "TLS_1_0", None, False, None, None)
    assert len(reads) == 1


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads in /proc (Linux)")
def test_many_files_share_one_duckdb_instance(tmp_path):
    """Each DuckDB instance starts its own threads (9 here): 40 hourly files held at once (as `logs
    --plan` holds them for every candidate) must not start 40 of them."""
    paths = [str(write(tmp_path / f"access-{hour:02d}.log", "json", 30, seed=hour)) for hour in range(40)]
    policy, catalog = _policy("TLS_1_0")
    threads = len(os.listdir("/proc/self/task"))
    readings = [engine.read(path, log_format(None)) for path in paths]
    assert len(os.listdir("/proc/self/task")) <= threads + 2
    assert all(reading and reading.readiness(policy, catalog) for reading in readings)


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads in /proc (Linux)")
def test_the_duckdb_instance_closes_with_the_last_reading(tmp_path):
    """No DuckDB thread is left once the readings go: the reader forks its workers after. In a fresh
    process, where no other reading is held."""
    path = write(tmp_path / "access.log", "json", 30)
    script = f"""
import gc, os
from pytest_apigw_tls.logs import engine
from pytest_apigw_tls.logs.formats import log_format
before = len(os.listdir("/proc/self/task"))
readings = [engine.read({str(path)!r}, log_format(None)) for _ in range(3)]
held = len(os.listdir("/proc/self/task"))
del readings
gc.collect()
print(before, held, len(os.listdir("/proc/self/task")), engine._Table._connection is None)
"""
    before, held, after, closed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                                 check=True).stdout.split()
    assert int(held) > int(before) and int(after) <= int(before) and closed == "True"


def test_plan_without_duckdb_says_it_reads_large_logs_once_per_candidate(tmp_path, monkeypatch, capsys):
    from pytest_apigw_tls.logs import plan

    path = write(tmp_path / "access.log", "json", 50)
    monkeypatch.setattr(engine, "available", lambda: False)
    assert main(["logs", "--plan", str(path)]) in (0, 1)
    assert "without DuckDB" not in capsys.readouterr().err  # small: nothing to say
    monkeypatch.setattr(plan, "PARALLEL_ABOVE", 1000)
    assert main(["logs", "--plan", str(path)]) in (0, 1)
    assert "note: without DuckDB the logs are read once for each of " in capsys.readouterr().err
    assert main(["logs", "--plan", "--engine", "python", str(path)]) in (0, 1)
    assert "without DuckDB" not in capsys.readouterr().err  # the reader was asked for


def test_engine_duckdb_without_duckdb_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(engine, "available", lambda: False)
    path = write(tmp_path / "access.log", "json", 5)
    assert main(["logs", "--policy", "TLS_1_0", "--engine", "duckdb", str(path)]) == 2
    assert capsys.readouterr().err.strip().endswith("--engine duckdb needs DuckDB: pip install "
                                                    "'pytest-apigw-tls[logs]'")
