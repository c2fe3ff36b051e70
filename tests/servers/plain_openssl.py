"""A plain pyOpenSSL server around a given SSL.Context: OpenSSL alone answers every ClientHello, with no
reader of ours in front. Differential tests run it beside the reference server with the reference
server's own context for an endpoint, so any difference in their answers is the project's own.

    python -m tests.servers.plain_openssl --port 4434 [--policy TLS_1_0]   # for tlsfuzzer by hand
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import threading
from typing import Any, Iterator

from OpenSSL import SSL

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"


class PlainOpenSSLServer:
    """Serves `context` on 127.0.0.1: handshake, read one request, answer it, close_notify, close."""

    def __init__(self, context: SSL.Context, port: int = 0, timeout: float = 10.0) -> None:
        self.context, self.timeout = context, timeout
        self.listener = socket.create_server(("127.0.0.1", port))
        self.address: tuple[str, int] = self.listener.getsockname()[:2]
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> "PlainOpenSSLServer":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() blocked in the other thread
        except OSError:
            pass
        self.listener.close()
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        while True:
            try:
                sock, _peer = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        # blocking, as pyOpenSSL needs (a Python timeout turns every wait into WantReadError), but
        # never forever: the kernel ends a silent wait
        seconds = int(self.timeout)
        timeval = seconds.to_bytes(8, "little") + int((self.timeout - seconds) * 1e6).to_bytes(8, "little")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
        connection = SSL.Connection(self.context, sock)
        connection.set_accept_state()
        try:
            connection.do_handshake()
            request = b""
            while b"\r\n\r\n" not in request and b"\n\n" not in request:  # tlsfuzzer ends lines with LF
                chunk = connection.recv(16384)
                if not chunk:
                    break
                request += chunk
            connection.sendall(ANSWER)
            connection.shutdown()  # close_notify, then a lingering close: as a web server ends HTTP/1.0
        except (SSL.Error, OSError):
            pass  # OpenSSL has already written its alert, if it had one
        finally:
            _close_gently(sock)


def _close_gently(sock: socket.socket) -> None:
    """Close after the peer has our last bytes: closing with unread input would reset the connection
    and could destroy an alert still in flight, as a web server's lingering close avoids."""
    try:
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(1.0)
        while sock.recv(65536):
            pass
    except OSError:
        pass
    finally:
        sock.close()


@contextlib.contextmanager
def beside_the_reference_server(hostname: str, policy: str = "TLS_1_0", cert_type: str = "rsa",
                                unknown_sni: str = "default",
                                port: int = 0) -> Iterator[tuple[Any, PlainOpenSSLServer]]:
    """The reference server with one endpoint (served to any SNI, or with "alert" only to its own name),
    and plain OpenSSL holding that endpoint's own context: (reference server, plain server)."""
    from pytest_apigw_tls.reference_server.config import Endpoint, ServerConfig, ServerSettings
    from pytest_apigw_tls.reference_server.server import ReferenceServer

    settings = ServerSettings(unknown_sni=unknown_sni, default_hostname=hostname if unknown_sni == "default" else None)
    config = ServerConfig((Endpoint(hostname, policy, cert_type=cert_type),), settings)
    with open(os.devnull, "w") as log, ReferenceServer(config, access_log=log) as reference:
        with PlainOpenSSLServer(reference.context_for(reference.endpoint(hostname), None), port) as plain:
            yield reference, plain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=4434)
    parser.add_argument("--policy", default="TLS_1_0")
    parser.add_argument("--cert-type", default="rsa")
    args = parser.parse_args()
    with beside_the_reference_server("localhost.apigw.test", args.policy, args.cert_type, port=args.port) as (_, plain):
        print(f"plain OpenSSL ({args.policy}, {args.cert_type}) on {plain.address[0]}:{plain.address[1]}", flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
