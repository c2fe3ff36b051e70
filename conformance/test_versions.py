"""Protocol versions: every version of the policy accepted, every other refused."""

import pytest

from pytest_apigw_tls.plugin import assert_conforms


@pytest.mark.apigw_dimension("version")
def test_version(apigw_verdict):
    assert_conforms(apigw_verdict)
