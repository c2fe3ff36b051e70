"""The control plane: API Gateway's resources, their configuration rules and live updates.

REST APIs (their default endpoints) and custom domain names carry a security policy, an endpoint
access mode and an endpoint type. Changes arrive as the patch operations of update-rest-api and
update-domain-name; refused ones raise BadRequest with API Gateway's message where it is known
(policy-facts.md, "Configuration rules"). An accepted change reaches the running server after the
propagation delay; meanwhile the resource reads UPDATING (REST API) or PENDING (domain name).
"""

from __future__ import annotations

import dataclasses
import secrets
import string
import threading
import time
from typing import Any, Iterable

from pytest_apigw_tls.errors import ApigwTlsError, UnknownPolicyError
from pytest_apigw_tls.policy.catalog import ENDPOINT_TYPES, Catalog, builtin_catalog

from .config import ACCESS_MODES, Endpoint
from .connection import is_hostname
from .server import ReferenceServer

REST_API, DOMAIN_NAME = "restapis", "domainnames"


class BadRequest(ApigwTlsError):
    """A refused change: API Gateway answers 400 BadRequestException with this message."""


class NotFound(ApigwTlsError):
    """No such REST API or domain name: 404 NotFoundException."""


class Conflict(ApigwTlsError):
    """It exists already: 409 ConflictException."""


def default_policy(kind: str, endpoint_type: str) -> str:
    """REGIONAL and EDGE APIs default to TLS_1_0, PRIVATE APIs and custom domains to TLS_1_2."""
    return "TLS_1_2" if kind == DOMAIN_NAME or endpoint_type == "PRIVATE" else "TLS_1_0"


@dataclasses.dataclass(frozen=True)
class Resource:
    """A REST API (its default endpoint) or a custom domain name, as the control plane sees it."""

    kind: str
    id: str
    hostname: str
    endpoint_type: str
    security_policy: str
    access_mode: str | None
    mutual_tls: bool = False
    updating: bool = False
    disabled: bool = False  # disableExecuteApiEndpoint (REST APIs)
    name: str = ""
    created: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """API Gateway's RestApi / DomainName shapes (botocore's service model)."""
        common = {"endpointConfiguration": {"types": [self.endpoint_type]}, "securityPolicy": self.security_policy,
                  "endpointAccessMode": self.access_mode}
        if self.kind == REST_API:
            return {"id": self.id, "name": self.name or self.hostname, "createdDate": int(self.created), **common,
                    "disableExecuteApiEndpoint": self.disabled,
                    "apiStatus": "UPDATING" if self.updating else "AVAILABLE"}
        return {"domainName": self.id, **common, "domainNameStatus": "PENDING" if self.updating else "AVAILABLE",
                "regionalDomainName": self.hostname, "mutualTlsAuthentication": {"enabled": self.mutual_tls}}


def service_name(endpoint: Endpoint, catalog: Catalog) -> str:
    """The securityPolicy value API Gateway shows: the catalog's AWS name, never its internal id
    (TLS_1_0@EDGE is TLS_1_0 on an EDGE endpoint)."""
    return endpoint.policy_in(catalog).name


def validate_change(old: Resource, new: Resource, catalog: Catalog, creating: bool = False) -> None:
    """API Gateway's rules for a change from `old` to `new` (or a creation); BadRequest names the broken one."""
    if new.endpoint_type not in ENDPOINT_TYPES:
        raise BadRequest(f"Invalid endpoint type: {new.endpoint_type}")
    if old.access_mode == "STRICT" and new.endpoint_type != old.endpoint_type:
        raise BadRequest("Cannot change the endpoint type while the endpoint access mode is STRICT; "
                         "set the endpoint access mode to BASIC first")
    if "@" in new.security_policy:  # the catalog's internal ids are not values of the service's enum
        raise BadRequest(f"Invalid security policy: {new.security_policy} (name it "
                         f"{new.security_policy.split('@')[0]} on an {new.security_policy.split('@')[-1]} endpoint)")
    try:
        policy = catalog.policy(new.security_policy, new.endpoint_type)
    except UnknownPolicyError as error:
        raise BadRequest(f"Invalid security policy: {error}") from None
    if not policy.enforceable:
        raise BadRequest(f"The reference server cannot enforce {policy.id}: its {', '.join(policy.unknown_facts)} "
                         "are undocumented")
    if new.kind not in policy.resource_kinds:
        raise BadRequest(f"Security policy {policy.name} on {new.endpoint_type} is only valid for custom domain names")
    if policy.is_enhanced and not new.access_mode:
        raise BadRequest("Endpoint access mode is required for the specified security policy")
    if policy.kind == "legacy" and new.access_mode:
        raise BadRequest("Endpoint access mode is not supported for this security policy")
    if new.access_mode and new.access_mode not in ACCESS_MODES:
        raise BadRequest(f"Invalid endpoint access mode: {new.access_mode} (BASIC or STRICT)")
    if not creating and old.kind == REST_API and old.security_policy.split("@")[0] == "TLS_1_0" \
            and new.security_policy.split("@")[0] == "TLS_1_2":
        raise BadRequest("Cannot update the security policy from TLS_1_0 to TLS_1_2 directly; "
                         "move to an enhanced security policy first")
    if new.mutual_tls and policy.is_enhanced:
        raise BadRequest("Mutual TLS authentication is not supported with an enhanced security policy")


def apply_patch(resource: Resource, operations: Iterable[dict[str, Any]], catalog: Catalog | None = None) -> Resource:
    """The resource after `operations` ({"op": "replace", "path": ..., "value": ...}), validated."""
    changed = resource
    for operation in operations:
        if not isinstance(operation, dict) or operation.get("op") != "replace" \
                or not isinstance(operation.get("path"), str):
            raise BadRequest(f"Invalid patch operation: {operation!r} (only op=replace with a string path)")
        path, value = operation["path"], operation.get("value")
        if value is not None and not isinstance(value, str):
            raise BadRequest(f"Invalid patch value for {path}: {value!r} (a string)")
        if path == "/securityPolicy":
            changed = dataclasses.replace(changed, security_policy=str(value))
        elif path == "/endpointAccessMode":
            changed = dataclasses.replace(changed, access_mode=str(value).upper() if value else None)
        elif path == "/disableExecuteApiEndpoint" and changed.kind == REST_API:
            if str(value).lower() not in ("true", "false"):
                raise BadRequest(f"Invalid value for /disableExecuteApiEndpoint: {value!r} (true or false)")
            changed = dataclasses.replace(changed, disabled=str(value).lower() == "true")
        elif path.startswith("/endpointConfiguration/types/"):
            if path.rsplit("/", 1)[1] != changed.endpoint_type:
                raise BadRequest(f"Invalid patch path {path}: the endpoint type is {changed.endpoint_type}")
            changed = dataclasses.replace(changed, endpoint_type=str(value).upper())
        else:
            raise BadRequest(f"Invalid patch path {path}")
    validate_change(resource, changed, catalog or builtin_catalog())
    return changed


def _object(body: dict[str, Any], field: str) -> dict[str, Any]:
    """A JSON object member of a request (absent: empty); anything else is the service's 400."""
    value = body.get(field) or {}
    if not isinstance(value, dict):
        raise BadRequest(f"Invalid {field}: expected an object, got {type(value).__name__}")
    return value


class ControlPlane:
    """The resources of a running reference server, and their live updates."""

    def __init__(self, server: ReferenceServer, propagation_delay: float = 0.0, region: str = "us-east-1") -> None:
        self.server = server
        self.propagation_delay = propagation_delay
        self.region = region
        self.mappings: dict[str, list[dict[str, Any]]] = {}
        self.deployments: dict[str, list[dict[str, Any]]] = {}  # API id -> its deployments, oldest first
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str], threading.Timer] = {}  # one change in flight per resource
        self._resources: dict[tuple[str, str], Resource] = {}
        for endpoint in server.endpoints:
            kind = REST_API if endpoint.kind == "default" else DOMAIN_NAME
            resource_id = endpoint.hostname.split(".")[0] if kind == REST_API else endpoint.hostname
            self._resources[(kind, resource_id)] = Resource(
                kind, resource_id, endpoint.hostname, endpoint.endpoint_type, service_name(endpoint, server.catalog),
                endpoint.access_mode, disabled=endpoint.disabled, created=time.time())

    def get(self, kind: str, resource_id: str) -> Resource:
        with self._lock:
            try:
                return self._resources[(kind, resource_id)]
            except KeyError:
                raise NotFound(f"Invalid {'REST API identifier' if kind == REST_API else 'domain name'} "
                               f"specified: {resource_id}") from None

    def list(self, kind: str) -> list[Resource]:
        with self._lock:
            return [r for (k, _), r in self._resources.items() if k == kind]

    def update(self, kind: str, resource_id: str, operations: Iterable[dict[str, Any]]) -> Resource:
        """Validate and accept a change; the server enforces it after the propagation delay."""
        with self._lock:
            current = self._resources.get((kind, resource_id))
            if current is None:
                raise NotFound(f"Invalid identifier specified: {resource_id}")
            if current.updating:
                raise BadRequest("The resource is being updated; try again when its status is AVAILABLE")
            changed = dataclasses.replace(apply_patch(current, operations, self.server.catalog), updating=True)
            self._resources[(kind, resource_id)] = changed
            timer = self._pending[(kind, resource_id)] = threading.Timer(
                self.propagation_delay, self._propagate, args=(changed,))
        timer.daemon = True
        timer.start()
        return changed

    def _propagate(self, resource: Resource) -> None:
        """Apply an accepted change, unless its resource was deleted (or deleted and created again)
        meanwhile: a change belongs to the resource it was made on, never to a later one of that name."""
        key = (resource.kind, resource.id)
        with self._lock:
            self._pending.pop(key, None)
            if self._resources.get(key) is not resource:
                return
            old = self.server.endpoint(resource.hostname)
            if old is None:
                return
            self.server.update_endpoint(dataclasses.replace(
                old, security_policy=resource.security_policy, access_mode=resource.access_mode,
                endpoint_type=resource.endpoint_type, disabled=resource.disabled))
            self._resources[key] = dataclasses.replace(resource, updating=False)

    # -- creating and deleting, as create-rest-api / create-domain-name / delete-* do -------------------
    def create(self, kind: str, body: dict[str, Any]) -> Resource:
        """A new REST API (its execute-api endpoint) or custom domain name, served at once."""
        configuration = _object(body, "endpointConfiguration")
        types = configuration.get("types") or ["EDGE"]
        if not isinstance(types, list) or len(types) != 1 or not isinstance(types[0], str):
            raise BadRequest("endpointConfiguration.types must name exactly one endpoint type")
        endpoint_type = types[0].upper()
        policy = body.get("securityPolicy") or default_policy(kind, endpoint_type)
        mode = body.get("endpointAccessMode")
        for field, value in (("securityPolicy", policy), ("endpointAccessMode", mode)):
            if value is not None and not isinstance(value, str):
                raise BadRequest(f"Invalid {field}: {value!r}")
        name: str
        if kind == REST_API:
            name = body.get("name")  # type: ignore[assignment]  # checked on the next line
            if not isinstance(name, str) or not name:
                raise BadRequest("Invalid REST API name specified: a name is required")
            resource_id = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(10))
            hostname = f"{resource_id}.execute-api.{self.region}.amazonaws.com"
        else:
            requested = body.get("domainName")
            if not isinstance(requested, str) or not is_hostname(requested.removeprefix("*.")):
                raise BadRequest(f"Invalid domain name: {requested!r}")
            name = requested
            hostname = resource_id = requested.lower().rstrip(".")
        mutual_tls = bool(_object(body, "mutualTlsAuthentication").get("truststoreUri"))
        disabled = body.get("disableExecuteApiEndpoint", False)
        if not isinstance(disabled, bool):  # "false" is a string, and bool("false") is True
            raise BadRequest(f"Invalid disableExecuteApiEndpoint: {disabled!r} (true or false)")
        blank = Resource(kind, resource_id, hostname, endpoint_type, "TLS_1_2", None)
        resource = Resource(kind, resource_id, hostname, endpoint_type, policy, mode.upper() if mode else None,
                            mutual_tls, False, disabled, name, time.time())
        validate_change(blank, resource, self.server.catalog, creating=True)
        with self._lock:
            if (kind, resource_id) in self._resources:
                raise Conflict(f"The domain name you provided already exists: {resource_id}")
            try:
                endpoint_kind = "default" if kind == REST_API else "custom"
                self.server.add_endpoint(Endpoint(hostname, policy, endpoint_type, resource.access_mode,
                                                  endpoint_kind, "rsa", resource.disabled))
            except ApigwTlsError as error:
                raise BadRequest(str(error)) from None
            self._resources[(kind, resource_id)] = resource
        return resource

    def delete(self, kind: str, resource_id: str) -> None:
        """Remove the resource, its endpoint and any change still propagating to it."""
        with self._lock:
            resource = self._resources.pop((kind, resource_id), None)
            if resource is None:
                raise NotFound(f"Invalid {'REST API identifier' if kind == REST_API else 'domain name'} "
                               f"specified: {resource_id}")
            self.mappings.pop(resource_id, None)
            self.deployments.pop(resource_id, None)
            pending = self._pending.pop((kind, resource_id), None)
            if pending is not None:
                pending.cancel()
            self.server.remove_endpoint(resource.hostname)

    def deploy(self, api: str, body: dict[str, Any]) -> dict[str, Any]:
        """create-deployment (the blog's redeploy step): a deployment record for the API's stage. TLS
        settings take effect without it, as in API Gateway (they belong to the endpoint, not a stage)."""
        self.get(REST_API, api)
        stage = body.get("stageName")
        if stage is not None and (not isinstance(stage, str) or not stage):
            raise BadRequest(f"Invalid stageName: {stage!r}")
        deployment = {"id": "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(6)),
                      "createdDate": int(time.time()), "description": str(body.get("description") or "")}
        with self._lock:
            self.deployments.setdefault(api, []).append({**deployment, "stageName": stage})
        return deployment

    def map_base_path(self, domain: str, body: dict[str, Any]) -> dict[str, Any]:
        """create-base-path-mapping: ties a domain to an API (the domain's own policy still decides TLS)."""
        self.get(DOMAIN_NAME, domain)
        api = body.get("restApiId")
        if not isinstance(api, str):
            raise BadRequest("restApiId is required")
        self.get(REST_API, api)
        mapping = {"basePath": body.get("basePath") or "(none)", "restApiId": api, "stage": body.get("stage")}
        with self._lock:
            self.mappings.setdefault(domain, []).append(mapping)
        return mapping

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until every accepted change has reached the server (tests and rehearsals)."""
        with self._lock:
            timers = list(self._pending.values())
        for timer in timers:
            timer.join(timeout)

    def cancel(self) -> None:
        with self._lock:
            timers = list(self._pending.values())
        for timer in timers:
            timer.cancel()
