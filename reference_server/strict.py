"""STRICT access mode: (a) SNI equals Host (RFC 9110 7.2 / RFC 6066 3 hostname comparison) and
(b) the request arrived through the endpoint's own type (REGIONAL, EDGE, PRIVATE)."""

from __future__ import annotations

from pytest_apigw_tls.probing.hostnames import normalize_host

from .config import Endpoint


def host_matches_sni(host_header: str | None, sni: str | None) -> bool:
    """STRICT's rule (a): the request's Host names the same host as the TLS SNI."""
    host = normalize_host(host_header)
    return host is not None and sni is not None and host == sni.lower().rstrip(".")


def strict_refusal(endpoint: Endpoint, sni: str | None, host_header: str | None,
                   arrival_type: str | None) -> str | None:
    """Why STRICT refuses this request, or None when it passes (BASIC and legacy endpoints never refuse).

    `arrival_type` is the endpoint type of the listener the request came through; None (the main
    listener, which stands for every path) cannot be judged and passes rule (b).
    """
    if not endpoint.strict:
        return None
    if not host_matches_sni(host_header, sni):
        return "the Host header does not match the TLS server name"
    if arrival_type is not None and arrival_type != endpoint.endpoint_type:
        return f"the request arrived through a {arrival_type} endpoint, not the {endpoint.endpoint_type} one"
    return None
