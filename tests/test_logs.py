"""Migration readiness from access logs written by the reference server itself."""

import json

import pytest

from pytest_apigw_tls.access import http_probe
from pytest_apigw_tls.catalog import load_catalog
from pytest_apigw_tls.cli import main
from pytest_apigw_tls.codepoints import TlsVersion
from pytest_apigw_tls.logs import LogFormat, assess
from pytest_apigw_tls.probes import Target
from reference_server import Endpoint, ReferenceServer, ServerConfig, ServerSettings

HOST = "legacy.example.com"
TEXT_FORMAT = '$context.identity.sourceIp "$context.identity.userAgent" $context.tlsVersion $context.cipherSuite ' \
              '$context.sni $context.host $context.status'


def write_log(path, fmt="json"):
    """Traffic on a TLS_1_0 endpoint: a TLS 1.0 CBC client, a TLS 1.2 GCM client, a TLS 1.3 client,
    and one client whose Host differs from its SNI."""
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
    write_log(path)
    return path


def test_report_names_the_clients_a_pfs_policy_would_refuse(json_log, tmp_path, capsys):
    report = tmp_path / "readiness.json"
    assert main(["logs", "--policy", "SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09", "--strict", "--json", str(report),
                 str(json_log)]) == 0
    out = capsys.readouterr().out
    assert "5 requests read" in out and "TLSv1 1 REFUSED" in out and "AES256-SHA256 1 REFUSED" in out
    document = json.loads(report.read_text())
    [client] = document["clients_at_risk"]
    assert client["source_ip"] == "127.0.0.1" and client["requests"] == 2
    assert set(client["reasons"]) == {"TLSv1.0 not allowed", "AES256-SHA256 not allowed at TLSv1.2"}
    assert document["strict_host_mismatches"] == [
        {"source_ip": "127.0.0.1", "server_name": HOST, "host": "other.example.com", "requests": 1}]


def test_a_policy_that_allows_everything_seen_reports_no_client(json_log, capsys):
    assert main(["logs", "--policy", "TLS_1_0", str(json_log)]) == 0
    assert "no client negotiated anything the policy refuses" in capsys.readouterr().out


def test_format_string_logs_with_iana_spellings_and_a_bad_line(tmp_path):
    path = tmp_path / "text.log"
    write_log(path, TEXT_FORMAT)
    lines = path.read_text().splitlines()
    assert lines[0].startswith('127.0.0.1 "apigw-tls" TLSv1 AES128-SHA')
    lines.append("this line is not in the format")
    lines.append('10.1.2.3 "curl/8" TLSv1.2 TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256 api.example.com api.example.com 200')
    catalog = load_catalog()
    policy = catalog.policy("SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09")
    readiness = assess(enumerate(lines, 1), LogFormat(TEXT_FORMAT), policy, catalog, True, None)
    assert readiness.requests == 6 and readiness.unparsable == [6]
    assert ("10.1.2.3", "curl/8") in readiness.at_risk
    assert "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256" in readiness.refused_suites


def test_json_template_maps_custom_keys():
    fmt = LogFormat('{"ip": "$context.identity.sourceIp", "tls": "$context.tlsVersion", "cs": "$context.cipherSuite"}')
    catalog = load_catalog()
    lines = [json.dumps({"ip": "192.0.2.9", "tls": "TLSv1.1", "cs": "ECDHE-RSA-AES128-SHA"}),
             json.dumps({"ip": "192.0.2.10", "tls": "TLS 1.2", "cs": "TLS_RSA_WITH_AES_128_CBC_SHA"})]
    readiness = assess(enumerate(lines, 1), fmt, catalog.policy("TLS_1_2"), catalog, False, None)
    assert readiness.at_risk == {("192.0.2.9", "-"): {"TLSv1.1 not allowed": 1},
                                 ("192.0.2.10", "-"): {"AES128-SHA not allowed at TLSv1.2": 1}}


@pytest.mark.parametrize("argv,message", [
    (["logs", "--policy", "TLS_1_2", "/nonexistent.log"], "cannot read /nonexistent.log"),
    (["logs", "--policy", "TLS13", "/dev/null"], "unknown policy 'TLS13'"),
    (["logs", "--policy", "TLS_1_2", "--format", "{not json", "/dev/null"], "--format looks like JSON"),
])
def test_bad_input_is_one_line_and_status_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
