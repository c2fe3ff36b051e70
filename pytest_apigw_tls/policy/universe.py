"""The universe: every value of IANA's TLS Cipher Suites and Supported Groups registries.

The catalog says what a policy allows; the universe says what exists. Everything in the universe
that a policy does not allow must be refused, so the refused-direction probes offer all of it,
code points the local OpenSSL does not implement included (a raw ClientHello can carry any value).

The registries give a name and a value; what a suite needs (key exchange, certificate, the
versions at which it can be negotiated) follows from its name and RFC, derived here:
- TLS 1.3 suites (RFC 8446 B.4, RFC 8998, RFC 9150, RFC 9367) carry no key exchange in their name;
- AEAD and SHA-256/384 MAC suites exist from TLS 1.2 on (RFC 5246, 5288, 5289, 6655, 7905);
- EXPORT suites end at TLS 1.0 (RFC 4346 A.5), single DES and IDEA at TLS 1.1 (RFC 5469);
- elliptic-curve suites start at TLS 1.0 (RFC 8422), the others at SSL 3.0.
"""

from __future__ import annotations

import dataclasses
import functools
import pathlib
from typing import NamedTuple

from . import datacache
from .codepoints import TlsVersion

DATA = pathlib.Path(__file__).with_name("data")  # the packaged data files (a plain directory: never zipped)
SOURCE = "IANA TLS parameters registries (tls-parameters-4, tls-parameters-8), transcribed 2026-11-26"

# Suites that are TLS 1.3 only although their value is outside 0x13xx.
_TLS13_ONLY = {0x00C6, 0x00C7, 0xC0B4, 0xC0B5, 0xC103, 0xC104, 0xC105, 0xC106}
# RFC 8492: ECCPWD suites are defined for both TLS 1.2 and TLS 1.3.
_TLS12_AND_13 = {0xC0B0, 0xC0B1, 0xC0B2, 0xC0B3}


class RegisteredSuite(NamedTuple):
    """One registry entry with what follows from its name."""

    code: int
    iana: str
    kx: str
    auth: str
    min_version: TlsVersion
    max_version: TlsVersion

    def negotiable_at(self, version: TlsVersion) -> bool:
        return self.min_version <= version <= self.max_version

    @property
    def offered_with_tls13(self) -> bool:
        """Offered in a TLS 1.3 ClientHello (else in a TLS 1.2-and-below one)."""
        return self.max_version >= TlsVersion.TLSv1_3

    @property
    def offered_below_tls13(self) -> bool:
        return self.min_version <= TlsVersion.TLSv1_2


class RegisteredGroup(NamedTuple):
    """One Supported Groups registry entry; `kind` is ec, ffdhe, mlkem, hybrid or explicit."""

    code: int
    name: str
    kind: str

    @property
    def usable_below_tls13(self) -> bool:
        """Negotiable through an ECDHE suite before TLS 1.3 (RFC 8422 5.1.1)."""
        return self.kind == "ec" and not self.name.endswith("tls13")

    @property
    def usable_at_tls13(self) -> bool:
        """RFC 8446 4.2.7: the obsolete curves (0x0001-0x0016, 0x001A-0x001C) and the explicit ones
        (0xFF01, 0xFF02) MUST NOT be offered in TLS 1.3; a strict server refuses a hello naming them."""
        return not (0x0001 <= self.code <= 0x0016 or 0x001A <= self.code <= 0x001C or self.kind == "explicit")


def derive_suite(code: int, iana: str) -> RegisteredSuite:
    """Key exchange, authentication and version range of a registered suite, from its name."""
    if code >> 8 == 0x13 or code in _TLS13_ONLY:
        return RegisteredSuite(code, iana, "any", "any", TlsVersion.TLSv1_3, TlsVersion.TLSv1_3)
    kx = iana.removeprefix("TLS_").split("_WITH_")[0]
    parts = kx.split("_")
    if parts[0] == "ECDH":
        auth = "ECDH"  # static ECDH needs an ECDH-capable certificate, neither plain RSA nor ECDSA
    else:
        auth = next((a for a in ("ECDSA", "RSA", "DSS", "anon", "PSK") if a in parts), parts[0])
    modern = any(part in iana for part in ("_GCM", "_CCM", "CHACHA20", "_SHA256", "_SHA384", "GOSTR"))
    if code in _TLS12_AND_13:
        return RegisteredSuite(code, iana, kx, auth, TlsVersion.TLSv1_2, TlsVersion.TLSv1_3)
    if modern:
        low = TlsVersion.TLSv1_2
    elif kx.startswith("ECDH"):
        low = TlsVersion.TLSv1_0
    else:
        low = TlsVersion.SSLv3
    if "EXPORT" in iana:
        high = TlsVersion.TLSv1_0
    elif "_DES_CBC_" in iana or "IDEA" in iana:
        high = TlsVersion.TLSv1_1
    else:
        high = TlsVersion.TLSv1_2
    return RegisteredSuite(code, iana, kx, auth, low, high)


def group_kind(code: int) -> str:
    if code <= 0x0029:
        return "ec"
    if 0x0100 <= code <= 0x01FF:
        return "ffdhe"
    if 0x0200 <= code <= 0x02FF:
        return "mlkem"
    if code >= 0xFF00:
        return "explicit"
    return "hybrid"


@dataclasses.dataclass(frozen=True)
class Universe:
    """Every registered suite and group: what a policy does not name must be refused."""

    suites: tuple[RegisteredSuite, ...]
    groups: tuple[RegisteredGroup, ...]
    source: str = SOURCE

    def suite(self, code: int) -> RegisteredSuite | None:
        return self._suites_by_code.get(code)

    def group(self, code: int) -> RegisteredGroup | None:
        return self._groups_by_code.get(code)

    def suite_named(self, iana: str) -> RegisteredSuite | None:
        """A suite by its registry (IANA) name."""
        return next((s for s in self.suites if s.iana == iana), None)

    def group_named(self, name: str) -> RegisteredGroup | None:
        """A group by its registry name, in any case ("secp256r1", "brainpoolP256r1")."""
        return next((g for g in self.groups if g.name.lower() == name.lower()), None)

    @functools.cached_property
    def _suites_by_code(self) -> dict[int, RegisteredSuite]:
        return {s.code: s for s in self.suites}

    @functools.cached_property
    def _groups_by_code(self) -> dict[int, RegisteredGroup]:
        return {g.code: g for g in self.groups}

    def suites_offered_at(self, version: TlsVersion) -> tuple[RegisteredSuite, ...]:
        """What a ClientHello for `version` can carry: TLS 1.3 suites at TLS 1.3, the others below."""
        if version is TlsVersion.TLSv1_3:
            return tuple(s for s in self.suites if s.offered_with_tls13)
        return tuple(s for s in self.suites if s.offered_below_tls13)

    def groups_offered_at(self, version: TlsVersion) -> tuple[RegisteredGroup, ...]:
        """The groups TLS 1.3 allows (asked through HelloRetryRequest); the curves below it."""
        if version is TlsVersion.TLSv1_3:
            return tuple(g for g in self.groups if g.usable_at_tls13)
        return tuple(g for g in self.groups if g.usable_below_tls13)

    def describe_suite(self, code: int) -> str:
        known = self.suite(code)
        return known.iana if known else f"0x{code:04X}"

    def describe_group(self, code: int) -> str:
        known = self.group(code)
        return known.name if known else f"0x{code:04X}"


def _rows(text: str) -> list[tuple[int, str]]:
    import csv  # only when the parse cache misses (datacache.py)
    import io

    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    return [(int(row["value"], 16), row["description"].strip()) for row in csv.DictReader(io.StringIO(body))]


@functools.cache
def load_universe() -> Universe:
    """The packaged registries, parsed once per process."""
    suites = tuple(derive_suite(code, name) for code, name in datacache.parsed(DATA / "iana_cipher_suites.csv", _rows))
    groups = tuple(RegisteredGroup(code, name, group_kind(code))
                   for code, name in datacache.parsed(DATA / "iana_supported_groups.csv", _rows))
    return Universe(suites, groups)
