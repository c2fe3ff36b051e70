"""A TLS server that enforces API Gateway TLS security policies per SNI hostname.

Names are imported on first use (PEP 562): `apigw-tls scan` and the plugin's import need none of
the server's dependencies (trustme, h11), so they do not pay for them.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["Endpoint", "ReferenceServer", "ServerConfig", "ServerSettings", "default_config", "load_config",
           "parse_config"]
_HOMES = {"ReferenceServer": ".server", **{name: ".config" for name in __all__ if name != "ReferenceServer"}}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name], __name__), name)
