"""The reference server: one listening socket, every endpoint, the policy chosen by SNI.

Use it as a context manager (``with ReferenceServer(config) as server:``) or start()/stop(); it
runs in background threads, a thread per connection, and never lets a client's bytes stop it.
"""

from __future__ import annotations

import collections
import contextlib
import pathlib
import socket
import sys
import tempfile
import threading
import time
from typing import Any, TextIO

from OpenSSL import SSL

from pytest_apigw_tls.errors import ConfigError
from pytest_apigw_tls.policy.catalog import Policy
from pytest_apigw_tls.policy.codepoints import AlertDescription
from pytest_apigw_tls.probing import capabilities
from pytest_apigw_tls.probing.wire import ClientHello, DecodeError, MessageTooLarge, NotAscii

from .accesslog import AccessLog
from .config import Endpoint, ServerConfig, default_config
from .connection import (
    UNREAD_HELLO,
    HelloCutShort,
    PeerClosed,
    TlsStream,
    UnexpectedMessage,
    UnreadableHello,
    fatal_alert,
    is_hostname,
    openssl_alert_for,
    read_client_hello,
)
from .http import serve_http
from .strict import strict_refusal
from .tls import CertificateAuthority, endpoint_context, parsing_context


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
        self.catalog = self.config.catalog  # the policy names of every endpoint, added or updated, are read here
        self._tempdir = None if workdir else tempfile.TemporaryDirectory(prefix="apigw-tls-")
        self.workdir = pathlib.Path(workdir or self._tempdir.name)  # type: ignore[union-attr]
        self.authority = CertificateAuthority(self.workdir, ca)
        self.ca_file = self.authority.ca_file
        self.access_log = AccessLog(access_log, self.config.settings.access_log_format)
        # hostname -> the endpoint served now; endpoint -> its compiled context. A connection looks both
        # up once, so a live change reaches new connections while established ones keep theirs.
        self._endpoints = {endpoint.hostname: endpoint for endpoint in self.config.endpoints}
        self._contexts: dict[Endpoint, SSL.Context] = {}  # compiled on first use: start-up stays instant
        self._contexts_lock = threading.Lock()
        self._parsing_context: SSL.Context | None = None  # for hellos our reader cannot parse; built once
        self.errors: collections.deque[BaseException] = collections.deque(maxlen=100)  # the first are kept below
        self.first_errors: list[BaseException] = []
        self.error_count = 0
        self.refused_connections = 0
        # Per connection: what was negotiated, or the refusal and its reason (the most recent ones).
        self.connections: collections.deque[dict[str, Any]] = collections.deque(maxlen=10_000)
        self._per_client: collections.Counter[str] = collections.Counter()
        self._listeners: dict[str | None, socket.socket] = {}
        self._pinned: dict[str, socket.socket] = {}  # hostname -> a listener of its own (url_for, apigw_server)
        self._accept_threads: list[threading.Thread] = []
        self._connections: set[socket.socket] = set()
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> "ReferenceServer":
        """Listen on the main port (any arrival path) and on one port per configured arrival path."""
        settings = self.config.settings
        wanted: dict[str | None, int] = {None: settings.port}
        wanted.update(settings.arrival_paths)
        try:
            for arrival_type, port in wanted.items():
                self._listeners[arrival_type] = _listen(settings.host, port)
        except OSError:
            self.stop()
            raise
        for arrival_type, listener in self._listeners.items():
            thread = threading.Thread(target=self._accept_loop, args=(listener, arrival_type),
                                      name=f"apigw-tls-accept-{arrival_type or 'main'}", daemon=True)
            thread.start()
            self._accept_threads.append(thread)
        return self

    def stop(self) -> None:
        self._stopping.set()
        for listener in [*self._listeners.values(), *self._pinned.values()]:
            try:
                listener.shutdown(socket.SHUT_RDWR)  # wakes accept() in its thread
            except OSError:
                pass
            listener.close()
        for thread in self._accept_threads:
            thread.join(timeout=5)
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
        if self.first_errors:
            raise self.first_errors[0]

    @property
    def address(self) -> tuple[str, int]:
        """The main listener, which serves every endpoint whatever its type."""
        if None not in self._listeners:
            raise RuntimeError("server not started")
        host, port = self._listeners[None].getsockname()[:2]
        return host, port

    @property
    def arrival_paths(self) -> dict[str, tuple[str, int]]:
        """Listeners tagged with an endpoint type: STRICT refuses requests arriving through another type."""
        return {t: tuple(s.getsockname()[:2]) for t, s in self._listeners.items() if t is not None}

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        return tuple(self._endpoints.values())

    def endpoint(self, hostname: str) -> Endpoint | None:
        """The endpoint of `hostname`, else of the wildcard domain covering its first label
        (`*.example.com` serves a.example.com, not a.b.example.com): the specific name wins."""
        name = hostname.lower().rstrip(".")
        found = self._endpoints.get(name)
        if found is None and "." in name:
            found = self._endpoints.get("*." + name.split(".", 1)[1])
        return found

    @property
    def active_connections(self) -> int:
        with self._lock:
            return len(self._connections)

    # -- connections -----------------------------------------------------------------------------
    # -- endpoints reachable at https://localhost:PORT/ ------------------------------------------------
    def add_endpoint(self, endpoint: Endpoint) -> Endpoint:
        """Serve one more endpoint from now on (validated as a config's would be)."""
        endpoint.validate(self.catalog)
        with self._lock:
            if endpoint.hostname in self._endpoints:
                raise ConfigError(f"endpoint {endpoint.hostname!r} is configured twice")
            self._endpoints[endpoint.hostname] = endpoint
        return endpoint

    def remove_endpoint(self, hostname: str) -> None:
        """Stop serving `hostname` (delete-rest-api / delete-domain-name): new connections get unrecognized_name."""
        with self._lock:
            endpoint = self._endpoints.pop(hostname, None)
            listener = self._pinned.pop(hostname, None)
        if listener is not None:
            _close_listener(listener)  # its accept loop ends: the port is free again
        with self._contexts_lock:
            self._contexts.pop(endpoint, None)  # type: ignore[arg-type]
        self.authority.forget(hostname)

    def pin(self, hostname: str) -> tuple[str, int]:
        """A listener of the endpoint's own, where the SNI "localhost" (or its hostname) selects it: any
        client reaches it as https://localhost:PORT/ without resolver tricks (*.apigw.test resolves nowhere)."""
        if self.endpoint(hostname) is None:
            raise KeyError(hostname)
        with self._lock:
            listener = self._pinned.get(hostname)
            if listener is None:
                listener = self._pinned[hostname] = _listen(self.config.settings.host, 0)
                thread = threading.Thread(target=self._accept_loop, args=(listener, None, hostname),
                                          name=f"apigw-tls-accept-{hostname}", daemon=True)
                self._accept_threads.append(thread)
                thread.start()
        host, port = listener.getsockname()[:2]
        return host, port

    def hosts_file(self) -> pathlib.Path:
        """A hosts file (beside the CA file) naming every pinned endpoint's hostname at its listener's
        address: clients that need a dotted name (for SNI) resolve it through this, as in production."""
        with self._lock:
            lines = [f"{listener.getsockname()[0]} {hostname}" for hostname, listener in self._pinned.items()]
        path = pathlib.Path(self.ca_file).with_name("hosts")
        path.write_text("\n".join(lines) + "\n", encoding="ascii")
        return path

    def url_for(self, policy: str, cert_type: str = "rsa", access_mode: str | None = None) -> str:
        """https://localhost:PORT/ of the built-in endpoint serving `policy` with a `cert_type` certificate."""
        wanted = self.catalog.policy(policy)
        for endpoint in self.endpoints:
            if (self.policy_of(endpoint).id == wanted.id and endpoint.cert_type == cert_type
                    and endpoint.kind == "custom"
                    and (access_mode is None or endpoint.access_mode == access_mode)):
                return f"https://localhost:{self.pin(endpoint.hostname)[1]}/"
        raise KeyError(f"no endpoint serves {wanted.id} with an {cert_type} certificate")

    def _accept_loop(self, listener: socket.socket, arrival_type: str | None, pinned: str | None = None) -> None:
        settings = self.config.settings
        while not self._stopping.is_set():
            try:
                sock, peer = listener.accept()
            except OSError:
                if self._stopping.is_set() or listener.fileno() == -1:  # stopped, or its endpoint removed
                    return
                time.sleep(0.01)  # e.g. EMFILE under load: back off, keep serving the others
                continue
            with self._lock:
                over = (len(self._connections) >= settings.max_connections
                        or self._per_client[peer[0]] >= settings.max_connections_per_client)
                if over:
                    self.refused_connections += 1
                else:
                    self._connections.add(sock)
                    self._per_client[peer[0]] += 1
            if over:
                sock.close()  # over capacity (in all, or for this client): refuse this one, serve the others
                continue
            thread = threading.Thread(target=self._serve_connection, args=(sock, peer, arrival_type, pinned),
                                      daemon=True)
            with self._lock:
                self._threads.add(thread)
            thread.start()

    def _serve_connection(self, sock: socket.socket, peer: tuple[Any, ...], arrival_type: str | None,
                          pinned: str | None = None) -> None:
        try:
            self._handle(sock, peer, arrival_type, pinned)
        except (OSError, PeerClosed, SSL.Error):
            pass  # the client's fault (reset, idle, refused handshake): close and go on
        except Exception as error:  # noqa: BLE001 - counted, said on stderr, raised again by check()
            self._unexpected(error)
        finally:
            _linger_close(sock)
            with self._lock:
                self._connections.discard(sock)
                self._per_client[peer[0]] -= 1
                if self._per_client[peer[0]] <= 0:
                    del self._per_client[peer[0]]
                self._threads.discard(threading.current_thread())

    def _unexpected(self, error: BaseException) -> None:
        with self._lock:
            self.error_count += 1
            self.errors.append(error)
            if len(self.first_errors) < 10:
                self.first_errors.append(error)
        print(f"apigw-tls reference server: unexpected error ({self.error_count} so far): "
              f"{type(error).__name__}: {error}", file=sys.stderr)

    def update_endpoint(self, endpoint: Endpoint) -> None:
        """Serve `endpoint` (same hostname, new settings) from the next connection on."""
        endpoint.validate(self.catalog)
        context = endpoint_context(endpoint, self.authority, self.policy_of(endpoint))
        with self._lock:  # checked and replaced at once: an endpoint removed meanwhile stays removed
            old = self._endpoints.get(endpoint.hostname)
            if old is None:
                raise KeyError(endpoint.hostname)
            self._endpoints[endpoint.hostname] = endpoint
        with self._contexts_lock:
            self._contexts.pop(old, None)  # the old settings' compiled context is not kept
            self._contexts[endpoint] = context

    def policy_of(self, endpoint: Endpoint) -> Policy:
        """The policy `endpoint` claims, read in this server's catalog."""
        return endpoint.policy_in(self.catalog)

    def set_policy(self, hostname: str, policy: Policy) -> None:
        """Enforce `policy` (any Policy object, even one outside the catalog) for `hostname` from the
        next connection on, while the endpoint still claims its own: how self-test mutants lie."""
        endpoint = self._endpoints[hostname]
        context = endpoint_context(endpoint, self.authority, policy)
        with self._contexts_lock:
            self._contexts[endpoint] = context

    # Each step below is a method so that self-test mutants (mutants.py) can get exactly one wrong.
    def select_endpoint(self, hello: ClientHello) -> Endpoint | None:
        """The endpoint named by the ClientHello's SNI, or the configured fallback."""
        sni = hello.server_name
        endpoint = self.endpoint(sni) if sni else None
        return endpoint or self._default_endpoint()

    def _default_endpoint(self) -> Endpoint | None:
        if self.config.settings.unknown_sni != "default":
            return None
        return self.endpoint(self.config.settings.default_hostname or "")

    def _parsing(self) -> SSL.Context:
        with self._contexts_lock:
            if self._parsing_context is None:
                self._parsing_context = parsing_context(self.authority)
            return self._parsing_context

    def _refuse_as_openssl(self, sock: socket.socket, peer: tuple[Any, ...], refused: str, error: Exception,
                           received: bytes, then_closed: bool = False) -> None:
        """Bytes our reader cannot take to an endpoint (a hello it cannot parse, with no default
        endpoint; or an end before a whole hello): OpenSSL's own alert for them (its parse error, its
        answer to the end), or decode_error when OpenSSL parses what we could not."""
        alert = openssl_alert_for(self._parsing(), received, then_closed)
        reason = f"{error}; OpenSSL: {'parses it' if alert is None else 'refuses it too'}"
        self.connections.append({"peer": peer[0], "sni": None, "refused": refused, "reason": reason})
        with contextlib.suppress(OSError):  # a client that closed may be gone already
            sock.sendall(alert if alert is not None else fatal_alert(AlertDescription.decode_error))

    def context_for(self, endpoint: Endpoint, hello: ClientHello) -> SSL.Context:
        with self._contexts_lock:
            context = self._contexts.get(endpoint)
        if context is None:
            context = endpoint_context(endpoint, self.authority, self.policy_of(endpoint))
            with self._contexts_lock:
                context = self._contexts.setdefault(endpoint, context)
        return context

    def arrival_type(self, listener_type: str | None) -> str | None:
        """The endpoint type a request is known to have arrived through (its listener's tag)."""
        return listener_type

    def strict_refusal(self, endpoint: Endpoint, sni: str | None, host: str | None,
                       arrival_type: str | None) -> str | None:
        """Why STRICT refuses a request (None: it passes); see strict.py for the rules."""
        return strict_refusal(endpoint, sni, host, arrival_type)

    def access_endpoint(self, endpoint: Endpoint) -> Endpoint:
        """The endpoint whose access mode applies to HTTP requests on this connection."""
        return endpoint

    def _refuse(self, sock: socket.socket, peer: tuple[Any, ...], description: AlertDescription, reason: str,
                sni: str | None = None) -> None:
        """A refusal the server decides itself: a record, then the alert a peer's TLS stack would send."""
        self.connections.append({"peer": peer[0], "sni": sni, "refused": description.name, "reason": reason})
        sock.sendall(fatal_alert(description))

    def _handle(self, sock: socket.socket, peer: tuple[Any, ...], arrival_type: str | None,
                pinned: str | None = None) -> None:
        settings = self.config.settings
        deadline = time.monotonic() + settings.handshake_timeout
        unreadable: UnreadableHello | None = None
        try:
            received, hello = read_client_hello(sock, deadline, settings.idle_timeout)
            sni = hello.server_name
        except UnreadableHello as error:
            unreadable = error
        except HelloCutShort as error:  # an end before a whole hello: OpenSSL's answer (decode_error, mostly)
            self._refuse_as_openssl(sock, peer, "closed early", error, error.received, then_closed=True)
            return
        except UnexpectedMessage as error:
            self._refuse(sock, peer, AlertDescription.unexpected_message, str(error))
            return
        except (MessageTooLarge, NotAscii) as error:  # as OpenSSL answers a length or a name it cannot take
            self._refuse(sock, peer, AlertDescription.illegal_parameter, str(error))
            return
        except DecodeError as error:  # a server_name extension that does not parse
            unreadable = UnreadableHello(str(error), received)
        if unreadable is not None:  # OpenSSL reads it instead, as any OpenSSL server would
            if self._default_endpoint() is None:
                self._refuse_as_openssl(sock, peer, "unreadable ClientHello", unreadable, unreadable.received)
                return
            received, hello, sni = unreadable.received, UNREAD_HELLO, None
        if sni is not None and not is_hostname(sni):
            self._refuse(sock, peer, AlertDescription.illegal_parameter, "the SNI is not a hostname (RFC 6066 3)")
            return
        if pinned is not None and sni is not None and sni.lower() in ("localhost", pinned):
            endpoint = self.endpoint(pinned)
        else:
            endpoint = self.select_endpoint(hello)
        if endpoint is None:
            reason = "no SNI" if sni is None else "no endpoint has this SNI"
            self.connections.append({"peer": peer[0], "sni": sni, "refused": "unrecognized_name", "reason": reason,
                                     **({"pinned": pinned} if pinned else {})})
            sock.sendall(fatal_alert(AlertDescription.unrecognized_name))
            return
        stream = TlsStream(self.context_for(endpoint, hello), sock, received, settings.idle_timeout)
        try:
            stream.handshake(deadline)
        except SSL.Error as error:
            self.connections.append({"peer": peer[0], "sni": sni, "endpoint": endpoint.hostname,
                                     "refused": "handshake", "reason": _openssl_reason(error)})
            stream.flush()  # OpenSSL's alert, after the record
            raise
        connection_values = {"identity.sourceIp": peer[0], **stream.negotiated}
        self.connections.append({"peer": peer[0], "sni": sni, "endpoint": endpoint.hostname,
                                 **{k: connection_values[k] for k in ("tlsVersion", "cipherSuite", "tlsGroup")}})
        connection_values["arrivalType"] = self.arrival_type(arrival_type)
        serve_http(stream, self.access_endpoint(endpoint), sni, self.config.settings,
                   connection_values, self.access_log.write, self.strict_refusal)
        stream.close_notify()


def _openssl_reason(error: SSL.Error) -> str:
    entries = error.args[0] if error.args and isinstance(error.args[0], list) else []
    return "; ".join(str(entry[2]) for entry in entries) or type(error).__name__


LINGER_SECONDS = 0.5  # at most, in all: a client dripping bytes cannot stretch it


def _linger_close(sock: socket.socket) -> None:
    """Close as a real server does: stop sending, drain what the client still sends for a moment, then
    close, so the last alert or answer is not lost to a TCP reset (unread data makes close() send RST)."""
    try:
        sock.shutdown(socket.SHUT_WR)
        deadline, drained = time.monotonic() + LINGER_SECONDS, 0
        while drained < 65536 and (remaining := deadline - time.monotonic()) > 0:
            sock.settimeout(remaining)
            chunk = sock.recv(16384)
            if not chunk:
                break
            drained += len(chunk)
    except OSError:
        pass
    finally:
        sock.close()


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        raise OSError(error.errno, f"cannot listen on {host}:{port}: {error.strerror}") from None
    listener.listen(512)
    return listener


def _close_listener(listener: socket.socket) -> None:
    """Close a listener another thread may be blocked on in accept(): close() alone would leave that
    accept() waiting on the open port (Linux keeps the socket while a call holds it); shutdown wakes it."""
    try:
        listener.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # never connected or already shut: closing is enough
    listener.close()

