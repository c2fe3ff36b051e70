"""Key-exchange groups at TLS 1.3, post-quantum hybrids included."""

import pytest

from pytest_apigw_tls.plugin import assert_conforms


@pytest.mark.apigw_dimension("group")
def test_group(apigw_verdict):
    assert_conforms(apigw_verdict)
