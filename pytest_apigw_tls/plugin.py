"""pytest plugin: options, fixtures, markers and reporting of pytest-apigw-tls (hooks only)."""

from __future__ import annotations

import pytest

from . import capabilities


def pytest_report_header(config: pytest.Config) -> str:
    caps = capabilities.detect()
    missing = "; missing: " + "; ".join(caps.missing) if caps.missing else ""
    return f"apigw-tls: {caps.openssl_version}{missing}"
