"""Builds the ClientHello of an offer: exactly the versions, suites, groups and key shares chosen."""

from __future__ import annotations

import os

from .codec import uint, uints, vector
from .keyshares import make_key_share
from .messages import ClientHello, Extension, ExtensionType, KeyShareEntry

# RFC 8446 4.2.3, broad on purpose: a probe asks about suites and groups, not about signatures.
SIGNATURE_ALGORITHMS = (
    0x0403, 0x0503, 0x0603,  # ecdsa_secp{256,384,521}r1_sha{256,384,512}
    0x0807, 0x0808,  # ed25519, ed448
    0x0804, 0x0805, 0x0806,  # rsa_pss_rsae_sha{256,384,512}
    0x0809, 0x080A, 0x080B,  # rsa_pss_pss_sha{256,384,512}
    0x0401, 0x0501, 0x0601,  # rsa_pkcs1_sha{256,384,512}
    0x0201, 0x0203,  # rsa_pkcs1_sha1, ecdsa_sha1 (TLS 1.0-1.2 servers with old certificates)
)
TLS13 = 0x0304


def server_name_extension(host: str) -> Extension:
    entry = uint(0, 1) + vector(host.encode("ascii"), 2)  # name_type host_name (RFC 6066 3)
    return Extension(ExtensionType.server_name, vector(entry, 2))


def key_share_extension(groups: tuple[int, ...]) -> Extension:
    entries = b"".join(KeyShareEntry(group, make_key_share(group)).to_bytes() for group in groups)
    return Extension(ExtensionType.key_share, vector(entries, 2))


def build_client_hello(versions: tuple[int, ...], suites: tuple[int, ...], groups: tuple[int, ...],
                       key_share_groups: tuple[int, ...] = (), sni: str | None = None) -> ClientHello:
    """A ClientHello offering exactly `versions` (through supported_versions), `suites` and `groups`.

    `key_share_groups` get real key shares; an empty tuple with TLS 1.3 offered sends an empty
    key_share, which a TLS 1.3 server answers with a HelloRetryRequest naming its group.
    """
    legacy_version = min(max(versions), 0x0303)
    extensions = []
    if sni:
        extensions.append(server_name_extension(sni))
    if groups:
        extensions.append(Extension(ExtensionType.supported_groups, uints(groups, 2, 2)))
        extensions.append(Extension(ExtensionType.ec_point_formats, vector(b"\x00", 1)))  # uncompressed
    extensions.append(Extension(ExtensionType.signature_algorithms, uints(SIGNATURE_ALGORITHMS, 2, 2)))
    extensions.append(Extension(ExtensionType.extended_master_secret, b""))
    extensions.append(Extension(ExtensionType.renegotiation_info, vector(b"", 1)))
    extensions.append(Extension(ExtensionType.supported_versions, uints(sorted(versions, reverse=True), 1, 2)))
    if TLS13 in versions:
        extensions.append(Extension(ExtensionType.psk_key_exchange_modes, vector(b"\x01", 1)))  # psk_dhe_ke
        extensions.append(key_share_extension(key_share_groups))
    # A 32-byte legacy session id makes middleboxes treat the TLS 1.3 hello as a resumption (RFC 8446 D.4).
    return ClientHello(legacy_version, os.urandom(32), os.urandom(32), tuple(suites), tuple(extensions))
