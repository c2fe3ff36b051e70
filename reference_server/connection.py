"""One TLS connection on the server side: read the ClientHello, pick the endpoint, handshake.

OpenSSL chooses the protocol version before its servername callback runs, so switching contexts
in that callback cannot enforce a policy's versions or groups (they are fixed when the SSL object
is made). We therefore read the ClientHello ourselves, take its SNI, and only then create the
connection with that endpoint's context, feeding it the bytes already read through a memory BIO.
The policy comes from the SNI in the handshake, exactly like the real front door, never from Host.
"""

from __future__ import annotations

import contextlib
import re
import socket
import time

from OpenSSL import SSL

from pytest_apigw_tls.policy.codepoints import AlertDescription
from pytest_apigw_tls.probing.wire import (
    ClientHello,
    ContentType,
    DecodeError,
    HandshakeBuffer,
    HandshakeType,
    MessageTooLarge,
    Record,
    sslv2_hello_length,
)

# The largest ClientHello the protocol allows (RFC 8446 4.1.2): suites and extensions each up to 2^16 bytes,
# plus the fixed fields, the handshake header and one record header per 2^14 bytes.
MAX_CLIENT_HELLO = 2 + 32 + 33 + (2 + 65534) + (1 + 255) + (2 + 65535) + 4 + 5 * 9
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)"
                       r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")


def fatal_alert(description: AlertDescription) -> bytes:
    """A fatal alert record, as OpenSSL writes one for a refusal the server decides itself."""
    return Record(ContentType.alert, 0x0303, bytes([2, int(description)])).to_bytes()


def is_hostname(name: str) -> bool:
    """RFC 6066 3: a HostName is a DNS hostname, ASCII, no trailing dot (so no IP literal either)."""
    return bool(_HOSTNAME.match(name)) and not name.replace(".", "").isdigit()


class PeerClosed(ConnectionError):
    """The client went away before we were done."""


def recv_before(sock: socket.socket, size: int, deadline: float | None, idle_timeout: float) -> bytes:
    """recv() that gives up at the idle timeout or at `deadline`, whichever comes first (slow drips too)."""
    timeout = idle_timeout if deadline is None else min(idle_timeout, deadline - time.monotonic())
    if timeout <= 0:
        raise TimeoutError("deadline passed (handshake or request took too long)")
    sock.settimeout(timeout)
    return sock.recv(size)


class UnexpectedMessage(DecodeError):
    """A record or handshake message that may not come first (RFC 8446 6.2: unexpected_message)."""


def read_client_hello(sock: socket.socket, deadline: float, idle_timeout: float) -> tuple[bytes, ClientHello]:
    """Read records until a whole ClientHello: (every byte read, the parsed hello). Reading stops there,
    as OpenSSL's does: bytes after it in the same write are OpenSSL's to read, after its ServerHello.
    An SSLv2-format ClientHello is read whole and left to OpenSSL, which takes it up to TLS 1.2.

    Raises:
        UnexpectedMessage: a record of another kind (even empty) or another handshake message first.
        MessageTooLarge: a ClientHello whose header claims more than MAX_CLIENT_HELLO bytes (at once).
        UnreadableHello: bytes that are not TLS records, or a ClientHello that does not parse (the bytes
            read are in the error, for OpenSSL to judge).
        HelloCutShort: the client closed before a whole ClientHello (the bytes read are in the error).
        OSError: the client reset, went idle, or dripped past the deadline.
    """
    received = bytearray()
    try:
        return _read_client_hello(sock, deadline, idle_timeout, received)
    except (UnexpectedMessage, MessageTooLarge):
        raise
    except DecodeError as error:
        raise UnreadableHello(str(error), bytes(received)) from None
    except PeerClosed as error:
        raise HelloCutShort(str(error), bytes(received)) from None


def _read_client_hello(sock: socket.socket, deadline: float, idle_timeout: float,
                       received: bytearray) -> tuple[bytes, ClientHello]:
    pending = bytearray()
    messages = HandshakeBuffer({HandshakeType.client_hello: MAX_CLIENT_HELLO}, MAX_CLIENT_HELLO)
    while True:
        chunk = recv_before(sock, 16384, deadline, idle_timeout)
        if not chunk:
            raise PeerClosed("client closed before sending a whole ClientHello")
        received += chunk
        pending += chunk
        if received[0] & 0x80 and len(received) < 4:
            continue  # an SSLv2-format header, perhaps: its first four bytes tell
        sslv2_length = sslv2_hello_length(received)
        if sslv2_length is not None:  # OpenSSL (and s2n-tls) take one up to TLS 1.2: no SNI in it
            if len(received) >= sslv2_length:
                return bytes(received), ClientHello.from_sslv2(bytes(received[:sslv2_length]))
            continue
        if len(received) > MAX_CLIENT_HELLO:
            raise DecodeError(f"ClientHello larger than {MAX_CLIENT_HELLO} bytes")
        if len(pending) >= 5 and int.from_bytes(pending[3:5], "big") > 2**14:  # plaintext: RFC 8446 5.1
            raise DecodeError(f"a record of {int.from_bytes(pending[3:5], 'big')} bytes, over 2^14")
        while (parsed := Record.parse_prefix(bytes(pending[:5 + 0xFFFF]))) is not None:
            record, size = parsed
            del pending[:size]
            if record.content_type != ContentType.handshake:
                raise UnexpectedMessage(f"expected a handshake record, got {ContentType(record.content_type).name}")
            for msg_type, body in messages.feed(record.fragment):
                if msg_type != HandshakeType.client_hello:
                    raise UnexpectedMessage(f"expected a ClientHello, got handshake type {msg_type}")
                return bytes(received), ClientHello.from_body(body)


class HelloCutShort(PeerClosed):
    """The client closed its side before a whole ClientHello: OpenSSL is asked what it answers."""

    def __init__(self, reason: str, received: bytes) -> None:
        super().__init__(reason)
        self.received = received


class UnreadableHello(DecodeError):
    """Bytes our reader cannot read as a ClientHello (not records, or a hello that does not parse):
    OpenSSL is asked instead."""

    def __init__(self, reason: str, received: bytes) -> None:
        super().__init__(reason)
        self.received = received


UNREAD_HELLO = ClientHello(0, bytes(32), b"", (), ())  # what is known of a hello the reader could not parse


def openssl_alert_for(context: SSL.Context, received: bytes, then_closed: bool = False) -> bytes | None:
    """The alert OpenSSL sends for these bytes under `context` (its own parse error; with
    `then_closed`, for the end that follows them), or None when OpenSSL parses them and goes on."""
    connection = SSL.Connection(context, None)
    connection.set_accept_state()
    if received:
        connection.bio_write(received)
    if then_closed:
        connection.bio_shutdown()
    try:
        connection.do_handshake()
    except SSL.WantReadError:
        return None
    except SSL.Error:
        try:
            return connection.bio_read(65536)
        except SSL.WantReadError:
            return b""
    return None


class TlsStream:
    """A server-side pyOpenSSL connection over memory BIOs, pumped through a blocking socket."""

    def __init__(self, context: SSL.Context, sock: socket.socket, already_received: bytes, idle_timeout: float) -> None:
        self.sock = sock
        self.idle_timeout = idle_timeout
        self.deadline: float | None = None  # set for the handshake only
        self.tls = SSL.Connection(context, None)
        self.tls.set_accept_state()
        self.tls.bio_write(already_received)

    def _flush(self) -> None:
        while True:
            try:
                data = self.tls.bio_read(65536)
            except SSL.WantReadError:
                return
            self.sock.sendall(data)

    def _pump_in(self) -> bool:
        data = recv_before(self.sock, 65536, self.deadline, self.idle_timeout)
        if not data:
            self.tls.bio_shutdown()
            return False
        self.tls.bio_write(data)
        return True

    def handshake(self, deadline: float) -> None:
        """Complete the handshake by `deadline`. On an SSL.Error, OpenSSL's alert stays pending until the
        caller has recorded the refusal and calls flush(): a client that has its alert finds the record."""
        self.deadline = deadline
        while True:
            try:
                self.tls.do_handshake()
                self._flush()
                self.deadline = None
                return
            except SSL.WantReadError:
                self._flush()
                if not self._pump_in():
                    with contextlib.suppress(SSL.Error):
                        self.tls.do_handshake()  # OpenSSL's answer to the end (decode_error), as alone
                    with contextlib.suppress(OSError):
                        self._flush()
                    raise PeerClosed("client closed during the handshake") from None
            except SSL.Error:
                raise

    def flush(self) -> None:
        """Send what OpenSSL has written (an alert, after a failed handshake)."""
        self._flush()

    def set_deadline(self, deadline: float | None) -> None:
        """Bound every read until `deadline` (a whole request, not only each read)."""
        self.deadline = deadline

    def recv(self, size: int = 65536) -> bytes:
        """Application data, or b"" once the client has closed."""
        while True:
            try:
                return self.tls.recv(size)
            except SSL.WantReadError:
                self._flush()
                if not self._pump_in():
                    return b""
            except (SSL.ZeroReturnError, SSL.SysCallError):
                return b""
            except SSL.Error:
                self._flush()  # OpenSSL's alert (bad_record_mac, record_overflow...) reaches the client
                raise

    def sendall(self, data: bytes) -> None:
        self.tls.sendall(data)
        self._flush()

    def close_notify(self) -> None:
        try:
            self.tls.shutdown()
            self._flush()
        except (SSL.Error, OSError):
            pass

    @property
    def negotiated(self) -> dict[str, str | None]:
        group = getattr(self.tls, "get_group_name", lambda: None)()
        return {"tlsVersion": self.tls.get_protocol_version_name(), "cipherSuite": self.tls.get_cipher_name(),
                "tlsGroup": group}
