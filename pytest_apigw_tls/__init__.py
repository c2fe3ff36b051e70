"""pytest-apigw-tls: prove what a TLS endpoint accepts under an API Gateway TLS security policy.

Installed, the distribution is this one namespace: `pytest_apigw_tls.reference_server` and
`pytest_apigw_tls.conformance` are its subpackages. In the repository they stay at the top
(reference_server/, conformance/), and this package's path also looks there.
"""

from __future__ import annotations

import pathlib
from typing import Any

_HERE = pathlib.Path(__file__).resolve().parent
if not (_HERE / "reference_server").is_dir() and (_HERE.parent / "reference_server" / "__init__.py").is_file():
    __path__.append(str(_HERE.parent))  # a source checkout (editable install): subpackages live beside us

__all__ = ["ApigwTlsError", "Catalog", "Expectation", "Group", "Policy", "ReferenceServer", "Suite", "TlsVersion",
           "expectations_for", "load_catalog", "policies"]
_HOMES = {"ApigwTlsError": ".errors", "Catalog": ".catalog", "Group": ".catalog", "Policy": ".catalog",
          "Suite": ".catalog", "load_catalog": ".catalog", "TlsVersion": ".codepoints", "Expectation": ".expectations",
          "expectations_for": ".expectations", "ReferenceServer": ".reference_server", "policies": ".client"}


def __getattr__(name: str) -> Any:
    """Names are imported on first use: the plugin loads in every pytest run and must stay light."""
    import importlib

    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name], __name__), name)
