"""Servers on another TLS stack (Node's own OpenSSL), faithful and wrong, judged by the scanner.

On an ECDSA-only endpoint TLS 1.2 curves can only be offered beside the certificate's curve; Node
prefers the server's order (honorCipherOrder), the opposite of gnutls-serv, so both preferences are
covered."""

import contextlib
import pathlib
import shutil
import subprocess

import pytest
import trustme

from pytest_apigw_tls.catalog import load_catalog
from pytest_apigw_tls.probes import ProbeSettings, Target
from pytest_apigw_tls.scan import FAIL, INCONCLUSIVE, scan

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")
SERVER = pathlib.Path(__file__).parent / "servers" / "node_tls_server.js"
POLICY = load_catalog().policy("SecurityPolicy_TLS13_1_2_2021_06")  # classic groups: Node's OpenSSL 3.0 has them
HOSTNAME = "node.apigw.test"


@contextlib.contextmanager
def node_server(tmp_path, curves, min_version="TLSv1.2"):
    ca = trustme.CA(key_type=trustme.KeyType.ECDSA)
    leaf = ca.issue_cert(HOSTNAME, key_type=trustme.KeyType.ECDSA)
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    leaf.cert_chain_pems[0].write_to_path(cert)
    leaf.private_key_pem.write_to_path(key)
    ciphers = ":".join([s.openssl for s in POLICY.tls13_suites.value] + [s.openssl for s in POLICY.tls12_suites.value])
    process = subprocess.Popen([NODE, str(SERVER), str(cert), str(key), min_version, ciphers, curves],
                               stdout=subprocess.PIPE, text=True)
    try:
        port = int(process.stdout.readline())
        yield Target("127.0.0.1", port, HOSTNAME)
    finally:
        process.kill()
        process.wait()
        process.stdout.close()


def judged(target):
    result = scan(target, POLICY, "ecdsa", ProbeSettings(timeout=5))
    return {v.expectation.test_id: v for v in result.verdicts}


def test_a_faithful_node_server_conforms_with_no_inconclusive_case(tmp_path):
    with node_server(tmp_path, "X25519:P-256:P-384") as target:
        verdicts = judged(target)
    assert [t for t, v in verdicts.items() if v.verdict in (FAIL, INCONCLUSIVE)] == []
    assert verdicts["TLSv1.2-secp521r1-rejected"].verdict == "pass"


def test_a_node_server_preferring_a_forbidden_curve_is_caught_at_both_versions(tmp_path):
    with node_server(tmp_path, "P-521:X25519:P-256:P-384") as target:
        verdicts = judged(target)
    failed = sorted(t for t, v in verdicts.items() if v.verdict != "pass")
    assert failed == ["TLSv1.2-secp521r1-rejected", "TLSv1.3-secp521r1-rejected"]
    assert "group 0x0019" in verdicts["TLSv1.2-secp521r1-rejected"].evidence


def test_a_node_server_ranking_a_forbidden_curve_last_is_never_seen_to_choose_it_at_tls12(tmp_path):
    """Server order P-256 first: a TLS 1.2 client, which must offer P-256, never gets secp521r1 there.
    At TLS 1.3 (no certificate constraint) the same server is caught."""
    with node_server(tmp_path, "P-256:X25519:P-384:P-521") as target:
        verdicts = judged(target)
    assert verdicts["TLSv1.2-secp521r1-rejected"].verdict == "pass"
    assert verdicts["TLSv1.3-secp521r1-rejected"].verdict == FAIL
