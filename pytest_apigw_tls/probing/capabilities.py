"""What the linked OpenSSL (the one bundled in cryptography's wheel) can do, checked at start-up.

pyOpenSSL has no public call to set key-exchange groups nor to read the negotiated group on every
version; we use its cffi binding of ``SSL_CTX_set1_curves_list`` (the classic name of
``SSL_CTX_set1_groups_list``). Each such private entry point is feature-detected here, so a missing
one is a clear CapabilityError naming the fix instead of an AttributeError deep in a handshake.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

from ..errors import CapabilityError

PQ_GROUPS = ("X25519MLKEM768", "SecP256r1MLKEM768", "SecP384r1MLKEM1024")
UPGRADE_HINT = "install cryptography>=46 and pyOpenSSL>=25 (their wheels bundle OpenSSL 3.5+)"


class Capabilities(NamedTuple):
    """Attributes:
    openssl_version: the OpenSSL that pyOpenSSL and cryptography are linked with.
    can_set_groups: the group-list binding exists.
    groups: the subset of the groups we use that this OpenSSL accepts in a group list.
    has_mlkem: cryptography can make ML-KEM key shares for raw ClientHellos.
    """

    openssl_version: str
    can_set_groups: bool
    groups: frozenset[str]
    has_mlkem: bool

    @property
    def missing(self) -> list[str]:
        problems = []
        if not self.can_set_groups:
            problems.append("pyOpenSSL exposes no SSL_CTX_set1_curves_list binding")
        lacking = [g for g in PQ_GROUPS if g not in self.groups]
        if lacking:
            problems.append(f"OpenSSL {self.openssl_version} lacks the post-quantum groups {', '.join(lacking)}")
        if not self.has_mlkem:
            problems.append("cryptography has no ML-KEM (cryptography.hazmat.primitives.asymmetric.mlkem)")
        return problems


@functools.cache
def detect() -> Capabilities:
    from OpenSSL import (
        SSL,
        _util,  # private on purpose: pyOpenSSL has no public group API
    )

    lib = _util.lib
    version = SSL.SSLeay_version(SSL.SSLEAY_VERSION).decode()
    can_set = hasattr(lib, "SSL_CTX_set1_curves_list")
    groups = set()
    if can_set:
        from ..policy.catalog import builtin_catalog

        context = SSL.Context(SSL.TLS_METHOD)  # each call replaces the list: one context answers for every group
        for group in builtin_catalog().groups:
            if lib.SSL_CTX_set1_curves_list(context._context, group.name.encode()) == 1:
                groups.add(group.name)
    try:
        from cryptography.hazmat.primitives.asymmetric import mlkem  # noqa: F401

        has_mlkem = True
    except ImportError:
        has_mlkem = False
    return Capabilities(version, can_set, frozenset(groups), has_mlkem)


@functools.cache
def can_offer(suite: str) -> bool:
    """Whether this OpenSSL can offer `suite` (an OpenSSL name) in a full handshake; a registry suite a
    policy file names may not be, and is then asked by our own ClientHello alone."""
    from OpenSSL import SSL

    context = SSL.Context(SSL.TLS_METHOD)
    try:
        if suite.startswith("TLS_") and "_WITH_" not in suite:
            context.set_tls13_ciphersuites(suite.encode())
        else:  # an unknown name raises nothing while the TLS 1.3 suites remain: read the list back
            context.set_cipher_list(f"{suite}:@SECLEVEL=0".encode())
    except SSL.Error:
        return False
    return suite in SSL.Connection(context, None).get_cipher_list()


def require_full() -> Capabilities:
    """Raise CapabilityError naming every missing piece, or return the capabilities."""
    caps = detect()
    if caps.missing:
        raise CapabilityError("; ".join(caps.missing) + f": {UPGRADE_HINT}")
    return caps


def set_groups(context: object, names: list[str]) -> None:
    """Restrict a pyOpenSSL Context to `names` (OpenSSL group names), in preference order."""
    from OpenSSL import _util

    if not detect().can_set_groups:
        raise CapabilityError(f"cannot set key-exchange groups: {UPGRADE_HINT}")
    if _util.lib.SSL_CTX_set1_curves_list(context._context, ":".join(names).encode()) != 1:  # type: ignore[attr-defined]
        raise CapabilityError(f"OpenSSL {detect().openssl_version} refused the group list {':'.join(names)}")


def set_sigalgs(context: object, sigalgs: str) -> None:
    """Limit the signature algorithms a pyOpenSSL Context offers ("ECDSA+SHA256:RSA-PSS+SHA256" syntax)."""
    from OpenSSL import _util

    setter = getattr(_util.lib, "SSL_CTX_set1_sigalgs_list", None)
    if setter is None:
        raise CapabilityError(f"pyOpenSSL exposes no SSL_CTX_set1_sigalgs_list binding: {UPGRADE_HINT}")
    if setter(context._context, sigalgs.encode()) != 1:  # type: ignore[attr-defined]
        raise CapabilityError(f"OpenSSL {detect().openssl_version} refused the signature algorithms {sigalgs}")
