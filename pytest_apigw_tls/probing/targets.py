"""Targets: what the user names (HOST[:PORT], a targets file) and what each should enforce."""

from __future__ import annotations

import dataclasses
from typing import Any

from ..errors import ApigwTlsError, ConfigError, TargetError
from ..policy.catalog import CERT_TYPES, ENDPOINT_TYPES, Catalog, Policy, builtin_catalog
from ..policy.fields import check_values, read_toml
from ..policy.items import cert_types
from .hostnames import is_ip_address
from .probes import Target

BEHIND = "@default-endpoint"  # the name of the API's default endpoint behind a target (a custom domain)


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


@dataclasses.dataclass(frozen=True)
class TargetSpec:
    """A target and what it should enforce. `host`/`port` None means "the reference server"."""

    name: str
    policy_id: str
    endpoint_type: str
    sni: str | None
    cert_type: str | None = None
    access_mode: str | None = None
    host: str | None = None
    port: int | None = None
    strict_status: int = 421
    access_only: bool = False  # a twin of another target that differs only in its access mode
    other_path: str | None = None  # HOST:PORT of an arrival path of another endpoint type, if any
    default_endpoint: str | None = None  # hostname of the API's execute-api endpoint behind a custom domain
    default_endpoint_address: str | None = None  # HOST:PORT to reach it at (default: the hostname, port 443)
    unreachable: str | None = None  # why the target could not be reached or identified (its cases error)
    catalog: Catalog = dataclasses.field(default_factory=builtin_catalog, compare=False, repr=False)  # its policy's

    @property
    def identity(self) -> tuple[object, ...]:
        """What is probed and what is claimed: two targets are the same only when all of it matches."""
        return (self.host, self.port, self.sni, self.endpoint_type, self.cert_type, self.policy_id,
                self.access_mode, self.strict_status, self.other_path, self.default_endpoint,
                self.default_endpoint_address)

    @property
    def report_identity(self) -> dict[str, object]:
        """Where it is reached and what it claims, as reports carry it: `apigw-tls diff` matches targets of
        two runs by this, never by display name (the reference server's ports change from run to run)."""
        address = f"{self.host}:{self.port}" if self.host is not None else "reference-server"
        return {"address": address, "sni": self.sni, "endpoint_type": self.endpoint_type, "policy": self.policy_id,
                "cert_type": self.cert_type, "access_mode": self.access_mode}

    @property
    def policy(self) -> Policy:
        return self.catalog.policy(self.policy_id, self.endpoint_type)

    def resolve(self, reference: Any = None) -> Target:
        """Where to connect; `reference` is the running reference server for its own targets."""
        if self.host is not None and self.port is not None:
            return Target(self.host, self.port, self.sni)
        if reference is None:
            raise TargetError(f"target {self.name} needs the reference server")
        host, port = reference.address
        return Target(host, port, self.sni)

    def resolve_other_path(self, reference: Any = None) -> Target | None:
        """An arrival path of another endpoint type (STRICT's second rule), where the target has one."""
        if self.other_path:
            host, port = parse_host_port(self.other_path)
            return Target(host, port, self.sni)
        if reference is None:
            return None
        others = [address for kind, address in reference.arrival_paths.items() if kind != self.endpoint_type]
        return Target(others[0][0], others[0][1], self.sni) if others else None

    @property
    def on_reference(self) -> bool:
        return self.host is None

    def resolve_default_endpoint(self) -> "TargetSpec | None":
        """The API's default endpoint behind this custom domain, judged against the domain's policy:
        whatever it accepts that the domain refuses is a way around the domain's policy."""
        if not self.default_endpoint:
            return None
        hostname, port = parse_host_port(self.default_endpoint)
        if self.default_endpoint_address:
            host, port = parse_host_port(self.default_endpoint_address)
        else:
            host = hostname
        return dataclasses.replace(self, name=self.name + BEHIND, host=host, port=port,
                                   sni=None if is_ip_address(hostname) else hostname, cert_type="rsa",
                                   default_endpoint=None, default_endpoint_address=None, access_mode=None,
                                   other_path=None)


def unique_names(targets: list[TargetSpec], explicit: list[bool]) -> list[TargetSpec]:
    """Give every target a name of its own: explicit names must differ (one-line error otherwise);
    a default name (the policy id) that several targets share gets their server name, then port."""
    seen: dict[str, int] = {}
    for target, given in zip(targets, explicit):
        if given:
            if target.name in seen:
                raise ConfigError(f"two targets are named {target.name!r}: names must differ")
            seen[target.name] = 1
    counts: dict[str, int] = {}
    for target, given in zip(targets, explicit):
        if not given:
            counts[target.name] = counts.get(target.name, 0) + 1
    named = []
    for target, given in zip(targets, explicit):
        name = target.name
        if not given and counts[name] > 1:
            name = f"{name}@{target.sni or target.host}"
            if name in seen:
                name = f"{name}:{target.port}"
            base, number = name, 2
            while name in seen:
                name, number = f"{base}#{number}", number + 1
        seen[name] = 1
        named.append(dataclasses.replace(target, name=name))
    return named


def reference_targets(catalog: Catalog) -> list[TargetSpec]:
    """The reference server's default endpoints, one target per policy and certificate type."""
    from pytest_apigw_tls.reference_server.config import default_endpoints

    targets = []
    for endpoint in default_endpoints(catalog):
        if endpoint.kind == "default":
            continue
        policy = endpoint.policy_in(catalog)
        twin = endpoint.access_mode == "BASIC"
        label = "basic" if twin else endpoint.cert_type
        targets.append(TargetSpec(f"{policy.id}-{label}", policy.id, endpoint.endpoint_type, endpoint.hostname,
                                  endpoint.cert_type, endpoint.access_mode, access_only=twin, catalog=catalog))
    return targets


_TARGET_KEYS: dict[str, type] = {"name": str, "address": str, "sni": str, "policy": str, "endpoint_type": str,
                                 "cert_type": str, "access_mode": str, "strict_status": int, "other_path": str,
                                 "default_endpoint": str, "default_endpoint_address": str}


def load_targets_file(path: str, catalog: Catalog | None = None) -> list[TargetSpec]:
    """A TOML file of [[target]] tables: address, policy, and optionally sni, endpoint_type, cert_type,
    access_mode, strict_status, name, other_path (an arrival path of another endpoint type),
    default_endpoint (the API's execute-api hostname behind a custom domain) and
    default_endpoint_address (where to reach it, when not at its own name)."""
    data = read_toml(path, "targets file")
    raw_targets = data.get("target")
    if not isinstance(raw_targets, list) or not raw_targets or not all(isinstance(t, dict) for t in raw_targets):
        raise ConfigError(f"{path}: needs at least one [[target]] table")
    targets, explicit = [], []
    for number, raw in enumerate(raw_targets, 1):
        where = f"{path}: target {number}"
        check_values(_TARGET_KEYS, raw, where)
        if "address" not in raw or "policy" not in raw:
            raise ConfigError(f"{where}: needs address and policy")
        try:
            target = make_target(raw["address"], raw["policy"], raw.get("sni"), raw.get("endpoint_type"),
                                 raw.get("cert_type"), raw.get("access_mode"), raw.get("strict_status", 421),
                                 raw.get("name"), catalog)
            for key in ("other_path", "default_endpoint", "default_endpoint_address"):
                if key in raw:
                    parse_host_port(raw[key])
                    target = dataclasses.replace(target, **{key: raw[key]})
        except ApigwTlsError as error:
            raise ConfigError(f"{where}: {error}") from None
        targets.append(target)
        explicit.append("name" in raw)
    return unique_names(targets, explicit)


def make_target(address: str, policy_name: str, sni: str | None = None, endpoint_type: str | None = None,
                cert_type: str | None = None, access_mode: str | None = None, strict_status: int = 421,
                name: str | None = None, catalog: Catalog | None = None) -> TargetSpec:
    """Validate one user-named target (unknown policy, bad port, bad mode: one-line errors)."""
    host, port = parse_host_port(address)
    endpoint_type = (endpoint_type or "REGIONAL").upper()
    if endpoint_type not in ENDPOINT_TYPES:
        raise ConfigError(f"unknown endpoint type {endpoint_type!r} (choose from {', '.join(ENDPOINT_TYPES)})")
    catalog = catalog or builtin_catalog()
    policy = catalog.policy(policy_name, endpoint_type)
    if cert_type is not None and (not cert_types(cert_type) or not set(cert_types(cert_type)) <= set(CERT_TYPES)):
        raise ConfigError(f"cert type must be rsa, ecdsa or rsa,ecdsa, not {cert_type!r}")
    if cert_type is not None:
        cert_type = ",".join(t for t in CERT_TYPES if t in cert_types(cert_type))
    if not 400 <= strict_status <= 599:
        raise ConfigError(f"strict_status {strict_status} is not an HTTP error status")
    if access_mode is not None and access_mode.upper() not in ("BASIC", "STRICT"):
        raise ConfigError(f"access mode must be BASIC or STRICT, not {access_mode!r}")
    sni = sni or (None if is_ip_address(host) else host)
    return TargetSpec(name or policy.id, policy.id, endpoint_type, sni, cert_type,
                      access_mode.upper() if access_mode else None, host, port, strict_status, catalog=catalog)
