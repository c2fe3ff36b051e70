"""TLS servers on stacks with no OpenSSL inside: tlslite-ng (pure Python) and Mbed TLS 2.28 (through
python-mbedtls), each accepting on 127.0.0.1 in threads and completing handshakes only."""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any, Callable, Iterator

import trustme

HOSTNAME = "api.example.test"


@contextlib.contextmanager
def serving(handshake: Callable[[socket.socket], None]) -> Iterator[tuple[str, int]]:
    """Accept connections and run `handshake` on each in a thread; yield the address."""
    listener = socket.create_server(("127.0.0.1", 0))

    def one(sock: socket.socket) -> None:
        with sock:
            sock.settimeout(10)
            try:
                handshake(sock)
            except Exception:  # noqa: BLE001 - a refused or broken handshake is the peer's business
                pass

    def accept() -> None:
        while True:
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=one, args=(sock,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield listener.getsockname()[:2]
    finally:
        listener.close()


def _leaf(key_type: trustme.KeyType) -> trustme.LeafCert:
    return trustme.CA(key_type=key_type).issue_cert(HOSTNAME, key_type=key_type)


def tlslite_handshake(settings: Any, key_type: trustme.KeyType) -> Callable[[socket.socket], None]:
    """A tlslite-ng server handshake with `settings` (tlslite.HandshakeSettings)."""
    from tlslite import TLSConnection, X509CertChain, parsePEMKey

    leaf = _leaf(key_type)
    chain = X509CertChain()
    chain.parsePemList(leaf.cert_chain_pems[0].bytes().decode())
    key = parsePEMKey(leaf.private_key_pem.bytes().decode(), private=True)

    def handshake(sock: socket.socket) -> None:
        connection = TLSConnection(sock)
        connection.handshakeServer(certChain=chain, privateKey=key, settings=settings)
        connection.close()
    return handshake


def mbedtls_handshake(ciphers: list[str], key_type: trustme.KeyType) -> Callable[[socket.socket], None]:
    """An Mbed TLS server handshake, TLS 1.2 only (2.28 has no TLS 1.3 server), with `ciphers` (IANA
    names with dashes, as Mbed TLS spells them) and its default curves."""
    from mbedtls import pk, tls, x509

    leaf = _leaf(key_type)
    certificate = x509.CRT.from_PEM(leaf.cert_chain_pems[0].bytes().decode())
    key_pem = leaf.private_key_pem.bytes().decode()
    key = pk.RSA.from_PEM(key_pem) if key_type == trustme.KeyType.RSA else pk.ECC.from_PEM(key_pem)
    context = tls.ServerContext(tls.TLSConfiguration(
        certificate_chain=([certificate], key), ciphers=ciphers, validate_certificates=False,
        lowest_supported_version=tls.TLSVersion.TLSv1_2, highest_supported_version=tls.TLSVersion.TLSv1_2))

    def handshake(sock: socket.socket) -> None:
        connection = context.wrap_socket(sock)
        connection.do_handshake()
        connection.close()
    return handshake
