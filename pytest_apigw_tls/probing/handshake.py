"""Full-handshake probes with pyOpenSSL: confirm that an acceptance is a finished handshake.

A ServerHello only shows a choice; the handshake shows the server can complete it (certificate,
signature, key exchange). Certificates are not verified: we test what a server negotiates, not
whom it claims to be.
"""

from __future__ import annotations

import re
import select
import socket
import time
from typing import Callable, TypeVar

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from OpenSSL import SSL

from ..errors import CatalogError
from ..policy.catalog import Group, Suite, builtin_catalog
from ..policy.codepoints import AlertDescription, TlsVersion
from . import capabilities
from .probes import (
    NOT_A_REFUSAL,
    Observation,
    Outcome,
    Target,
    describe_os_error,
    inconclusive,
    name_bytes,
    open_connection,
)

# OpenSSL names a received alert "tls alert handshake failure", "tlsv1 alert protocol version", "sslv3 alert ...".
_RECEIVED_ALERT = re.compile(r"^(?:ssl|tls)v?[0-9]*(?:/tls)? alert (?P<name>[a-z ]+)$")
# Alerts OpenSSL reports without the word "alert" (SSL_R_TLSV1_UNRECOGNIZED_NAME and kin).
_RECEIVED_ALERT_PLAIN = {"tlsv1 unrecognized name": "unrecognized_name",
                         "tlsv1 bad certificate status response": "bad_certificate_status_response",
                         "tlsv1 certificate unobtainable": "certificate_unobtainable"}
T = TypeVar("T")


def classify_handshake_error(error: SSL.Error) -> tuple[Outcome, str]:
    """The only reader of OpenSSL error text: a received alert means REJECTED, anything else is not ours to judge."""
    reasons = [str(entry[2]) for entry in (error.args[0] if error.args and isinstance(error.args[0], list) else [])]
    for reason in reasons:
        if match := _RECEIVED_ALERT.match(reason):
            return _received_alert(match["name"].replace(" ", "_").replace("cancelled", "canceled"))
        if reason in _RECEIVED_ALERT_PLAIN:
            return _received_alert(_RECEIVED_ALERT_PLAIN[reason])
    if isinstance(error, SSL.SysCallError):
        code = error.args[0] if error.args else None
        if code == -1:
            return Outcome.REJECTED, "connection closed without an alert"
        return Outcome.INCONCLUSIVE, f"socket error during handshake: {error.args[1] if len(error.args) > 1 else error}"
    if isinstance(error, SSL.ZeroReturnError):
        return Outcome.REJECTED, "connection closed without an alert"
    text = "; ".join(reasons) or repr(error)
    return Outcome.INCONCLUSIVE, f"handshake failed locally: {text}"


def _received_alert(name: str) -> tuple[Outcome, str]:
    code = AlertDescription.__members__.get(name)
    if code is not None and not AlertDescription.refuses_offer(code):
        return Outcome.INCONCLUSIVE, f"fatal alert {name}, {NOT_A_REFUSAL}"
    return Outcome.REJECTED, f"fatal alert {name}"


def _peer_key(connection: SSL.Connection) -> object | None:
    certificate = connection.get_peer_certificate(as_cryptography=True)
    return certificate.public_key() if certificate is not None else None


def _cert_type(key: object | None) -> str | None:
    if key is None:
        return None
    if isinstance(key, rsa.RSAPublicKey):
        return "rsa"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "ecdsa"
    return type(key).__name__


def _cert_curve(key: object | None) -> int | None:
    """The registry code of an ECDSA certificate's curve (TLS 1.2 can only use it when the client's
    supported_groups names it, RFC 8422 5.1); None for other keys or curves the registry lacks."""
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return None
    registered = builtin_catalog().universe.group_named(key.curve.name)
    return registered.code if registered else None


# Signature algorithms by certificate key type: a handshake offering only one family can only be
# completed with a certificate of that type (TLS 1.2 and 1.3; TLS 1.0/1.1 have no such extension).
SIGALGS = {"rsa": "RSA+SHA256:RSA+SHA384:RSA+SHA512:RSA-PSS+SHA256:RSA-PSS+SHA384:RSA-PSS+SHA512:RSA+SHA1",
           "ecdsa": "ECDSA+SHA256:ECDSA+SHA384:ECDSA+SHA512:ECDSA+SHA1"}


def client_context(version: TlsVersion | None, suite: str | None, groups: list[str] | None,
                   cert_type: str | None = None) -> SSL.Context:
    """A client context limited to one version, one suite (OpenSSL name), the given groups, and the
    signature algorithms of one certificate type."""
    context = SSL.Context(SSL.TLS_METHOD)
    context.set_min_proto_version(version or SSL.TLS1_VERSION)
    if version:
        context.set_max_proto_version(version)
    if suite and not suite.startswith("TLS_"):
        context.set_cipher_list(f"{suite}:@SECLEVEL=0".encode())  # SECLEVEL 0 lets TLS 1.0/1.1 and SHA-1 through
    else:
        context.set_cipher_list(b"ALL:COMPLEMENTOFALL:@SECLEVEL=0")
        if suite:
            context.set_tls13_ciphersuites(suite.encode())
    if groups:
        capabilities.set_groups(context, groups)
    if cert_type:
        capabilities.set_sigalgs(context, SIGALGS[cert_type])
    return context


def drive(operation: Callable[[], T], sock: socket.socket, deadline: float) -> T:
    """Run a pyOpenSSL call on a non-blocking socket, waiting (not spinning) until `deadline`."""
    while True:
        try:
            return operation()
        except (SSL.WantReadError, SSL.WantWriteError) as want:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("timed out") from None
            if isinstance(want, SSL.WantReadError):
                ready = select.select([sock], [], [], remaining)[0]
            else:
                ready = select.select([], [sock], [], remaining)[1]
            if not ready:
                raise TimeoutError("timed out") from None


def client_connection(target: Target, context: SSL.Context, sock: socket.socket) -> SSL.Connection:
    """A client TLS connection over `sock` that sends the target's SNI (handshake not yet done)."""
    connection = SSL.Connection(context, sock)
    if target.sni:
        connection.set_tlsext_host_name(name_bytes(target.sni))
    connection.set_connect_state()
    return connection


def handshake_probe(target: Target, timeout: float, version: TlsVersion | None = None, suite: str | None = None,
                    groups: list[str] | None = None, cert_type: str | None = None) -> Observation:
    """Complete a handshake limited to `version`, `suite`, `groups` and the signature algorithms of
    `cert_type`, and report what was negotiated."""
    try:
        context = client_context(version, suite, groups, cert_type)
    except SSL.Error as error:
        return inconclusive(f"the local OpenSSL cannot offer {suite or groups}: {error}")
    deadline = time.monotonic() + timeout
    sock = open_connection(target, timeout)
    if isinstance(sock, Observation):
        return sock
    with sock:
        connection = client_connection(target, context, sock)
        try:
            drive(connection.do_handshake, sock, deadline)
        except (socket.timeout, TimeoutError):
            return inconclusive("timed out during the handshake", timed_out=True)
        except SSL.Error as error:
            outcome, evidence = classify_handshake_error(error)
            return Observation(outcome, evidence)
        except OSError as error:
            return inconclusive(f"{describe_os_error(error)} during the handshake")
        negotiated = TlsVersion(connection.get_protocol_version())
        suite_name = connection.get_cipher_name()
        group = _group_name(connection)
        key = _peer_key(connection)
        return Observation(
            Outcome.ACCEPTED, f"handshake: {negotiated.label} {suite_name}" + (f" {group}" if group else ""),
            version=int(negotiated), suite=_code(builtin_catalog().suite, suite_name),
            group=_code(builtin_catalog().group, group), cert_type=_cert_type(key),
            cert_curve=_cert_curve(key))


def _code(lookup: Callable[[str], Suite | Group], name: str | None) -> int | None:
    if not name:
        return None
    try:
        return lookup(name).code
    except CatalogError:
        return None


def _group_name(connection: SSL.Connection) -> str | None:
    getter = getattr(connection, "get_group_name", None)  # pyOpenSSL >= 24.3
    return getter() if getter else None
