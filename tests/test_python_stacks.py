"""Two more TLS stacks without OpenSSL: tlslite-ng (tlsfuzzer's own, strict about RFC 8446) and Mbed TLS
2.28. Each configured as close to a policy as it can be fails exactly what the stack cannot express,
with nothing inconclusive; each wrong setting adds exactly its own cases."""

import pytest
import trustme

from pytest_apigw_tls.policy.catalog import load_catalog
from pytest_apigw_tls.policy.codepoints import TlsVersion
from pytest_apigw_tls.probing.probes import ProbeSettings, Target
from pytest_apigw_tls.probing.scan import FAIL, INCONCLUSIVE, scan

from .servers.python_stacks import HOSTNAME, mbedtls_handshake, serving, tlslite_handshake

CATALOG = load_catalog()
SETTINGS = ProbeSettings(timeout=5, backoff_pause=0.05)  # local servers: no rate limiter to wait out
KEY_TYPES = {"rsa": trustme.KeyType.RSA, "ecdsa": trustme.KeyType.ECDSA}


def failures(result):
    return sorted(v.expectation.test_id for v in result.verdicts if v.verdict == FAIL)


def tlslite_settings(cert_type, curves=("x25519", "secp256r1", "secp384r1")):
    """SecurityPolicy_TLS13_1_2_2021_06 as tlslite-ng can say it: TLS 1.2 and 1.3, AES-GCM, AES-CBC with
    SHA-256/384, CHACHA20 (needed at TLS 1.3; tlslite cannot keep it out of TLS 1.2), ECDHE and RSA."""
    settings = pytest.importorskip("tlslite").HandshakeSettings()
    settings.minVersion, settings.maxVersion = (3, 3), (3, 4)
    settings.cipherNames = ["aes256gcm", "aes128gcm", "chacha20-poly1305", "aes256", "aes128"]
    settings.macNames = ["sha256", "sha384", "aead"]
    settings.keyExchangeNames = ["ecdhe_rsa", "rsa"] if cert_type == "rsa" else ["ecdhe_ecdsa"]
    settings.eccCurves = list(curves)
    settings.keyShares = ["x25519"]
    settings.dhGroups = []
    return settings


def scan_tlslite(settings, cert_type, policy="SecurityPolicy_TLS13_1_2_2021_06"):
    with serving(tlslite_handshake(settings, KEY_TYPES[cert_type])) as address:
        return scan(Target(*address, HOSTNAME), CATALOG.policy(policy), cert_type, SETTINGS)


@pytest.mark.parametrize("cert_type,chacha", [("rsa", "ECDHE-RSA-CHACHA20-POLY1305"),
                                              ("ecdsa", "ECDHE-ECDSA-CHACHA20-POLY1305")])
def test_tlslite_closest_to_a_policy_fails_only_what_it_cannot_express(cert_type, chacha):
    """tlslite-ng answers a TLS 1.3 hello naming the obsolete curves with illegal_parameter (RFC 8446
    4.2.7 forbids offering them): offers name only what can be negotiated at each version, so nothing is
    inconclusive (27 cases were)."""
    result = scan_tlslite(tlslite_settings(cert_type), cert_type)
    assert failures(result) == [f"TLSv1.2-{chacha}-rejected"]
    assert result.count(INCONCLUSIVE) == 0


def test_a_tlslite_server_with_a_forbidden_curve_fails_exactly_its_cases():
    result = scan_tlslite(tlslite_settings("rsa", ("x25519", "secp256r1", "secp384r1", "x448")), "rsa")
    assert failures(result) == ["TLSv1.2-ECDHE-RSA-CHACHA20-POLY1305-rejected", "TLSv1.2-x448-rejected",
                                "TLSv1.3-x448-rejected"]
    assert result.count(INCONCLUSIVE) == 0


def test_mbedtls_2_28_with_a_policy_s_suites_fails_exactly_its_real_differences():
    """Mbed TLS 2.28 has no TLS 1.3 server and offers every curve it knows. A TLS 1.3-only hello is
    closed without an alert (it does not read supported_versions): since the same offer with TLS 1.2
    beside it is taken, TLS 1.3 is refused as a whole, and the TLS 1.3 refusal cases pass on that
    evidence instead of staying open."""
    pytest.importorskip("mbedtls")
    policy = CATALOG.policy("TLS_1_2")
    ciphers = [s.iana.replace("_", "-") for s in policy.accepted_suites(TlsVersion.TLSv1_2, "rsa")]
    with serving(mbedtls_handshake(ciphers, KEY_TYPES["rsa"])) as address:
        result = scan(Target(*address, HOSTNAME), policy, "rsa", SETTINGS)
    tls13 = [f"TLSv1.3-{item}-accepted" for item in ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                                     "TLS_CHACHA20_POLY1305_SHA256", "x25519", "secp256r1",
                                                     "secp384r1")] + ["TLSv1.3-accepted"]
    extra_curves = ["TLSv1.2-secp521r1-rejected", "TLSv1.2-x448-rejected", "TLSv1.2-other-registered-groups-rejected"]
    assert failures(result) == sorted(tls13 + extra_curves)
    assert result.count(INCONCLUSIVE) == 0
    tls13_refused = next(v for v in result.verdicts
                         if v.expectation.test_id == "TLSv1.3-other-registered-suites-rejected")
    assert "does not speak this version" in tls13_refused.evidence
