"""Policy selection by SNI: two hostnames on one address, each handshake under its own policy."""

import pytest

from pytest_apigw_tls.plugin import assert_conforms


@pytest.mark.apigw_dimension("sni")
def test_policy_follows_sni(apigw_verdict):
    assert_conforms(apigw_verdict)


@pytest.mark.apigw_dimension("cert")
def test_certificate_type(apigw_verdict):
    assert_conforms(apigw_verdict)
