"""Hypothesis strategies for hostile client input, shared by tests/test_hardening.py and the longer
run in benchmarks/fuzz_reference_server.py."""

from __future__ import annotations

import os
import socket
import threading
import time

from hypothesis import strategies as st

from pytest_apigw_tls.probing.wire import Record, build_client_hello

HOSTNAME = "hardened.example.test"


def _hello(sni: str = HOSTNAME, extra: bytes = b"") -> bytes:
    hello = build_client_hello((0x0304, 0x0303), (0x1301, 0xC02F), (0x001D,), (0x001D,), sni)
    return hello.to_records() + extra


@st.composite
def hostile_streams(draw: st.DrawFn) -> tuple[str, list[bytes]]:
    """(kind, chunks): what a hostile client sends, chunk by chunk."""
    kind = draw(st.sampled_from(["random", "truncated", "record-length", "handshake-length", "content-type",
                                 "flipped", "huge-extension", "oversized-record", "slow-drip", "idle",
                                 "after-hello-garbage"]))
    hello = _hello()
    if kind == "random":
        data = draw(st.binary(min_size=1, max_size=2000))
    elif kind == "truncated":
        data = hello[:draw(st.integers(1, len(hello) - 1))]
    elif kind == "record-length":
        length = draw(st.integers(0, 0xFFFF))
        data = hello[:3] + length.to_bytes(2, "big") + hello[5:]
    elif kind == "handshake-length":
        length = draw(st.integers(0, 0xFFFFFF))
        data = hello[:6] + length.to_bytes(3, "big") + hello[9:]
    elif kind == "content-type":
        data = bytes([draw(st.integers(0, 255).filter(lambda t: t != 22))]) + hello[1:]
    elif kind == "flipped":
        position = draw(st.integers(0, len(hello) - 1))
        data = hello[:position] + bytes([hello[position] ^ draw(st.integers(1, 255))]) + hello[position + 1:]
    elif kind == "huge-extension":
        size = draw(st.integers(2**14, 60_000))
        message = build_client_hello((0x0304,), (0x1301,), (0x001D,), (0x001D,), HOSTNAME).to_bytes()
        # an unknown extension of `size` bytes appended to the extensions block, lengths patched
        body = message[4:] + (0xFAFA).to_bytes(2, "big") + (size - 4).to_bytes(2, "big") + b"\x00" * (size - 4)
        extensions_at = len(body) - size - _extensions_length(message)
        new_length = (_extensions_length(message) + size).to_bytes(2, "big")
        patched = body[:extensions_at - 2] + new_length + body[extensions_at:]
        whole = b"\x01" + len(patched).to_bytes(3, "big") + patched
        data = b"".join(Record(22, 0x0301, whole[i:i + 2**14]).to_bytes() for i in range(0, len(whole), 2**14))
    elif kind == "oversized-record":
        data = b"\x16\x03\x01\xff\xff" + b"\x00" * draw(st.integers(0, 100))
    elif kind == "after-hello-garbage":
        data = hello + draw(st.binary(min_size=1, max_size=500))
    elif kind == "slow-drip":
        data = hello
        cut = draw(st.lists(st.integers(1, len(hello) - 1), max_size=8, unique=True))
        points = [0, *sorted(cut), len(data)]
        return kind, [data[a:b] for a, b in zip(points, points[1:], strict=False) if b > a]
    else:  # idle: connect, say nothing
        return kind, []
    return kind, [data]


def _extensions_length(message: bytes) -> int:
    body = message[4:]
    position = 2 + 32
    position += 1 + body[position]
    position += 2 + int.from_bytes(body[position:position + 2], "big")
    position += 1 + body[position]
    return int.from_bytes(body[position:position + 2], "big")


def send_hostile(address: tuple[str, int], chunks: list[bytes], drip_delay: float = 0.02,
                 timeout: float = 5.0) -> None:
    """Send the chunks (pausing between them), then read whatever comes back until the server closes."""
    with socket.create_connection(address, timeout=timeout) as sock:
        try:
            for chunk in chunks:
                sock.sendall(chunk)
                if len(chunks) > 1:
                    time.sleep(drip_delay)
            if chunks:
                sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):
                pass
        except OSError:
            pass  # a reset is a fine answer to garbage


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def settle(server, baseline_threads: int, timeout: float = 10.0) -> None:
    """Wait until the server has closed every connection it had (so counts can be compared)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (server.active_connections or threading.active_count() > baseline_threads):
        time.sleep(0.05)
