"""The generated Athena SQL gives the local reader's answer: run on DuckDB over the same JSON access
logs (the reference server's, plus hand-made tricky lines), per client, for several policies."""

import json

import pytest

from pytest_apigw_tls.cli.main import main
from pytest_apigw_tls.logs.queries import athena_sql, insights_query, rules_for
from pytest_apigw_tls.policy.catalog import builtin_catalog

from .helpers import duckdb_over_json_logs
from .test_logs import traffic

duckdb = pytest.importorskip("duckdb")

CATALOG = builtin_catalog()
POLICIES = ["TLS_1_0", "TLS_1_2", "SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09", "SecurityPolicy_TLS13_1_3_2025_09",
            "SecurityPolicy_TLS13_1_2_2021_06"]
TRICKY = [  # spellings, missing values, unknown suites, quotes: the reader's edge cases
    {"identity.sourceIp": "192.0.2.10", "identity.userAgent": 'curl "quoted"', "tlsVersion": "tlsv1.2",
     "cipherSuite": "AES128-SHA"},
    {"identity.sourceIp": "192.0.2.11", "identity.userAgent": "old", "tlsVersion": "TLSv1.2", "cipherSuite": "-"},
    {"identity.sourceIp": "192.0.2.12", "identity.userAgent": "odd", "tlsVersion": "TLSv1.2",
     "cipherSuite": "NOT-A-SUITE"},
    {"identity.sourceIp": "192.0.2.13", "identity.userAgent": "iana", "tlsVersion": "TLSv1.2",
     "cipherSuite": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
    {"identity.sourceIp": "192.0.2.14", "identity.userAgent": "ancient", "tlsVersion": "SSLv3",
     "cipherSuite": "RC4-SHA"},
    {"identity.sourceIp": "", "identity.userAgent": "no ip", "tlsVersion": "TLSv1", "cipherSuite": "AES128-SHA"},
    {"identity.sourceIp": "192.0.2.15", "identity.userAgent": "no tls"},
]


@pytest.fixture(scope="module")
def access_log(tmp_path_factory):
    path = tmp_path_factory.mktemp("logs") / "access.log"
    traffic(path, "json")
    with open(path, "a") as handle:
        handle.writelines(json.dumps(line) + "\n" for line in TRICKY)
    return path


def reader_counts(path, capsys, *options):
    """(source ip -> requests refused, requests unjudged), and the report, from `apigw-tls logs --json`."""
    main(["logs", *options, "--json", "-", "--max-unread", "1", str(path)])
    report = json.loads(capsys.readouterr().out)
    counts = {c["source_ip"]: c["requests"] for c in report["clients_at_risk"]}
    return (counts, report["unread"]["without_cipher_suite"]), report


def counts_of(rows):
    """source ip -> requests refused, and the requests unjudged, from the SQL's rows."""
    refused = {}
    for ip, _agent, requests_refused, _unjudged in rows:
        if requests_refused:
            refused[ip] = refused.get(ip, 0) + requests_refused
    return refused, sum(row[3] for row in rows)


def sql_counts(path, policy):
    connection = duckdb_over_json_logs(path)
    return counts_of(connection.execute(athena_sql(rules_for(CATALOG.policy(policy), CATALOG))).fetchall())


@pytest.mark.parametrize("policy", POLICIES)
def test_the_generated_sql_gives_the_readers_clients_and_unjudged_requests(access_log, policy, capsys):
    assert sql_counts(access_log, policy) == reader_counts(access_log, capsys, "--policy", policy)[0]


def test_the_queries_are_printed_for_where_the_logs_live(capsys):
    assert main(["logs", "--policy", "TLS_1_2", "--query", "athena"]) == 0
    assert "FROM apigw_access_logs" in capsys.readouterr().out
    assert main(["logs", "--policy", "SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09", "--query", "insights"]) == 0
    query = capsys.readouterr().out
    assert "| stats sum(refused) as requests_refused" in query and '"TLSv1.2"' in query
    assert insights_query(rules_for(CATALOG.policy("TLS_1_2"), CATALOG)).startswith("# clients that TLS_1_2")


CSV_COLUMNS = ["source_ip", "caller", "user", "request_time", "method", "resource", "protocol", "status", "length",
               "request_id", "extended_id", "tls_version", "cipher_suite"]
CSV_TRICKY = ['192.0.2.20,-,-,20/Nov/2026:10:00:00 +0000,GET,/pets,HTTP/1.1,200,1,r1,e1,TLSv1.2,AES128-SHA',
              '192.0.2.21,-,-,20/Nov/2026:10:00:00 +0000,GET,/pets,HTTP/1.1,200,1,r2,e2,TLSv1.2,-',
              '192.0.2.22,-,-,20/Nov/2026:10:00:00 +0000,GET,"/a,b",HTTP/1.1,200,1,r3,e3,TLSv1,AES128-SHA',
              '192.0.2.23,-,-,20/Nov/2026:10:00:00 +0000,GET,/pets,HTTP/1.1,200,1,r4,e4,-,-']


@pytest.fixture(scope="module")
def csv_log(tmp_path_factory):
    from pytest_apigw_tls.logs.formats import log_format

    path = tmp_path_factory.mktemp("logs") / "access.csv"
    traffic(path, log_format("csv+tls").source)
    with open(path, "a") as handle:
        handle.writelines(line + "\n" for line in CSV_TRICKY)
    return path


def csv_sql_counts(path, policy):
    """The same SQL over the CSV preset, as the README's OpenCSVSerde table would read it (the CSV
    preset logs no user agent)."""
    connection = duckdb.connect()
    columns = ", ".join(f"'{name}': 'VARCHAR'" for name in CSV_COLUMNS)
    connection.execute(f"""CREATE VIEW apigw_access_logs AS
        SELECT source_ip, NULL AS user_agent, tls_version, cipher_suite
        FROM read_csv('{path}', header = false, quote = '"', escape = '"', columns = {{{columns}}})""")
    return counts_of(connection.execute(athena_sql(rules_for(CATALOG.policy(policy), CATALOG))).fetchall())


@pytest.mark.parametrize("policy", POLICIES)
def test_the_generated_sql_gives_the_readers_answer_on_the_csv_preset(csv_log, policy, capsys):
    by_reader, report = reader_counts(csv_log, capsys, "--policy", policy, "--format", "csv+tls")
    assert csv_sql_counts(csv_log, policy) == by_reader and report["requests"] >= 8
    assert by_reader[0] or policy == "TLS_1_0"  # refused clients, compared


@pytest.mark.parametrize("endpoint_type", ["REGIONAL", "EDGE"])
def test_the_plan_query_gives_the_planners_table(access_log, endpoint_type, capsys):
    """`logs --plan --query athena`, run on DuckDB, gives `logs --plan`'s candidates, in its order, with
    its refused requests and clients and its undecided requests."""
    assert main(["logs", "--plan", "--endpoint-type", endpoint_type, "--query", "athena"]) == 0
    sql = capsys.readouterr().out
    main(["logs", "--plan", "--endpoint-type", endpoint_type, "--engine", "python", "--json", "-",
          str(access_log)])
    planned = json.loads(capsys.readouterr().out)["candidates"]
    connection = duckdb_over_json_logs(access_log)
    rows = connection.execute(sql).fetchall()
    assert [(p["policy"], p["requests"], p["requests_refused"], p["clients_refused"], p["undecided"])
            for p in planned] == [tuple(row) for row in rows]
    assert len({row[2] for row in rows}) > 2  # the candidates differ: the comparison says something


def test_insights_cannot_plan_and_says_so(capsys):
    assert main(["logs", "--plan", "--query", "insights"]) == 2
    assert "one per policy" in capsys.readouterr().err


def test_a_policy_file_is_judged_alike_by_the_reader_the_engine_the_sql_and_the_plan(access_log, tmp_path, capsys):
    """Your own policy (--policy-file) wherever the logs are read: reader, DuckDB engine, Athena SQL, plan."""
    from .test_log_engine import write
    from .test_policy_files import MINE

    policy_file = tmp_path / "mine.toml"
    policy_file.write_text(MINE)
    mine = ["--policy", "MINE", "--policy-file", str(policy_file)]
    clean = write(tmp_path / "clean.log", "json", 300)
    readings = []
    for engine in ("python", "duckdb"):
        main(["logs", *mine, "--engine", engine, "--json", "-", str(clean)])
        readings.append(json.loads(capsys.readouterr().out))
    assert readings[0] == readings[1] and readings[0]["clients_at_risk"]

    by_reader, _report = reader_counts(access_log, capsys, *mine)
    assert main(["logs", *mine, "--query", "athena"]) == 0
    rows = duckdb_over_json_logs(access_log).execute(capsys.readouterr().out).fetchall()
    assert counts_of(rows) == by_reader

    main(["logs", "--plan", "--policy-file", str(policy_file), "--json", "-", str(clean)])
    assert "MINE" in [c["policy"] for c in json.loads(capsys.readouterr().out)["candidates"]]


def test_the_sql_judges_an_edge_policy_as_the_reader(access_log, capsys):
    """EDGE policies differ from REGIONAL ones of the same name (TLS_1_2@EDGE)."""
    edge = ["--policy", "TLS_1_2", "--endpoint-type", "EDGE"]
    by_reader, report = reader_counts(access_log, capsys, *edge)
    assert report["policy"] == "TLS_1_2@EDGE"
    assert main(["logs", *edge, "--query", "athena"]) == 0
    rows = duckdb_over_json_logs(access_log).execute(capsys.readouterr().out).fetchall()
    assert counts_of(rows) == by_reader


STRICT_TRICKY = [  # Host spellings the reader normalizes: case, port, trailing dot, IPv6 brackets, domainName
    {"identity.sourceIp": "192.0.2.30", "sni": "api.example.test", "host": "API.Example.Test:443",
     "tlsVersion": "TLSv1.3"},
    {"identity.sourceIp": "192.0.2.31", "sni": "api.example.test", "host": "api.example.test.",
     "tlsVersion": "TLSv1.3"},
    {"identity.sourceIp": "192.0.2.32", "sni": "api.example.test", "host": "[::1]:8443", "tlsVersion": "TLSv1.3"},
    {"identity.sourceIp": "192.0.2.33", "sni": "api.example.test", "domainName": "other.example.test",
     "tlsVersion": "TLSv1.3"},
    {"identity.sourceIp": "192.0.2.34", "host": "other.example.test", "tlsVersion": "TLSv1.3"},
    {"identity.sourceIp": "192.0.2.35", "sni": "-", "host": "x.example.test", "tlsVersion": "TLSv1.3"},
]


@pytest.mark.parametrize("server_name", [None, "api.example.test"])
def test_the_strict_query_gives_the_readers_host_mismatches(access_log, tmp_path, server_name, capsys):
    log = tmp_path / "strict.log"
    log.write_text(access_log.read_text() + "".join(json.dumps(line) + "\n" for line in STRICT_TRICKY))
    named = ["--server-name", server_name] if server_name else []
    _counts, report = reader_counts(log, capsys, "--policy", "TLS_1_0", "--strict", *named)
    by_reader = {(m["source_ip"], m["server_name"], m["host"]): m["requests"] for m in report["strict_host_mismatches"]}
    assert main(["logs", "--strict", "--query", "athena", *named]) == 0
    rows = duckdb_over_json_logs(log).execute(capsys.readouterr().out).fetchall()
    assert {(ip, name, host): requests for ip, name, host, requests in rows} == by_reader
    assert len(by_reader) >= 3 + (server_name is not None)  # the traffic's own mismatch, [::1], domainName


def test_the_strict_query_is_athena_only_and_says_why(capsys):
    assert main(["logs", "--strict", "--query", "insights"]) == 2
    assert "Logs Insights cannot express" in capsys.readouterr().err
