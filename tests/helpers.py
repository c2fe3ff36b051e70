"""Small helpers several test modules share."""

import contextlib
import importlib.util
import json
import pathlib
import subprocess
import urllib.error
import urllib.request

import trustme

from pytest_apigw_tls.probing.probes import Target

ROOT = pathlib.Path(__file__).resolve().parents[1]


def load_example(*parts):
    """An example script under examples/ as a module (they are scripts, not packages)."""
    path = ROOT.joinpath("examples", *parts)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def admin_request(url, method="GET", path="/restapis", body=None, headers=None, timeout=5.0):
    """(status, JSON body) of one admin-endpoint call; `body` is a dict (sent as JSON) or raw bytes."""
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    request = urllib.request.Request(url + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def write_leaf(folder, hostname, key_type):
    """A certificate for `hostname` from a throwaway CA of the same key type: (cert.pem, key.pem) in `folder`."""
    leaf = trustme.CA(key_type=key_type).issue_cert(hostname, key_type=key_type)
    cert, key = folder / "cert.pem", folder / "key.pem"
    leaf.cert_chain_pems[0].write_to_path(cert)
    leaf.private_key_pem.write_to_path(key)
    return cert, key


@contextlib.contextmanager
def serving(command, hostname):
    """Run a test server that prints its port on its first line; yield it as a Target, kill it after."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        yield Target("127.0.0.1", int(process.stdout.readline()), hostname)
    finally:
        process.kill()
        process.wait()
        process.stdout.close()


def duckdb_over_json_logs(path):
    """A DuckDB connection with the generated SQL's table (apigw_access_logs) as a view of JSON access
    logs keyed by variable name, as the README's Athena DDL maps them."""
    import duckdb

    connection = duckdb.connect()
    connection.execute(f"""CREATE VIEW apigw_access_logs AS
        SELECT "identity.sourceIp" AS source_ip, "identity.userAgent" AS user_agent,
               "tlsVersion" AS tls_version, "cipherSuite" AS cipher_suite, sni, host, "domainName" AS domain_name
        FROM read_json('{path}', format = 'newline_delimited', columns = {{
            'identity.sourceIp': 'VARCHAR', 'identity.userAgent': 'VARCHAR', 'tlsVersion': 'VARCHAR',
            'cipherSuite': 'VARCHAR', 'sni': 'VARCHAR', 'host': 'VARCHAR', 'domainName': 'VARCHAR'}})""")
    return connection
