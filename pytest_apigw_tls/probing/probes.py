"""Probes: ask a target whether it accepts one exact offer, and say only what was seen.

A raw probe sends our own ClientHello and reads the server's first flight (ServerHello,
HelloRetryRequest or Alert). A handshake probe completes a real handshake with pyOpenSSL to confirm
an acceptance. Either ends as exactly one Observation: ACCEPTED (with the negotiated values),
REJECTED (an alert, or a clean close right after the ClientHello) or INCONCLUSIVE (timeout, reset,
unparsable bytes, connect failure, or a server answering with something we did not offer).
"""

from __future__ import annotations

import enum
import errno
import socket
import threading
import time
from typing import Callable, NamedTuple

from ..policy.codepoints import AlertDescription, TlsVersion
from ..policy.universe import load_universe
from .settings import DEFAULTS
from .wire import (
    Alert,
    ContentType,
    DecodeError,
    HandshakeBuffer,
    HandshakeType,
    MessageTooLarge,
    RecordBuffer,
    ServerHello,
    build_client_hello,
)
from .wire.messages import ExtensionType


class Outcome(str, enum.Enum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    INCONCLUSIVE = "inconclusive"


# Values that a scan makes by the thousand are named tuples: a frozen dataclass takes 0.5 ms to define at
# import and is slower to build, and `apigw-tls scan` pays every import on every run.
class Target(NamedTuple):
    """Where we connect: address and port, and the SNI we send (None sends no server_name)."""

    host: str
    port: int
    sni: str | None

    def __str__(self) -> str:
        address = f"[{self.host}]" if ":" in self.host else self.host
        return f"{address}:{self.port}" + (f" (SNI {self.sni})" if self.sni else " (no SNI)")


class ProbeOffer(NamedTuple):
    """What one ClientHello proposes; code points, so suites OpenSSL lacks can be offered too."""

    versions: tuple[int, ...]
    suites: tuple[int, ...]
    groups: tuple[int, ...]
    key_share_groups: tuple[int, ...] = ()


class Observation(NamedTuple):
    """What came back from one probe.

    Attributes:
        outcome: ACCEPTED, REJECTED or INCONCLUSIVE.
        evidence: one line saying what was seen (the alert, the close, the error, the choice).
        version, suite, group: what the server chose, when it chose something.
        hello_retry: the answer was a HelloRetryRequest (a choice of group, not yet a key exchange).
        cert_type: "rsa" or "ecdsa" from the peer certificate, for handshake probes.
        cert_curve: the registry code of an ECDSA certificate's curve, for handshake probes.
        alert: the description code of the alert that refused a raw probe.
        ended: how a server that showed its choice then gave up before naming its curve ended (an
            alert or a close after the ServerHello); the choice stands, the curve was not taken.
        timed_out: an inconclusive probe that waited its whole timeout.
    """

    outcome: Outcome
    evidence: str
    version: int | None = None
    suite: int | None = None
    group: int | None = None
    hello_retry: bool = False
    cert_type: str | None = None
    cert_curve: int | None = None
    alert: int | None = None
    ended: str | None = None
    timed_out: bool = False

    def to_dict(self) -> dict[str, object]:
        return {"outcome": self.outcome.value, "evidence": self.evidence, "version": self.version,
                "suite": self.suite, "group": self.group, "hello_retry": self.hello_retry,
                "cert_type": self.cert_type, "cert_curve": self.cert_curve, "alert": self.alert,
                "ended": self.ended}




class ProbeSettings(NamedTuple):
    """timeout per probe (s), retries of an inconclusive probe, concurrent probes, pause between probe
    starts (s), the most one target's scan may take (s) before its remaining questions are left open,
    and the quiet (s) before a refused allowed item or a disagreeing target is asked again (a rate
    limiter's window)."""

    timeout: float = DEFAULTS["timeout"]
    retries: int = int(DEFAULTS["retries"])
    concurrency: int = int(DEFAULTS["concurrency"])
    delay: float = DEFAULTS["delay"]
    deadline: float = DEFAULTS["deadline"]
    backoff_pause: float = DEFAULTS["backoff_pause"]

    @classmethod
    def from_values(cls, values: dict[str, float]) -> "ProbeSettings":
        """From read_settings' values (the fleet-wide total-concurrency is not one target's setting)."""
        return cls(**{name: values[name] for name in cls._fields if name in values})  # type: ignore[arg-type]


class Pacer:
    """Spaces probe starts by `delay` seconds across threads (real endpoints rate-limit)."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.lock = threading.Lock()
        self.next_start = 0.0

    def wait(self) -> None:
        if self.delay <= 0:
            return
        with self.lock:
            now = time.monotonic()
            start = max(now, self.next_start)
            self.next_start = start + self.delay
        time.sleep(max(0.0, start - now))


NOT_A_REFUSAL = ("which says nothing about the offer (a fault of the server or of something in front of it, "
                 "not a refusal)")


def inconclusive(evidence: str, timed_out: bool = False) -> Observation:
    return Observation(Outcome.INCONCLUSIVE, evidence, timed_out=timed_out)


def connect(target: Target, timeout: float) -> socket.socket:
    """A TCP connection to the target, or OSError described by `connect_failure`."""
    return socket.create_connection((name_bytes(target.host), target.port), timeout=timeout)  # type: ignore[arg-type]


def name_bytes(name: str) -> bytes:
    """A host name as sent (IDNA). An ASCII name is its own encoding: the idna codec, whose import
    costs every scan 2 ms, is left to the names that need it (getaddrinfo imports it for any str)."""
    return name.encode("ascii") if name.isascii() else name.encode("idna")


def open_connection(target: Target, timeout: float) -> socket.socket | Observation:
    """A connection for one probe, or the inconclusive observation that says why there is none."""
    try:
        return connect(target, timeout)
    except OSError as error:
        return inconclusive(connect_failure(target, error))


def connect_failure(target: Target, error: OSError) -> str:
    return f"connect to {target.host}:{target.port} failed: {describe_os_error(error)}"


def describe_os_error(error: OSError) -> str:
    if isinstance(error, (socket.timeout, TimeoutError)):
        return "timed out"
    if error.errno == errno.ECONNRESET:
        return "connection reset"
    return error.strerror or str(error)


# What a first flight may hold before the message we read last (RFC 8446 4.1.3, RFC 5246 7.4.1.3,
# RFC 8422 5.4): larger is no TLS. A Certificate is held to what a real client takes (OpenSSL's default
# max_cert_list, 100 KiB), so a scan never buffers the 16 MiB a length field can claim.
CLIENT_CERTIFICATE_LIMIT = 102_400
_FIRST_FLIGHT_LIMITS: dict[int, int] = {
    HandshakeType.server_hello: 2 + 32 + 1 + 32 + 2 + 1 + 2 + 0xFFFF,
    HandshakeType.server_key_exchange: 1 + 2 + 1 + 0xFF + 2 + 2 + 0xFFFF,
    HandshakeType.certificate: CLIENT_CERTIFICATE_LIMIT,
    HandshakeType.server_hello_done: 0,
}


BLINDING_TIMEOUT = 35.0  # s2n-tls's error blinding delays a close by 10-30 s


class SilentPeer(TimeoutError):
    """Not one byte came back before the deadline (a drop, a black hole, or a blinded refusal)."""


class FirstFlight(NamedTuple):
    """The server's choice: its ServerHello, the curve of its ServerKeyExchange (ECDHE below TLS 1.3),
    and, when the server gave up before naming that curve, how it ended (an alert or a close)."""

    hello: ServerHello
    curve: int | None = None
    ended: str | None = None


def read_first_flight(sock: socket.socket, deadline: float) -> FirstFlight | Alert | None:
    """Read records until a ServerHello (with the curve of an ECDHE ServerKeyExchange below TLS 1.3)
    or an Alert; None on a clean close before either. An alert or a close after the ServerHello keeps
    the ServerHello: it showed the choice, what follows is another matter.

    Raises:
        DecodeError: the bytes are not TLS (MessageTooLarge: a message over its limit).
        TimeoutError / OSError: from the socket (the deadline bounds the whole read).
    """
    records = RecordBuffer()
    handshake = HandshakeBuffer(_FIRST_FLIGHT_LIMITS, CLIENT_CERTIFICATE_LIMIT)
    hello: ServerHello | None = None
    first = True
    while True:
        try:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("timed out")
            sock.settimeout(remaining)
            chunk = sock.recv(65536)
        except (socket.timeout, TimeoutError):  # silence from the start is told apart (error blinding)
            raise (SilentPeer("timed out") if first else TimeoutError("timed out")) from None
        if first and chunk.startswith(b"HTTP/"):
            raise DecodeError("plaintext HTTP answered on a TLS port (is the port right?)")
        first = False
        if not chunk:
            if hello is not None:
                return FirstFlight(hello, None, "then the connection closed before the ServerKeyExchange")
            if records.pending or handshake.pending:
                raise DecodeError("connection closed in the middle of a record")
            return None
        for record in records.feed(chunk):
            if record.content_type == ContentType.alert:
                alert = Alert.from_bytes(record.fragment)
                if alert.level == 2 or alert.description == AlertDescription.close_notify:
                    if hello is not None:
                        return FirstFlight(hello, None, f"then {_alert_text(alert)} before the ServerKeyExchange")
                    return alert  # a warning such as unrecognized_name is not yet a refusal
            elif record.content_type == ContentType.handshake:
                for msg_type, body in handshake.feed(record.fragment):
                    if hello is None:
                        if msg_type != HandshakeType.server_hello:
                            raise DecodeError(f"first handshake message is type {msg_type}, not ServerHello")
                        hello = ServerHello.from_body(body)
                        if not _needs_key_exchange_message(hello):
                            return FirstFlight(hello)
                    elif msg_type == HandshakeType.server_key_exchange:
                        return FirstFlight(hello, ecdhe_curve(body))
                    elif msg_type == HandshakeType.server_hello_done:
                        return FirstFlight(hello, None, "then ServerHelloDone without a ServerKeyExchange")
            elif hello is None:
                raise DecodeError(f"{ContentType(record.content_type).name} record before the ServerHello")


def _alert_text(alert: Alert) -> str:
    return f"{'fatal' if alert.level == 2 else 'warning'} alert {AlertDescription.describe(alert.description)}"


def _needs_key_exchange_message(hello: ServerHello) -> bool:
    """Below TLS 1.3 an ECDHE suite names its curve in the ServerKeyExchange (RFC 8422 5.4)."""
    if hello.is_hello_retry_request or hello.selected_version >= TlsVersion.TLSv1_3:
        return False
    registered = load_universe().suite(hello.cipher_suite)
    return registered is not None and registered.kx.startswith("ECDHE")


def ecdhe_curve(body: bytes) -> int:
    """The named curve of an ECDHE ServerKeyExchange (ECCurveType named_curve = 3, RFC 8422 5.4)."""
    if len(body) < 3 or body[0] != 3:
        raise DecodeError("ServerKeyExchange does not name a curve (curve type is not named_curve)")
    return int.from_bytes(body[1:3], "big")


def _judge_server_hello(flight: FirstFlight, offer: ProbeOffer) -> Observation:
    """Accept only a choice we offered and a client could complete.

    A version below every offered one is the server saying it does not speak those (a client would
    abort): a refusal. So is a choice no client can complete: a suite not valid at the chosen version,
    a curve that was not offered (below TLS 1.3), a HelloRetryRequest that asks for no change. Anything
    else not offered is a protocol violation, inconclusive, never a pass."""
    hello = flight.hello
    version = hello.selected_version
    group = hello.key_share_group if flight.curve is None else flight.curve
    label = version_label(version)
    if version < min(offer.versions):
        offered = ", ".join(version_label(v) for v in sorted(offer.versions))
        return Observation(Outcome.REJECTED, f"server answered with {label}, below the offered {offered}: "
                                             f"it does not accept {offered}", version=version)
    if version not in offer.versions:
        return inconclusive(f"protocol violation: server selected {label}, which was not offered")
    if hello.cipher_suite not in offer.suites:
        return inconclusive(f"protocol violation: server selected suite 0x{hello.cipher_suite:04X}, not offered")
    if unusable := _unusable_choice(hello, version, group, offer):
        return Observation(Outcome.REJECTED, unusable + ": none of the offered items was taken")
    if version == TlsVersion.TLSv1_3:
        allowed_groups = offer.groups if hello.is_hello_retry_request else offer.key_share_groups
        if group is None or group not in allowed_groups:
            shown = "none" if group is None else f"0x{group:04X}"
            return inconclusive(f"protocol violation: server key share group {shown} was not offered")
    kind = "HelloRetryRequest" if hello.is_hello_retry_request else "ServerHello"
    evidence = f"{kind}: {label} suite 0x{hello.cipher_suite:04X}" + (f" group 0x{group:04X}" if group is not None
                                                                       else "")
    return Observation(Outcome.ACCEPTED, evidence + (f", {flight.ended}" if flight.ended else ""),
                       version=version, suite=hello.cipher_suite, group=group,
                       hello_retry=hello.is_hello_retry_request, ended=flight.ended)


def _unusable_choice(hello: ServerHello, version: int, group: int | None, offer: ProbeOffer) -> str | None:
    """Why no client could complete this choice (None when one could)."""
    registered = load_universe().suite(hello.cipher_suite)
    if registered is not None and version in TlsVersion._value2member_map_ and \
            not registered.negotiable_at(TlsVersion(version)):
        return (f"server chose {registered.iana} (0x{hello.cipher_suite:04X}) at {version_label(version)}, "
                f"which no client can complete (the suite is not defined for that version)")
    if version < TlsVersion.TLSv1_3 and group is not None and group not in offer.groups:
        return (f"server chose curve 0x{group:04X}, which was not offered, so no client can complete it "
                f"(RFC 8422 5.1)")
    if hello.is_hello_retry_request and hello.key_share_group is None and \
            not hello.has_extension(ExtensionType.cookie):
        return ("HelloRetryRequest that asks for no change, which a client must abort (RFC 8446 4.1.4)")
    return None


def version_label(version: int) -> str:
    try:
        return TlsVersion(version).label
    except ValueError:
        return f"version 0x{version:04X}"


def raw_probe(target: Target, offer: ProbeOffer, timeout: float) -> Observation:
    """Send one ClientHello built from `offer` and classify the first server flight."""
    try:
        hello = build_client_hello(offer.versions, offer.suites, offer.groups, offer.key_share_groups, target.sni)
    except UnicodeEncodeError:
        return inconclusive(f"SNI {target.sni!r} is not ASCII")
    deadline = time.monotonic() + timeout
    sock = open_connection(target, timeout)
    if isinstance(sock, Observation):
        return sock
    with sock:
        try:
            sock.sendall(hello.to_records())
            answer = read_first_flight(sock, deadline)
        except MessageTooLarge as error:
            return inconclusive(_too_large(error))
        except DecodeError as error:
            return inconclusive(f"unparsable answer: {error}")
        except SilentPeer:
            return inconclusive(f"no answer within {timeout:g} s (servers on s2n-tls wait 10-30 s before closing on "
                                "some refusals, 'error blinding'; the scan asks such questions again with a "
                                f"{BLINDING_TIMEOUT:g} s timeout when time allows)", timed_out=True)
        except OSError as error:
            return inconclusive(f"{describe_os_error(error)} waiting for the ServerHello",
                                timed_out=isinstance(error, (socket.timeout, TimeoutError)))
    if answer is None:
        return Observation(Outcome.REJECTED, "connection closed without an alert")
    if isinstance(answer, Alert):
        if not AlertDescription.refuses_offer(answer.description):
            return inconclusive(f"{_alert_text(answer)}, {NOT_A_REFUSAL}")
        return Observation(Outcome.REJECTED, _alert_text(answer), alert=answer.description)
    return _judge_server_hello(answer, offer)


def _too_large(error: MessageTooLarge) -> str:
    if error.msg_type == HandshakeType.certificate:
        return (f"client-side size limit: the server's Certificate message of {error.length} bytes is over the "
                f"{error.limit} bytes a real client accepts (OpenSSL's max_cert_list)")
    return f"unparsable answer: {error} (no TLS message of that type can be so large)"


def curve_answer(observation: Observation) -> Observation:
    """An answer read for the curve it took. Below TLS 1.3 only a ServerKeyExchange names a curve: a
    server that showed its suite and then gave up before naming one took none of the offered curves."""
    if observation.outcome is Outcome.ACCEPTED and observation.ended and observation.group is None:
        return Observation(Outcome.REJECTED, f"none of the offered curves taken: {observation.evidence}")
    return observation


def with_retries(probe: Callable[[], Observation], settings: ProbeSettings, pacer: Pacer) -> Observation:
    """Run `probe`, again up to `settings.retries` times while it is inconclusive."""
    observation = inconclusive("not run")
    for _attempt in range(settings.retries + 1):
        pacer.wait()
        observation = probe()
        if observation.outcome is not Outcome.INCONCLUSIVE:
            break
    return observation
