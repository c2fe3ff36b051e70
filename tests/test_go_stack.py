"""A server on Go's crypto/tls, a TLS stack with no OpenSSL in it, faithful and wrong, judged by the scanner.

Go fixes its TLS 1.3 suites and lacks a few TLS 1.2 ones; the closest Go server to a policy fails
exactly the cases of the suites Go does not have, and each wrong setting adds exactly its own cases.
Skips where Go is not installed (Debian's golang-go)."""

import pathlib
import shutil
import subprocess

import pytest
import trustme
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_apigw_tls.policy.catalog import load_catalog
from pytest_apigw_tls.policy.codepoints import TlsVersion
from pytest_apigw_tls.probing.probes import ProbeSettings
from pytest_apigw_tls.probing.scan import INCONCLUSIVE, PASS, scan

from .helpers import serving, write_leaf

GO = shutil.which("go")
pytestmark = pytest.mark.skipif(GO is None, reason="go is not installed (Debian package golang-go)")
SOURCE = pathlib.Path(__file__).parent / "servers" / "go_tls_server.go"
CATALOG = load_catalog()
HOSTNAME = "go.apigw.test"
KEY_TYPES = {"rsa": trustme.KeyType.RSA, "ecdsa": trustme.KeyType.ECDSA}


@pytest.fixture(scope="module")
def go_server_binary(tmp_path_factory):
    binary = tmp_path_factory.mktemp("go") / "go_tls_server"
    build = subprocess.run([GO, "build", "-o", str(binary), str(SOURCE)], capture_output=True, text=True,
                           timeout=300, check=False)
    if build.returncode:
        pytest.skip(f"go build failed: {build.stderr.strip()}")
    return binary


@pytest.fixture(scope="module")
def go_suites(go_server_binary):
    listed = subprocess.run([str(go_server_binary), "-list"], capture_output=True, text=True, check=True)
    return set(listed.stdout.split())


def go_server(binary, tmp_path, cert_type, minimum, suites, curves):
    cert, key = write_leaf(tmp_path, HOSTNAME, KEY_TYPES[cert_type])
    return serving([str(binary), "-cert", str(cert), "-key", str(key), "-min", minimum, "-suites", ",".join(suites),
                    "-curves", ",".join(curves)], HOSTNAME)


def not_passing(target, policy, cert_type):
    result = scan(target, policy, cert_type, ProbeSettings(timeout=5, backoff_pause=0.05))  # no rate limiter here
    assert not [v for v in result.verdicts if v.verdict == INCONCLUSIVE]
    return sorted(v.expectation.test_id for v in result.verdicts if v.verdict != PASS)


def closest(policy, go_suites):
    """The policy's TLS 1.2-and-below suites that Go has (its TLS 1.3 suites are not settable)."""
    return [s.iana for s in policy.tls12_suites.value if s.iana in go_suites]


def unavoidable(policy, cert_type, go_suites):
    """The cases a Go server cannot pass: allowed suites Go does not have."""
    return sorted(f"{version.label}-{suite.openssl}-accepted" for version in policy.versions.value
                  if version is not TlsVersion.TLSv1_3
                  for suite in policy.accepted_suites(version, cert_type) if suite.iana not in go_suites)


def test_a_go_server_for_a_tls13_policy_conforms(go_server_binary, tmp_path):
    policy = CATALOG.policy("SecurityPolicy_TLS13_1_3_2025_09")
    with go_server(go_server_binary, tmp_path, "rsa", "1.3", [], ["X25519", "P256", "P384"]) as target:
        assert not_passing(target, policy, "rsa") == []


@pytest.mark.parametrize("cert_type", ["rsa", "ecdsa"])
def test_the_closest_go_server_fails_only_for_the_suites_go_lacks(go_server_binary, go_suites, tmp_path, cert_type):
    policy = CATALOG.policy("SecurityPolicy_TLS13_1_2_2021_06")
    expected = unavoidable(policy, cert_type, go_suites)
    assert expected  # Go has no ECDHE AES-256-CBC-SHA384 suite
    with go_server(go_server_binary, tmp_path, cert_type, "1.2", closest(policy, go_suites),
                   ["X25519", "P256", "P384"]) as target:
        assert not_passing(target, policy, cert_type) == expected


@pytest.mark.parametrize("cert_type", ["rsa", "ecdsa"])
@pytest.mark.parametrize("fault,minimum,extra_suites,curves,caught", [
    ("forbidden curve first", "1.2", [], ["P521", "X25519", "P256", "P384"],
     ["TLSv1.2-secp521r1-rejected", "TLSv1.3-secp521r1-rejected"]),
    ("forbidden suite", "1.2", ["TLS_ECDHE_{auth}_WITH_CHACHA20_POLY1305_SHA256"], ["X25519", "P256", "P384"],
     ["TLSv1.2-ECDHE-{auth}-CHACHA20-POLY1305-rejected"]),
    ("TLS 1.0 enabled", "1.0", ["TLS_ECDHE_{auth}_WITH_AES_128_CBC_SHA"], ["X25519", "P256", "P384"],
     ["TLSv1.0-rejected", "TLSv1.1-rejected", "TLSv1.2-ECDHE-{auth}-AES128-SHA-rejected"]),
])
def test_a_wrong_go_server_is_caught_exactly_for_its_fault(go_server_binary, go_suites, tmp_path, cert_type, fault,
                                                          minimum, extra_suites, curves, caught):
    policy = CATALOG.policy("SecurityPolicy_TLS13_1_2_2021_06")
    auth = cert_type.upper()
    suites = closest(policy, go_suites) + [name.format(auth=auth) for name in extra_suites]
    with go_server(go_server_binary, tmp_path, cert_type, minimum, suites, curves) as target:
        failing = not_passing(target, policy, cert_type)
    assert failing == sorted(unavoidable(policy, cert_type, go_suites) + [c.format(auth=auth) for c in caught]), fault


@st.composite
def go_settings(draw, go_suites):
    """A Go server for SecurityPolicy_TLS13_1_2_2021_06 with an RSA certificate, wrong in drawn ways:
    allowed suites and curves left out (an ECDHE suite and a classic curve always kept), P-521
    maybe added anywhere in the server's order."""
    policy = CATALOG.policy("SecurityPolicy_TLS13_1_2_2021_06")
    suites = [s for s in closest(policy, go_suites) if CATALOG.suite(s).auth != "ECDSA"]
    ecdhe = [s for s in suites if CATALOG.suite(s).kx == "ECDHE"]
    kept_ecdhe = draw(st.lists(st.sampled_from(ecdhe), min_size=1, unique=True))
    kept_other = draw(st.lists(st.sampled_from([s for s in suites if s not in ecdhe]), unique=True))
    curves = draw(st.lists(st.sampled_from(["X25519", "P256", "P384"]), min_size=1, unique=True))
    if draw(st.booleans()):
        curves.insert(draw(st.integers(0, len(curves))), "P521")
    return kept_ecdhe + kept_other, curves


GO_CURVES = {"X25519": "x25519", "P256": "secp256r1", "P384": "secp384r1", "P521": "secp521r1"}


def test_any_wrong_go_server_fails_exactly_the_cases_of_its_faults(go_server_binary, go_suites, tmp_path):
    """Drawn faults on a stack that is not OpenSSL: the failing cases are exactly the suites Go lacks,
    the allowed suites and curves left out, and P-521 where it was added."""
    policy = CATALOG.policy("SecurityPolicy_TLS13_1_2_2021_06")

    @settings(max_examples=6, deadline=None)  # each a wrong server scanned with its rechecks: ~2.5 s apiece
    @given(setting=go_settings(go_suites))
    def check(setting):
        suites, curves = setting
        served = {GO_CURVES[c] for c in curves}
        expected = set(unavoidable(policy, "rsa", go_suites))
        expected |= {f"TLSv1.2-{CATALOG.suite(s).openssl}-accepted" for s in closest(policy, go_suites)
                     if CATALOG.suite(s).auth != "ECDSA" and s not in suites}
        expected |= {f"{v}-{g}-{'rejected' if g in served else 'accepted'}" for v in ("TLSv1.2", "TLSv1.3")
                     for g in ("x25519", "secp256r1", "secp384r1", "secp521r1")
                     if (g in served) != (g in {"x25519", "secp256r1", "secp384r1"})}
        with go_server(go_server_binary, tmp_path, "rsa", "1.2", suites, curves) as target:
            assert not_passing(target, policy, "rsa") == sorted(expected)
    check()
