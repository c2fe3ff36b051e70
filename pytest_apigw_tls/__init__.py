"""pytest-apigw-tls: prove what a TLS endpoint accepts under an API Gateway TLS security policy.

Installed, the distribution is this one namespace: `pytest_apigw_tls.reference_server` and
`pytest_apigw_tls.conformance` are its subpackages. In the repository they stay at the top
(reference_server/, conformance/); pyproject.toml's package-dir maps them into the namespace, for a
wheel and for an editable install alike (setuptools' editable finder reads the same mapping), so
nothing else in the checkout (tests/, benchmarks/) becomes part of the package.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ApigwTlsError", "Catalog", "Expectation", "Group", "Policy", "ReferenceServer", "Suite", "TlsVersion",
           "expectations_for", "load_catalog", "policies"]
_HOMES = {"ApigwTlsError": ".errors", "Catalog": ".policy.catalog", "Group": ".policy.catalog",
          "Policy": ".policy.catalog", "Suite": ".policy.catalog", "load_catalog": ".policy.catalog",
          "TlsVersion": ".policy.codepoints", "Expectation": ".policy.expectations",
          "expectations_for": ".policy.expectations", "ReferenceServer": ".reference_server", "policies": ".client"}


def __getattr__(name: str) -> Any:
    """Names are imported on first use: the plugin loads in every pytest run and must stay light."""
    import importlib

    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name], __name__), name)
