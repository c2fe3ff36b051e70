"""Testing your own client under any policy: an endpoint in one line, and every policy in one line.

    def test_my_client_under_tls13_only(apigw_server):
        server = apigw_server("SecurityPolicy_TLS13_1_3_2025_09")
        response = urllib.request.urlopen(server.url, context=server.ssl_context())
        assert response.status == 200 and server.connections[-1]["tlsVersion"] == "TLSv1.3"

`server.url` is https://localhost:PORT/ on a listener of the endpoint's own, so urllib, requests,
httpx, curl or a Java program reach it as they are (no resolver patching); `.connections` says what
each connection negotiated, or why it was refused (a wrong SNI is `unrecognized_name`, never taken
for a policy's refusal).
"""

from __future__ import annotations

import dataclasses
import itertools
import ssl
from typing import Any

import pytest

from .policy.catalog import Policy, builtin_catalog

_NUMBERS = itertools.count(1)


def policies(endpoint_type: str | None = None, kind: str | None = None, post_quantum: bool | None = None) -> list[str]:
    """Ids of the policies a server can enforce, optionally of one endpoint type, kind (enhanced,
    legacy) or post-quantum or not: `@pytest.mark.parametrize("policy", policies())`."""
    return [p.id for p in builtin_catalog().policies_for(endpoint_type)
            if p.enforceable and (kind is None or p.kind == kind)
            and (post_quantum is None or p.is_post_quantum == post_quantum)]


def each_policy(endpoint_type: str | None = None, kind: str | None = None,
                post_quantum: bool | None = None) -> pytest.MarkDecorator:
    """Run a test once per policy, with the policy ids as test ids: `@each_policy(endpoint_type="EDGE")`
    on a test that takes `policy`."""
    ids = policies(endpoint_type, kind, post_quantum)
    return pytest.mark.parametrize("policy", ids, ids=ids)


@dataclasses.dataclass
class ServedEndpoint:
    """One endpoint of the reference server with a listener of its own.

    Attributes:
        url: https://localhost:PORT/ (the certificate names localhost too).
        hostname, port: what the URL holds; the SNI a client sends is "localhost".
        ca_file: the PEM file of the CAs to trust (RSA and ECDSA roots).
        policy: the catalog Policy it enforces; endpoint: the reference server's Endpoint.
        dotted_url: https://ENDPOINT-HOSTNAME:PORT/, for clients that send no SNI for a single-label name
            (Java's JDK does not for "localhost"); the name resolves only through `hosts_file`.
        hosts_file: a hosts file mapping the endpoint's hostname to 127.0.0.1 (Java:
            -Djdk.net.hosts.file=FILE, see `java_options`; curl: --resolve; others: their resolver hook).
    """

    url: str
    hostname: str
    port: int
    ca_file: str
    policy: Policy
    endpoint: Any
    server: Any

    @property
    def dotted_url(self) -> str:
        return f"https://{self.endpoint.hostname}:{self.port}/"

    @property
    def hosts_file(self) -> str:
        return str(self.server.hosts_file())

    @property
    def java_options(self) -> list[str]:
        """JVM options that let a Java client reach `dotted_url` and trust the server's CA is up to it."""
        return [f"-Djdk.net.hosts.file={self.hosts_file}"]

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts the server's CAs (otherwise the stdlib's defaults)."""
        return ssl.create_default_context(cafile=self.ca_file)

    @property
    def connections(self) -> list[dict[str, Any]]:
        """Per connection to this endpoint, oldest first: tlsVersion, cipherSuite and tlsGroup, or
        `refused` (the alert or "handshake") and its `reason`."""
        return [c for c in self.server.connections if c.get("endpoint") == self.endpoint.hostname
                or c.get("pinned") == self.endpoint.hostname]


def serve(server: Any, policy: str, cert_type: str = "rsa", access_mode: str | None = None,
          endpoint_type: str | None = None) -> ServedEndpoint:
    """Add an endpoint for `policy` to a running reference server and give it a listener of its own.
    Defaults follow API Gateway's rules: an enhanced policy gets STRICT unless told otherwise."""
    from .reference_server.config import Endpoint

    found = server.catalog.policy(policy, endpoint_type)
    mode = access_mode.upper() if access_mode else ("STRICT" if found.is_enhanced else None)
    endpoint = server.add_endpoint(Endpoint(f"client-{next(_NUMBERS)}.apigw.test", found.id,
                                            endpoint_type or found.endpoint_types[0], mode, "custom", cert_type))
    host, port = server.pin(endpoint.hostname)
    return ServedEndpoint(f"https://localhost:{port}/", "localhost", port, str(server.ca_file), found, endpoint,
                          server)


class EndpointFactory:
    """What the `apigw_server` fixture gives: call it to serve one more endpoint on the shared reference
    server; every endpoint it added is removed (and its listener closed) when the test ends."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.added: list[ServedEndpoint] = []

    def __call__(self, policy: str, cert_type: str = "rsa", access_mode: str | None = None,
                 endpoint_type: str | None = None) -> ServedEndpoint:
        served = serve(self.server, policy, cert_type, access_mode, endpoint_type)
        self.added.append(served)
        return served

    def remove_all(self) -> None:
        for served in self.added:
            self.server.remove_endpoint(served.endpoint.hostname)
        self.added.clear()

