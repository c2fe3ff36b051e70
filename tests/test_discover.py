"""apigw-tls discover: from an account (the reference control plane standing in, driven by boto3) to a
targets file, judged by scan --targets; a change in the account shows up as drift."""

import json

import pytest
from pytest_apigw_tls.reference_server import Endpoint, ReferenceServer, ServerConfig
from pytest_apigw_tls.reference_server.admin import AdminServer
from pytest_apigw_tls.reference_server.control import ControlPlane

from pytest_apigw_tls.cli.main import main

pytest_plugins = ["pytester"]

boto3 = pytest.importorskip("boto3")

REGION = "us-east-1"


@pytest.fixture
def account(monkeypatch):
    """A reference server with its control plane, and a boto3 client for it (any signature is accepted)."""
    for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                       ("AWS_DEFAULT_REGION", REGION)):
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    config = ServerConfig((Endpoint("placeholder.example.test", "TLS_1_2"),))
    with ReferenceServer(config) as server, AdminServer(ControlPlane(server)) as admin:
        yield server, admin, boto3.client("apigateway", region_name=REGION, endpoint_url=admin.url)


def populate(client):
    """Mixed endpoint types, policies and modes; a disabled default endpoint; a private API; mappings."""
    apis = []
    for number, (endpoint_type, policy, mode) in enumerate([
            ("REGIONAL", "TLS_1_0", None), ("REGIONAL", "SecurityPolicy_TLS13_1_3_2025_09", "STRICT"),
            ("EDGE", "SecurityPolicy_TLS13_2025_EDGE", "BASIC"), ("REGIONAL", "TLS_1_2", None),
            ("PRIVATE", "TLS_1_2", None)]):
        kwargs = {"endpointAccessMode": mode} if mode else {}
        api = client.create_rest_api(name=f"api-{number}", endpointConfiguration={"types": [endpoint_type]},
                                     securityPolicy=policy, disableExecuteApiEndpoint=number == 3, **kwargs)
        apis.append(api["id"])
    client.create_domain_name(domainName="shop.example.test", endpointConfiguration={"types": ["REGIONAL"]},
                              securityPolicy="SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09", endpointAccessMode="STRICT")
    client.create_domain_name(domainName="legacy.example.test", endpointConfiguration={"types": ["REGIONAL"]},
                              securityPolicy="TLS_1_2")
    client.create_base_path_mapping(domainName="shop.example.test", restApiId=apis[1], basePath="v1")
    client.create_base_path_mapping(domainName="legacy.example.test", restApiId=apis[0], basePath="(none)")
    return apis


def test_one_command_writes_every_endpoint_and_one_more_judges_them(account, tmp_path, capsys):
    server, admin, client = account
    apis = populate(client)
    targets = tmp_path / "targets.toml"
    address = "{}:{}".format(*server.address)
    assert main(["discover", "--region", REGION, "--endpoint-url", admin.url, "--connect", address,
                 "--output", str(targets)]) == 0
    text = targets.read_text()
    for api in apis:
        assert f'sni = "{api}.execute-api.{REGION}.amazonaws.com"' in text
    assert 'sni = "shop.example.test"' in text and 'access_mode = "STRICT"' in text
    assert f'default_endpoint = "{apis[1]}.execute-api.{REGION}.amazonaws.com"' in text  # shop -> its API
    assert "# disableExecuteApiEndpoint" in text
    capsys.readouterr()
    # the legacy domain is TLS_1_2 over an API still on TLS_1_0: its alignment case fails, and only that
    status = main(["scan", "--targets", str(targets), "--json", str(tmp_path / "scan.json")])
    out = capsys.readouterr().out
    assert status == 1 and out.count("FAIL") == 1 and "alignment" in out.split("FAIL", 1)[1].split("\n")[0]
    assert "8 targets: 7 conform, 1 with violations, 0 with errors" in out  # with the config's placeholder domain


def test_a_private_api_without_a_way_in_is_listed_not_probed(account, capsys):
    _server, admin, client = account
    populate(client)
    assert main(["discover", "--region", REGION, "--endpoint-url", admin.url]) == 0
    out = capsys.readouterr().out
    assert "private API (policy TLS_1_2), reachable only inside its VPC" in out


def test_a_change_in_the_account_is_drift(account, tmp_path, capsys):
    server, admin, client = account
    populate(client)
    targets = tmp_path / "targets.toml"
    argv = ["discover", "--region", REGION, "--endpoint-url", admin.url, "--connect", "{}:{}".format(*server.address)]
    assert main([*argv, "--output", str(targets)]) == 0
    assert main([*argv, "--check", str(targets)]) == 0
    assert "no drift" in capsys.readouterr().out
    client.create_rest_api(name="new", endpointConfiguration={"types": ["REGIONAL"]}, securityPolicy="TLS_1_2")
    assert main([*argv, "--check", str(targets)]) == 1
    assert '+policy = "TLS_1_2"' in capsys.readouterr().out


def test_unreachable_api_gateway_is_one_line(capsys, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    assert main(["discover", "--region", REGION, "--endpoint-url", "http://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert "cannot read API Gateway" in err and err.count("\n") == 1


def test_an_endpoint_serving_another_policy_than_it_claims_fails_that_target_only(account, tmp_path, capsys):
    server, admin, client = account
    populate(client)
    targets = tmp_path / "targets.toml"
    assert main(["discover", "--region", REGION, "--endpoint-url", admin.url, "--connect",
                 "{}:{}".format(*server.address), "--output", str(targets)]) == 0
    server.set_policy("shop.example.test", server.catalog.policy("TLS_1_2"))  # claims PFS_PQ, serves TLS_1_2
    report = tmp_path / "scan.json"
    assert main(["scan", "--targets", str(targets), "--json", str(report)]) == 1
    verdicts = {name: entry["verdict"] for name, entry in json.loads(report.read_text())["targets"].items()}
    assert {name for name, verdict in verdicts.items() if verdict != "conforms"} == {
        "us-east-1/domain/shop.example.test", "us-east-1/domain/legacy.example.test"}  # the mutant, the alignment
    assert set(verdicts.values()) == {"conforms", "violations"}


API_KINDS = [("REGIONAL", "TLS_1_0", None), ("REGIONAL", "TLS_1_2", None),
             ("REGIONAL", "SecurityPolicy_TLS13_1_3_2025_09", "STRICT"),
             ("REGIONAL", "SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09", "BASIC"),
             ("EDGE", "TLS_1_0", None), ("EDGE", "SecurityPolicy_TLS13_2025_EDGE", "BASIC"),
             ("PRIVATE", "TLS_1_2", None)]
DOMAIN_KINDS = [("REGIONAL", "TLS_1_2", None, 1), ("REGIONAL", "SecurityPolicy_TLS13_1_3_2025_09", "STRICT", 2),
                ("EDGE", "SecurityPolicy_TLS13_2025_EDGE", "BASIC", 5)]  # the last: an API kind of the same policy


def test_seventy_apis_and_fifteen_domains_are_discovered_and_judged(account, tmp_path, capsys, pytester):
    """Pages of get-rest-apis and get-domain-names (25 by default, 500 asked), mixed endpoint types,
    policies and modes, some default endpoints disabled, every domain mapped to an API of its own
    policy; one domain made to serve another policy than it claims."""
    server, admin, client = account
    apis = {}
    for number in range(70):  # ten of each kind
        endpoint_type, policy, mode = API_KINDS[number % len(API_KINDS)]
        api = client.create_rest_api(name=f"api-{number}", endpointConfiguration={"types": [endpoint_type]},
                                     securityPolicy=policy, disableExecuteApiEndpoint=number % 11 == 0,
                                     **({"endpointAccessMode": mode} if mode else {}))
        apis.setdefault(number % len(API_KINDS), []).append(api["id"])
    for number in range(15):
        endpoint_type, policy, mode, api_kind = DOMAIN_KINDS[number % len(DOMAIN_KINDS)]
        name = f"d{number}.example.test"
        client.create_domain_name(domainName=name, endpointConfiguration={"types": [endpoint_type]},
                                  securityPolicy=policy, **({"endpointAccessMode": mode} if mode else {}))
        client.create_base_path_mapping(domainName=name, restApiId=apis[api_kind][number % 10], basePath="v1")
    targets = tmp_path / "targets.toml"
    assert main(["discover", "--region", REGION, "--endpoint-url", admin.url, "--connect",
                 "{}:{}".format(*server.address), "--output", str(targets)]) == 0
    assert targets.read_text().count("[[target]]") == 70 + 15 + 1  # and the config's placeholder domain
    # one endpoint behind the control plane serves another policy than the one it claims: the scanner
    # and the plugin both find every other target conforming, and fail exactly that one
    server.set_policy("d1.example.test", server.catalog.policy("TLS_1_2"))  # claims TLS13_1_3 STRICT
    report = tmp_path / "scan.json"
    capsys.readouterr()
    assert main(["scan", "--targets", str(targets), "--json", str(report)]) == 1
    assert "86 targets: 85 conform, 1 with violations, 0 with errors" in capsys.readouterr().out
    verdicts = {name: entry["verdict"] for name, entry in json.loads(report.read_text())["targets"].items()}
    assert [name for name, verdict in verdicts.items() if verdict != "conforms"] == ["us-east-1/domain/d1.example.test"]
    result = pytester.runpytest_subprocess("--pyargs", "pytest_apigw_tls.conformance", "-q", "-p", "no:cacheprovider",
                                           "-p", "no:xdist", "--apigw-targets", str(targets), "-rf", "--tb=no",
                                           "-k", "test_version and (d1.example or d2.example or d3.example)")
    failed = [line for line in result.outlines if line.startswith("FAILED")]
    assert failed and all("[us-east-1/domain/d1.example.test-" in line for line in failed)
    assert result.parseoutcomes().get("errors", 0) == 0 and result.parseoutcomes()["passed"] >= 10
