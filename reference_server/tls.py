"""Compile a catalog policy into a pyOpenSSL server context: versions, suites, groups, certificate.

The context enforces exactly the catalog: protocol versions through min/max, TLS 1.2-and-below
suites through the cipher list, TLS 1.3 suites through the ciphersuites list, and groups through
the group list. TLS 1.0/1.1 need security level 0 (SHA-1 signatures), set for that context only.
"""

from __future__ import annotations

import importlib.resources
import pathlib
import threading

import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from OpenSSL import SSL

from pytest_apigw_tls import capabilities
from pytest_apigw_tls.catalog import Policy, cert_types
from pytest_apigw_tls.codepoints import TlsVersion
from pytest_apigw_tls.errors import ConfigError

from .config import Endpoint

_KEY_TYPES = {"rsa": trustme.KeyType.RSA, "ecdsa": trustme.KeyType.ECDSA}


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
        context.load_tmp_dh(str(importlib.resources.files("pytest_apigw_tls").joinpath("data/ffdhe2048.pem")).encode())
    if legacy:
        level = 0 if versions[0] < TlsVersion.TLSv1_2 else 1
        context.set_cipher_list(f"{':'.join(legacy)}:@SECLEVEL={level}".encode())
    context.set_tls13_ciphersuites(":".join(s.openssl for s in policy.tls13_suites.value).encode())
    capabilities.set_groups(context, [g.name for g in policy.groups.value])
    context.set_session_cache_mode(SSL.SESS_CACHE_OFF)  # every probe is a full handshake
    context.set_alpn_select_callback(_select_http11)
    return context


def _select_http11(connection: SSL.Connection, offered: list[bytes]) -> bytes:
    """ALPN: HTTP/1.1 when the client offers it (RFC 7301), else no protocol rather than a refusal."""
    return b"http/1.1" if b"http/1.1" in offered else SSL.NO_OVERLAPPING_PROTOCOLS


class CertificateAuthority:
    """Two trustme CAs, RSA and ECDSA, so that each leaf chains to a root of its own key type, as
    real RSA and ECDSA certificates do (a TLS 1.3 client that accepts only RSA signatures must be able
    to verify the whole chain). Both roots go into one PEM file where clients can find it. Leaves are
    issued on first use: a server with thousands of endpoints starts at once.
    """

    def __init__(self, directory: pathlib.Path, ca: trustme.CA | None = None) -> None:
        given = {} if ca is None else {_key_type_of(ca): ca}
        self.cas = {"rsa": given.get("rsa") or trustme.CA(key_type=trustme.KeyType.RSA),
                    "ecdsa": given.get("ecdsa") or trustme.CA(key_type=trustme.KeyType.ECDSA)}
        self.ca = self.cas["ecdsa"] if ca is None else ca
        self.directory = directory
        self.ca_file = directory / "apigw-tls-ca.pem"
        self.ca_file.write_bytes(b"".join(c.cert_pem.bytes() for c in self.cas.values()))
        self._leaves: dict[tuple[str, str], trustme.LeafCert] = {}
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._lock = threading.Lock()

    def leaf(self, hostname: str, cert_type: str) -> trustme.LeafCert:
        """The certificate of `hostname` for one key type, issued once (RSA key generation is slow; one
        lock per certificate, so endpoints do not wait for each other's keys)."""
        key = (hostname, cert_type)
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._leaves:
                # "localhost" too: an endpoint pinned to a listener of its own is reached by that name
                self._leaves[key] = self.cas[cert_type].issue_cert(hostname, "localhost",
                                                                   key_type=_KEY_TYPES[cert_type])
            return self._leaves[key]


def _key_type_of(ca: trustme.CA) -> str:
    key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), password=None)
    return "rsa" if isinstance(key, rsa.RSAPrivateKey) else "ecdsa"


def endpoint_context(endpoint: Endpoint, authority: CertificateAuthority, policy: Policy | None = None) -> SSL.Context:
    """The endpoint's context under its own policy, or under `policy` when given (live changes, mutants),
    with a certificate of each of its key types ("rsa,ecdsa": both, OpenSSL picks per handshake)."""
    context = policy_context(policy or endpoint.policy)
    for cert_type in cert_types(endpoint.cert_type):
        authority.leaf(endpoint.hostname, cert_type).configure_cert(context)
    return context
