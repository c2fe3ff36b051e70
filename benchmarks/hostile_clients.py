"""Attacks on the reference server, and whether it held: memory, file descriptors and threads before and after.

    .venv/bin/python benchmarks/hostile_clients.py [--rounds 400]

Runs, against a live server on loopback, each attack the hardening issue names: slow requests (one
byte at a time), CONNECT floods, log-injection payloads, oversized and fragmented ClientHellos; then
checks that a well-formed client is still served, the log still parses and nothing leaked. Also
times the start-up of 10,000 endpoints to their first handshake. Prints one line per attack.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import socket
import sys
import threading
import time

from pytest_apigw_tls.reference_server import Endpoint, ReferenceServer, ServerConfig, ServerSettings

from pytest_apigw_tls.probing.access import http_probe
from pytest_apigw_tls.probing.handshake import client_connection, client_context, drive
from pytest_apigw_tls.probing.probes import Target, connect
from pytest_apigw_tls.probing.wire import build_client_hello

HOST = "api.example.test"
FORMAT = '{"ip":"$context.identity.sourceIp","path":"$context.path","tlsVersion":"$context.tlsVersion"}'


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def tls_request(server: ReferenceServer, payload: bytes) -> bytes:
    target = Target(*server.address, HOST)
    with connect(target, 5) as sock:
        tls = client_connection(target, client_context(None, None, None), sock)
        deadline = time.monotonic() + 5
        drive(tls.do_handshake, sock, deadline)
        drive(lambda: tls.sendall(payload), sock, deadline)
        try:
            return drive(lambda: tls.recv(65536), sock, deadline)
        except Exception:  # noqa: BLE001 - a refusal or a close is what some attacks should get
            return b""


def connect_flood(server: ReferenceServer, rounds: int) -> str:
    answers = [tls_request(server, f"CONNECT x:443 HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()) for _ in range(rounds)]
    return f"{sum(a.startswith(b'HTTP/1.1 405') for a in answers)}/{rounds} answered 405"


def slow_requests(server: ReferenceServer, rounds: int) -> str:
    def drip() -> float:
        target = Target(*server.address, HOST)
        started = time.monotonic()
        with connect(target, 5) as sock:
            tls = client_connection(target, client_context(None, None, None), sock)
            drive(tls.do_handshake, sock, time.monotonic() + 5)
            try:
                for byte in b"GET / HTTP/1.1\r\nHost: " + b"x" * 60:
                    drive(lambda b=byte: tls.sendall(bytes([b])), sock, time.monotonic() + 5)
                    time.sleep(0.1)
            except Exception:  # noqa: BLE001 - cut off: what should happen
                pass
        return time.monotonic() - started
    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        held = list(pool.map(lambda _: drip(), range(min(rounds, 50))))
    return f"{len(held)} dripping clients cut off after at most {max(held):.1f}s (request_timeout 1s)"


def log_injection(server: ReferenceServer, rounds: int) -> str:
    for _ in range(rounds // 10):
        http_probe(Target(*server.address, HOST), HOST, 5, path='/","tlsVersion":"TLSv1.3","ip":"10.66.66.66')
    lines = list(server.access_log.lines)[-(rounds // 10):]
    forged = sum(json.loads(line)["ip"] != "127.0.0.1" for line in lines)
    return f"{len(lines)} lines, all valid JSON, {forged} with a forged address"


def big_and_fragmented_hellos(server: ReferenceServer, rounds: int) -> str:
    answered = 0
    for index in range(rounds // 10):
        hello = build_client_hello((0x0303,), tuple(range(0x6000, 0xB000)) + (0xC02F,), (0x001D,), (), HOST)
        data = hello.to_records()
        with socket.create_connection(server.address, timeout=5) as sock:
            step = 7 if index % 2 else len(data)
            for offset in range(0, len(data), step):
                sock.sendall(data[offset:offset + step])
            answered += sock.recv(5)[:1] == b"\x16"
    return f"{answered}/{rounds // 10} ClientHellos of {len(data)} bytes (half in 7-byte pieces) got a ServerHello"


def startup_10000() -> str:
    endpoints = tuple(Endpoint(f"e{i}.fleet.test", "TLS_1_2", cert_type="ecdsa") for i in range(10_000))
    started = time.monotonic()
    with ReferenceServer(ServerConfig(endpoints)) as server:
        status = http_probe(Target(*server.address, "e9999.fleet.test"), "e9999.fleet.test", 10).status
        elapsed = time.monotonic() - started
    return f"10,000 endpoints: first handshake and answer ({status}) {elapsed:.2f}s after start"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=400)
    args = parser.parse_args()
    settings = ServerSettings(request_timeout=1.0, idle_timeout=5.0, access_log_format=FORMAT)
    with ReferenceServer(ServerConfig((Endpoint(HOST, "TLS_1_2"),), settings)) as server:
        tls_request(server, f"GET / HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())  # warm-up: certificate issued
        for attack in (connect_flood, slow_requests, log_injection, big_and_fragmented_hellos):
            before = (rss_kib(), fds(), threading.active_count())
            outcome = attack(server, args.rounds)
            time.sleep(1.5)  # let connection threads finish
            after = (rss_kib(), fds(), threading.active_count())
            served = http_probe(Target(*server.address, HOST), HOST, 5).status == 200
            held = served and after[1] <= before[1] and after[2] <= before[2] and after[0] - before[0] < 20_000
            print(f"{attack.__name__:<26} {'held' if held else 'BROKE'}: {outcome}; RSS {before[0]}->{after[0]} KiB, "
                  f"fds {before[1]}->{after[1]}, threads {before[2]}->{after[2]}, then served: {served}")
        print(f"unexpected server errors: {server.error_count}, refused at the caps: {server.refused_connections}")
    print(startup_10000())
    return 0


if __name__ == "__main__":
    sys.exit(main())
