"""Client testing: the one-line endpoint, expectations from the catalog, the matrix of any client
program, the shared server's url_for, and a plugin that stays out of unrelated test runs."""

import json
import shutil
import subprocess
import sys
import urllib.request

import pytest

from pytest_apigw_tls.cli.main import main
from pytest_apigw_tls.policy.catalog import load_catalog

pytest_plugins = ["pytester"]
CATALOG = load_catalog()


@pytest.mark.parametrize("policy,query,expected", [
    ("SecurityPolicy_TLS13_1_3_2025_09", {"version": "TLSv1.2"}, False),
    ("SecurityPolicy_TLS13_1_3_2025_09", {"suite": "TLS_CHACHA20_POLY1305_SHA256"}, True),
    ("SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09", {"version": "TLSv1.2", "suite": "ECDHE-RSA-AES128-SHA256"}, False),
    ("TLS_1_2", {"version": "TLSv1.2", "suite": "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"}, True),
    ("TLS_1_2", {"suite": "ECDHE-ECDSA-AES128-GCM-SHA256"}, False),  # an RSA certificate by default
    ("TLS_1_2", {"suite": "ECDHE-ECDSA-AES128-GCM-SHA256", "cert_type": "ecdsa"}, True),
    ("SecurityPolicy_TLS13_1_3_FIPS_2025_09", {"group": "x25519"}, False),
    ("SecurityPolicy_TLS13_1_2_PQ_2025_09", {"version": "TLSv1.3", "group": "X25519MLKEM768"}, True),
    ("TLS_1_0", {"version": "TLS 1.0", "suite": "AES128-SHA"}, True),
])
def test_policy_accepts_answers_in_openssl_or_iana_spelling(policy, query, expected):
    assert CATALOG.policy(policy).accepts(**query) is expected


def test_the_shared_server_gives_a_url_any_client_can_use(apigw_reference_server):
    url = apigw_reference_server.url_for("SecurityPolicy_TLS13_2025_EDGE", "ecdsa")
    import ssl

    context = ssl.create_default_context(cafile=str(apigw_reference_server.ca_file))
    with urllib.request.urlopen(url, context=context) as response:
        body = json.load(response)
    assert body["securityPolicy"] == "SecurityPolicy_TLS13_2025_EDGE" and body["endpointAccessMode"] == "STRICT"


def test_an_ip_address_as_an_endpoint_hostname_is_one_line(capsys, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[[endpoint]]\nhostname = '127.0.0.1'\nsecurity_policy = 'TLS_1_2'\n")
    assert main(["serve", "--config", str(config)]) == 2
    assert "an IP address is not a hostname" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("curl") is None, reason="the system curl is not installed")
def test_matrix_of_the_system_curl_limited_to_tls12_cbc(capsys):
    argv = ["matrix", "--endpoint-type", "REGIONAL", "--json", "-", "--", "curl", "-s", "-o", "/dev/null",
            "--tls-max", "1.2", "--tlsv1.2", "--ciphers", "ECDHE-RSA-AES128-SHA256", "--cacert", "{ca}", "{url}"]
    assert main(argv) == 1  # refused under some policies: the exit status says so
    rows = {row["policy"]: row for row in json.loads(capsys.readouterr().out)}
    for policy, row in rows.items():
        allowed = CATALOG.policy(policy).accepts(version="TLSv1.2", suite="ECDHE-RSA-AES128-SHA256")
        assert row["result"] == ("connected" if allowed else "refused"), (policy, row)
        assert (row["exit_status"] == 0) == allowed
    assert rows["TLS_1_2"]["detail"].startswith("TLSv1.2 ECDHE-RSA-AES128-SHA256")
    assert rows["SecurityPolicy_TLS13_1_3_2025_09"]["detail"].startswith("handshake:")


def test_matrix_misuse_is_one_line(capsys):
    assert main(["matrix", "--", "true"]) == 2
    assert "names no {url}" in capsys.readouterr().err


def test_an_unrelated_test_run_is_unchanged_and_connects_nowhere(pytester):
    pytester.makepyfile(test_other="def test_one():\n    assert True\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert not [line for line in result.outlines if line.startswith("apigw-tls")]  # no header, no summary


def test_importing_the_plugin_loads_nothing_heavy():
    """pytest loads the plugin in every run: it must not pull in OpenSSL, cryptography or the catalog."""
    code = ("import sys, pytest_apigw_tls.plugin; heavy = [m for m in ('OpenSSL', 'cryptography', 'trustme', 'h11', "
            "'pytest_apigw_tls.policy.catalog') if m in sys.modules]; print(heavy)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "[]"


JAVA_CLIENT = str(__import__("pathlib").Path(__file__).parent / "servers" / "JavaClient.java")


@pytest.mark.skipif(shutil.which("java") is None, reason="no JDK (Debian package default-jdk-headless)")
def test_a_java_client_is_tested_as_it_runs_in_production(apigw_server):
    """The JDK sends no SNI for the single-label "localhost", so `url` would test a client that never
    exists in production; `dotted_url`, resolved through `hosts_file`, is how Java reaches API Gateway."""
    server = apigw_server("SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09")
    run = subprocess.run(["java", *server.java_options, JAVA_CLIENT, server.dotted_url, server.ca_file],
                         capture_output=True, text=True, timeout=120)
    assert run.stdout.strip() == "200", run.stdout + run.stderr
    connection = server.connections[-1]
    assert connection["sni"] == server.endpoint.hostname and connection["tlsVersion"] == "TLSv1.3"


@pytest.mark.skipif(shutil.which("java") is None, reason="no JDK (Debian package default-jdk-headless)")
def test_matrix_runs_a_java_client_with_its_dotted_name(capsys):
    argv = ["matrix", "--endpoint-type", "REGIONAL", "--json", "-", "--", "java", "-Djdk.net.hosts.file={hosts_file}",
            JAVA_CLIENT, "{dotted_url}", "{ca}"]
    assert main(argv) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and all(row["result"] == "connected" and row["exit_status"] == 0 for row in rows), rows


@pytest.mark.skipif(shutil.which("curl") is None, reason="the system curl is not installed")
def test_matrix_asks_the_policies_named_and_its_exit_status_reflects_them(capsys, tmp_path):
    curl = ["--", "curl", "-s", "-o", "/dev/null", "--tls-max", "1.2", "--tlsv1.2", "--ciphers",
            "ECDHE-RSA-AES128-SHA256", "--cacert", "{ca}", "{url}"]
    assert main(["matrix", "--policy", "TLS_1_2", "--policy", "TLS_1_0", "--json", "-", *curl]) == 0
    assert [row["policy"] for row in json.loads(capsys.readouterr().out)] == ["TLS_1_2", "TLS_1_0"]
    assert main(["matrix", "--policy", "SecurityPolicy_TLS13_1_3_2025_09", *curl]) == 1
    capsys.readouterr()
    assert main(["matrix", "--policy", "TLS_1_2", "--json", str(tmp_path / "no" / "rows.json"), *curl]) == 2
    assert main(["matrix", "--policy", "TLS_1_3", *curl]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "cannot write" in err and "did you mean" in err


def test_apigw_server_removes_what_the_test_added(pytester):
    """Endpoints a test adds end with it: the next test finds neither the endpoint nor its listener."""
    pytester.makepyfile(test_two='''
import socket
import pytest

ADDED = {}

def test_first(apigw_server, apigw_reference_server):
    server = apigw_server("TLS_1_2")
    ADDED["hostname"], ADDED["port"] = server.endpoint.hostname, server.port
    with socket.create_connection(("127.0.0.1", server.port), timeout=5):
        pass
    assert apigw_reference_server.endpoint(server.endpoint.hostname) is not None

def test_second(apigw_reference_server):
    assert apigw_reference_server.endpoint(ADDED["hostname"]) is None
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", ADDED["port"]), timeout=5)
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:xdist")
    result.assert_outcomes(passed=2)
