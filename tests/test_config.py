"""Reference server configuration: TOML, API Gateway's rules and their messages, the serve CLI."""

import os
import signal
import subprocess
import sys

import pytest
from pytest_apigw_tls.reference_server import Endpoint, parse_config
from pytest_apigw_tls.reference_server.config import default_endpoints

from pytest_apigw_tls.errors import ConfigError
from pytest_apigw_tls.policy.catalog import builtin_catalog

GOOD = """
[server]
strict_status = 403

[[endpoint]]
hostname = "abcdef1234.execute-api.us-east-1.amazonaws.com"
kind = "default"
security_policy = "SecurityPolicy_TLS13_1_3_2025_09"
access_mode = "STRICT"

[[endpoint]]
hostname = "api.example.com"
endpoint_type = "EDGE"
security_policy = "TLS_1_2"
cert_type = "ecdsa"
"""


def test_a_good_config_loads_with_its_settings():
    config = parse_config(GOOD)
    assert config.settings.strict_status == 403
    assert {e.hostname: e for e in config.endpoints}["api.example.com"].policy_in(config.catalog).id == "TLS_1_2@EDGE"


@pytest.mark.parametrize("endpoint,message", [
    (Endpoint("a.test", "SecurityPolicy_TLS13_1_3_2025_09"),
     "Endpoint access mode is required for the specified security policy"),
    (Endpoint("a.test", "TLS_1_2", access_mode="BASIC"),
     "Endpoint access mode is not supported for this security policy"),
    (Endpoint("a.test", "SecurityPolicy_TLS13_2025_EDGE", "REGIONAL", "BASIC"), "not valid for endpoint type REGIONAL"),
    (Endpoint("a.test", "SecurityPolicy_TLS13_1_3_2025_09", "EDGE", "BASIC"), "not valid for endpoint type EDGE"),
    (Endpoint("a.test", "TLS_1_2", kind="default", cert_type="ecdsa"), "default endpoints serve RSA certificates"),
    (Endpoint("A_B.test", "TLS_1_2"), "not a valid lowercase DNS hostname"),
    (Endpoint("a.test", "TLS_1_2", "LOCAL"), "unknown endpoint type 'LOCAL'"),
])
def test_api_gateway_rules_refuse_bad_endpoints(endpoint, message):
    with pytest.raises(Exception, match=message):
        endpoint.validate(builtin_catalog())


@pytest.mark.parametrize("text,message", [
    ("[[endpoint]\nhostname=", "malformed TOML"),
    ("[[endpoint]]\nhostname = 'a.test'\nsecurity_policy = 'TLS_1_2'\npolicy = 'x'", "unknown keys policy"),
    ("[server]\nunknown_sni = 'pass'\n[[endpoint]]\nhostname = 'a.test'\nsecurity_policy = 'TLS_1_2'",
     "unknown_sni must be one of"),
    ("[server]\nport = 70000\n[[endpoint]]\nhostname = 'a.test'\nsecurity_policy = 'TLS_1_2'", "out of range"),
    ("[[endpoint]]\nhostname = 'a.test'\nsecurity_policy = 'TLS_1_2'\n"
     "[[endpoint]]\nhostname = 'a.test'\nsecurity_policy = 'TLS_1_0'", "configured twice"),
    ("", "no endpoints configured"),
    ("[[endpoint]]\nhostname = 5\nsecurity_policy = 'TLS_1_2'", "hostname must be a string, not 5"),
    ("[server]\nport = '80'\n[[endpoint]]\nhostname = 'a.test'\nsecurity_policy = 'TLS_1_2'",
     "port must be a whole number"),
    ("[server]\nport = true\n[[endpoint]]\nhostname = 'a.test'\nsecurity_policy = 'TLS_1_2'",
     "port must be a whole number"),
    ("[server]\nidle_timeout = nan\n[[endpoint]]\nhostname = 'a.test'\nsecurity_policy = 'TLS_1_2'",
     "idle_timeout must be a finite number"),
    ("[server]\naccess_log_format = 5\n[[endpoint]]\nhostname = 'a.test'\nsecurity_policy = 'TLS_1_2'",
     "access_log_format must be a string"),
    ("[[endpoint]]\nhostname = '10.0.0.1'\nsecurity_policy = 'TLS_1_2'", "an IP address is not a hostname"),
    ("[server]\nhost = '" + "a" * 300 + "'\n[[endpoint]]\nhostname = 'a.test'\nsecurity_policy = 'TLS_1_2'",
     "is not an address to listen on"),
])
def test_malformed_config_is_one_clear_error(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(text)


def test_default_endpoints_cover_every_policy_and_both_certificate_types():
    endpoints = default_endpoints()
    assert len({(e.policy_in(builtin_catalog()).id, e.cert_type) for e in endpoints}) == 28
    assert all(e.cert_type == "rsa" for e in endpoints if e.kind == "default")


def run_cli(*args, timeout=20):
    return subprocess.run([sys.executable, "-m", "pytest_apigw_tls.cli.main", *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def malformed_config(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[[endpoint]\nhostname = 'a.test'\n")
    return str(path)


@pytest.mark.parametrize("args,message", [
    (["serve", "--config", "/nonexistent/endpoints.toml"], "cannot read /nonexistent/endpoints.toml"),
    (["serve", "--config", "MALFORMED"], "malformed TOML"),
    (["admin", "get-rest-api", "--url", "http://127.0.0.1:1", "--rest-api-id", "x"], "cannot reach the admin endpoint"),
    (["admin", "update-rest-api", "--url", "http://127.0.0.1:1", "--rest-api-id", "x", "--patch-operations", "[oops"],
     "--patch-operations is not JSON"),
    (["admin", "update-domain-name", "--url", "http://127.0.0.1:1"], "update-domain-name needs --domain-name"),
    (["serve", "--port", "70000"], "port 70000 is out of range"),
    (["serve", "--access-log", "/nonexistent/dir/log"], "cannot open access log"),
    (["serve", "--admin-port", "70000"], "--admin-port 70000 is out of range"),
    (["serve", "--propagation-delay", "nan"], "--propagation-delay must be a finite number"),
    (["admin", "get-rest-api", "--url", "foo", "--rest-api-id", "x"], "is not an http:// URL"),
    (["scan", "127.0.0.1:443", "--policy", "TLS_1_2", "--timeout", "inf"], "--timeout must be a finite number"),
])
def test_bad_input_is_one_line_and_status_2(args, message, malformed_config):
    result = run_cli(*[malformed_config if arg == "MALFORMED" else arg for arg in args])
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_serve_prints_address_ca_and_table_then_stops_on_sigterm(tmp_path):
    config = tmp_path / "endpoints.toml"
    config.write_text(GOOD)
    process = subprocess.Popen([sys.executable, "-m", "pytest_apigw_tls.cli.main", "serve", "--config", str(config)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with process:
        lines = [process.stdout.readline() for _ in range(5)]
        ca_file = lines[1].split(": ", 1)[1].strip()
        assert os.path.exists(ca_file)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    assert lines[0].startswith("apigw-tls reference server on 127.0.0.1:")
    assert lines[1].startswith("CA file: ") and not os.path.exists(ca_file), "the temporary CA is cleaned up"
    assert "api.example.com" in lines[4]


@pytest.mark.parametrize("text,message", [
    ("server = 5\n", "server settings are written as one [server] table"),
    ("[[server]]\n", "server settings are written as one [server] table"),
    ("endpoint = [1]\n", "endpoints are written as [[endpoint]] tables"),
    ("endpoint = ['a']\n", "endpoints are written as [[endpoint]] tables"),
])
def test_config_tables_of_the_wrong_shape_are_one_line(tmp_path, capsys, text, message):
    from pytest_apigw_tls.cli.main import main

    path = tmp_path / "config.toml"
    path.write_text(text)
    assert main(["serve", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_cli_inputs_that_tracebacked_are_one_line(capsys):
    from pytest_apigw_tls.cli.main import main

    assert main(["scan", "127.0.0.1:1", "--policy", "TLS_1_2", "--timeout", "1e308"]) == 2
    assert main(["admin", "--url", "http://[::1", "get-rest-api", "--rest-api-id", "x"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "is not an http:// URL" in err
    assert "--timeout must be a finite number from 0.001 to 86400, not 1e308" in err
