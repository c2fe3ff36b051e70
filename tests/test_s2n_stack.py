"""AWS's own TLS library, s2n-tls, as a test stack: its example server s2nd under s2n's named policies,
several of which match API Gateway's exactly (docs: policy-facts.md, fourth reading).

s2n-tls is not a dependency: build it from its public source (cmake, ninja; the `s2nd` target) and
point APIGW_TLS_S2ND at the binary, or put `s2nd` on PATH. Without it these tests skip.
"""

import os
import shutil
import socket
import subprocess
import time

import pytest
import trustme

from pytest_apigw_tls.policy.catalog import load_catalog
from pytest_apigw_tls.probing.probes import Outcome, ProbeOffer, ProbeSettings, Target, raw_probe
from pytest_apigw_tls.probing.scan import FAIL, INCONCLUSIVE, scan

from .helpers import write_leaf

S2ND = os.environ.get("APIGW_TLS_S2ND") or shutil.which("s2nd")
pytestmark = pytest.mark.skipif(not S2ND, reason="s2nd not found: build s2n-tls, set APIGW_TLS_S2ND")
CATALOG = load_catalog()
HOST = "api.example.test"
PQ_CASES = ("TLSv1.3-X25519MLKEM768-accepted", "TLSv1.3-SecP256r1MLKEM768-accepted",
            "TLSv1.3-SecP384r1MLKEM1024-accepted")


@pytest.fixture(scope="module")
def s2nd(tmp_path_factory):
    """Start s2nd under an s2n policy with an RSA or ECDSA certificate: a Target on 127.0.0.1."""
    processes = []

    def start(s2n_policy, cert_type, blinding=False):
        folder = tmp_path_factory.mktemp(f"{s2n_policy}-{cert_type}")
        cert, key = write_leaf(folder, HOST, trustme.KeyType.ECDSA if cert_type == "ecdsa" else trustme.KeyType.RSA)
        port = _free_port()
        command = [S2ND, "--parallelize", "-c", s2n_policy, "--cert", str(cert), "--key", str(key),
                   *(() if blinding else ("-s",)), "127.0.0.1", str(port)]
        processes.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        _wait_listening(port)
        return Target("127.0.0.1", port, HOST)

    yield start
    for process in processes:
        process.kill()
        process.wait()


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_listening(port):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"s2nd did not listen on {port}")


def failures(result):
    return sorted(v.expectation.test_id for v in result.verdicts if v.verdict == FAIL)


def lacks_pq(target):
    """s2n built against a libcrypto without ML-KEM (the system OpenSSL 3.0) offers no hybrid group."""
    offer = ProbeOffer((0x0304,), (0x1301,), (0x11EC,), (0x11EC,))
    return raw_probe(target, offer, 5).outcome is not Outcome.ACCEPTED


@pytest.mark.parametrize("cert_type", ["rsa", "ecdsa"])
def test_an_exact_s2n_match_conforms(s2nd, cert_type):
    """CloudFront-TLS-1-3-2025-no-pq = SecurityPolicy_TLS13_1_3_2025_09: versions, suites and groups."""
    target = s2nd("CloudFront-TLS-1-3-2025-no-pq", cert_type)
    result = scan(target, CATALOG.policy("SecurityPolicy_TLS13_1_3_2025_09"), cert_type, ProbeSettings())
    assert failures(result) == [] and result.count(INCONCLUSIVE) == 0


@pytest.mark.parametrize("cert_type,chacha", [("rsa", "ECDHE-RSA-CHACHA20-POLY1305"),
                                              ("ecdsa", "ECDHE-ECDSA-CHACHA20-POLY1305")])
def test_s2n_answering_tls10_hellos_with_tls12_suites_is_no_violation(s2nd, cert_type, chacha):
    """AWS-CRT-SDK-TLSv1.0 is TLS_1_0 plus the CHACHA20 suites at TLS 1.2. s2n answers a TLS 1.0/1.1
    hello offering only TLS 1.2 suites by choosing one (no client can finish it): those are refusals.
    The one true difference fails, nothing else (18 false violations before)."""
    target = s2nd("AWS-CRT-SDK-TLSv1.0", cert_type)
    result = scan(target, CATALOG.policy("TLS_1_0"), cert_type, ProbeSettings())
    assert failures(result) == [f"TLSv1.2-{chacha}-rejected"]
    assert result.count(INCONCLUSIVE) == 0


def test_a_wrong_s2n_policy_fails_exactly_its_difference(s2nd):
    """CloudFront-TLS-1-2-2019-no-sha1 (= SecurityPolicy_TLS12_2018_EDGE) claimed as
    SecurityPolicy_TLS12_PFS_2025_EDGE: the ECDHE CBC suites are the difference."""
    target = s2nd("CloudFront-TLS-1-2-2019-no-sha1", "rsa")
    result = scan(target, CATALOG.policy("SecurityPolicy_TLS12_PFS_2025_EDGE"), "rsa", ProbeSettings())
    expected = ["TLSv1.2-ECDHE-RSA-AES128-SHA256-rejected", "TLSv1.2-ECDHE-RSA-AES256-SHA384-rejected"]
    expected += [case for case in PQ_CASES[:2] if lacks_pq(target)]
    assert failures(result) == sorted(expected)
    assert result.count(INCONCLUSIVE) == 0


def test_the_closest_s2n_policy_for_a_fips_policy_fails_only_what_its_build_lacks(s2nd):
    """default_fips = SecurityPolicy_TLS13_1_2_FIPS_PFS_PQ_2025_09 (x25519 is never FIPS; secp521r1 is)."""
    target = s2nd("default_fips", "ecdsa")
    result = scan(target, CATALOG.policy("SecurityPolicy_TLS13_1_2_FIPS_PFS_PQ_2025_09"), "ecdsa", ProbeSettings())
    assert failures(result) == sorted(case for case in PQ_CASES if lacks_pq(target))
    assert result.count(INCONCLUSIVE) == 0


def test_a_p384_only_client_gets_from_the_reference_what_it_gets_from_s2n(s2nd):
    """#27 item 9, checked against AWS's own stack with an ECDSA P-256 certificate, each under a
    TLS 1.2-and-1.3 policy: at TLS 1.3 both take a client whose only group is P-384; at TLS 1.2
    neither gives it a connection (s2n sends its ServerHello and the client aborts on the
    certificate's curve, RFC 8422 5.1; the reference refuses at once): one outcome for every client."""
    from pytest_apigw_tls.reference_server import ReferenceServer

    from pytest_apigw_tls.policy.codepoints import TlsVersion
    from pytest_apigw_tls.probing.handshake import handshake_probe

    s2n = s2nd("CloudFront-TLS-1-2-2021", "ecdsa")
    with ReferenceServer() as reference:
        ours = Target(*reference.address, "tls13-1-2-2021-06.ecdsa.apigw.test")
        for version in (TlsVersion.TLSv1_3, TlsVersion.TLSv1_2):
            answers = [handshake_probe(target, 5, version, groups=["secp384r1"]) for target in (s2n, ours)]
            connected = [answer.outcome is Outcome.ACCEPTED for answer in answers]
            assert connected == [version is TlsVersion.TLSv1_3] * 2, (version, [a.evidence for a in answers])
