"""Compile a catalog policy into a pyOpenSSL server context: versions, suites, groups, certificate.

The context enforces exactly the catalog: protocol versions through min/max, TLS 1.2-and-below
suites through the cipher list, TLS 1.3 suites through the ciphersuites list, and groups through
the group list. TLS 1.0/1.1 need security level 0 (SHA-1 signatures), set for that context only.
"""

from __future__ import annotations

import pathlib

import trustme
from OpenSSL import SSL

from pytest_apigw_tls import capabilities
from pytest_apigw_tls.catalog import Policy
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
    if legacy:
        level = 0 if versions[0] < TlsVersion.TLSv1_2 else 1
        context.set_cipher_list(f"{':'.join(legacy)}:@SECLEVEL={level}".encode())
    context.set_tls13_ciphersuites(":".join(s.openssl for s in policy.tls13_suites.value).encode())
    capabilities.set_groups(context, [g.name for g in policy.groups.value])
    context.set_session_cache_mode(SSL.SESS_CACHE_OFF)  # every probe is a full handshake
    return context


class CertificateAuthority:
    """One trustme CA and a leaf per endpoint; the CA PEM is written where clients can find it."""

    def __init__(self, directory: pathlib.Path, ca: trustme.CA | None = None) -> None:
        self.ca = ca or trustme.CA()
        self.directory = directory
        self.ca_file = directory / "apigw-tls-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))

        self._leaves: dict[tuple[str, str], trustme.LeafCert] = {}

    def leaf(self, endpoint: Endpoint) -> trustme.LeafCert:
        """The endpoint's certificate, issued once (RSA key generation is the slow part of start-up)."""
        key = (endpoint.hostname, endpoint.cert_type)
        if key not in self._leaves:
            self._leaves[key] = self.ca.issue_cert(endpoint.hostname, key_type=_KEY_TYPES[endpoint.cert_type])
        return self._leaves[key]


def endpoint_context(endpoint: Endpoint, authority: CertificateAuthority, policy: Policy | None = None) -> SSL.Context:
    """The endpoint's context under its own policy, or under `policy` when given (live changes, mutants)."""
    context = policy_context(policy or endpoint.policy)
    authority.leaf(endpoint).configure_cert(context)
    return context
