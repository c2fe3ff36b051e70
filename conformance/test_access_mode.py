"""Endpoint access mode: STRICT refuses a Host that differs from the SNI; BASIC lets it through."""

import pytest

from pytest_apigw_tls.plugin import assert_conforms


@pytest.mark.apigw_dimension("access")
def test_access_mode(apigw_verdict):
    assert_conforms(apigw_verdict)
