"""Reference servers that are wrong in exactly one way, to prove the conformance suite catches each fault.

A conformance case that never fails proves nothing. Each mutant here breaks one rule of one policy
(or one rule everywhere, for STRICT and SNI) and names the cases that must fail because of it; the
self-test in tests/test_mutants.py runs the whole suite against each and checks exactly that set.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from OpenSSL import SSL

from pytest_apigw_tls.catalog import Policy, load_catalog
from pytest_apigw_tls.codepoints import TlsVersion
from pytest_apigw_tls.wire import ClientHello
from pytest_apigw_tls.wire.messages import ExtensionType

from .config import Endpoint
from .server import ReferenceServer
from .tls import endpoint_context


def _with(policy: Policy, **changes: tuple[Any, ...]) -> Policy:
    """A copy of `policy` whose facts take the given values (provenance kept)."""
    return dataclasses.replace(policy, **{name: dataclasses.replace(getattr(policy, name), value=value)
                                          for name, value in changes.items()})


def _retarget(server: ReferenceServer, policy_id: str, mutate: Callable[[Policy], Policy]) -> None:
    for endpoint in server.endpoints:
        if endpoint.policy.id == policy_id:
            server.set_policy(endpoint.hostname, mutate(endpoint.policy))


class _Tls11Enabled(ReferenceServer):
    """TLS_1_2 endpoints also speak TLS 1.1 (with the SHA-1 suites it needs), to clients offering it."""

    def context_for(self, endpoint: Endpoint, hello: ClientHello) -> SSL.Context:
        if endpoint.policy.id != "TLS_1_2" or _highest_offered(hello) > TlsVersion.TLSv1_1:
            return super().context_for(endpoint, hello)
        legacy = load_catalog().policy("TLS_1_0")
        wrong = _with(endpoint.policy, versions=(TlsVersion.TLSv1_1,), tls12_suites=legacy.tls12_suites.value)
        return endpoint_context(endpoint, self.authority, wrong)


def _highest_offered(hello: ClientHello) -> int:
    for extension in hello.extensions:
        if extension.type == ExtensionType.supported_versions:
            data = extension.data[1:]
            return max(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    return hello.legacy_version


class _StrictIgnored(ReferenceServer):
    """STRICT endpoints behave as BASIC: the Host header is never compared with the SNI."""

    def access_endpoint(self, endpoint: Endpoint) -> Endpoint:
        return dataclasses.replace(endpoint, access_mode="BASIC" if endpoint.access_mode else None)


class _OriginIgnored(ReferenceServer):
    """STRICT checks the Host but not the arrival path: any listener counts as the endpoint's own."""

    def arrival_type(self, listener_type: str | None) -> str | None:
        return None


class _PolicyByHost(ReferenceServer):
    """Ignores the SNI: every handshake uses one endpoint's policy (TLS_1_2, RSA), as a server that
    picks the policy later from the Host header would have to."""

    def select_endpoint(self, hello: ClientHello) -> Endpoint | None:
        return self.endpoint("tls-1-2.rsa.apigw.test")


def _extra_suite(server: ReferenceServer) -> ReferenceServer:
    chacha = load_catalog().suite("ECDHE-RSA-CHACHA20-POLY1305")
    _retarget(server, "SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09",
              lambda p: _with(p, tls12_suites=p.tls12_suites.value + (chacha,)))
    return server


def _missing_suite(server: ReferenceServer) -> ReferenceServer:
    _retarget(server, "SecurityPolicy_TLS13_1_3_2025_09",
              lambda p: _with(p, tls13_suites=tuple(s for s in p.tls13_suites.value
                                                    if s.openssl != "TLS_AES_256_GCM_SHA384")))
    return server


def _extra_group(server: ReferenceServer) -> ReferenceServer:
    secp521r1 = load_catalog().group("secp521r1")
    _retarget(server, "SecurityPolicy_TLS13_1_2_2021_06", lambda p: _with(p, groups=p.groups.value + (secp521r1,)))
    return server


@dataclasses.dataclass(frozen=True)
class Mutant:
    """A wrong server and the pytest node-id fragments of the cases that must fail against it."""

    name: str
    description: str
    build: Callable[..., ReferenceServer]
    failing: tuple[str, ...]


MUTANTS = {m.name: m for m in (
    Mutant("extra-suite", "SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09 also accepts ECDHE-RSA-CHACHA20-POLY1305",
           lambda **kw: _extra_suite(ReferenceServer(**kw)),
           ("test_suite[SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09-rsa-TLSv1.2-ECDHE-RSA-CHACHA20-POLY1305-rejected]",)),
    Mutant("missing-suite", "SecurityPolicy_TLS13_1_3_2025_09 lacks TLS_AES_256_GCM_SHA384",
           lambda **kw: _missing_suite(ReferenceServer(**kw)),
           ("test_suite[SecurityPolicy_TLS13_1_3_2025_09-rsa-TLSv1.3-TLS_AES_256_GCM_SHA384-accepted]",
            "test_suite[SecurityPolicy_TLS13_1_3_2025_09-ecdsa-TLSv1.3-TLS_AES_256_GCM_SHA384-accepted]")),
    Mutant("tls11-enabled", "TLS_1_2 endpoints also negotiate TLS 1.1", _Tls11Enabled,
           ("test_version[TLS_1_2-rsa-TLSv1.1-rejected]", "test_version[TLS_1_2-ecdsa-TLSv1.1-rejected]")),
    Mutant("extra-group", "SecurityPolicy_TLS13_1_2_2021_06 also accepts secp521r1",
           lambda **kw: _extra_group(ReferenceServer(**kw)),
           ("test_group[SecurityPolicy_TLS13_1_2_2021_06-rsa-TLSv1.3-secp521r1-rejected]",
            "test_group[SecurityPolicy_TLS13_1_2_2021_06-rsa-TLSv1.2-secp521r1-rejected]",
            "test_group[SecurityPolicy_TLS13_1_2_2021_06-ecdsa-TLSv1.3-secp521r1-rejected]")),
    Mutant("strict-ignored", "STRICT endpoints behave as BASIC", _StrictIgnored,
           ("-STRICT-host-different-refused]", "-STRICT-host-absent-refused]", "-STRICT-origin-other-type-refused]")),
    Mutant("origin-ignored", "STRICT endpoints accept requests arriving through another endpoint type",
           _OriginIgnored, ("-STRICT-origin-other-type-refused]",)),
    Mutant("policy-by-host", "the handshake ignores the SNI (one policy for every hostname)", _PolicyByHost,
           ("test_policy_follows_sni[",)),
)}


def mutant_server(name: str, **kwargs: Any) -> ReferenceServer:
    """Build (not start) the mutant called `name`; kwargs go to ReferenceServer."""
    return MUTANTS[name].build(**kwargs)
