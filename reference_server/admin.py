"""The admin endpoint: API Gateway's update-rest-api / update-domain-name over HTTP on its own loopback port.

PATCH /restapis/{id} and PATCH /domainnames/{name} take {"patchOperations": [...]}; GET returns the
resource. Refusals are answered as API Gateway does: 400 with a BadRequestException JSON body.
"""

from __future__ import annotations

import http.server
import json
import threading
from typing import Any

from .control import DOMAIN_NAME, REST_API, BadRequest, ControlPlane, NotFound

_KINDS = (REST_API, DOMAIN_NAME)


class PayloadTooLarge(Exception):
    """A body over MAX_BODY: answered 413 without reading it."""


MAX_BODY = 64 * 1024  # patch operations are a few hundred bytes
_LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1", "[::1]"}


def _is_loopback_host(value: str | None) -> bool:
    """Host (or Origin's host) names loopback: a DNS-rebinding page reaches us under a foreign name."""
    if not value:
        return False
    host = value.split("://", 1)[-1].split("/", 1)[0]
    if host.startswith("["):
        host = host[: host.find("]") + 1]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.lower() in _LOOPBACK_NAMES


class _Handler(http.server.BaseHTTPRequestHandler):
    """Loopback names only (Host and Origin), a body limit and a socket timeout: no authentication, so
    nothing else may reach it."""

    control: ControlPlane
    server_version = "apigw-tls-admin"
    timeout = 10  # seconds for any one read or write: a slow client cannot hold a thread

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # the admin port is quiet; the data-plane access log is the one that matters

    def _send(self, status: int, body: Any, error_type: str | None = None) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if error_type:
            self.send_header("x-amzn-ErrorType", error_type)
        self.end_headers()
        self.wfile.write(payload)

    def _route(self) -> tuple[str, str | None]:
        parts = [p for p in self.path.split("?")[0].split("/") if p]
        if not parts or parts[0] not in _KINDS or len(parts) > 2:
            raise NotFound(f"No route for {self.path}")
        return parts[0], parts[1] if len(parts) == 2 else None

    def _guarded(self, action: Any) -> None:
        origin = self.headers.get("Origin")
        if not _is_loopback_host(self.headers.get("Host")) or (origin is not None and not _is_loopback_host(origin)):
            self._send(403, {"__type": "ForbiddenException",
                             "message": "The admin endpoint answers loopback names only (Host and Origin)"},
                       "ForbiddenException")
            return
        try:
            action()
        except BadRequest as error:
            self._send(400, {"__type": "BadRequestException", "message": str(error)}, "BadRequestException")
        except NotFound as error:
            self._send(404, {"__type": "NotFoundException", "message": str(error)}, "NotFoundException")
        except PayloadTooLarge as error:
            self.close_connection = True
            self._send(413, {"__type": "PayloadTooLargeException", "message": str(error)}, "PayloadTooLargeException")

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        def action() -> None:
            kind, resource_id = self._route()
            if resource_id is None:
                self._send(200, {"items": [r.to_dict() for r in self.control.list(kind)]})
            else:
                self._send(200, self.control.get(kind, resource_id).to_dict())
        self._guarded(action)

    def do_PATCH(self) -> None:  # noqa: N802 - stdlib name
        def action() -> None:
            kind, resource_id = self._route()
            if resource_id is None:
                raise NotFound(f"No route for PATCH {self.path}")
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                raise BadRequest("Content-Length is not a number") from None
            if not 0 <= length <= MAX_BODY:
                raise PayloadTooLarge(f"The request body must be at most {MAX_BODY} bytes")
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
                operations = body["patchOperations"]
            except (ValueError, KeyError, TypeError):
                raise BadRequest("The request body must be JSON with a patchOperations list") from None
            if not isinstance(operations, list):
                raise BadRequest("patchOperations must be a list")
            self._send(200, self.control.update(kind, resource_id, operations).to_dict())
        self._guarded(action)


class AdminServer:
    """The admin HTTP endpoint in a background thread; binds loopback, port 0 by default."""

    def __init__(self, control: ControlPlane, host: str = "127.0.0.1", port: int = 0) -> None:
        handler = type("Handler", (_Handler,), {"control": control})
        self.httpd = http.server.ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="apigw-tls-admin", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> "AdminServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
