"""TLS records and the handshake messages a probe needs: ClientHello out; ServerHello, HelloRetryRequest
and Alert in (RFC 8446 sections 4.1.2-4.1.4, 5.1, 6; RFC 5246 for TLS 1.2 and below).

Each message is an immutable named tuple with `to_bytes()` and `from_bytes()`; the parser checks every
length and raises DecodeError with the reason.
"""

from __future__ import annotations

import enum
from typing import Mapping, NamedTuple

from .codec import DecodeError, Reader, uint, uints, vector

MAX_RECORD_FRAGMENT = 2**14 + 2048  # RFC 8446 5.2: TLSCiphertext may exceed 2^14 by up to 2048


class ContentType(enum.IntEnum):
    change_cipher_spec = 20
    alert = 21
    handshake = 22
    application_data = 23


class HandshakeType(enum.IntEnum):
    client_hello = 1
    server_hello = 2
    certificate = 11
    server_key_exchange = 12
    server_hello_done = 14


class ExtensionType(enum.IntEnum):
    server_name = 0  # RFC 6066
    supported_groups = 10  # RFC 8422 / 8446
    ec_point_formats = 11  # RFC 8422
    signature_algorithms = 13  # RFC 8446
    extended_master_secret = 23  # RFC 7627
    supported_versions = 43  # RFC 8446
    psk_key_exchange_modes = 45
    cookie = 44  # RFC 8446 4.2.2
    key_share = 51
    renegotiation_info = 0xFF01  # RFC 5746


# RFC 8446 4.1.3: a ServerHello with this random is a HelloRetryRequest.
HRR_RANDOM = bytes.fromhex("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C")


class Record(NamedTuple):
    """One TLSPlaintext record."""

    content_type: int
    version: int
    fragment: bytes

    def to_bytes(self) -> bytes:
        return uint(self.content_type, 1) + uint(self.version, 2) + vector(self.fragment, 2)

    @classmethod
    def parse_prefix(cls, data: bytes | memoryview) -> tuple["Record", int] | None:
        """Parse one record from the front of `data`: (record, bytes used), or None if incomplete."""
        if len(data) < 5:
            return None
        content_type, version, length = data[0], int.from_bytes(data[1:3], "big"), int.from_bytes(data[3:5], "big")
        if content_type not in ContentType._value2member_map_:
            raise DecodeError(f"not a TLS record: content type {content_type}")
        if data[1] != 3:
            raise DecodeError(f"not a TLS record: version 0x{version:04X}")
        if length > MAX_RECORD_FRAGMENT:
            raise DecodeError(f"record of {length} bytes exceeds the protocol limit")
        if len(data) < 5 + length:
            return None
        return cls(content_type, version, bytes(data[5:5 + length])), 5 + length


class Extension(NamedTuple):
    """One extension: its type and its bytes as sent (RFC 8446 4.2)."""

    type: int
    data: bytes

    def to_bytes(self) -> bytes:
        return uint(self.type, 2) + vector(self.data, 2)


def _parse_extensions(reader: Reader) -> tuple[Extension, ...]:
    if not reader.remaining:
        return ()
    body = reader.sub(2)
    out = []
    while body.remaining:
        out.append(Extension(body.uint(2), body.vector(2)))
    return tuple(out)


def _find(extensions: tuple[Extension, ...], ext_type: int) -> bytes | None:
    return next((e.data for e in extensions if e.type == ext_type), None)


def handshake_message(msg_type: int, body: bytes) -> bytes:
    return uint(msg_type, 1) + vector(body, 3)


class KeyShareEntry(NamedTuple):
    """A group and the public key share offered for it (RFC 8446 4.2.8)."""

    group: int
    key_exchange: bytes

    def to_bytes(self) -> bytes:
        return uint(self.group, 2) + vector(self.key_exchange, 2)


class ClientHello(NamedTuple):
    """A ClientHello with exactly the fields we choose; `extensions` are written in the given order."""

    legacy_version: int
    random: bytes
    session_id: bytes
    cipher_suites: tuple[int, ...]
    extensions: tuple[Extension, ...]
    compression_methods: bytes = b"\x00"

    def body(self) -> bytes:
        out = uint(self.legacy_version, 2) + self.random + vector(self.session_id, 1)
        out += uints(self.cipher_suites, 2, 2) + vector(self.compression_methods, 1)
        if self.extensions:
            out += vector(b"".join(e.to_bytes() for e in self.extensions), 2)
        return out

    def to_bytes(self) -> bytes:
        """The handshake message (type, length, body), without a record header."""
        return handshake_message(HandshakeType.client_hello, self.body())

    def to_records(self, record_version: int = 0x0301) -> bytes:
        """The message in as many records as it needs (record version 0x0301 for compatibility)."""
        message = self.to_bytes()
        return b"".join(Record(ContentType.handshake, record_version, message[i:i + 2**14]).to_bytes()
                        for i in range(0, len(message), 2**14))

    @classmethod
    def from_bytes(cls, message: bytes) -> "ClientHello":
        reader = Reader(message)
        if reader.uint(1) != HandshakeType.client_hello:
            raise DecodeError("not a ClientHello")
        body = reader.vector(3)
        reader.expect_end("ClientHello")
        return cls.from_body(body)

    @classmethod
    def from_body(cls, data: bytes) -> "ClientHello":
        body = Reader(data)
        hello = cls(legacy_version=body.uint(2), random=body.take(32), session_id=body.vector(1),
                    cipher_suites=body.uints(2, 2), compression_methods=body.vector(1),
                    extensions=_parse_extensions(body))
        body.expect_end("ClientHello extensions")
        return hello

    @classmethod
    def from_sslv2(cls, message: bytes) -> "ClientHello":
        """An SSLv2-format ClientHello (RFC 5246 E.2), as the hello it stands for: no extensions, so no
        SNI; the TLS suites among its 3-byte cipher specs; the challenge as the random. What does not
        parse is left for the TLS stack to refuse (an empty hello here)."""
        reader = Reader(message[3:])
        try:
            version, specs_length, session_length, challenge_length = (reader.uint(2) for _ in range(4))
            specs, session_id, challenge = (reader.take(specs_length), reader.take(session_length),
                                            reader.take(challenge_length))
        except DecodeError:
            return cls(0, bytes(32), b"", (), ())
        suites = tuple(int.from_bytes(specs[i + 1:i + 3], "big") for i in range(0, len(specs) - 2, 3)
                       if specs[i] == 0)
        return cls(version, challenge[-32:].rjust(32, b"\x00"), session_id, suites, ())

    @property
    def server_name(self) -> str | None:
        """The host_name entry of the server_name extension (RFC 6066 section 3), if any."""
        data = _find(self.extensions, ExtensionType.server_name)
        if data is None:
            return None
        names = Reader(data).sub(2)
        while names.remaining:
            name_type, name = names.uint(1), names.vector(2)
            if name_type == 0:
                try:
                    return name.decode("ascii")
                except UnicodeDecodeError:
                    raise NotAscii("server_name is not ASCII") from None
        return None


def sslv2_hello_length(data: bytes | bytearray) -> int | None:
    """The length of the SSLv2-format ClientHello `data` starts with (two-byte header, message type 1,
    a version of major 3; RFC 5246 E.2: servers accepting TLS 1.0-1.2 take it), or None when it starts
    otherwise."""
    if len(data) >= 4 and data[0] & 0x80 and data[2] == 1 and data[3] == 3:  # message type, SSL 3+ major
        return 2 + (((data[0] & 0x7F) << 8) | data[1])
    return None


class ServerHello(NamedTuple):
    """A ServerHello or HelloRetryRequest, with the values a probe reads from it."""

    legacy_version: int
    random: bytes
    session_id: bytes
    cipher_suite: int
    compression_method: int
    extensions: tuple[Extension, ...]

    @property
    def is_hello_retry_request(self) -> bool:
        return self.random == HRR_RANDOM

    @property
    def selected_version(self) -> int:
        """supported_versions if present (TLS 1.3), else legacy_version."""
        data = _find(self.extensions, ExtensionType.supported_versions)
        if data is None:
            return self.legacy_version
        if len(data) != 2:
            raise DecodeError("supported_versions in ServerHello must hold one version")
        return int.from_bytes(data, "big")

    def has_extension(self, extension_type: int) -> bool:
        return _find(self.extensions, extension_type) is not None

    @property
    def key_share_group(self) -> int | None:
        """The group of the server's key share, or the group a HelloRetryRequest asks for."""
        data = _find(self.extensions, ExtensionType.key_share)
        if data is None or len(data) < 2:
            return None
        return int.from_bytes(data[:2], "big")

    def body(self) -> bytes:
        out = uint(self.legacy_version, 2) + self.random + vector(self.session_id, 1)
        out += uint(self.cipher_suite, 2) + uint(self.compression_method, 1)
        if self.extensions:
            out += vector(b"".join(e.to_bytes() for e in self.extensions), 2)
        return out

    def to_bytes(self) -> bytes:
        return handshake_message(HandshakeType.server_hello, self.body())

    @classmethod
    def from_body(cls, body: bytes) -> "ServerHello":
        reader = Reader(body)
        hello = cls(legacy_version=reader.uint(2), random=reader.take(32), session_id=reader.vector(1),
                    cipher_suite=reader.uint(2), compression_method=reader.uint(1),
                    extensions=_parse_extensions(reader))
        reader.expect_end("ServerHello")
        return hello


class Alert(NamedTuple):
    """An alert's level (1 warning, 2 fatal) and description (RFC 8446 6)."""

    level: int
    description: int

    def to_bytes(self) -> bytes:
        return bytes([self.level, self.description])

    @classmethod
    def from_bytes(cls, data: bytes) -> "Alert":
        if len(data) != 2:
            raise DecodeError(f"alert of {len(data)} bytes (must be 2)")
        if data[0] not in (1, 2):
            raise DecodeError(f"alert level {data[0]} is neither warning nor fatal")
        return cls(data[0], data[1])


class RecordBuffer:
    """Collects bytes as they arrive and hands out whole records (one may take several reads).

    Buffering is linear (a bytearray consumed once per feed) and bounded: a record longer than the
    protocol allows is refused at its header, before its bytes arrive."""

    def __init__(self) -> None:
        self._pending = bytearray()

    @property
    def pending(self) -> bool:
        return bool(self._pending)

    def feed(self, data: bytes) -> list[Record]:
        """The records completed by `data`; DecodeError when the bytes are not TLS records."""
        self._pending += data
        records, used = [], 0
        view = memoryview(self._pending)
        try:
            while (parsed := Record.parse_prefix(view[used:])) is not None:
                record, size = parsed
                used += size
                records.append(record)
        finally:
            view.release()
        del self._pending[:used]
        return records


class HandshakeBuffer:
    """Collects records and yields whole handshake messages (they may span or share records).

    Args:
        limits: the largest body accepted per handshake type; a header claiming more is refused at
            once (DecodeError), so a peer cannot make us buffer up to the 16 MiB a length field allows.
        default_limit: the limit of types not in `limits` (the protocol's own maximum by default).
    """

    def __init__(self, limits: Mapping[int, int] | None = None, default_limit: int = 2**24 - 1) -> None:
        self._pending = bytearray()
        self.limits = dict(limits or {})
        self.default_limit = default_limit

    @property
    def pending(self) -> bool:
        return bool(self._pending)

    def feed(self, fragment: bytes) -> list[tuple[int, bytes]]:
        self._pending += fragment
        messages: list[tuple[int, bytes]] = []
        used = 0
        while len(self._pending) - used >= 4:
            msg_type = self._pending[used]
            length = int.from_bytes(self._pending[used + 1:used + 4], "big")
            limit = self.limits.get(msg_type, self.default_limit)
            if length > limit:
                if messages:  # the whole messages before it first: a reader acts on them in order
                    break
                raise MessageTooLarge(msg_type, length, limit)
            if len(self._pending) - used < 4 + length:
                break
            messages.append((msg_type, bytes(self._pending[used + 4:used + 4 + length])))
            used += 4 + length
        del self._pending[:used]
        return messages


class NotAscii(DecodeError):
    """A name that must be ASCII (RFC 6066 3) is not: a parameter no server takes (illegal_parameter)."""


class MessageTooLarge(DecodeError):
    """A handshake message whose header claims more bytes than its limit (protocol or client-side)."""

    def __init__(self, msg_type: int, length: int, limit: int) -> None:
        self.msg_type, self.length, self.limit = msg_type, length, limit
        try:
            name = HandshakeType(msg_type).name
        except ValueError:
            name = f"type {msg_type}"
        super().__init__(f"{name} message of {length} bytes is over the limit of {limit} bytes")
