"""STRICT access mode's Host check (RFC 9110 7.2 / RFC 6066 3 hostname comparison)."""

from __future__ import annotations


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


def host_matches_sni(host_header: str | None, sni: str | None) -> bool:
    """STRICT's rule (a): the request's Host names the same host as the TLS SNI."""
    host = normalize_host(host_header)
    return host is not None and sni is not None and host == sni.lower().rstrip(".")
