"""Does *my* client still connect when our API moves to policy X? Client tests as an application
developer writes them: urllib, requests and httpx, once per policy, against the reference server.

Each test is the five lines a first client test needs; `policy.accepts(...)` says what the policy
allows, so "connects if and only if the policy allows what my client offers" is one assertion.
"""

import ssl
import urllib.error
import urllib.request

import httpx
import pytest
import requests

from pytest_apigw_tls.client import each_policy

CBC_ONLY = "ECDHE-RSA-AES128-SHA256"  # an old client: TLS 1.2 only, one CBC suite


def test_a_first_client_test_is_five_lines(apigw_server):
    server = apigw_server("SecurityPolicy_TLS13_1_3_2025_09")
    with urllib.request.urlopen(server.url, context=server.ssl_context()) as response:
        assert response.status == 200
    assert server.connections[-1]["tlsVersion"] == "TLSv1.3"


@each_policy()
def test_urllib_connects_under_every_policy(apigw_server, policy):
    server = apigw_server(policy)
    with urllib.request.urlopen(server.url, context=server.ssl_context()) as response:
        assert response.status == 200
    assert server.policy.accepts(version=server.connections[-1]["tlsVersion"])


@each_policy()
def test_requests_connects_under_every_policy(apigw_server, policy):
    server = apigw_server(policy, cert_type="ecdsa")
    assert requests.get(server.url, verify=server.ca_file, timeout=10).status_code == 200


@each_policy()
def test_httpx_connects_under_every_policy(apigw_server, policy):
    server = apigw_server(policy)
    assert httpx.get(server.url, verify=server.ssl_context(), timeout=10).status_code == 200


@each_policy()
def test_an_old_tls12_cbc_client_connects_if_and_only_if_the_policy_allows_it(apigw_server, policy):
    server = apigw_server(policy)
    context = server.ssl_context()
    context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(CBC_ONLY)
    try:
        with urllib.request.urlopen(server.url, context=context) as response:
            connected = response.status == 200
    except (urllib.error.URLError, ssl.SSLError, ConnectionError):
        connected = False
    assert connected == server.policy.accepts(version="TLSv1.2", suite=CBC_ONLY)
    if not connected:  # refused by the policy in the handshake, not for a wrong name
        assert server.connections[-1]["refused"] == "handshake"


def test_a_client_that_sends_no_server_name_is_told_so(apigw_server):
    server = apigw_server("TLS_1_2")
    context = server.ssl_context()
    context.check_hostname = False
    import socket

    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        with pytest.raises(ssl.SSLError, match="UNRECOGNIZED_NAME"):
            context.wrap_socket(raw)  # no server_hostname: no SNI
    assert server.connections[-1]["refused"] == "unrecognized_name"
