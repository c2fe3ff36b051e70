"""Alignment, as the blog warns: the API's default endpoint still negotiates under its own policy, even
behind a custom domain and even when disabled; whatever it accepts that the domain refuses is a way
around the domain's policy. Cases exist for targets that name their `default_endpoint`."""

import pytest

from pytest_apigw_tls.plugin import assert_conforms


@pytest.mark.apigw_dimension("alignment")
def test_default_endpoint_alignment(apigw_verdict):
    assert_conforms(apigw_verdict)
