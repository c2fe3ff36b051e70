"""HTTP/1.1 after the handshake (parsed by h11): a JSON description of the connection, or STRICT's refusal."""

from __future__ import annotations

import datetime
import json
import uuid
from typing import Any, Callable, Sequence

import h11

from pytest_apigw_tls.hostnames import normalize_host

from .config import Endpoint, ServerSettings
from .connection import TlsStream
from .strict import strict_refusal

SERVER_HEADER = b"apigw-tls-reference"


def _response(connection: h11.Connection, stream: TlsStream, status: int, body: dict[str, Any],
              extra_headers: Sequence[tuple[bytes, bytes]] = ()) -> int:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
               (b"server", SERVER_HEADER), *extra_headers]
    stream.sendall(connection.send(h11.Response(status_code=status, headers=headers)))
    stream.sendall(connection.send(h11.Data(data=payload)))
    stream.sendall(connection.send(h11.EndOfMessage()))
    return len(payload)


def _next_event(connection: h11.Connection, stream: TlsStream) -> Any:
    while (event := connection.next_event()) is h11.NEED_DATA:
        connection.receive_data(stream.recv())
    return event


Refusal = Callable[[Endpoint, str | None, str | None, str | None], str | None]


def serve_http(stream: TlsStream, endpoint: Endpoint, sni: str | None, settings: ServerSettings,
               connection_values: dict[str, Any], log: Callable[[dict[str, Any]], None],
               refuse: Refusal = strict_refusal) -> None:
    """Answer requests on one connection until the client closes or h11 says we must."""
    connection = h11.Connection(h11.SERVER)
    while True:
        try:
            request = _next_event(connection, stream)
            if not isinstance(request, h11.Request):
                return  # ConnectionClosed, or PAUSED after a protocol switch we never agree to
            while not isinstance(_next_event(connection, stream), h11.EndOfMessage):
                pass  # a body is read and ignored: the answer describes the connection
            _answer(connection, stream, request, endpoint, sni, settings, connection_values, log, refuse)
        except h11.RemoteProtocolError as error:
            if connection.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                _response(connection, stream, 400, {"message": f"Bad Request: {error}"})
            return
        if connection.our_state is h11.MUST_CLOSE:
            return
        connection.start_next_cycle()


def _answer(connection: h11.Connection, stream: TlsStream, request: h11.Request, endpoint: Endpoint,
            sni: str | None, settings: ServerSettings, connection_values: dict[str, Any],
            log: Callable[[dict[str, Any]], None], refuse: Refusal) -> None:
    headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in request.headers}
    host = headers.get("host")
    request_id = str(uuid.uuid4())
    values = {
        **connection_values,
        "requestId": request_id,
        "requestTime": datetime.datetime.now(datetime.timezone.utc).strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "domainName": normalize_host(host) or sni,
        "identity.userAgent": headers.get("user-agent"),
        "httpMethod": request.method.decode(),
        "path": request.target.decode("latin-1"),
        "protocol": f"HTTP/{request.http_version.decode()}",
        "host": host,
        "sni": sni,
        "endpoint": endpoint.hostname,
        "securityPolicy": endpoint.security_policy,
        "endpointAccessMode": endpoint.access_mode,
        "endpointType": endpoint.endpoint_type,
    }
    refusal = refuse(endpoint, sni, host, values.get("arrivalType"))
    if refusal:
        status = settings.strict_status
        message = f"Misdirected Request: {refusal} (STRICT access mode)"
        values["error.message"] = message
        body: dict[str, Any] = {"message": message}
        extra = [(b"x-amzn-errortype", b"MisdirectedRequestException"), (b"x-amzn-requestid", request_id.encode())]
    else:
        status = 200
        body = {key: values[key] for key in ("tlsVersion", "cipherSuite", "tlsGroup", "sni", "host", "endpoint",
                                             "securityPolicy", "endpointAccessMode", "endpointType", "requestId")}
        extra = [(b"x-amzn-requestid", request_id.encode())]
    values["responseLength"] = _response(connection, stream, status, body, extra)
    values["status"] = status
    log(values)
