"""HTTP/1.1 after the handshake (parsed by h11): a JSON description of the connection, or STRICT's refusal."""

from __future__ import annotations

import datetime
import json
import time
import urllib.parse
import uuid
from typing import Any, Callable, Sequence

import h11

from pytest_apigw_tls.probing.hostnames import normalize_host

from .config import Endpoint, ServerSettings
from .connection import TlsStream
from .strict import strict_refusal

SERVER_HEADER = b"apigw-tls-reference"


SERVED_METHODS = {b"GET", b"HEAD", b"POST", b"PUT", b"PATCH", b"DELETE", b"OPTIONS"}  # REST API methods


def _response(connection: h11.Connection, stream: TlsStream, status: int, body: dict[str, Any],
              extra_headers: Sequence[tuple[bytes, bytes]] = (),
              log: tuple[Callable[[dict[str, Any]], None], dict[str, Any]] | None = None) -> int:
    """The whole answer in one TLS record when it fits (as real servers write it). The access-log line
    is written before the answer leaves: a client that has its answer finds its line."""
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
               (b"server", SERVER_HEADER), *extra_headers]
    data = (connection.send(h11.Response(status_code=status, headers=headers))
            + connection.send(h11.Data(data=payload)) + connection.send(h11.EndOfMessage()))
    if log is not None:
        write, values = log
        write({**values, "status": status, "responseLength": len(payload)})
    stream.sendall(data)
    return len(payload)


def _next_event(connection: h11.Connection, stream: TlsStream, request_timeout: float | None = None) -> Any:
    """The next h11 event; with `request_timeout`, the request's first bytes start its deadline."""
    while (event := connection.next_event()) is h11.NEED_DATA:
        data = stream.recv()
        if data and request_timeout is not None and stream.deadline is None:
            stream.set_deadline(time.monotonic() + request_timeout)
        connection.receive_data(data)
    return event


Refusal = Callable[[Endpoint, str | None, str | None, str | None], str | None]


def serve_http(stream: TlsStream, endpoint: Endpoint, sni: str | None, settings: ServerSettings,
               connection_values: dict[str, Any], log: Callable[[dict[str, Any]], None],
               refuse: Refusal = strict_refusal) -> None:
    """Answer requests on one connection until the client closes or h11 says we must. Each request must
    arrive whole within `request_timeout` (a request dripped byte by byte cannot hold its slot);
    methods API Gateway does not serve (CONNECT, TRACE) and protocol upgrades are refused and logged."""
    connection = h11.Connection(h11.SERVER)
    while True:
        try:
            request = _next_event(connection, stream, settings.request_timeout)
            if not isinstance(request, h11.Request):
                return  # ConnectionClosed
            if request.method not in SERVED_METHODS or _wants_upgrade(request):
                _refuse_method(connection, stream, request, endpoint, sni, connection_values, log)
                return
            while not isinstance(event := _next_event(connection, stream), h11.EndOfMessage):
                if isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                    return  # the client went away mid-body
            _answer(connection, stream, request, endpoint, sni, settings, connection_values, log, refuse)
            stream.set_deadline(None)
        except h11.RemoteProtocolError as error:
            if connection.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                _response(connection, stream, 400, {"message": f"Bad Request: {error}"})
            return
        if connection.our_state is h11.MUST_CLOSE:
            return
        connection.start_next_cycle()


def _wants_upgrade(request: h11.Request) -> bool:
    return any(name.lower() == b"upgrade" for name, _value in request.headers)


def _refuse_method(connection: h11.Connection, stream: TlsStream, request: h11.Request, endpoint: Endpoint,
                   sni: str | None, connection_values: dict[str, Any], log: Callable[[dict[str, Any]], None]) -> None:
    """405 for a method a REST API does not serve, 400 for an upgrade; logged; then the connection closes."""
    upgrade = request.method in SERVED_METHODS
    status, message = (400, "Protocol upgrades are not supported") if upgrade else \
        (405, f"Method {request.method.decode('latin-1')} is not supported")
    values = {**connection_values, **_request_values(request, endpoint, sni), "error.message": message}
    _response(connection, stream, status, {"message": message},
              [(b"connection", b"close"), (b"allow", b", ".join(sorted(SERVED_METHODS)))], (log, values))


def _absolute_form_authority(target: bytes) -> str | None:
    """RFC 9112 3.2.2: a request in absolute form names its host in the target, and a server MUST ignore
    the Host header then; STRICT compares that authority with the SNI."""
    if not target[:8].lower().startswith((b"http://", b"https://")):
        return None
    return urllib.parse.urlsplit(target.decode("latin-1")).netloc or None


def _request_values(request: h11.Request, endpoint: Endpoint, sni: str | None) -> dict[str, Any]:
    headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in request.headers}
    host = _absolute_form_authority(request.target) or headers.get("host")
    return {
        "requestId": str(uuid.uuid4()),
        "requestTime": datetime.datetime.now(datetime.timezone.utc).strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "domainName": normalize_host(host) or sni,
        "identity.userAgent": headers.get("user-agent"),
        "httpMethod": request.method.decode("latin-1"),
        "path": request.target.decode("latin-1"),
        "protocol": f"HTTP/{request.http_version.decode()}",
        "host": host,
        "sni": sni,
        "endpoint": endpoint.hostname,
        "securityPolicy": endpoint.security_policy,
        "endpointAccessMode": endpoint.access_mode,
        "endpointType": endpoint.endpoint_type,
    }


def _answer(connection: h11.Connection, stream: TlsStream, request: h11.Request, endpoint: Endpoint,
            sni: str | None, settings: ServerSettings, connection_values: dict[str, Any],
            log: Callable[[dict[str, Any]], None], refuse: Refusal) -> None:
    values = {**connection_values, **_request_values(request, endpoint, sni)}
    body: dict[str, Any]
    host, request_id = values["host"], values["requestId"]
    refusal = refuse(endpoint, sni, host, values.get("arrivalType"))
    if endpoint.disabled:  # disableExecuteApiEndpoint: TLS came first (under its policy), then this answer
        status, body = 403, {"message": "Forbidden"}
        values["error.message"] = "the execute-api endpoint is disabled"
        extra = [(b"x-amzn-errortype", b"ForbiddenException"), (b"x-amzn-requestid", request_id.encode())]
    elif refusal:
        status = settings.strict_status
        message = f"Misdirected Request: {refusal} (STRICT access mode)"
        values["error.message"] = message
        body = {"message": message}
        extra = [(b"x-amzn-errortype", b"MisdirectedRequestException"), (b"x-amzn-requestid", request_id.encode())]
    else:
        status = 200
        body = {key: values[key] for key in ("tlsVersion", "cipherSuite", "tlsGroup", "sni", "host", "endpoint",
                                             "securityPolicy", "endpointAccessMode", "endpointType", "requestId")}
        extra = [(b"x-amzn-requestid", request_id.encode())]
    _response(connection, stream, status, body, extra, (log, values))
