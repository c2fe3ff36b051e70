"""Servers on another TLS stack (Node's own OpenSSL), faithful and wrong, judged by the scanner.

On an ECDSA-only endpoint TLS 1.2 curves can only be offered beside the certificate's curve; Node
prefers the server's order (honorCipherOrder), the opposite of gnutls-serv, so both preferences are
covered."""

import pathlib
import shutil

import pytest
import trustme

from pytest_apigw_tls.policy.catalog import load_catalog
from pytest_apigw_tls.probing.probes import ProbeSettings
from pytest_apigw_tls.probing.scan import FAIL, INCONCLUSIVE, scan

from .helpers import serving, write_leaf

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")
SERVER = pathlib.Path(__file__).parent / "servers" / "node_tls_server.js"
POLICY = load_catalog().policy("SecurityPolicy_TLS13_1_2_2021_06")  # classic groups: Node's OpenSSL 3.0 has them
HOSTNAME = "node.apigw.test"


def node_server(tmp_path, curves, min_version="TLSv1.2"):
    cert, key = write_leaf(tmp_path, HOSTNAME, trustme.KeyType.ECDSA)
    ciphers = ":".join([s.openssl for s in POLICY.tls13_suites.value] + [s.openssl for s in POLICY.tls12_suites.value])
    return serving([NODE, str(SERVER), str(cert), str(key), min_version, ciphers, curves], HOSTNAME)


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
