"""Fixtures shared by the project's own tests."""

import pytest
from pytest_apigw_tls.reference_server import ReferenceServer


@pytest.fixture(scope="session")
def reference_server():
    """One reference server with the built-in endpoints, shared by every module that reads it (a test
    that gives an endpoint another policy puts the endpoint's own back). Checked for unexpected server
    errors at the end."""
    with ReferenceServer() as running:
        yield running
        running.check()
