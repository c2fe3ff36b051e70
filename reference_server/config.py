"""Endpoints and server settings: TOML file or Python objects, validated with API Gateway's rules.

An endpoint is what API Gateway serves under one hostname: a REST API's default endpoint or a
custom domain name, with its endpoint type, security policy, access mode and certificate key type.
"""

from __future__ import annotations

import dataclasses
import pathlib
import re
import tomllib
from typing import Any

from pytest_apigw_tls.errors import ConfigError
from pytest_apigw_tls.policy.catalog import ENDPOINT_TYPES, Catalog, Policy, builtin_catalog
from pytest_apigw_tls.policy.fields import check_fields, field_types
from pytest_apigw_tls.probing.hostnames import is_ip_address

ACCESS_MODES = ("BASIC", "STRICT")
KINDS = ("default", "custom")
UNKNOWN_SNI_ACTIONS = ("alert", "default")
DEFAULT_LOG_FORMAT = "json"
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """One hostname the server answers for, and what it enforces."""

    hostname: str
    security_policy: str
    endpoint_type: str = "REGIONAL"
    access_mode: str | None = None  # required for enhanced policies, absent for legacy ones
    kind: str = "custom"
    cert_type: str = "rsa"
    disabled: bool = False  # disableExecuteApiEndpoint: the handshake still happens, then 403

    def policy_in(self, catalog: Catalog) -> Policy:
        """The policy it enforces, from the catalog of the server that serves it."""
        return catalog.policy(self.security_policy, self.endpoint_type)

    @property
    def strict(self) -> bool:
        return self.access_mode == "STRICT"

    def validate(self, catalog: Catalog) -> "Endpoint":
        """Apply API Gateway's rules; raise ConfigError with the service's wording where it has one."""
        values = {name: getattr(self, name) for name in field_types(Endpoint)}
        check_fields(Endpoint, values, f"endpoint {self.hostname!r}")
        where = f"endpoint {self.hostname!r}"
        if is_ip_address(self.hostname):
            raise ConfigError(f"{where}: an IP address is not a hostname (clients send no SNI for an address, "
                              "RFC 6066 3)")
        if not _HOSTNAME.match(self.hostname.removeprefix("*.")):
            raise ConfigError(f"{where}: not a valid lowercase DNS hostname (or *. and one)")
        if self.hostname.startswith("*.") and self.kind != "custom":
            raise ConfigError(f"{where}: only custom domain names may be wildcards")
        if self.endpoint_type not in ENDPOINT_TYPES:
            raise ConfigError(f"{where}: unknown endpoint type {self.endpoint_type!r} "
                              f"(choose from {', '.join(ENDPOINT_TYPES)})")
        if self.kind not in KINDS:
            raise ConfigError(f"{where}: kind must be one of {', '.join(KINDS)}")
        if not isinstance(self.cert_type, str) or self.cert_type not in ("rsa", "ecdsa", "rsa,ecdsa"):
            raise ConfigError(f"{where}: cert_type must be rsa, ecdsa or rsa,ecdsa")
        if self.kind == "default" and self.cert_type != "rsa":
            raise ConfigError(f"{where}: default endpoints serve RSA certificates")
        policy = self.policy_in(catalog)
        if not policy.enforceable:
            raise ConfigError(f"{where}: the reference server cannot enforce {policy.id}: its "
                              f"{', '.join(policy.unknown_facts)} are undocumented")
        if self.kind not in ("custom",) and "restapis" not in policy.resource_kinds:
            raise ConfigError(f"{where}: {policy.name} on {self.endpoint_type} is for custom domain names only")
        if policy.is_enhanced and self.access_mode is None:
            raise ConfigError(f"{where}: Endpoint access mode is required for the specified security policy")
        if policy.kind == "legacy" and self.access_mode is not None:
            raise ConfigError(f"{where}: Endpoint access mode is not supported for this security policy")
        if self.access_mode is not None and self.access_mode not in ACCESS_MODES:
            raise ConfigError(f"{where}: access mode must be BASIC or STRICT")
        return self


@dataclasses.dataclass(frozen=True)
class ServerSettings:
    """How the server behaves where API Gateway's behaviour is undocumented (each a setting).

    Attributes:
        unknown_sni: "alert" (handshake_failure) or "default" (serve `default_hostname`) when the
            ClientHello has no SNI or one no endpoint has.
        default_hostname: the endpoint used by unknown_sni = "default".
        strict_status: HTTP status of a STRICT rejection (CloudFront answers 421 on EDGE).
        idle_timeout: seconds a connection may stay silent, handshake included.
        handshake_timeout: seconds from accept to a finished handshake (slow drips are cut off).
        max_connections: connections served at once; more are closed at accept.
        max_connections_per_client: connections one client address may hold at once (slow-client floods).
        request_timeout: seconds from a request's first byte to its last (a request dripped byte by byte
            is cut off even though every single read is quick).
        access_log_format: "json" for JSON lines of every variable, or a $context.* format string.
        arrival_paths: endpoint type -> port of an extra listener standing for that arrival path
            (regional, edge front, private VPC endpoint); the main port stands for every path.
    """

    host: str = "127.0.0.1"
    port: int = 0
    unknown_sni: str = "alert"
    default_hostname: str | None = None
    strict_status: int = 421
    idle_timeout: float = 30.0
    handshake_timeout: float = 10.0
    max_connections: int = 1024
    max_connections_per_client: int = 256
    request_timeout: float = 10.0
    access_log_format: str = DEFAULT_LOG_FORMAT
    arrival_paths: dict[str, int] = dataclasses.field(default_factory=dict)

    def validate(self, endpoints: tuple[Endpoint, ...]) -> "ServerSettings":
        for arrival_type, port in self.arrival_paths.items():
            if arrival_type not in ENDPOINT_TYPES:
                raise ConfigError(f"arrival_paths: unknown endpoint type {arrival_type!r}")
            if not isinstance(port, int) or not 0 <= port <= 65535:
                raise ConfigError(f"arrival_paths: port {port!r} of {arrival_type} is out of range")
        if self.unknown_sni not in UNKNOWN_SNI_ACTIONS:
            raise ConfigError(f"unknown_sni must be one of {', '.join(UNKNOWN_SNI_ACTIONS)}")
        if self.unknown_sni == "default" and self.default_hostname not in {e.hostname for e in endpoints}:
            raise ConfigError("unknown_sni = 'default' needs default_hostname naming a configured endpoint")
        if not 400 <= self.strict_status <= 599:
            raise ConfigError(f"strict_status {self.strict_status} is not an HTTP error status")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port {self.port} is out of range")
        check_fields(ServerSettings, dataclasses.asdict(self), "[server]")
        if min(self.idle_timeout, self.handshake_timeout, self.request_timeout) <= 0:
            raise ConfigError("idle_timeout, handshake_timeout and request_timeout must be positive")
        if self.max_connections < 1 or self.max_connections_per_client < 1:
            raise ConfigError("max_connections and max_connections_per_client must be at least 1")
        if not 0 < len(self.host) <= 253:
            raise ConfigError(f"host {self.host[:40]!r}... is not an address to listen on")
        validate_log_format(self.access_log_format)
        return self


@dataclasses.dataclass(frozen=True)
class ServerConfig:
    """Endpoints, settings, and the catalog their policy names are read in (the built-in one, or one
    extended by users' policy files)."""

    endpoints: tuple[Endpoint, ...]
    settings: ServerSettings = ServerSettings()
    catalog: Catalog = dataclasses.field(default_factory=builtin_catalog, compare=False, repr=False)

    def validate(self) -> "ServerConfig":
        if not self.endpoints:
            raise ConfigError("no endpoints configured")
        seen: set[str] = set()
        for endpoint in self.endpoints:
            endpoint.validate(self.catalog)
            if endpoint.hostname in seen:
                raise ConfigError(f"endpoint {endpoint.hostname!r} is configured twice")
            seen.add(endpoint.hostname)
        self.settings.validate(self.endpoints)
        return self


def _build(cls: type, raw: dict[str, Any], where: str) -> Any:
    check_fields(cls, raw, where)
    try:
        return cls(**raw)
    except TypeError as error:
        raise ConfigError(f"{where}: {error}") from None


def parse_config(text: str, where: str = "config", catalog: Catalog | None = None) -> ServerConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{where}: malformed TOML: {error}") from None
    unknown = set(data) - {"server", "endpoint"}
    if unknown:
        raise ConfigError(f"{where}: unknown tables {', '.join(sorted(unknown))} (known: server, endpoint)")
    raw_endpoints = data.get("endpoint", [])
    if not isinstance(raw_endpoints, list) or not all(isinstance(raw, dict) for raw in raw_endpoints):
        raise ConfigError(f"{where}: endpoints are written as [[endpoint]] tables")
    endpoints = tuple(_build(Endpoint, dict(raw), f"{where}: endpoint {i + 1}") for i, raw in enumerate(raw_endpoints))
    raw_settings = data.get("server", {})
    if not isinstance(raw_settings, dict):
        raise ConfigError(f"{where}: server settings are written as one [server] table")
    settings = _build(ServerSettings, dict(raw_settings), f"{where}: [server]")
    return ServerConfig(endpoints, settings, catalog or builtin_catalog()).validate()


def load_config(path: str | pathlib.Path, catalog: Catalog | None = None) -> ServerConfig:
    try:
        text = pathlib.Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read {path}: {getattr(error, 'strerror', None) or error}") from None
    return parse_config(text, str(path), catalog)


def validate_log_format(fmt: str) -> None:
    """A format must be "json" or carry at least one $context variable (else nothing useful is logged)."""
    if fmt != DEFAULT_LOG_FORMAT and "$context." not in fmt:
        raise ConfigError(f"access_log_format {fmt[:60]!r} has no $context variable (or use \"json\")")


def policy_slug(policy: Policy) -> str:
    """A readable DNS label for a policy id: SecurityPolicy_TLS13_1_3_2025_09 -> tls13-1-3-2025-09."""
    return policy.id.removeprefix("SecurityPolicy_").replace("@", "_").replace("_", "-").lower()


def default_endpoints(catalog: Catalog | None = None) -> tuple[Endpoint, ...]:
    """One endpoint per catalog policy and certificate type; enhanced ones STRICT, plus a BASIC twin.

    Hostnames read as `<policy>.<rsa|ecdsa|basic>.apigw.test`; a default-endpoint style name serves
    REGIONAL's default policy (TLS_1_0) with an RSA certificate, as AWS does.
    """
    endpoints = [Endpoint("abcdef1234.execute-api.us-east-1.amazonaws.com", "TLS_1_0", "REGIONAL", None, "default")]
    for policy in (p for p in (catalog or builtin_catalog()).policies if p.enforceable):
        endpoint_type = policy.endpoint_types[0]
        mode = "STRICT" if policy.is_enhanced else None
        slug = policy_slug(policy)
        for cert_type in ("rsa", "ecdsa"):
            endpoints.append(Endpoint(f"{slug}.{cert_type}.apigw.test", policy.id, endpoint_type, mode,
                                      "custom", cert_type))
        if policy.is_enhanced:
            endpoints.append(Endpoint(f"{slug}.basic.apigw.test", policy.id, endpoint_type, "BASIC"))
    return tuple(endpoints)


def default_config(catalog: Catalog | None = None, **settings: Any) -> ServerConfig:
    """An endpoint for every policy of the catalog (built-in by default), with an arrival path (its own
    listener) for every endpoint type."""
    catalog = catalog or builtin_catalog()
    settings.setdefault("arrival_paths", {endpoint_type: 0 for endpoint_type in ENDPOINT_TYPES})
    return ServerConfig(default_endpoints(catalog), ServerSettings(**settings), catalog).validate()
