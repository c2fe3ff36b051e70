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

from . import datacache
from .codepoints import TlsVersion
from .items import Group, Suite

DATA = pathlib.Path(__file__).with_name("data")  # the packaged data files (a plain directory: never zipped)
SOURCE = "IANA TLS parameters registries (tls-parameters-4, tls-parameters-8), transcribed 2026-11-26"

# Suites that are TLS 1.3 only although their value is outside 0x13xx.
_TLS13_ONLY = {0x00C6, 0x00C7, 0xC0B4, 0xC0B5, 0xC103, 0xC104, 0xC105, 0xC106}
# RFC 8492: ECCPWD suites are defined for both TLS 1.2 and TLS 1.3.
_TLS12_AND_13 = {0xC0B0, 0xC0B1, 0xC0B2, 0xC0B3}


def derive_suite(code: int, iana: str) -> Suite:
    """Key exchange, authentication, mode and version range of a registered suite, from its name; it is
    named by its IANA name both ways (OpenSSL names come from the catalog)."""
    mode = "NULL" if "_WITH_NULL_" in iana or iana.endswith("_NULL_SHA256") or "_NULL_SHA" in iana else \
        "stream" if "_RC4_" in iana else \
        "AEAD" if any(m in iana for m in ("GCM", "CCM", "CHACHA20", "AEGIS")) else "CBC"
    if code >> 8 == 0x13 or code in _TLS13_ONLY:
        return Suite(iana, iana, code, "any", "any", mode, TlsVersion.TLSv1_3, TlsVersion.TLSv1_3)
    exchange = iana.removeprefix("TLS_").split("_WITH_")[0]
    parts = exchange.split("_")
    # key exchange and authentication apart (ECDHE + RSA), as the catalog has them
    kx = parts[0] + ("_EXPORT" if "EXPORT" in parts else "")
    if parts[0] == "ECDH" and "anon" not in parts:
        auth = "ECDH"  # static ECDH needs an ECDH-capable certificate, neither plain RSA nor ECDSA
    else:
        auth = next((a for a in ("ECDSA", "RSA", "DSS", "anon", "PSK") if a in parts), parts[0])
    modern = any(part in iana for part in ("_GCM", "_CCM", "CHACHA20", "_SHA256", "_SHA384", "GOSTR"))
    if code in _TLS12_AND_13:
        return Suite(iana, iana, code, kx, auth, mode, TlsVersion.TLSv1_2, TlsVersion.TLSv1_3)
    if modern:
        low = TlsVersion.TLSv1_2
    elif exchange.startswith("ECDH"):
        low = TlsVersion.TLSv1_0
    else:
        low = TlsVersion.SSLv3
    if "EXPORT" in iana:
        high = TlsVersion.TLSv1_0
    elif "_DES_CBC_" in iana or "IDEA" in iana:
        high = TlsVersion.TLSv1_1
    else:
        high = TlsVersion.TLSv1_2
    return Suite(iana, iana, code, kx, auth, mode, low, high)


def derive_group(code: int, name: str) -> Group:
    """A registered group with the first version it can be negotiated at: curves from TLS 1.0 (the
    *tls13 brainpool variants excepted), everything else from TLS 1.3."""
    kind = group_kind(code)
    low = TlsVersion.TLSv1_3 if kind != "ecdhe" or name.endswith("tls13") else TlsVersion.TLSv1_0
    return Group(name, code, kind, low)


def group_kind(code: int) -> str:
    if code <= 0x0029:
        return "ecdhe"
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

    suites: tuple[Suite, ...]
    groups: tuple[Group, ...]
    source: str = SOURCE

    def suite(self, code: int) -> Suite | None:
        return self._suites_by_code.get(code)

    def group(self, code: int) -> Group | None:
        return self._groups_by_code.get(code)

    def suite_named(self, iana: str) -> Suite | None:
        """A suite by its registry (IANA) name."""
        return next((s for s in self.suites if s.iana == iana), None)

    def group_named(self, name: str) -> Group | None:
        """A group by its registry name, in any case ("secp256r1", "brainpoolP256r1")."""
        return next((g for g in self.groups if g.name.lower() == name.lower()), None)

    @functools.cached_property
    def _suites_by_code(self) -> dict[int, Suite]:
        return {s.code: s for s in self.suites}

    @functools.cached_property
    def _groups_by_code(self) -> dict[int, Group]:
        return {g.code: g for g in self.groups}

    def suites_offered_at(self, version: TlsVersion) -> tuple[Suite, ...]:
        """What a ClientHello for `version` can carry: TLS 1.3 suites at TLS 1.3, the others below."""
        if version is TlsVersion.TLSv1_3:
            return tuple(s for s in self.suites if s.offered_with_tls13)
        return tuple(s for s in self.suites if s.offered_below_tls13)

    def groups_offered_at(self, version: TlsVersion) -> tuple[Group, ...]:
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
    groups = tuple(derive_group(code, name)
                   for code, name in datacache.parsed(DATA / "iana_supported_groups.csv", _rows))
    return Universe(suites, groups)
