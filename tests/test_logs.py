"""Migration readiness from access logs: the reference server's own logs in every console preset,
CloudWatch's export shapes, and never an all-clear on what was not read."""

import csv
import gzip
import json

import pytest
from pytest_apigw_tls.reference_server import Endpoint, ReferenceServer, ServerConfig, ServerSettings
from pytest_apigw_tls.reference_server.accesslog import VARIABLES

from pytest_apigw_tls.cli.main import main
from pytest_apigw_tls.logs.formats import PRESETS, log_format
from pytest_apigw_tls.logs.readiness import assess
from pytest_apigw_tls.policy.catalog import load_catalog
from pytest_apigw_tls.policy.codepoints import TlsVersion
from pytest_apigw_tls.probing.access import http_probe
from pytest_apigw_tls.probing.probes import Target

HOST = "legacy.example.com"
TARGET = "SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09"
TEXT_FORMAT = '$context.identity.sourceIp "$context.identity.userAgent" $context.tlsVersion $context.cipherSuite ' \
              '$context.sni $context.host $context.status'


def traffic(path, fmt):
    """A TLS_1_0 endpoint: a TLS 1.0 CBC client, two TLS 1.2 clients (one CBC), a TLS 1.3 client,
    and one client whose Host differs from its SNI; logged in `fmt`."""
    config = ServerConfig((Endpoint(HOST, "TLS_1_0"),), ServerSettings(access_log_format=fmt))
    with open(path, "w") as log, ReferenceServer(config, access_log=log) as server:
        target = Target(*server.address, HOST)
        assert http_probe(target, HOST, 5, version=TlsVersion.TLSv1_0, suite="AES128-SHA").status == 200
        gcm = "ECDHE-RSA-AES128-GCM-SHA256"
        assert http_probe(target, HOST, 5, version=TlsVersion.TLSv1_2, suite=gcm).status == 200
        assert http_probe(target, HOST, 5, version=TlsVersion.TLSv1_2, suite="AES256-SHA256").status == 200
        assert http_probe(target, HOST, 5).status == 200
        assert http_probe(target, "other.example.com", 5).status == 200


@pytest.fixture
def json_log(tmp_path):
    path = tmp_path / "access.log"
    traffic(path, "json")
    return path


def at_risk(report):
    return sorted((c["source_ip"], tuple(sorted(c["reasons"]))) for c in report["clients_at_risk"])


def run(capsys, *argv):
    status = main(["logs", "--policy", TARGET, *argv])
    return status, capsys.readouterr()


def test_report_names_the_clients_a_pfs_policy_would_refuse(json_log, tmp_path, capsys):
    report = tmp_path / "readiness.json"
    status, out = run(capsys, "--strict", "--json", str(report), str(json_log))
    assert status == 1  # the gate: clients would be refused
    assert "5 requests read" in out.out and "TLSv1 1 REFUSED" in out.out and "AES256-SHA256 1 REFUSED" in out.out
    document = json.loads(report.read_text())
    [client] = document["clients_at_risk"]
    assert client["source_ip"] == "127.0.0.1" and client["requests"] == 2 and client["first_seen"]
    assert set(client["reasons"]) == {"TLSv1.0 not allowed", "AES256-SHA256 not allowed at TLSv1.2"}
    assert document["share_at_risk"] == 0.4
    assert document["strict_host_mismatches"] == [
        {"source_ip": "127.0.0.1", "server_name": HOST, "host": "other.example.com", "requests": 1}]


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_console_preset_with_the_tls_variables_yields_the_clients_of_the_json_form(preset, json_log, tmp_path,
                                                                                           capsys):
    expected = json.loads(json.dumps(run(capsys, "--json", "-", str(json_log))[1].out))
    path = tmp_path / f"{preset}.log"
    traffic(path, log_format(f"{preset}+tls").source)
    status, out = run(capsys, "--format", f"{preset}+tls", "--json", "-", str(path))
    document = json.loads(out.out)
    assert status == 1 and document["unread"]["unparsable"] == 0 and document["requests"] == 5
    assert at_risk(document) == at_risk(json.loads(expected))


def test_cloudwatch_s3_export_and_cli_outputs_read_the_same(json_log, tmp_path, capsys):
    lines = json_log.read_text().splitlines()
    export = tmp_path / "export" / "000000.gz"
    export.parent.mkdir()
    with gzip.open(export, "wt") as handle:  # an S3 export: a timestamp before each event, gzip-compressed
        handle.writelines(f"2026-11-20T10:00:0{i}.000Z {line}\n" for i, line in enumerate(lines))
    events = tmp_path / "events.json"  # `aws logs filter-log-events --output json`
    events.write_text(json.dumps({"events": [{"timestamp": 1, "message": line, "logStreamName": "s"}
                                             for line in lines]}, indent=4))
    tail = tmp_path / "tail.txt"  # `aws logs tail`: timestamp, stream name, message
    tail.write_text("".join(f"2026-11-20T10:00:00.000000+00:00 abc123 {line}\n" for line in lines))
    insights = tmp_path / "insights.csv"  # a Logs Insights query exported as CSV
    rows = [json.loads(line) for line in lines]
    insights.write_text("@timestamp,ip,tlsVersion,cipherSuite\n" + "".join(
        f"2026-11-20 10:00:00.000,{r['identity.sourceIp']},{r['tlsVersion']},{r['cipherSuite']}\n" for r in rows))
    messages = tmp_path / "messages.csv"  # the console's default query exported: @timestamp,@message
    with open(messages, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["@timestamp", "@message"])
        writer.writerows(["2026-11-20 10:00:00.000", line] for line in lines)
    expected = at_risk(json.loads(run(capsys, "--json", "-", str(json_log))[1].out))
    for path in (export.parent, events, tail, insights, messages):
        status, out = run(capsys, "--json", "-", str(path))
        assert status == 1 and at_risk(json.loads(out.out)) == expected, path


def test_a_log_the_tool_cannot_read_never_gives_a_clean_bill(tmp_path, capsys):
    binary = tmp_path / "binary.log"
    binary.write_bytes(bytes(range(256)) * 4000)
    status, out = run(capsys, str(binary))
    assert status == 2 and "no line of the input parsed as a request" in out.err
    clf = tmp_path / "clf.log"  # the CLF preset read as JSON lines: nothing parses
    clf.write_text('192.0.2.1 - - [20/Nov/2026:10:00:00 +0000]"GET / HTTP/1.1" 200 1 id ext TLSv1 AES128-SHA\n')
    assert run(capsys, str(clf))[0] == 2


def test_unread_lines_make_the_reading_incomplete_and_are_shown(tmp_path, capsys):
    path = tmp_path / "mixed.log"
    good = json.dumps({"identity.sourceIp": "192.0.2.1", "tlsVersion": "TLSv1.3",
                       "cipherSuite": "TLS_AES_128_GCM_SHA256"})
    path.write_text("\n".join([good, '{"tlsVersion": "TLSv1.3", "tlsVersion": "TLSv1"}', "garbage\x1b[2J",
                               json.dumps({"identity.sourceIp": "192.0.2.2"})]) + "\n")
    status, out = run(capsys, str(path))
    assert status == 3
    assert "1 unparsable lines, 1 with duplicate keys, 1 requests without $context.tlsVersion" in out.out
    assert "\x1b" not in out.out and "\\x1b" in out.out
    assert run(capsys, "--max-unread", "0.8", str(path))[0] == 0


def test_a_quote_in_a_user_agent_does_not_make_the_client_vanish(tmp_path, capsys):
    path = tmp_path / "text.log"
    path.write_text('203.0.113.5 "curl "7" x" TLSv1 AES128-SHA - - 200\n')
    status, out = run(capsys, "--format", TEXT_FORMAT, "--json", "-", str(path))
    [client] = json.loads(out.out)["clients_at_risk"]
    assert status == 1 and client["user_agent"] == 'curl "7" x'


def test_windows_show_whether_legacy_traffic_goes_down(tmp_path, capsys):
    path = tmp_path / "w.log"
    rows = [("2026-11-01T00:00:00Z", "TLSv1"), ("2026-11-02T00:00:00Z", "TLSv1"), ("2026-11-25T00:00:00Z", "TLSv1.3")]
    path.write_text("".join(json.dumps({"requestTime": t, "tlsVersion": v, "identity.sourceIp": "192.0.2.9"}) + "\n"
                            for t, v in rows))
    status, out = run(capsys, "--split-at", "2026-11-20T00:00:00Z", "--json", "-", str(path))
    assert json.loads(out.out)["windows"] == {"before": {"requests": 2, "at_risk": 2},
                                              "after": {"requests": 1, "at_risk": 0}}


def test_text_format_with_iana_spellings_and_a_bad_line(tmp_path):
    path = tmp_path / "text.log"
    traffic(path, TEXT_FORMAT)
    lines = path.read_text().splitlines()
    assert lines[0].startswith('127.0.0.1 "apigw-tls" TLSv1 AES128-SHA')
    lines += ["this line is not in the format",
              '10.1.2.3 "curl/8" TLSv1.2 TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256 api.example.com api.example.com 200']
    catalog = load_catalog()
    items = [("text.log", n, line) for n, line in enumerate(lines, 1)]
    readiness = assess(items, log_format(TEXT_FORMAT), catalog.policy(TARGET), catalog, True, None)
    assert readiness.requests == 6 and readiness.unparsable == 1
    assert ("10.1.2.3", "curl/8") in readiness.at_risk
    assert "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256" in readiness.refused_suites


@pytest.mark.parametrize("argv,message", [
    (["logs", "--policy", "TLS_1_2", "/nonexistent.log"], "cannot read /nonexistent.log"),
    (["logs", "--policy", "TLS13", "/dev/null"], "unknown policy 'TLS13'"),
    (["logs", "--policy", "TLS_1_2", "--format", "{not json", "/dev/null"], "--format looks like JSON"),
    (["logs", "--policy", "TLS_1_2", "--format", "$context.tlsVersion$context.cipherSuite", "/dev/null"],
     "have nothing between them"),
    (["logs", "--policy", "TLS_1_2", "/dev/null"], "no line of the input parsed as a request"),
])
def test_bad_input_is_one_line_and_status_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_reference_server_json_lines_carry_every_variable(json_log):
    assert set(json.loads(json_log.read_text().splitlines()[0])) == set(VARIABLES)


def test_large_files_read_in_parallel_pieces_give_the_same_reading(json_log, tmp_path, monkeypatch):
    from pytest_apigw_tls.logs import parallel as logs_parallel

    big = tmp_path / "big.log"
    lines = json_log.read_text().splitlines() * 200 + ["not json"] + json_log.read_text().splitlines()
    big.write_text("\n".join(lines) + "\n")
    args = ([str(big)], None, TARGET, None, True, None, None)
    monkeypatch.setattr(logs_parallel, "PARALLEL_ABOVE", 1 << 40)
    whole = logs_parallel.assess_inputs(*args).to_dict()
    monkeypatch.setattr(logs_parallel, "PARALLEL_ABOVE", 1)
    monkeypatch.setattr(logs_parallel, "BLOCK", 777)  # blocks that cut lines anywhere
    pieces = logs_parallel.assess_inputs(*args).to_dict()
    assert pieces == whole
    assert whole["unread"]["examples"] == [f"{big}:1001: not JSON: not json"]


def test_a_request_whose_deciding_cipher_suite_is_not_logged_is_unjudged(tmp_path, capsys):
    """Only $context.tlsVersion logged, TLS 1.2 traffic, a PFS target policy that refuses some TLS 1.2
    suites: the version alone cannot say a request is safe, so the reading is incomplete (exit 3), never
    "ready"; TLS 1.3 requests stay judged (every suite API Gateway negotiates there is allowed)."""
    path = tmp_path / "versions-only.log"
    path.write_text("\n".join(json.dumps({"identity.sourceIp": f"192.0.2.{n}", "tlsVersion": version})
                              for n, version in enumerate(["TLSv1.2", "TLSv1.2", "TLSv1.3"])) + "\n")
    status, out = run(capsys, str(path), "--json", str(tmp_path / "report.json"))
    assert status == 3
    assert "2 without the $context.cipherSuite that decides them" in out.out
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["unread"]["without_cipher_suite"] == 2 and report["clients_at_risk"] == []


def test_clf_request_time_is_written_with_its_space_as_the_service_writes_it(tmp_path):
    path = tmp_path / "clf.log"
    traffic(path, PRESETS["clf"] + " $context.tlsVersion $context.cipherSuite")
    line = path.read_text().splitlines()[0]
    stamp = line[line.index("[") + 1:line.index("]")]
    assert stamp.endswith(" +0000") and "\\x20" not in line
    assert log_format("clf+tls").parse(line)["requestTime"] == stamp


def test_a_structured_value_where_api_gateway_writes_a_string_is_an_unread_line_not_a_client(tmp_path, capsys):
    path = tmp_path / "odd.log"
    good = {"identity.sourceIp": "192.0.2.1", "tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256"}
    path.write_text("\n".join(json.dumps(line) for line in (
        good, {**good, "identity.sourceIp": "192.0.2.7", "tlsVersion": "TLSv1.2", "cipherSuite": {"name": "x"}},
        {**good, "identity.sourceIp": "192.0.2.8", "tlsVersion": ["TLSv1"]})) + "\n")
    status, out = run(capsys, "--json", "-", "--max-unread", "1", str(path))
    report = json.loads(out.out)
    assert status == 0 and report["clients_at_risk"] == [] and report["requests"] == 1
    assert report["unread"]["unparsable"] == 2 and "is a JSON dict, not a value" in str(report["unread"]["examples"])


def test_plan_judges_every_candidate_on_the_same_logs_and_names_the_strictest_safe_one(json_log, tmp_path, capsys):
    report, page = tmp_path / "plan.json", tmp_path / "plan.md"
    assert main(["logs", "--plan", "--endpoint-type", "REGIONAL", "--json", str(report), "--markdown", str(page),
                 str(json_log)]) == 0
    capsys.readouterr()
    plan = json.loads(report.read_text())
    candidates = plan["candidates"]
    assert [c["permissiveness"] for c in candidates] == sorted((c["permissiveness"] for c in candidates), reverse=True)
    assert plan["strictest_safe"] == "TLS_1_0"  # the traffic holds a TLS 1.0 client: only TLS_1_0 takes everyone
    by_id = {c["policy"]: c for c in candidates}
    assert by_id["TLS_1_2"]["requests_refused"] == 1
    assert by_id["SecurityPolicy_TLS13_1_3_2025_09"]["requests_refused"] == 3
    [client] = by_id["SecurityPolicy_TLS13_1_3_2025_09"]["clients"]
    assert client["needs"] == "TLSv1.3" and set(client["reasons"]) == {"TLSv1.0 not allowed", "TLSv1.2 not allowed"}
    assert "**TLS_1_0**" in page.read_text()
    # the same traffic, a fifth of it allowed to break: the least permissive policy refusing one request
    assert main(["logs", "--plan", "--endpoint-type", "REGIONAL", "--max-refused", "0.2", "--json", "-",
                 str(json_log)]) == 0
    relaxed = json.loads(capsys.readouterr().out)
    chosen = next(c for c in relaxed["candidates"] if c["policy"] == relaxed["strictest_safe"])
    assert chosen["requests_refused"] == 1 and chosen["permissiveness"] == min(
        c["permissiveness"] for c in relaxed["candidates"] if c["requests_refused"] <= 1)


def test_plan_text_shows_each_candidates_first_clients_and_the_json_all_of_them(tmp_path, capsys):
    """A plan is read over every candidate: its text lists the 20 clients with most requests under each,
    and says how many more the JSON (and Markdown) list."""
    path = tmp_path / "access.log"
    path.write_text("".join(json.dumps({"identity.sourceIp": f"192.0.2.{n}", "tlsVersion": "TLSv1",
                                        "cipherSuite": "AES128-SHA"}) + "\n" for n in range(25)))
    report = tmp_path / "plan.json"
    assert main(["logs", "--plan", "--endpoint-type", "REGIONAL", "--max-refused", "0", "--json", str(report),
                 str(path)]) == 0
    text = capsys.readouterr().out
    under = [block for block in text.split("  under ")[1:]]
    assert under and all(block.count("\n    192.0.2.") == 20 and "... and 5 more (--json or --markdown lists them all)"
                         in block for block in under)
    refusing = [c for c in json.loads(report.read_text())["candidates"] if c["requests_refused"]]
    assert len(refusing) == len(under) and all(len(c["clients"]) == 25 for c in refusing)


def test_plan_never_calls_a_candidate_safe_on_requests_it_cannot_judge(tmp_path, capsys):
    path = tmp_path / "versions-only.log"  # no $context.cipherSuite: a PFS policy cannot be judged on TLS 1.2
    path.write_text("".join(json.dumps({"identity.sourceIp": f"192.0.2.{n}", "tlsVersion": "TLSv1.2"}) + "\n"
                            for n in range(5)))
    status = main(["logs", "--plan", "--endpoint-type", "REGIONAL", "--json", "-", str(path)])
    plan = json.loads(capsys.readouterr().out)
    by_id = {c["policy"]: c for c in plan["candidates"]}
    pfs = by_id["SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09"]
    assert pfs["undecided"] == 5 and not pfs["safe"]
    assert all(c["undecided"] == 0 for c in plan["candidates"] if c["safe"])
    # TLS 1.2 clients whose suites are not logged: no candidate that narrows TLS 1.2 can be called safe,
    # and those that refuse TLS 1.2 outright refuse everyone
    assert plan["strictest_safe"] is None and status == 1


def test_policy_or_plan_one_of_them(json_log, capsys):
    assert main(["logs", str(json_log)]) == 2
    assert "give --policy NAME" in capsys.readouterr().err
