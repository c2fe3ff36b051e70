"""Cipher suites per version: the policy's suites accepted (for the certificate type), the rest of the
universe refused, including suites the local OpenSSL does not implement (offered as code points)."""

import pytest

from pytest_apigw_tls.plugin import assert_conforms


@pytest.mark.apigw_dimension("suite")
def test_suite(apigw_verdict):
    assert_conforms(apigw_verdict)
