"""Real key shares for a ClientHello, made with cryptography (RFC 8446 4.2.8.2; hybrids per
draft-ietf-tls-ecdhe-mlkem: X25519MLKEM768 puts ML-KEM first, the SecP*MLKEM* groups put ECDH first).

Only the public halves are sent: a probe stops after the server's first flight, so no secret is
ever derived. A target still validates what it receives, hence real keys rather than random bytes.
"""

from __future__ import annotations

from typing import Any, Callable

from cryptography.hazmat.primitives.asymmetric import ec, x448, x25519


class UnsupportedKeyShare(LookupError):
    """We cannot make a key share for this group (offer it with an empty key_share instead)."""


def _ecdh(curve: ec.EllipticCurve) -> Callable[[], bytes]:
    def make() -> bytes:
        # imported here: serialization (with its SSH codecs) costs 4 ms, and most probes share X25519 only
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        return ec.generate_private_key(curve).public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return make


def _generator(curve: str, public: Callable[[], Any]) -> Callable[[], Any]:
    """cryptography's public X25519/X448PrivateKey.generate first imports its whole OpenSSL backend
    (ciphers and all, 27 ms of a 0.2 s scan) only to ask whether the curve is supported; the Rust
    binding it then calls makes the same key. That binding is private, so it is used only where it
    exists, and the public call otherwise."""
    try:
        from cryptography.hazmat.bindings._rust import openssl as rust_openssl

        return getattr(rust_openssl, curve).generate_key
    except (ImportError, AttributeError):
        return public


_generate_x25519 = _generator("x25519", x25519.X25519PrivateKey.generate)
_generate_x448 = _generator("x448", x448.X448PrivateKey.generate)


def _x25519() -> bytes:
    return _generate_x25519().public_key().public_bytes_raw()


def _x448() -> bytes:
    return _generate_x448().public_key().public_bytes_raw()


def _mlkem(size: int) -> Callable[[], bytes]:
    def make() -> bytes:
        try:
            from cryptography.hazmat.primitives.asymmetric import mlkem
        except ImportError:
            raise UnsupportedKeyShare("this cryptography has no ML-KEM; install cryptography>=46") from None
        key_class = mlkem.MLKEM768PrivateKey if size == 768 else mlkem.MLKEM1024PrivateKey
        return key_class.generate().public_key().public_bytes_raw()
    return make


_MAKERS: dict[int, Callable[[], bytes]] = {
    0x001D: _x25519,
    0x001E: _x448,
    0x0017: _ecdh(ec.SECP256R1()),
    0x0018: _ecdh(ec.SECP384R1()),
    0x0019: _ecdh(ec.SECP521R1()),
    0x0201: _mlkem(768),
    0x11EC: lambda: _mlkem(768)() + _x25519(),
    0x11EB: lambda: _ecdh(ec.SECP256R1())() + _mlkem(768)(),
    0x11ED: lambda: _ecdh(ec.SECP384R1())() + _mlkem(1024)(),
}


def make_key_share(group: int) -> bytes:
    """A fresh public key share for `group` (a code point)."""
    try:
        maker = _MAKERS[group]
    except KeyError:
        raise UnsupportedKeyShare(f"no key share maker for group 0x{group:04X}") from None
    return maker()


