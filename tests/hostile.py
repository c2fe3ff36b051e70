"""Throwaway TCP servers that misbehave on purpose, for the probe engine's honesty tests."""

from __future__ import annotations

import socket
import struct
import threading
from typing import Callable

from pytest_apigw_tls.probing.wire import ClientHello, HandshakeBuffer, Record, RecordBuffer, ServerHello
from pytest_apigw_tls.probing.wire.messages import HRR_RANDOM, Extension


class HostileServer:
    """Accepts connections on 127.0.0.1 and hands each socket to `behaviour` in its own thread."""

    def __init__(self, behaviour: Callable[[socket.socket], None]) -> None:
        self.behaviour = behaviour
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> "HostileServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() in the other thread
        except OSError:
            pass
        self.listener.close()
        self.thread.join(timeout=5)

    @property
    def address(self) -> tuple[str, int]:
        return self.listener.getsockname()[:2]

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._run, args=(sock,), daemon=True).start()

    def _run(self, sock: socket.socket) -> None:
        with sock:
            try:
                self.behaviour(sock)
            except OSError:
                pass


def read_hello(sock: socket.socket) -> ClientHello:
    return read_hello_as_sent(sock)[1]


def read_hello_as_sent(sock: socket.socket) -> tuple[bytes, ClientHello]:
    """The client's first flight: every byte as it came (a front forwards them) and the parsed ClientHello."""
    received, records, messages = b"", RecordBuffer(), HandshakeBuffer()
    while True:
        chunk = sock.recv(65536)
        if not chunk:  # a reachability check connects and leaves: without this the thread spins for good
            raise ConnectionAbortedError("client left before its ClientHello")
        received += chunk
        for record in records.feed(chunk):
            for _msg_type, body in messages.feed(record.fragment):
                return received, ClientHello.from_body(body)


def server_key_exchange(curve: int) -> bytes:
    """An ECDHE ServerKeyExchange naming `curve` (RFC 8422 5.4), with a dummy point and signature."""
    body = bytes([3]) + curve.to_bytes(2, "big") + bytes([32]) + b"\x09" * 32 + b"\x04\x01\x00\x02\x00\x00"
    return Record(22, 0x0303, bytes([12]) + len(body).to_bytes(3, "big") + body).to_bytes()


def server_hello(version: int, suite: int, group: int | None = None, retry: bool = False) -> bytes:
    extensions = []
    if version == 0x0304:
        extensions.append(Extension(43, version.to_bytes(2, "big")))
        if group is not None:
            share = group.to_bytes(2, "big") + (b"" if retry else (32).to_bytes(2, "big") + b"\x09" * 32)
            extensions.append(Extension(51, share))
    hello = ServerHello(min(version, 0x0303), HRR_RANDOM if retry else b"\x01" * 32, b"", suite, 0,
                        tuple(extensions))
    return Record(22, 0x0303, hello.to_bytes()).to_bytes()


def answer_with(data: bytes) -> Callable[[socket.socket], None]:
    def behaviour(sock: socket.socket) -> None:
        read_hello(sock)
        sock.sendall(data)
    return behaviour


def close_silently(sock: socket.socket) -> None:
    read_hello(sock)


def reset(sock: socket.socket) -> None:
    read_hello(sock)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def never_answer(sock: socket.socket) -> None:
    read_hello(sock)
    sock.recv(1)  # until the client gives up


def endless_stream(sock: socket.socket) -> None:
    read_hello(sock)
    while True:  # change_cipher_spec records forever: never a ServerHello
        sock.sendall(Record(20, 0x0303, b"\x01").to_bytes() * 100)


def hello_then_close(sock: socket.socket) -> None:
    """A TLS 1.3 ServerHello taking the first offered suite and X25519, then nothing: a raw probe sees
    an acceptance that no real handshake can finish."""
    hello = read_hello(sock)
    sock.sendall(server_hello(0x0304, hello.cipher_suites[0], 0x001D))
