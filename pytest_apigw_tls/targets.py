"""Targets: what the user names (HOST[:PORT], a targets file) and what each should enforce."""

from __future__ import annotations

import dataclasses
import ipaddress
import tomllib
from typing import Any

from .catalog import CERT_TYPES, ENDPOINT_TYPES, Policy, load_catalog
from .errors import ConfigError, TargetError
from .probes import Target


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

    @property
    def policy(self) -> Policy:
        return load_catalog().policy(self.policy_id, self.endpoint_type)

    def resolve(self, reference: Any = None) -> Target:
        """Where to connect; `reference` is the running reference server for its own targets."""
        if self.host is not None and self.port is not None:
            return Target(self.host, self.port, self.sni)
        if reference is None:
            raise TargetError(f"target {self.name} needs the reference server")
        return Target(*reference.address, self.sni)

    def resolve_other_path(self, reference: Any = None) -> Target | None:
        """An arrival path of another endpoint type (STRICT's second rule), where the target has one."""
        if self.other_path:
            return Target(*parse_host_port(self.other_path), self.sni)
        if reference is None:
            return None
        others = [address for kind, address in reference.arrival_paths.items() if kind != self.endpoint_type]
        return Target(*others[0], self.sni) if others else None

    @property
    def on_reference(self) -> bool:
        return self.host is None


def reference_targets() -> list[TargetSpec]:
    """The reference server's default endpoints, one target per policy and certificate type."""
    from reference_server.config import default_endpoints

    targets = []
    for endpoint in default_endpoints():
        if endpoint.kind == "default":
            continue
        policy = endpoint.policy
        twin = endpoint.access_mode == "BASIC"
        label = "basic" if twin else endpoint.cert_type
        targets.append(TargetSpec(f"{policy.id}-{label}", policy.id, endpoint.endpoint_type, endpoint.hostname,
                                  endpoint.cert_type, endpoint.access_mode, access_only=twin))
    return targets


_TARGET_KEYS = {"name", "address", "sni", "policy", "endpoint_type", "cert_type", "access_mode", "strict_status",
                "other_path"}


def load_targets_file(path: str) -> list[TargetSpec]:
    """A TOML file of [[target]] tables: address, policy, and optionally sni, endpoint_type, cert_type,
    access_mode, strict_status, name, other_path (an arrival path of another endpoint type)."""
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as error:
        raise ConfigError(f"cannot read targets file {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: malformed TOML: {error}") from None
    raw_targets = data.get("target")
    if not isinstance(raw_targets, list) or not raw_targets:
        raise ConfigError(f"{path}: needs at least one [[target]] table")
    targets = []
    for number, raw in enumerate(raw_targets, 1):
        where = f"{path}: target {number}"
        unknown = set(raw) - _TARGET_KEYS
        if unknown:
            raise ConfigError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
        if "address" not in raw or "policy" not in raw:
            raise ConfigError(f"{where}: needs address and policy")
        target = make_target(raw["address"], raw["policy"], raw.get("sni"), raw.get("endpoint_type"),
                             raw.get("cert_type"), raw.get("access_mode"), raw.get("strict_status", 421),
                             raw.get("name"))
        if "other_path" in raw:
            parse_host_port(raw["other_path"])
            target = dataclasses.replace(target, other_path=raw["other_path"])
        targets.append(target)
    return targets


def make_target(address: str, policy_name: str, sni: str | None = None, endpoint_type: str | None = None,
                cert_type: str | None = None, access_mode: str | None = None, strict_status: int = 421,
                name: str | None = None) -> TargetSpec:
    """Validate one user-named target (unknown policy, bad port, bad mode: one-line errors)."""
    host, port = parse_host_port(address)
    endpoint_type = (endpoint_type or "REGIONAL").upper()
    if endpoint_type not in ENDPOINT_TYPES:
        raise ConfigError(f"unknown endpoint type {endpoint_type!r} (choose from {', '.join(ENDPOINT_TYPES)})")
    policy = load_catalog().policy(policy_name, endpoint_type)
    if cert_type is not None and cert_type not in CERT_TYPES:
        raise ConfigError(f"cert type must be one of {', '.join(CERT_TYPES)}, not {cert_type!r}")
    if access_mode is not None and access_mode.upper() not in ("BASIC", "STRICT"):
        raise ConfigError(f"access mode must be BASIC or STRICT, not {access_mode!r}")
    sni = sni or (None if is_ip_address(host) else host)
    return TargetSpec(name or policy.id, policy.id, endpoint_type, sni, cert_type,
                      access_mode.upper() if access_mode else None, host, port, strict_status)
