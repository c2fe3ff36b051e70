"""The admin endpoint: API Gateway's update-rest-api / update-domain-name over HTTP on its own loopback port.

PATCH /restapis/{id} and PATCH /domainnames/{name} take {"patchOperations": [...]}; GET returns the
resource. Refusals are answered as API Gateway does: 400 with a BadRequestException JSON body.
"""

from __future__ import annotations

import http.server
import json
import sys
import threading
import urllib.parse
from typing import Any

from .control import DOMAIN_NAME, REST_API, BadRequest, Conflict, ControlPlane, NotFound

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

    def _parts(self) -> list[str]:
        return [urllib.parse.unquote(p) for p in self.path.split("?")[0].split("/") if p]

    def _body(self) -> dict[str, Any]:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise BadRequest("Content-Length is not a number") from None
        if not 0 <= length <= MAX_BODY:
            raise PayloadTooLarge(f"The request body must be at most {MAX_BODY} bytes")
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            raise BadRequest("The request body must be JSON") from None
        except RecursionError:  # JSON nested thousands deep: refused, never a dropped connection
            raise BadRequest("The request body is nested too deeply") from None
        if not isinstance(body, dict):
            raise BadRequest("The request body must be a JSON object")
        return body

    def _guarded(self, method: str) -> None:
        """Route as API Gateway's REST API does (botocore's service model): request signatures are
        accepted and not checked; anything unknown is a NotFoundException in the service's JSON shape."""
        origin = self.headers.get("Origin")
        if not self.server.allows_host(self.headers.get("Host")) or (  # type: ignore[attr-defined]
                origin is not None and not self.server.allows_host(origin)):  # type: ignore[attr-defined]
            self._send(403, {"__type": "ForbiddenException",
                             "message": "The admin endpoint answers loopback names only (Host and Origin)"},
                       "ForbiddenException")
            return
        try:
            status, body = self._dispatch(method, self._parts())
            self._send(status, body)
        except BadRequest as error:
            self._send(400, {"__type": "BadRequestException", "message": str(error)}, "BadRequestException")
        except NotFound as error:
            self._send(404, {"__type": "NotFoundException", "message": str(error)}, "NotFoundException")
        except Conflict as error:
            self._send(409, {"__type": "ConflictException", "message": str(error)}, "ConflictException")
        except PayloadTooLarge as error:
            self.close_connection = True
            self._send(413, {"__type": "PayloadTooLargeException", "message": str(error)}, "PayloadTooLargeException")

    def _page(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        """get-rest-apis / get-domain-names pages as API Gateway does: `limit` (1-500, default 25) items
        from `position` (the opaque token of the previous page), and the next page's `position`, if any."""
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        try:
            limit = int(query.get("limit", ["25"])[0])
        except ValueError:
            raise BadRequest("Invalid limit: a number from 1 to 500") from None
        if not 1 <= limit <= 500:
            raise BadRequest("Invalid limit: a number from 1 to 500")
        ids = [item.get("id") or item.get("domainName") for item in items]  # a REST API's id, a domain's name
        position = query.get("position", [None])[0]
        if position is not None and position not in ids:
            raise BadRequest(f"Invalid position: {position}")
        start = ids.index(position) if position is not None else 0
        page: dict[str, Any] = {"item": items[start:start + limit]}
        if start + limit < len(items):
            page["position"] = ids[start + limit]
        return page

    def _dispatch(self, method: str, parts: list[str]) -> tuple[int, Any]:
        control = self.control
        if not parts or parts[0] not in _KINDS or len(parts) > 3:
            raise NotFound(f"No operation for {method} {self.path}")
        kind = parts[0]
        if len(parts) == 1:
            if method == "GET":
                return 200, self._page([r.to_dict() for r in control.list(kind)])
            if method == "POST":
                return 201, control.create(kind, self._body()).to_dict()
        elif len(parts) == 2:
            if method == "GET":
                return 200, control.get(kind, parts[1]).to_dict()
            if method == "PATCH":
                operations = self._body().get("patchOperations")
                if not isinstance(operations, list):
                    raise BadRequest("patchOperations must be a list")
                return 200, control.update(kind, parts[1], operations).to_dict()
            if method == "DELETE":
                control.delete(kind, parts[1])
                return 202, {}
        elif kind == REST_API and parts[2] == "deployments" and method == "POST":
            return 201, control.deploy(parts[1], self._body())
        elif kind == DOMAIN_NAME and parts[2] == "basepathmappings":
            if method == "POST":
                return 201, control.map_base_path(parts[1], self._body())
            if method == "GET":
                control.get(DOMAIN_NAME, parts[1])
                return 200, {"item": control.mappings.get(parts[1], [])}
        raise NotFound(f"No operation for {method} {self.path}")

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        self._guarded("GET")

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        self._guarded("POST")

    def do_PATCH(self) -> None:  # noqa: N802 - stdlib name
        self._guarded("PATCH")

    def do_DELETE(self) -> None:  # noqa: N802 - stdlib name
        self._guarded("DELETE")

    def do_PUT(self) -> None:  # noqa: N802 - stdlib name
        self._guarded("PUT")


class _HTTPServer(http.server.ThreadingHTTPServer):
    exposed_name: str | None = None  # the name it was exposed under, when bound beyond loopback on purpose

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that leaves mid-answer (broken pipe, reset) is its own business, as for any web
        server: nothing is printed. Anything else is one line on stderr, never a traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            return
        print(f"apigw-tls admin endpoint: {type(error).__name__}: {error}", file=sys.stderr)

    def allows_host(self, value: str | None) -> bool:
        return _is_loopback_host(value) or (self.exposed_name is not None and value is not None
                                            and value.split("://", 1)[-1].split("/")[0].rsplit(":", 1)[0]
                                            == self.exposed_name)


class AdminServer:
    """The admin HTTP endpoint in a background thread; binds loopback, port 0 by default. It has no
    authentication: bind it elsewhere only on purpose (`apigw-tls serve --admin-host`)."""

    def __init__(self, control: ControlPlane, host: str = "127.0.0.1", port: int = 0) -> None:
        handler = type("Handler", (_Handler,), {"control": control})
        self.httpd = _HTTPServer((host, port), handler)
        if not _is_loopback_host(host):
            self.httpd.exposed_name = host
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
