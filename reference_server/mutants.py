"""Reference servers that are wrong in exactly one way, to prove the conformance suite catches each fault.

A conformance case that never fails proves nothing. Each mutant here breaks one rule of one policy
(or one rule everywhere, for STRICT and SNI) and names the cases that must fail because of it; the
self-test in tests/test_mutants.py runs the whole suite against each and checks exactly that set.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from OpenSSL import SSL

from pytest_apigw_tls.policy.catalog import Policy, Suite, builtin_catalog
from pytest_apigw_tls.policy.codepoints import TlsVersion
from pytest_apigw_tls.policy.items import Group
from pytest_apigw_tls.probing.wire import ClientHello
from pytest_apigw_tls.probing.wire.messages import ExtensionType

from .config import Endpoint
from .server import ReferenceServer
from .tls import endpoint_context


def _with(policy: Policy, **changes: tuple[Any, ...]) -> Policy:
    """A copy of `policy` whose facts take the given values (provenance kept)."""
    return dataclasses.replace(policy, **{name: dataclasses.replace(getattr(policy, name), value=value)
                                          for name, value in changes.items()})


def _retarget(server: ReferenceServer, policy_id: str, mutate: Callable[[Policy], Policy]) -> None:
    for endpoint in server.endpoints:
        if server.policy_of(endpoint).id == policy_id:
            server.set_policy(endpoint.hostname, mutate(server.policy_of(endpoint)))


class _Tls11Enabled(ReferenceServer):
    """TLS_1_2 endpoints also speak TLS 1.1 (with the SHA-1 suites it needs), to clients offering it."""

    def context_for(self, endpoint: Endpoint, hello: ClientHello) -> SSL.Context:
        if self.policy_of(endpoint).id != "TLS_1_2" or _highest_offered(hello) > TlsVersion.TLSv1_1:
            return super().context_for(endpoint, hello)
        legacy = builtin_catalog().policy("TLS_1_0")
        wrong = _with(self.policy_of(endpoint), versions=(TlsVersion.TLSv1_1,), tls12_suites=legacy.tls12_suites.value)
        return endpoint_context(endpoint, self.authority, wrong)


def _highest_offered(hello: ClientHello) -> int:
    for extension in hello.extensions:
        if extension.type == ExtensionType.supported_versions:
            data = extension.data[1:]
            return max(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    return hello.legacy_version


class _Tls11Missing(ReferenceServer):
    """TLS_1_0 endpoints refuse a client whose highest version is TLS 1.1."""

    def context_for(self, endpoint: Endpoint, hello: ClientHello) -> SSL.Context:
        if self.policy_of(endpoint).id != "TLS_1_0" or _highest_offered(hello) != TlsVersion.TLSv1_1:
            return super().context_for(endpoint, hello)
        only_tls10 = _with(self.policy_of(endpoint), versions=(TlsVersion.TLSv1_0,))
        return endpoint_context(endpoint, self.authority, only_tls10)


class _StrictTooStrict(ReferenceServer):
    """STRICT compares the Host header byte for byte with the SNI (no port, case or dot handling)."""

    def strict_refusal(self, endpoint: Endpoint, sni: str | None, host: str | None,
                       arrival_type: str | None) -> str | None:
        if endpoint.strict and host != sni:
            return "the Host header is not exactly the TLS server name"
        return super().strict_refusal(endpoint, sni, host, arrival_type)


class _WrongCertificate(ReferenceServer):
    """The ECDSA endpoint of SecurityPolicy_TLS13_2025_EDGE is served with an RSA certificate."""

    def context_for(self, endpoint: Endpoint, hello: ClientHello) -> SSL.Context:
        if endpoint.hostname != "tls13-2025-edge.ecdsa.apigw.test":
            return super().context_for(endpoint, hello)
        return endpoint_context(dataclasses.replace(endpoint, cert_type="rsa"), self.authority,
                                self.policy_of(endpoint))


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
    chacha = builtin_catalog().suite("ECDHE-RSA-CHACHA20-POLY1305")
    _retarget(server, "SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09",
              lambda p: _with(p, tls12_suites=p.tls12_suites.value + (chacha,)))
    return server


def _missing_suite(server: ReferenceServer) -> ReferenceServer:
    _retarget(server, "SecurityPolicy_TLS13_1_3_2025_09",
              lambda p: _with(p, tls13_suites=tuple(s for s in p.tls13_suites.value
                                                    if s.openssl != "TLS_AES_256_GCM_SHA384")))
    return server


def _missing_group(server: ReferenceServer) -> ReferenceServer:
    _retarget(server, "SecurityPolicy_TLS13_1_2_PQ_2025_09",
              lambda p: _with(p, groups=tuple(g for g in p.groups.value if g.name != "SecP384r1MLKEM1024")))
    return server


def _extra_group(server: ReferenceServer) -> ReferenceServer:
    secp521r1 = builtin_catalog().group("secp521r1")
    # first in the server's order: chosen even beside the certificate's curve on the ECDSA endpoint at TLS 1.2
    _retarget(server, "SecurityPolicy_TLS13_1_2_2021_06", lambda p: _with(p, groups=(secp521r1,) + p.groups.value))
    return server


def _registry_suite(server: ReferenceServer) -> ReferenceServer:
    """A suite only the IANA registry knows (never named in the catalog): TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384."""
    camellia = Suite("ECDHE-RSA-CAMELLIA256-SHA384", "TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384", 0xC077, "ECDHE",
                     "RSA", "CBC", TlsVersion.TLSv1_2, TlsVersion.TLSv1_2)
    _retarget(server, "TLS_1_2", lambda p: _with(p, tls12_suites=p.tls12_suites.value + (camellia,)))
    return server


def _registered(name: str) -> Group:
    group = builtin_catalog().universe.group_named(name)
    if group is None:
        raise LookupError(f"the IANA registry data has no group {name}")
    return group


def _registry_group(server: ReferenceServer) -> ReferenceServer:
    """A group only the IANA registry knows (never named in the catalog): ffdhe4096."""
    ffdhe4096 = _registered("ffdhe4096")
    _retarget(server, "SecurityPolicy_TLS13_1_3_FIPS_2025_09",
              lambda p: _with(p, groups=p.groups.value + (ffdhe4096,)))
    return server


def _registry_curve(server: ReferenceServer) -> ReferenceServer:
    """A TLS 1.2 curve only the registry knows, first in the server's order: brainpoolP256r1."""
    brainpool = _registered("brainpoolP256r1")
    _retarget(server, "SecurityPolicy_TLS13_1_2_FIPS_PFS_PQ_2025_09",
              lambda p: _with(p, groups=(brainpool,) + p.groups.value))
    return server


@dataclasses.dataclass(frozen=True)
class Mutant:
    """A wrong server and the cases that must fail against it: `failing` are regular expressions
    over pytest test ids; every failure must match one, and every one must match a failure.

    `server_class` and `mutate` are the two ways a fault is made: a subclass overriding one step, or a
    change to some endpoints' compiled policies. Mutants marked `independent` touch disjoint endpoints
    and dimensions, so one server can carry all of them at once (independent_mutants_server)."""

    name: str
    description: str
    server_class: type[ReferenceServer]
    mutate: Callable[[ReferenceServer], ReferenceServer] | None
    failing: tuple[str, ...]
    count: int  # how many cases must fail against the built-in endpoints
    independent: bool = True

    def build(self, **kwargs: Any) -> ReferenceServer:
        server = self.server_class(**kwargs)
        return self.mutate(server) if self.mutate else server


_STRICT_TARGET = r"SecurityPolicy_\w+-(rsa|ecdsa)"
MUTANTS = {m.name: m for m in (
    Mutant("extra-suite", "SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09 also accepts ECDHE-RSA-CHACHA20-POLY1305",
           ReferenceServer, _extra_suite,
           (r"test_suite\[SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09-rsa-TLSv1\.2-ECDHE-RSA-CHACHA20-POLY1305-"
            r"rejected\]",), 1),
    Mutant("missing-suite", "SecurityPolicy_TLS13_1_3_2025_09 lacks TLS_AES_256_GCM_SHA384",
           ReferenceServer, _missing_suite,
           (r"test_suite\[SecurityPolicy_TLS13_1_3_2025_09-(rsa|ecdsa)-TLSv1\.3-TLS_AES_256_GCM_SHA384-"
            r"accepted\]",), 2),
    Mutant("tls11-enabled", "TLS_1_2 endpoints also negotiate TLS 1.1", _Tls11Enabled, None,
           (r"test_version\[TLS_1_2-(rsa|ecdsa)-TLSv1\.1-rejected\]",), 2),
    Mutant("tls11-missing", "TLS_1_0 endpoints refuse TLS 1.1 (everything asked at TLS 1.1 is refused)",
           _Tls11Missing, None, (r"test_\w+\[TLS_1_0-(rsa|ecdsa)-TLSv1\.1-(.+-)?accepted\]",), 11),
    Mutant("extra-group", "SecurityPolicy_TLS13_1_2_2021_06 also accepts secp521r1",
           ReferenceServer, _extra_group,
           (r"test_group\[SecurityPolicy_TLS13_1_2_2021_06-(rsa|ecdsa)-TLSv1\.3-secp521r1-rejected\]",
            r"test_group\[SecurityPolicy_TLS13_1_2_2021_06-(rsa|ecdsa)-TLSv1\.2-secp521r1-rejected\]"), 4),
    Mutant("missing-group", "SecurityPolicy_TLS13_1_2_PQ_2025_09 lacks SecP384r1MLKEM1024",
           ReferenceServer, _missing_group,
           (r"test_group\[SecurityPolicy_TLS13_1_2_PQ_2025_09-(rsa|ecdsa)-TLSv1\.3-SecP384r1MLKEM1024-accepted\]",), 2),
    Mutant("strict-ignored", "STRICT endpoints behave as BASIC", _StrictIgnored, None,
           (rf"test_access_mode\[{_STRICT_TARGET}-STRICT-(host-different|host-absent|origin-other-type)-"
            r"refused\]",), 60, independent=False),
    Mutant("origin-ignored", "STRICT endpoints accept requests arriving through another endpoint type",
           _OriginIgnored, None, (rf"test_access_mode\[{_STRICT_TARGET}-STRICT-origin-other-type-refused\]",), 20,
           independent=False),
    Mutant("strict-too-strict", "STRICT compares the raw Host header: a port, capitals or a trailing dot refuse",
           _StrictTooStrict, None,
           (rf"test_access_mode\[{_STRICT_TARGET}-STRICT-host-(with-port|other-case|trailing-dot)-allowed\]",), 60,
           independent=False),
    Mutant("wrong-certificate", "SecurityPolicy_TLS13_2025_EDGE's ECDSA endpoint serves an RSA certificate",
           _WrongCertificate, None, (r"test_certificate_type\[SecurityPolicy_TLS13_2025_EDGE-ecdsa-ecdsa\]",), 1),
    Mutant("registry-suite", "TLS_1_2 also accepts TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384, a suite the catalog "
           "never names", ReferenceServer, _registry_suite,
           (r"test_suite\[TLS_1_2-rsa-TLSv1\.2-other-registered-suites-rejected\]",), 1),
    Mutant("registry-group", "SecurityPolicy_TLS13_1_3_FIPS_2025_09 also accepts ffdhe4096, a group the catalog never "
           "names", ReferenceServer, _registry_group,
           (r"test_group\[SecurityPolicy_TLS13_1_3_FIPS_2025_09-(rsa|ecdsa)-TLSv1\.3-other-registered-groups-"
            r"rejected\]",), 2),
    Mutant("registry-curve", "SecurityPolicy_TLS13_1_2_FIPS_PFS_PQ_2025_09 prefers brainpoolP256r1, a TLS 1.2 curve "
           "the catalog never names", ReferenceServer, _registry_curve,
           (r"test_group\[SecurityPolicy_TLS13_1_2_FIPS_PFS_PQ_2025_09-(rsa|ecdsa)-TLSv1\.2-other-registered-groups-"
            r"rejected\]",), 2),
    Mutant("policy-by-host", "the handshake ignores the SNI (one policy for every hostname)", _PolicyByHost, None,
           # over the whole suite: the SNI cases whose own side differs from TLS_1_2 (the test asks four)
           (r"test_policy_follows_sni\[.+\]",), 16, independent=False),
)}
INDEPENDENT = tuple(m for m in MUTANTS.values() if m.independent)


def independent_mutants_server(**kwargs: Any) -> ReferenceServer:
    """One server wrong in every independent way at once: their subclasses chained (each step defers to
    super() where it is not wrong), then every policy change applied; their endpoints do not overlap."""
    bases = tuple(dict.fromkeys(m.server_class for m in INDEPENDENT if m.server_class is not ReferenceServer))
    server: ReferenceServer = type("IndependentMutants", bases or (ReferenceServer,), {})(**kwargs)
    for mutant in INDEPENDENT:
        if mutant.mutate:
            server = mutant.mutate(server)
    return server


def mutant_server(name: str, **kwargs: Any) -> ReferenceServer:
    """Build (not start) the mutant called `name` ("independent": all independent ones at once)."""
    if name == "independent":
        return independent_mutants_server(**kwargs)
    return MUTANTS[name].build(**kwargs)
