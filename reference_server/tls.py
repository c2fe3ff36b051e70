"""Compile a catalog policy into a pyOpenSSL server context: versions, suites, groups, certificate.

The context enforces exactly the catalog: protocol versions through min/max, TLS 1.2-and-below
suites through the cipher list, TLS 1.3 suites through the ciphersuites list, and groups through
the group list. TLS 1.0/1.1 need security level 0 (SHA-1 signatures), set for that context only.
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib.resources
import pathlib
import threading
from typing import Any

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from OpenSSL import SSL

from pytest_apigw_tls.errors import ConfigError
from pytest_apigw_tls.policy.catalog import Policy
from pytest_apigw_tls.policy.codepoints import TlsVersion
from pytest_apigw_tls.policy.items import cert_types
from pytest_apigw_tls.probing import capabilities

from .config import Endpoint


def policy_context(policy: Policy) -> SSL.Context:
    """A server context allowing exactly `policy`'s versions, suites and groups (no certificate yet)."""
    versions = sorted(policy.versions.value)
    if [int(v) for v in versions] != list(range(versions[0], versions[-1] + 1)):
        raise ConfigError(f"policy {policy.id}: OpenSSL can only enforce a contiguous version range")
    context = SSL.Context(SSL.TLS_METHOD)
    context.set_min_proto_version(int(versions[0]))
    context.set_max_proto_version(int(versions[-1]))
    context.set_options(SSL.OP_NO_COMPRESSION | SSL.OP_CIPHER_SERVER_PREFERENCE | SSL.OP_NO_RENEGOTIATION)
    legacy = [s.openssl for s in policy.tls12_suites.value]
    if any(s.kx.startswith("DHE") for s in policy.tls12_suites.value):  # RFC 7919 ffdhe2048 for DHE suites
        context.load_tmp_dh(str(importlib.resources.files("pytest_apigw_tls").joinpath("policy/data/ffdhe2048.pem")).encode())
    if legacy:
        level = 0 if versions[0] < TlsVersion.TLSv1_2 else 1
        context.set_cipher_list(f"{':'.join(legacy)}:@SECLEVEL={level}".encode())
    context.set_tls13_ciphersuites(":".join(s.openssl for s in policy.tls13_suites.value).encode())
    capabilities.set_groups(context, [g.name for g in policy.groups.value])
    context.set_session_cache_mode(SSL.SESS_CACHE_OFF)  # every probe is a full handshake
    context.set_alpn_select_callback(_select_http11)
    return context


def parsing_context(authority: "CertificateAuthority") -> SSL.Context:
    """A context that takes any hello OpenSSL can parse (every version and suite, a certificate), so
    that only a parse error stops it: for hellos our reader cannot name an endpoint from."""
    context = SSL.Context(SSL.TLS_METHOD)
    context.set_min_proto_version(SSL.TLS1_VERSION)
    context.set_cipher_list(b"ALL:@SECLEVEL=0")
    authority.leaf("unreadable-hello.invalid", "rsa").configure_cert(context)
    return context


class NoApplicationProtocol(SSL.Error):
    """The client's ALPN list names no protocol we serve."""


def _select_http11(connection: SSL.Connection, offered: list[bytes]) -> bytes:
    """ALPN: HTTP/1.1 when the client offers it. A list without it is refused with no_application_protocol,
    as RFC 7301 3.2 says a server SHALL (and nginx does): raising here makes pyOpenSSL answer
    SSL_TLSEXT_ERR_ALERT_FATAL, and the handshake fails with that alert. No ALPN at all is fine."""
    if b"http/1.1" in offered:
        return b"http/1.1"
    raise NoApplicationProtocol(f"no application protocol we serve among {offered!r} (RFC 7301 3.2)")


@dataclasses.dataclass(frozen=True)
class Leaf:
    """An endpoint's certificate and key (cryptography objects), and how a context takes them."""

    certificate: x509.Certificate
    key: Any

    @property
    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def configure_cert(self, context: SSL.Context) -> None:
        context.use_certificate(self.certificate)
        context.use_privatekey(self.key)


class CertificateAuthority:
    """Two trustme CAs, RSA and ECDSA, so that each leaf chains to a root of its own key type, as
    real RSA and ECDSA certificates do (a TLS 1.3 client that accepts only RSA signatures must be able
    to verify the whole chain). Both roots go into one PEM file where clients can find it.

    Leaves are issued on first use, and share one key per key type: issuing one is a signature (about a
    millisecond), not an RSA key generation (50-100 ms), so thousands of endpoints serve at once. A
    policy test needs certificates that verify, not endpoints with keys of their own.
    """

    def __init__(self, directory: pathlib.Path, ca: trustme.CA | None = None) -> None:
        given = {} if ca is None else {_key_type_of(ca): ca}
        self.cas = {"rsa": given.get("rsa") or trustme.CA(key_type=trustme.KeyType.RSA),
                    "ecdsa": given.get("ecdsa") or trustme.CA(key_type=trustme.KeyType.ECDSA)}
        self.ca = self.cas["ecdsa"] if ca is None else ca
        self.directory = directory
        self.ca_file = directory / "apigw-tls-ca.pem"
        self.ca_file.write_bytes(b"".join(c.cert_pem.bytes() for c in self.cas.values()))
        self._issuers = {kind: (x509.load_pem_x509_certificate(c.cert_pem.bytes()), _signing_key(c))
                         for kind, c in self.cas.items()}
        self._keys: dict[str, Any] = {}
        self._leaves: dict[tuple[str, str], Leaf] = {}
        self._lock = threading.Lock()

    def _key(self, cert_type: str) -> Any:
        if cert_type not in self._keys:
            self._keys[cert_type] = (rsa.generate_private_key(public_exponent=65537, key_size=2048)
                                     if cert_type == "rsa" else ec.generate_private_key(ec.SECP256R1()))
        return self._keys[cert_type]

    def forget(self, hostname: str) -> None:
        """Drop the certificates issued for `hostname` (its endpoint was removed): churn keeps nothing."""
        with self._lock:
            for key in [key for key in self._leaves if key[0] == hostname]:
                del self._leaves[key]

    def leaf(self, hostname: str, cert_type: str) -> Leaf:
        """The certificate of `hostname` (and "localhost": an endpoint pinned to a listener of its own
        is reached by that name) for one key type, issued once."""
        with self._lock:
            if (hostname, cert_type) not in self._leaves:
                self._leaves[(hostname, cert_type)] = self._issue(hostname, cert_type)
            return self._leaves[(hostname, cert_type)]

    def _issue(self, hostname: str, cert_type: str) -> Leaf:
        issuer, issuer_key = self._issuers[cert_type]
        key = self._key(cert_type)
        now = datetime.datetime.now(datetime.timezone.utc)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "apigw-tls reference server")]))
            .issuer_name(issuer.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname), x509.DNSName("localhost")]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
            .sign(issuer_key, hashes.SHA256()))
        return Leaf(certificate, key)


def _signing_key(ca: trustme.CA) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    """The CA's key; trustme makes RSA or ECDSA ones, which is all a leaf of ours is signed with."""
    key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), password=None)
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise ConfigError(f"a CA key must be RSA or ECDSA, not {type(key).__name__}")
    return key


def _key_type_of(ca: trustme.CA) -> str:
    return "rsa" if isinstance(_signing_key(ca), rsa.RSAPrivateKey) else "ecdsa"


def endpoint_context(endpoint: Endpoint, authority: CertificateAuthority, policy: Policy) -> SSL.Context:
    """The endpoint's context under `policy` (its own, or another for live changes and mutants), with a
    certificate of each of its key types ("rsa,ecdsa": both, OpenSSL picks per handshake)."""
    context = policy_context(policy)
    for cert_type in cert_types(endpoint.cert_type):
        authority.leaf(endpoint.hostname, cert_type).configure_cert(context)
    return context
