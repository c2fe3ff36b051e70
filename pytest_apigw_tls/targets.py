"""Parsing what the user names as a target: HOST[:PORT], IPv6 in brackets."""

from __future__ import annotations

import ipaddress

from .errors import TargetError


def parse_host_port(text: str, default_port: int = 443) -> tuple[str, int]:
    """"example.com", "example.com:8443", "127.0.0.1:8443", "[::1]:8443" or "::1" -> (host, port)."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":") if rest else ""
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host, port_text = text, ""
    if not host:
        raise TargetError(f"no host in {text!r}")
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise TargetError(f"bad port {port_text!r} in {text!r} (1-65535)")
    return host, int(port_text)


def is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
