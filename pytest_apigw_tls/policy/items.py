"""A cipher suite and a named group, modelled once: the IANA registry (universe.py), the catalog and
users' policy files all hold these, so a suite or group means the same whichever of them named it."""

from __future__ import annotations

import dataclasses
from typing import Any

from .codepoints import TlsVersion


def cert_types(cert_type: str) -> tuple[str, ...]:
    """"rsa", "ecdsa" or "rsa,ecdsa" (a server holding both) -> the certificate types."""
    return tuple(part.strip().lower() for part in cert_type.split(",") if part.strip())


@dataclasses.dataclass(frozen=True, eq=False)
class Suite:
    """A cipher suite, named both ways, with what it needs to be negotiated. Two are equal when their
    code points are (the registry's identity; comparing every field cost a scan's planning 4 ms)."""

    openssl: str
    iana: str
    code: int
    kx: str
    auth: str
    mode: str
    min_version: TlsVersion
    max_version: TlsVersion

    @property
    def is_tls13(self) -> bool:
        return self.min_version is TlsVersion.TLSv1_3

    def negotiable_at(self, version: TlsVersion) -> bool:
        return self.min_version <= version <= self.max_version

    @property
    def offered_with_tls13(self) -> bool:
        """Offered in a TLS 1.3 ClientHello (else in a TLS 1.2-and-below one)."""
        return self.max_version >= TlsVersion.TLSv1_3

    @property
    def offered_below_tls13(self) -> bool:
        return self.min_version <= TlsVersion.TLSv1_2

    def works_with_cert(self, cert_type: str) -> bool:
        """Whether a server holding certificates of `cert_type` ("rsa,ecdsa" for both) could choose this suite."""
        return self.auth == "any" or self.auth.lower() in cert_types(cert_type)

    def __eq__(self, other: object) -> bool:
        return other.code == self.code if isinstance(other, Suite) else NotImplemented

    def __hash__(self) -> int:
        return hash(self.code)

    def to_dict(self) -> dict[str, Any]:
        return {"openssl": self.openssl, "iana": self.iana, "code": f"0x{self.code:04X}", "kx": self.kx,
                "auth": self.auth, "mode": self.mode, "min_version": self.min_version.label,
                "max_version": self.max_version.label}


@dataclasses.dataclass(frozen=True, eq=False)
class Group:
    """A named group (RFC 8446 section 4.2.7), classic or post-quantum hybrid; equal by code point, as suites."""

    name: str
    code: int
    kind: str
    min_version: TlsVersion

    @property
    def is_post_quantum(self) -> bool:
        return self.kind in ("hybrid", "mlkem")

    @property
    def usable_below_tls13(self) -> bool:
        """Negotiable through an ECDHE suite before TLS 1.3 (RFC 8422 5.1.1)."""
        return self.kind == "ecdhe" and not self.name.endswith("tls13")

    @property
    def usable_at_tls13(self) -> bool:
        """RFC 8446 4.2.7: the obsolete curves (0x0001-0x0016, 0x001A-0x001C) and the explicit ones
        (0xFF01, 0xFF02) MUST NOT be offered in TLS 1.3; a strict server refuses a hello naming them."""
        return not (0x0001 <= self.code <= 0x0016 or 0x001A <= self.code <= 0x001C or self.kind == "explicit")

    def __eq__(self, other: object) -> bool:
        return other.code == self.code if isinstance(other, Group) else NotImplemented

    def __hash__(self) -> int:
        return hash(self.code)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "code": f"0x{self.code:04X}", "kind": self.kind,
                "min_version": self.min_version.label}
