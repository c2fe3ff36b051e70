"""botocore (what the AWS CLI and boto3 run on) drives the reference server with API Gateway's own
operations; what it creates is served at once, with its policy and access mode really enforced."""

import json
import time

import pytest

botocore_session = pytest.importorskip("botocore.session")

from pytest_apigw_tls.reference_server import Endpoint, ReferenceServer, ServerConfig  # noqa: E402
from pytest_apigw_tls.reference_server.admin import AdminServer  # noqa: E402
from pytest_apigw_tls.reference_server.control import ControlPlane  # noqa: E402

from pytest_apigw_tls.policy.codepoints import TlsVersion  # noqa: E402
from pytest_apigw_tls.probing.access import http_probe  # noqa: E402
from pytest_apigw_tls.probing.handshake import handshake_probe  # noqa: E402
from pytest_apigw_tls.probing.probes import Outcome, Target  # noqa: E402

TIMEOUT = 5.0


@pytest.fixture
def aws(request):
    delay = getattr(request, "param", 0.0)
    config = ServerConfig((Endpoint("placeholder.example.test", "TLS_1_2"),))
    with ReferenceServer(config) as server, AdminServer(ControlPlane(server, propagation_delay=delay)) as admin:
        client = botocore_session.get_session().create_client(
            "apigateway", region_name="us-east-1", endpoint_url=admin.url, aws_access_key_id="testing",
            aws_secret_access_key="testing")  # signed requests are accepted, the signature is not checked
        yield server, client


def test_the_blogs_create_rest_api_with_strict_is_enforced_on_the_data_plane(aws):
    server, client = aws
    api = client.create_rest_api(name="your-private-api-name", endpointConfiguration={"types": ["REGIONAL"]},
                                 securityPolicy="SecurityPolicy_TLS13_1_3_2025_09", endpointAccessMode="STRICT")
    assert (api["securityPolicy"], api["endpointAccessMode"], api["apiStatus"]) == (
        "SecurityPolicy_TLS13_1_3_2025_09", "STRICT", "AVAILABLE")
    hostname = f"{api['id']}.execute-api.us-east-1.amazonaws.com"
    target = Target(*server.address, hostname)
    assert handshake_probe(target, TIMEOUT, TlsVersion.TLSv1_2).outcome is Outcome.REJECTED
    assert http_probe(target, hostname, TIMEOUT).status == 200
    assert http_probe(target, "other.example.com", TIMEOUT).status == 421  # STRICT: Host must equal SNI
    assert client.get_rest_api(restApiId=api["id"])["name"] == "your-private-api-name"
    assert api["id"] in {item["id"] for item in client.get_rest_apis()["items"]}


def test_refused_creations_come_back_as_bad_request_exceptions(aws):
    _server, client = aws
    with pytest.raises(client.exceptions.BadRequestException, match="Endpoint access mode is required"):
        client.create_rest_api(name="x", endpointConfiguration={"types": ["REGIONAL"]},
                               securityPolicy="SecurityPolicy_TLS13_1_3_2025_09")
    with pytest.raises(client.exceptions.BadRequestException, match="only valid for custom domain names"):
        client.create_rest_api(name="x", endpointConfiguration={"types": ["EDGE"]}, securityPolicy="TLS_1_2")
    with pytest.raises(client.exceptions.BadRequestException, match="not valid for endpoint type REGIONAL"):
        client.create_domain_name(domainName="api.example.com", endpointConfiguration={"types": ["REGIONAL"]},
                                  securityPolicy="SecurityPolicy_TLS13_2025_EDGE", endpointAccessMode="BASIC")
    with pytest.raises(client.exceptions.NotFoundException):
        client.get_rest_api(restApiId="nope")


@pytest.mark.parametrize("aws", [0.5], indirect=True)
def test_the_blogs_domain_migration_basic_then_strict_then_basic_with_statuses(aws):
    server, client = aws
    client.create_domain_name(domainName="api.example.com", regionalCertificateArn="arn:aws:acm:x",
                              endpointConfiguration={"types": ["REGIONAL"]},
                              securityPolicy="TLS_1_2")
    api = client.create_rest_api(name="pets", endpointConfiguration={"types": ["REGIONAL"]})
    client.create_base_path_mapping(domainName="api.example.com", restApiId=api["id"])
    target = Target(*server.address, "api.example.com")
    misdirected = lambda: http_probe(target, "other.example.com", TIMEOUT).status  # noqa: E731
    steps = [([{"op": "replace", "path": "/securityPolicy", "value": "SecurityPolicy_TLS13_1_3_2025_09"},
               {"op": "replace", "path": "/endpointAccessMode", "value": "BASIC"}], 200),
             ([{"op": "replace", "path": "/endpointAccessMode", "value": "STRICT"}], 421),
             ([{"op": "replace", "path": "/endpointAccessMode", "value": "BASIC"}], 200)]
    for operations, status in steps:
        changed = client.update_domain_name(domainName="api.example.com", patchOperations=operations)
        assert changed["domainNameStatus"] == "PENDING"
        while client.get_domain_name(domainName="api.example.com")["domainNameStatus"] == "PENDING":
            time.sleep(0.1)
        assert misdirected() == status
    assert handshake_probe(target, TIMEOUT, TlsVersion.TLSv1_2).outcome is Outcome.REJECTED


def test_a_disabled_execute_api_endpoint_still_handshakes_under_its_policy_then_answers_403(aws):
    server, client = aws
    api = client.create_rest_api(name="pets", endpointConfiguration={"types": ["REGIONAL"]},
                                 securityPolicy="SecurityPolicy_TLS13_1_2_2021_06", endpointAccessMode="BASIC",
                                 disableExecuteApiEndpoint=True)
    target = Target(*server.address, f"{api['id']}.execute-api.us-east-1.amazonaws.com")
    assert handshake_probe(target, TIMEOUT, TlsVersion.TLSv1_1).outcome is Outcome.REJECTED  # its policy, first
    observation = http_probe(target, target.sni, TIMEOUT, version=TlsVersion.TLSv1_2)
    assert observation.status == 403 and json.loads(observation.body) == {"message": "Forbidden"}
    client.update_rest_api(restApiId=api["id"], patchOperations=[
        {"op": "replace", "path": "/disableExecuteApiEndpoint", "value": "false"}])
    while client.get_rest_api(restApiId=api["id"])["apiStatus"] == "UPDATING":
        time.sleep(0.05)
    assert http_probe(target, target.sni, TIMEOUT).status == 200  # enabled again by a patch
    client.delete_rest_api(restApiId=api["id"])
    assert handshake_probe(target, TIMEOUT).evidence == "fatal alert unrecognized_name"


def test_an_unknown_operation_gets_the_services_error_shape_not_html(aws):
    server, _client = aws
    import urllib.error
    import urllib.request

    admin_url = None
    with AdminServer(ControlPlane(server)) as admin:
        admin_url = admin.url
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(admin_url + "/apis/xyz/stages", timeout=TIMEOUT)
    assert error.value.code == 404 and json.load(error.value)["__type"] == "NotFoundException"


def test_listing_pages_with_limit_and_position_like_the_service(aws):
    """get-rest-apis and get-domain-names page by `limit` and `position`: botocore's own paginator reads
    every resource once, 25 at a time (all of them came back in one page, however many there were)."""
    _server, client = aws
    created = {client.create_rest_api(name=f"api-{n}", endpointConfiguration={"types": ["REGIONAL"]})["id"]
               for n in range(60)}
    first = client.get_rest_apis(limit=25)
    assert len(first["items"]) == 25 and first["position"]
    pages = list(client.get_paginator("get_rest_apis").paginate(PaginationConfig={"PageSize": 25}))
    seen = [item["id"] for page in pages for item in page["items"]]
    assert len(pages) == 3 and len(seen) == len(set(seen)) and created <= set(seen)
    for n in range(30):
        client.create_domain_name(domainName=f"d{n}.example.test", endpointConfiguration={"types": ["REGIONAL"]})
    domains = [d["domainName"] for page in client.get_paginator("get_domain_names").paginate(
        PaginationConfig={"PageSize": 7}) for d in page["items"]]
    assert {f"d{n}.example.test" for n in range(30)} <= set(domains) and len(domains) == len(set(domains))
    with pytest.raises(client.exceptions.BadRequestException, match="Invalid limit"):
        client.get_rest_apis(limit=501)


def test_the_blogs_redeploy_step_is_a_deployment_and_tls_needs_none(aws):
    """The blog updates the security policy, then redeploys; the TLS change itself is the endpoint's."""
    server, client = aws
    api = client.create_rest_api(name="api", endpointConfiguration={"types": ["REGIONAL"]}, securityPolicy="TLS_1_2")
    client.update_rest_api(restApiId=api["id"], patchOperations=[
        {"op": "replace", "path": "/securityPolicy", "value": "SecurityPolicy_TLS13_1_3_2025_09"},
        {"op": "replace", "path": "/endpointAccessMode", "value": "BASIC"}])
    deployment = client.create_deployment(restApiId=api["id"], stageName="prod", description="after the policy")
    assert deployment["id"] and deployment["description"] == "after the policy"
    with pytest.raises(client.exceptions.NotFoundException):
        client.create_deployment(restApiId="nosuchapi", stageName="prod")
