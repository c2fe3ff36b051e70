"""Raw TLS codec: ClientHello out; ServerHello, HelloRetryRequest and Alert in."""

from .builder import build_client_hello
from .codec import DecodeError
from .messages import (
    Alert,
    ClientHello,
    ContentType,
    HandshakeBuffer,
    HandshakeType,
    MessageTooLarge,
    NotAscii,
    Record,
    RecordBuffer,
    ServerHello,
    sslv2_hello_length,
)

__all__ = ["Alert", "ClientHello", "ContentType", "DecodeError", "HandshakeBuffer", "HandshakeType",
           "MessageTooLarge", "NotAscii", "Record", "RecordBuffer", "ServerHello", "build_client_hello",
           "sslv2_hello_length"]
