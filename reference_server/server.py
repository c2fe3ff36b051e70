"""The reference server: one listening socket, every endpoint, the policy chosen by SNI.

Use it as a context manager (``with ReferenceServer(config) as server:``) or start()/stop(); it
runs in background threads, a thread per connection, and never lets a client's bytes stop it.
"""

from __future__ import annotations

import pathlib
import socket
import tempfile
import threading
from typing import Any, TextIO

from OpenSSL import SSL

from pytest_apigw_tls import capabilities
from pytest_apigw_tls.catalog import Policy
from pytest_apigw_tls.wire import ClientHello, DecodeError

from .accesslog import AccessLog
from .config import Endpoint, ServerConfig, default_config
from .connection import HANDSHAKE_FAILURE_ALERT, PeerClosed, TlsStream, read_client_hello
from .http import serve_http
from .tls import CertificateAuthority, endpoint_context


class ReferenceServer:
    """A real TLS server enforcing catalog policies per SNI hostname, with STRICT and access logs.

    Attributes:
        config: endpoints and settings being served.
        ca_file: PEM of the CA that issued every endpoint certificate (`ca`: a trustme.CA to use).
        access_log: the log writer (its `lines` keep the most recent lines).
        errors: unexpected exceptions from connection threads (a client's misbehaviour is not one).
    """

    def __init__(self, config: ServerConfig | None = None, workdir: str | pathlib.Path | None = None,
                 access_log: TextIO | None = None, ca: Any = None) -> None:
        capabilities.require_full()
        self.config = (config or default_config()).validate()
        self._tempdir = None if workdir else tempfile.TemporaryDirectory(prefix="apigw-tls-")
        self.workdir = pathlib.Path(workdir or self._tempdir.name)  # type: ignore[union-attr]
        self.authority = CertificateAuthority(self.workdir, ca)
        self.ca_file = self.authority.ca_file
        self.access_log = AccessLog(access_log, self.config.settings.access_log_format)
        self.contexts: dict[str, SSL.Context] = {
            endpoint.hostname: endpoint_context(endpoint, self.authority) for endpoint in self.config.endpoints}
        self.errors: list[BaseException] = []
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> "ReferenceServer":
        settings = self.config.settings
        family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((settings.host, settings.port))
        except OSError as error:
            listener.close()
            raise OSError(error.errno, f"cannot listen on {settings.host}:{settings.port}: {error.strerror}") from None
        listener.listen(512)
        self._listener = listener
        self._accept_thread = threading.Thread(target=self._accept_loop, name="apigw-tls-accept", daemon=True)
        self._accept_thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
        if self._accept_thread is not None:
            self._accept_thread.join(timeout=5)
        with self._lock:
            for sock in list(self._connections):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=5)
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def __enter__(self) -> "ReferenceServer":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def check(self) -> None:
        """Raise, in the caller's thread, the first unexpected error of a connection thread."""
        if self.errors:
            raise self.errors[0]

    @property
    def address(self) -> tuple[str, int]:
        if self._listener is None:
            raise RuntimeError("server not started")
        host, port = self._listener.getsockname()[:2]
        return host, port

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        return self.config.endpoints

    @property
    def active_connections(self) -> int:
        with self._lock:
            return len(self._connections)

    # -- connections -----------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                sock, peer = self._listener.accept()
            except OSError:
                if self._stopping.is_set():
                    return
                continue  # e.g. EMFILE under load: keep serving the others
            thread = threading.Thread(target=self._serve_connection, args=(sock, peer), daemon=True)
            with self._lock:
                self._connections.add(sock)
                self._threads.add(thread)
            thread.start()

    def _serve_connection(self, sock: socket.socket, peer: tuple[Any, ...]) -> None:
        try:
            sock.settimeout(self.config.settings.idle_timeout)
            self._handle(sock, peer)
        except (OSError, PeerClosed, DecodeError, SSL.Error):
            pass  # the client's fault (reset, idle, garbage, refused handshake): close and go on
        except Exception as error:  # noqa: BLE001 - kept and raised again by check() in the test thread
            self.errors.append(error)
        finally:
            sock.close()
            with self._lock:
                self._connections.discard(sock)
                self._threads.discard(threading.current_thread())

    def set_policy(self, hostname: str, policy: Policy) -> None:
        """Serve `hostname` under `policy` from the next connection on; established ones keep theirs."""
        endpoint = self.config.endpoint(hostname)
        if endpoint is None:
            raise KeyError(hostname)
        self.contexts[endpoint.hostname] = endpoint_context(endpoint, self.authority, policy)

    # Each step below is a method so that self-test mutants (mutants.py) can get exactly one wrong.
    def select_endpoint(self, hello: ClientHello) -> Endpoint | None:
        """The endpoint named by the ClientHello's SNI, or the configured fallback."""
        sni = hello.server_name
        endpoint = self.config.endpoint(sni) if sni else None
        if endpoint is None and self.config.settings.unknown_sni == "default":
            endpoint = self.config.endpoint(self.config.settings.default_hostname or "")
        return endpoint

    def context_for(self, endpoint: Endpoint, hello: ClientHello) -> SSL.Context:
        return self.contexts[endpoint.hostname]

    def access_endpoint(self, endpoint: Endpoint) -> Endpoint:
        """The endpoint whose access mode applies to HTTP requests on this connection."""
        return endpoint

    def _handle(self, sock: socket.socket, peer: tuple[Any, ...]) -> None:
        received, hello = read_client_hello(sock)
        endpoint = self.select_endpoint(hello)
        if endpoint is None:
            sock.sendall(HANDSHAKE_FAILURE_ALERT)
            return
        stream = TlsStream(self.context_for(endpoint, hello), sock, received)
        stream.handshake()
        connection_values = {"identity.sourceIp": peer[0], **stream.negotiated}
        serve_http(stream, self.access_endpoint(endpoint), hello.server_name, self.config.settings,
                   connection_values, self.access_log.write)
        stream.close_notify()
