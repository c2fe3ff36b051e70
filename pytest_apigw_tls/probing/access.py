"""STRICT probes: HTTPS requests with a chosen SNI and Host header (or none), judged against the access mode.

Only the status tells: a STRICT refusal is `strict_status` (421 by default, CloudFront's answer);
any other HTTP answer lets the request through; no HTTP answer at all is inconclusive.
"""

from __future__ import annotations

import dataclasses
import socket
import time

import h11
from OpenSSL import SSL

from ..errors import TargetError
from ..policy.codepoints import TlsVersion
from ..policy.expectations import ALLOWED, ORIGIN_CASE, REFUSED, AccessExpectation, access_expectations
from ..vocabulary import FAIL, INCONCLUSIVE, PASS, CaseOutcome
from .handshake import classify_handshake_error, client_connection, client_context, drive
from .probes import Target, connect, connect_failure, describe_os_error


@dataclasses.dataclass(frozen=True)
class HttpObservation:
    """status is None when no HTTP answer came back; evidence says why (or what came back)."""

    status: int | None
    evidence: str
    body: bytes = b""


def _request_bytes(path: str, host: str | None) -> bytes:
    if host is None:  # HTTP/1.1 requires Host (RFC 9112 3.2); HTTP/1.0 lets us send none
        return f"GET {path} HTTP/1.0\r\nUser-Agent: apigw-tls\r\nConnection: close\r\n\r\n".encode()
    return (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: apigw-tls\r\nConnection: close\r\n\r\n").encode()


def http_probe(target: Target, host_header: str | None, timeout: float, path: str = "/",
               version: TlsVersion | None = None, suite: str | None = None,
               groups: list[str] | None = None) -> HttpObservation:
    """Handshake with `target` (its SNI, and optionally one version, suite or group list), send GET
    `path` with `host_header`, and read the response."""
    try:
        sock = connect(target, timeout)
    except OSError as error:
        return HttpObservation(None, connect_failure(target, error))
    with sock:
        tls = client_connection(target, client_context(version, suite, groups), sock)
        parser = h11.Connection(h11.CLIENT)
        deadline = time.monotonic() + timeout
        status, body = None, b""
        try:
            drive(tls.do_handshake, sock, deadline)
            drive(lambda: tls.sendall(_request_bytes(path, host_header)), sock, deadline)
            while True:
                event = parser.next_event()
                if event is h11.NEED_DATA:
                    try:
                        parser.receive_data(drive(lambda: tls.recv(65536), sock, deadline))
                    except SSL.ZeroReturnError:
                        parser.receive_data(b"")
                    continue
                if isinstance(event, h11.Response):
                    status = event.status_code
                elif isinstance(event, h11.Data):
                    body += event.data
                elif isinstance(event, h11.EndOfMessage):
                    return HttpObservation(status, f"HTTP {status}", body)
                elif isinstance(event, h11.ConnectionClosed):
                    return HttpObservation(None, "connection closed before an HTTP response")
        except SSL.Error as error:
            return HttpObservation(None, classify_handshake_error(error)[1])
        except (socket.timeout, TimeoutError):
            return HttpObservation(None, "timed out waiting for the HTTP response")
        except h11.RemoteProtocolError as error:
            return HttpObservation(None, f"unparsable HTTP response: {error}")
        except OSError as error:
            return HttpObservation(None, f"{describe_os_error(error)} waiting for the HTTP response")


@dataclasses.dataclass(frozen=True)
class AccessVerdict:
    expectation: AccessExpectation
    host_header: str | None
    status: int | None
    verdict: CaseOutcome
    evidence: str

    def to_dict(self) -> dict[str, object]:
        return {"test_id": self.expectation.test_id, "access_mode": self.expectation.access_mode,
                "case": self.expectation.case,
                "host_header": self.host_header, "expected": self.expectation.expected, "status": self.status,
                "verdict": self.verdict, "evidence": self.evidence}


def judge_access(expectation: AccessExpectation, host_header: str | None, observation: HttpObservation,
                 strict_status: int) -> AccessVerdict:
    if observation.status is None:
        return AccessVerdict(expectation, host_header, None, INCONCLUSIVE, observation.evidence)
    observed = REFUSED if observation.status == strict_status else ALLOWED
    verdict = PASS if observed == expectation.expected else FAIL
    return AccessVerdict(expectation, host_header, observation.status, verdict,
                         f"{observation.evidence} ({observed})")


def access_scan(target: Target, access_mode: str | None, timeout: float, strict_status: int = 421,
                path: str = "/", other_arrival_path: Target | None = None) -> tuple[AccessVerdict, ...]:
    """Run every Host case of `access_mode` against `target` (which must send an SNI), and the
    arrival-path case through `other_arrival_path` (same SNI, a listener of another endpoint type)."""
    if not target.sni:
        raise TargetError("STRICT checks compare Host with SNI: the target needs an SNI (--sni)")
    verdicts = []
    for expectation in access_expectations(access_mode, other_arrival_path is not None):
        host = expectation.host_header(target.sni)
        via = other_arrival_path if expectation.case == ORIGIN_CASE and other_arrival_path else target
        verdicts.append(judge_access(expectation, host, http_probe(via, host, timeout, path), strict_status))
    return tuple(verdicts)
