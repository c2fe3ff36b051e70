"""The control plane: API Gateway's configuration rules, live updates, the admin endpoint, arrival paths."""

import json
import time

import pytest
from pytest_apigw_tls.reference_server import Endpoint, ReferenceServer, ServerConfig, ServerSettings
from pytest_apigw_tls.reference_server.admin import AdminServer
from pytest_apigw_tls.reference_server.control import (
    DOMAIN_NAME,
    REST_API,
    BadRequest,
    ControlPlane,
    NotFound,
    Resource,
    apply_patch,
)

from pytest_apigw_tls.policy.codepoints import TlsVersion
from pytest_apigw_tls.probing.access import http_probe
from pytest_apigw_tls.probing.handshake import client_connection, client_context, drive, handshake_probe
from pytest_apigw_tls.probing.probes import Outcome, Target, connect

from .helpers import admin_request

API = "abcdef1234.execute-api.us-east-1.amazonaws.com"
DOMAIN = "api.example.com"
TIMEOUT = 5.0


def replace(path, value):
    return {"op": "replace", "path": path, "value": value}


def api(policy="TLS_1_0", mode=None, endpoint_type="REGIONAL"):
    return Resource(REST_API, "abcdef1234", API, endpoint_type, policy, mode)


@pytest.mark.parametrize("resource,operations,message", [
    (api(), [replace("/securityPolicy", "SecurityPolicy_TLS13_1_3_2025_09")],
     "Endpoint access mode is required for the specified security policy"),
    (api("SecurityPolicy_TLS13_1_3_2025_09", "BASIC"), [replace("/securityPolicy", "TLS_1_2")],
     "Endpoint access mode is not supported for this security policy"),
    (api("SecurityPolicy_TLS13_1_3_2025_09", "STRICT"), [replace("/endpointConfiguration/types/REGIONAL", "PRIVATE")],
     "Cannot change the endpoint type while the endpoint access mode is STRICT"),
    (api(), [replace("/securityPolicy", "SecurityPolicy_TLS13_2025_EDGE"), replace("/endpointAccessMode", "BASIC")],
     "not valid for endpoint type REGIONAL"),
    (api("TLS_1_0", None, "EDGE"), [replace("/securityPolicy", "SecurityPolicy_TLS13_1_2_2021_06"),
                                    replace("/endpointAccessMode", "BASIC")], "not valid for endpoint type EDGE"),
    (api(), [replace("/securityPolicy", "TLS_1_2")], "from TLS_1_0 to TLS_1_2 directly"),
    (Resource(DOMAIN_NAME, DOMAIN, DOMAIN, "REGIONAL", "TLS_1_2", None, mutual_tls=True),
     [replace("/securityPolicy", "SecurityPolicy_TLS13_1_3_2025_09"), replace("/endpointAccessMode", "BASIC")],
     "Mutual TLS authentication is not supported with an enhanced security policy"),
    (api(), [{"op": "add", "path": "/securityPolicy", "value": "TLS_1_2"}], "only op=replace"),
    (api(), [replace("/description", "x")], "Invalid patch path /description"),
    (api(), [{"op": "replace", "path": 5, "value": "x"}], "Invalid patch operation"),
    (api(), [replace("/securityPolicy", 5)], "Invalid patch value"),
    (api("TLS_1_0", None, "EDGE"), [replace("/securityPolicy", "TLS_1_2")], "only valid for custom domain names"),
    (api(), [replace("/securityPolicy", "TLS_1_2"), replace("/endpointConfiguration/types/REGIONAL", "EDGE")],
     "only valid for custom domain names"),
    (Resource(DOMAIN_NAME, DOMAIN, DOMAIN, "REGIONAL", "TLS_1_2", None),
     [replace("/securityPolicy", "SecurityPolicy_TLS13_1_2_Ext2_PQ_2025_09"), replace("/endpointAccessMode", "BASIC")],
     "cannot enforce SecurityPolicy_TLS13_1_2_Ext2_PQ_2025_09"),
    (api("TLS_1_0", None, "EDGE"), [replace("/securityPolicy", "TLS_1_0@EDGE")],
     r"Invalid security policy: TLS_1_0@EDGE \(name it TLS_1_0 on an EDGE endpoint\)"),
])
def test_refused_changes_carry_api_gateways_message(resource, operations, message):
    with pytest.raises(BadRequest, match=message):
        apply_patch(resource, operations)


@pytest.mark.parametrize("resource,operations,expected", [
    (api(), [replace("/securityPolicy", "SecurityPolicy_TLS13_1_3_2025_09"), replace("/endpointAccessMode", "BASIC")],
     ("SecurityPolicy_TLS13_1_3_2025_09", "BASIC", "REGIONAL")),
    (api("SecurityPolicy_TLS13_1_3_2025_09", "BASIC"), [replace("/endpointAccessMode", "STRICT")],
     ("SecurityPolicy_TLS13_1_3_2025_09", "STRICT", "REGIONAL")),
    (api("SecurityPolicy_TLS13_1_3_2025_09", "STRICT"),
     [replace("/securityPolicy", "TLS_1_2"), replace("/endpointAccessMode", "")], ("TLS_1_2", None, "REGIONAL")),
    (api("SecurityPolicy_TLS13_1_3_2025_09", "BASIC"), [replace("/endpointConfiguration/types/REGIONAL", "PRIVATE")],
     ("SecurityPolicy_TLS13_1_3_2025_09", "BASIC", "PRIVATE")),
    (Resource(DOMAIN_NAME, DOMAIN, DOMAIN, "EDGE", "TLS_1_2", None),
     [replace("/securityPolicy", "SecurityPolicy_TLS12_PFS_2025_EDGE"), replace("/endpointAccessMode", "STRICT")],
     ("SecurityPolicy_TLS12_PFS_2025_EDGE", "STRICT", "EDGE")),
    (Resource(DOMAIN_NAME, DOMAIN, DOMAIN, "EDGE", "SecurityPolicy_TLS12_PFS_2025_EDGE", "BASIC"),
     [replace("/securityPolicy", "TLS_1_2"), replace("/endpointAccessMode", "")], ("TLS_1_2", None, "EDGE")),
])
def test_allowed_changes_are_applied(resource, operations, expected):
    changed = apply_patch(resource, operations)
    assert (changed.security_policy, changed.access_mode, changed.endpoint_type) == expected


def config(**settings):
    return ServerConfig((Endpoint(API, "TLS_1_0", "REGIONAL", None, "default"),
                         Endpoint(DOMAIN, "TLS_1_2", "REGIONAL", None, "custom", "ecdsa")), ServerSettings(**settings))


def test_policies_read_back_by_their_aws_names_never_the_catalogs_internal_ids():
    config = ServerConfig((Endpoint(API, "TLS_1_0@EDGE", "EDGE", kind="default"),
                           Endpoint(DOMAIN, "TLS_1_2@EDGE", "EDGE")))
    with ReferenceServer(config) as server:
        plane = ControlPlane(server)
        assert plane.get(REST_API, API.split(".")[0]).to_dict()["securityPolicy"] == "TLS_1_0"
        assert plane.get(DOMAIN_NAME, DOMAIN).to_dict()["securityPolicy"] == "TLS_1_2"


def test_a_policy_on_the_wrong_endpoint_type_is_not_suggested_back():
    from pytest_apigw_tls.errors import UnknownPolicyError
    from pytest_apigw_tls.policy.catalog import load_catalog

    with pytest.raises(UnknownPolicyError, match="^policy TLS_1_2@EDGE is not valid for endpoint type REGIONAL$"):
        load_catalog().policy("TLS_1_2@EDGE", "REGIONAL")


def test_defaults_per_endpoint_type():
    from pytest_apigw_tls.reference_server.control import default_policy

    assert [default_policy(REST_API, t) for t in ("REGIONAL", "EDGE", "PRIVATE")] == ["TLS_1_0", "TLS_1_0", "TLS_1_2"]
    assert default_policy(DOMAIN_NAME, "REGIONAL") == "TLS_1_2"


def open_tls(server, hostname, version=None):
    """An established TLS connection, kept open across a policy change."""
    target = Target(*server.address, hostname)
    sock = connect(target, TIMEOUT)
    tls = client_connection(target, client_context(version, None, None), sock)
    drive(tls.do_handshake, sock, time.monotonic() + TIMEOUT)
    return sock, tls


def request_on(sock, tls, host):
    deadline = time.monotonic() + TIMEOUT
    drive(lambda: tls.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()), sock, deadline)
    data = b""
    while b"}" not in data:
        data += drive(lambda: tls.recv(65536), sock, deadline)
    return json.loads(data.split(b"\r\n\r\n", 1)[1])


def test_live_change_reaches_new_connections_and_not_established_ones():
    with ReferenceServer(config()) as server:
        control = ControlPlane(server)
        sock, tls = open_tls(server, API, TlsVersion.TLSv1_2)
        control.update(REST_API, "abcdef1234", [replace("/securityPolicy", "SecurityPolicy_TLS13_1_3_2025_09"),
                                                replace("/endpointAccessMode", "BASIC")])
        control.wait_idle()
        assert control.get(REST_API, "abcdef1234").to_dict()["apiStatus"] == "AVAILABLE"
        established = request_on(sock, tls, API)
        assert (established["tlsVersion"], established["securityPolicy"]) == ("TLSv1.2", "TLS_1_0")
        sock.close()
        target = Target(*server.address, API)
        assert handshake_probe(target, TIMEOUT, TlsVersion.TLSv1_2).outcome is Outcome.REJECTED
        assert json.loads(http_probe(target, API, TIMEOUT).body)["securityPolicy"] == "SecurityPolicy_TLS13_1_3_2025_09"


def test_propagation_delay_is_honoured_with_updating_then_available():
    with ReferenceServer(config()) as server:
        control = ControlPlane(server, propagation_delay=1.0)
        target = Target(*server.address, DOMAIN)
        changed = control.update(DOMAIN_NAME, DOMAIN, [replace("/securityPolicy", "SecurityPolicy_TLS13_1_3_2025_09"),
                                                       replace("/endpointAccessMode", "STRICT")])
        assert changed.to_dict()["domainNameStatus"] == "PENDING"
        assert handshake_probe(target, TIMEOUT, TlsVersion.TLSv1_2).outcome is Outcome.ACCEPTED  # not yet
        with pytest.raises(BadRequest, match="being updated"):
            control.update(DOMAIN_NAME, DOMAIN, [replace("/endpointAccessMode", "BASIC")])
        control.wait_idle()
        assert control.get(DOMAIN_NAME, DOMAIN).to_dict()["domainNameStatus"] == "AVAILABLE"
        assert handshake_probe(target, TIMEOUT, TlsVersion.TLSv1_2).outcome is Outcome.REJECTED


def admin_call(url, method, path, body=None):
    return admin_request(url, method, path, body)


def test_blog_migration_basic_then_strict_then_back_rehearsed_end_to_end():
    """Apply the enhanced policy in BASIC, validate clients, enable STRICT, roll back to BASIC."""
    with ReferenceServer(config()) as server, AdminServer(ControlPlane(server)) as admin:
        target = Target(*server.address, API)
        misdirected = lambda: http_probe(target, "other.example.com", TIMEOUT).status  # noqa: E731
        assert misdirected() == 200

        status, body = admin_call(admin.url, "PATCH", "/restapis/abcdef1234", {"patchOperations": [
            replace("/securityPolicy", "SecurityPolicy_TLS13_1_3_2025_09")]})
        assert (status, body["__type"]) == (400, "BadRequestException")
        assert body["message"] == "Endpoint access mode is required for the specified security policy"

        status, body = admin_call(admin.url, "PATCH", "/restapis/abcdef1234", {"patchOperations": [
            replace("/securityPolicy", "SecurityPolicy_TLS13_1_3_2025_09"), replace("/endpointAccessMode", "BASIC")]})
        assert status == 200
        admin_control = admin.httpd.RequestHandlerClass.control
        admin_control.wait_idle()
        assert handshake_probe(target, TIMEOUT, TlsVersion.TLSv1_2).outcome is Outcome.REJECTED
        assert misdirected() == 200  # BASIC: the mismatched client still gets through
        log = [json.loads(line) for line in server.access_log.lines]
        assert {(entry["tlsVersion"], entry["host"]) for entry in log} >= {("TLSv1.3", "other.example.com")}

        assert admin_call(admin.url, "PATCH", "/restapis/abcdef1234",
                          {"patchOperations": [replace("/endpointAccessMode", "STRICT")]})[0] == 200
        admin_control.wait_idle()
        assert misdirected() == 421
        assert http_probe(target, API, TIMEOUT).status == 200
        status, body = admin_call(admin.url, "PATCH", "/restapis/abcdef1234",
                                  {"patchOperations": [replace("/endpointConfiguration/types/REGIONAL", "PRIVATE")]})
        assert status == 400 and "STRICT" in body["message"]

        assert admin_call(admin.url, "PATCH", "/restapis/abcdef1234",
                          {"patchOperations": [replace("/endpointAccessMode", "BASIC")]})[0] == 200
        admin_control.wait_idle()
        assert misdirected() == 200
        assert admin_call(admin.url, "GET", "/restapis/abcdef1234")[1]["endpointAccessMode"] == "BASIC"
        assert admin_call(admin.url, "GET", "/restapis/nope")[0] == 404


def test_strict_refuses_requests_arriving_through_another_endpoint_type():
    endpoints = (Endpoint("strict.example.com", "SecurityPolicy_TLS13_1_3_2025_09", "REGIONAL", "STRICT"),
                 Endpoint("basic.example.com", "SecurityPolicy_TLS13_1_3_2025_09", "REGIONAL", "BASIC"))
    settings = ServerSettings(arrival_paths={"REGIONAL": 0, "EDGE": 0, "PRIVATE": 0})
    with ReferenceServer(ServerConfig(endpoints, settings)) as server:
        paths = server.arrival_paths
        for hostname, via, status in [("strict.example.com", "REGIONAL", 200), ("strict.example.com", "EDGE", 421),
                                      ("strict.example.com", "PRIVATE", 421), ("basic.example.com", "EDGE", 200)]:
            observation = http_probe(Target(*paths[via], hostname), hostname, TIMEOUT)
            assert observation.status == status, (hostname, via, observation.evidence)
            if status == 421:
                assert "arrived through a " + via in json.loads(observation.body)["message"]
        assert json.loads(server.access_log.lines[-1])["arrivalType"] == "EDGE"


def test_a_change_still_propagating_dies_with_its_resource():
    """Create under TLS_1_2, update to TLS13_1_3 STRICT with a delay, delete, create again under TLS_1_2:
    the old change must not land on the new domain (it once served a policy nobody configured for it)."""
    with ReferenceServer(config()) as server:
        control = ControlPlane(server, propagation_delay=0.3)
        name = "churn.example.test"
        body = {"domainName": name, "endpointConfiguration": {"types": ["REGIONAL"]}, "securityPolicy": "TLS_1_2"}
        control.create(DOMAIN_NAME, body)
        control.update(DOMAIN_NAME, name, [replace("/securityPolicy", "SecurityPolicy_TLS13_1_3_2025_09"),
                                           replace("/endpointAccessMode", "STRICT")])
        control.delete(DOMAIN_NAME, name)
        control.create(DOMAIN_NAME, body)
        time.sleep(0.6)
        control.wait_idle()
        assert control.get(DOMAIN_NAME, name).to_dict()["securityPolicy"] == "TLS_1_2"
        assert server.endpoint(name).security_policy == "TLS_1_2" and server.endpoint(name).access_mode is None
        assert handshake_probe(Target(*server.address, name), TIMEOUT, TlsVersion.TLSv1_2).outcome is Outcome.ACCEPTED


def test_deleted_domains_stay_deleted_through_create_update_delete_churn():
    with ReferenceServer(config()) as server:
        control = ControlPlane(server, propagation_delay=0.01)
        names = [f"churn-{n}.example.test" for n in range(60)]
        for name in names:
            control.create(DOMAIN_NAME, {"domainName": name, "endpointConfiguration": {"types": ["REGIONAL"]},
                                         "securityPolicy": "TLS_1_2"})
            control.update(DOMAIN_NAME, name, [replace("/securityPolicy", "SecurityPolicy_TLS13_1_3_2025_09"),
                                               replace("/endpointAccessMode", "BASIC")])
            control.delete(DOMAIN_NAME, name)
        time.sleep(0.1)
        control.wait_idle()
        assert [n for n in names if server.endpoint(n) is not None] == []
        for name in names:
            with pytest.raises(NotFound):
                control.get(DOMAIN_NAME, name)
        assert handshake_probe(Target(*server.address, names[0]), TIMEOUT).outcome is Outcome.REJECTED


@pytest.mark.parametrize("body,message", [
    ({"domainName": "t.example.test", "endpointConfiguration": "REGIONAL"}, "Invalid endpointConfiguration"),
    ({"domainName": "t.example.test", "mutualTlsAuthentication": "s3://bucket/truststore.pem"},
     "Invalid mutualTlsAuthentication"),
    ({"domainName": "t.example.test", "mutualTlsAuthentication": ["s3://bucket"]}, "Invalid mutualTlsAuthentication"),
    ({"name": "api", "disableExecuteApiEndpoint": "false"}, "Invalid disableExecuteApiEndpoint"),
    (b"[" * 20000 + b"]" * 20000, "nested too deeply"),
], ids=["endpoint-configuration-string", "mtls-string", "mtls-list", "disable-string", "deep-json"])
def test_wrong_json_types_get_the_services_400(body, message):
    with ReferenceServer(config()) as server, AdminServer(ControlPlane(server)) as admin:
        path = "/restapis" if isinstance(body, dict) and "name" in body else "/domainnames"
        status, answer = admin_request(admin.url, "POST", path, body)
    assert status == 400 and answer["__type"] == "BadRequestException" and message in answer["message"]


def test_strict_reads_the_authority_of_an_absolute_form_request():
    """RFC 9112 3.2.2: `GET https://evil.example/` is a request for evil.example whatever Host says."""
    with ReferenceServer(config()) as server:
        control = ControlPlane(server)
        control.update(DOMAIN_NAME, DOMAIN, [
            replace("/securityPolicy", "SecurityPolicy_TLS13_1_3_2025_09"), replace("/endpointAccessMode", "STRICT")])
        control.wait_idle()
        target = Target(*server.address, DOMAIN)
        assert http_probe(target, DOMAIN, TIMEOUT, path=f"https://{DOMAIN}/").status == 200
        assert http_probe(target, DOMAIN, TIMEOUT, path="https://evil.example/").status == 421


def test_a_client_leaving_mid_answer_prints_nothing_on_the_admin_endpoints_stderr(capfd):
    """A reader that resets the connection while a large page is being written: the write fails with a
    broken pipe or reset, which is the client's business; no traceback appears."""
    import socket
    import struct
    import urllib.parse

    with ReferenceServer(config()) as server, AdminServer(ControlPlane(server)) as admin:
        for number in range(300):
            assert admin_request(admin.url, "POST", "/restapis", {"name": f"api-{number}"})[0] == 201
        host, port = urllib.parse.urlsplit(admin.url).netloc.rsplit(":", 1)
        for _ in range(20):
            with socket.create_connection((host.strip("[]"), int(port)), timeout=5) as sock:
                sock.sendall(f"GET /restapis?limit=500 HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
        assert admin_request(admin.url, "GET", "/restapis?limit=1")[0] == 200  # still serving
    assert "Traceback" not in capfd.readouterr().err


def test_a_wildcard_domain_name_serves_each_first_label_under_its_own_policy_and_the_specific_name_wins():
    with ReferenceServer(config()) as server, AdminServer(ControlPlane(server)) as admin:
        body = {"domainName": "*.example.test", "endpointConfiguration": {"types": ["REGIONAL"]},
                "securityPolicy": "SecurityPolicy_TLS13_1_3_2025_09", "endpointAccessMode": "BASIC"}
        status, created = admin_request(admin.url, "POST", "/domainnames", body)
        assert status == 201 and created["domainName"] == "*.example.test"
        assert admin_request(admin.url, "GET", "/domainnames/%2A.example.test")[0] == 200
        specific = {**body, "domainName": "legacy.example.test", "securityPolicy": "TLS_1_2"}
        specific.pop("endpointAccessMode")
        assert admin_request(admin.url, "POST", "/domainnames", specific)[0] == 201

        def tls12(hostname):
            return handshake_probe(Target(*server.address, hostname), TIMEOUT, TlsVersion.TLSv1_2)

        assert tls12("a.example.test").outcome is Outcome.REJECTED  # TLS 1.3 only under the wildcard
        assert handshake_probe(Target(*server.address, "a.example.test"), TIMEOUT).outcome is Outcome.ACCEPTED
        assert tls12("legacy.example.test").outcome is Outcome.ACCEPTED  # its own name, its own policy
        deeper = handshake_probe(Target(*server.address, "a.b.example.test"), TIMEOUT)
        assert deeper.outcome is Outcome.REJECTED and "unrecognized_name" in deeper.evidence
