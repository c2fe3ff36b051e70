"""Hostile fronts: a TCP proxy placed before a real server, misbehaving the way load balancers, WAFs,
rate limiters and lossy networks do, so the scanner's verdicts can be tried behind them.

Every front reads the client's first flight before it acts, so the client has always sent its
ClientHello: a dropped connection then looks exactly like a refusal, the hardest case for a scanner.
Decisions come from one seeded random stream, drawn in the order connections arrive.
"""

from __future__ import annotations

import random
import select
import socket
import struct
import threading
import time
from typing import NamedTuple

from pytest_apigw_tls.probing.wire import ClientHello, HandshakeBuffer, Record, RecordBuffer

from .hostile import HostileServer, read_hello_as_sent

HANDSHAKE_FAILURE = b"\x15\x03\x03\x00\x02\x02\x28"


class FrontBehaviour(NamedTuple):
    """What a front does.

    Attributes:
        drop_rate: share of connections dropped after the ClientHello.
        drop_with: "fin" (a clean close), "rst" (a reset) or "alert" (a fatal handshake_failure).
        alert_after_server_hello: forward the server's ServerHello alone, then a handshake_failure.
        max_per_second: connections beyond this rate in any one second are dropped `drop_with`.
        max_suites: ClientHellos offering more suites than this are dropped `drop_with`.
        delay: seconds added before the server's first answer.
        blind_refusals: a refusal (the server's alert, or its close) is held this many seconds and then
            ends in a close without the alert, as s2n-tls's error blinding does (10-30 s there).
        seed: of the random stream deciding the drops.
    """

    drop_rate: float = 0.0
    drop_with: str = "fin"
    alert_after_server_hello: bool = False
    max_per_second: int | None = None
    max_suites: int | None = None
    delay: float = 0.0
    blind_refusals: float = 0.0
    seed: int = 0


class HostileFront:
    """Listens on 127.0.0.1 and relays to `upstream` as `behaviour` says; a context manager."""

    def __init__(self, upstream: tuple[str, int], behaviour: FrontBehaviour) -> None:
        self.upstream, self.behaviour = upstream, behaviour
        self.random = random.Random(behaviour.seed)
        self.lock = threading.Lock()
        self.recent: list[float] = []
        self.dropped = self.relayed = 0
        self.server = HostileServer(self._serve)

    def __enter__(self) -> "HostileFront":
        self.server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.__exit__(*exc)

    @property
    def address(self) -> tuple[str, int]:
        return self.server.address

    def _serve(self, client: socket.socket) -> None:
        client.settimeout(10)
        first, hello = read_hello_as_sent(client)  # a client that leaves first: OSError, ended by HostileServer
        if self._drops(hello):
            self._drop(client)
            return
        with socket.create_connection(self.upstream, timeout=10) as server:
            server.sendall(first)
            if self.behaviour.delay:
                time.sleep(self.behaviour.delay)
            if self.behaviour.alert_after_server_hello:
                _server_hello_then_alert(server, client)
            elif self.behaviour.blind_refusals:
                _blind_refusal(server, client, self.behaviour.blind_refusals)
            else:
                _relay(client, server)

    def _drops(self, hello: ClientHello) -> bool:
        behaviour = self.behaviour
        with self.lock:
            now = time.monotonic()
            self.recent = [t for t in self.recent if now - t < 1.0] + [now]
            drop = self.random.random() < behaviour.drop_rate
            drop |= behaviour.max_per_second is not None and len(self.recent) > behaviour.max_per_second
            drop |= behaviour.max_suites is not None and len(hello.cipher_suites) > behaviour.max_suites
            self.dropped += drop
            self.relayed += not drop
            return drop

    def _drop(self, client: socket.socket) -> None:
        if self.behaviour.drop_with == "alert":
            client.sendall(HANDSHAKE_FAILURE)
        elif self.behaviour.drop_with == "rst":
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _relay(client: socket.socket, server: socket.socket) -> None:
    peers = {client: server, server: client}
    while True:
        ready, _, _ = select.select(list(peers), [], [], 10)
        if not ready:
            return
        for sock in ready:
            data = sock.recv(65536)
            if not data:
                return
            peers[sock].sendall(data)


def _blind_refusal(server: socket.socket, client: socket.socket, hold: float) -> None:
    server.settimeout(10)
    answer = server.recv(65536)
    if not answer or answer[0] == 0x15:
        time.sleep(hold)
        return
    client.sendall(answer)
    _relay(client, server)


def _server_hello_then_alert(server: socket.socket, client: socket.socket) -> None:
    """The server's ServerHello in a record of its own, then a fatal handshake_failure: the choice was
    shown, the handshake cannot go on."""
    records, messages = RecordBuffer(), HandshakeBuffer()
    server.settimeout(10)
    while chunk := server.recv(65536):
        for record in records.feed(chunk):
            if record.content_type != 22:
                client.sendall(record.to_bytes())  # the server's own alert: its refusal, passed on
                return
            for msg_type, body in messages.feed(record.fragment):
                message = bytes([msg_type]) + len(body).to_bytes(3, "big") + body
                client.sendall(Record(22, record.version, message).to_bytes() + HANDSHAKE_FAILURE)
                return
