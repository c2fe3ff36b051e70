"""Hostname comparison as STRICT does it (RFC 9110 7.2 / RFC 6066 3): case-insensitive, port
stripped, trailing dot ignored. Shared by the reference server and the access-log reader."""

from __future__ import annotations

import ipaddress


def normalize_host(value: str | None) -> str | None:
    """Host header -> bare hostname: lowercased, port stripped (IPv6 brackets kept), trailing dot dropped."""
    if value is None:
        return None
    host = value.strip().lower()
    if host.startswith("["):
        host = host[: host.find("]") + 1] if "]" in host else host
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".") or None


def is_ip_address(text: str) -> bool:
    """An IP literal is no hostname: clients send no SNI for it (RFC 6066 3)."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
