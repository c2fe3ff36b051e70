"""Protocol code points that are not policy data: versions and alert descriptions.

Suites and groups live in the packaged catalog (``data/catalog.toml``); these enums are the fixed
vocabulary of the wire (RFC 8446 section 4.1.2 and B.2, RFC 5246 section 7.2).
"""

from __future__ import annotations

import enum


class TlsVersion(enum.IntEnum):
    """Wire values of the protocol versions (RFC 8446 section 4.2.1)."""

    SSLv3 = 0x0300
    TLSv1_0 = 0x0301
    TLSv1_1 = 0x0302
    TLSv1_2 = 0x0303
    TLSv1_3 = 0x0304

    @property
    def label(self) -> str:
        """Readable spelling used in test ids and reports ("TLSv1.0", "TLSv1.2")."""
        return "SSLv3" if self is TlsVersion.SSLv3 else "TLSv" + self.name[4:].replace("_", ".")

    @property
    def openssl_name(self) -> str:
        """OpenSSL's exact spelling, as servers log it ("TLSv1" for TLS 1.0)."""
        return "TLSv1" if self is TlsVersion.TLSv1_0 else self.label

    @classmethod
    def from_label(cls, text: str) -> "TlsVersion":
        """Parse "TLSv1.2", "TLS 1.2", "tls1.2", "TLSv1" or "1.2"."""
        cleaned = text.strip().upper().replace(" ", "").replace("_", ".")
        cleaned = cleaned.removeprefix("TLSV").removeprefix("TLS")
        aliases = {"SSLV3": cls.SSLv3, "SSLV3.0": cls.SSLv3, "1": cls.TLSv1_0, "1.0": cls.TLSv1_0,
                   "1.1": cls.TLSv1_1, "1.2": cls.TLSv1_2, "1.3": cls.TLSv1_3}
        try:
            return aliases[cleaned]
        except KeyError:
            raise ValueError(f"unknown TLS version {text!r}") from None


class AlertDescription(enum.IntEnum):
    """Alert descriptions a server may answer a ClientHello with (RFC 8446 section 6)."""

    close_notify = 0
    unexpected_message = 10
    bad_record_mac = 20
    record_overflow = 22
    handshake_failure = 40
    bad_certificate = 42
    illegal_parameter = 47
    unknown_ca = 48
    access_denied = 49
    decode_error = 50
    decrypt_error = 51
    protocol_version = 70
    insufficient_security = 71
    internal_error = 80
    inappropriate_fallback = 86
    user_canceled = 90
    missing_extension = 109
    unsupported_extension = 110
    unrecognized_name = 112
    no_application_protocol = 120

    @classmethod
    def refuses_offer(cls, value: int) -> bool:
        """Whether this alert, answering a ClientHello, is a refusal of what it offered. A server fault
        (internal_error), a cancelled or denied connection, or a record-layer complaint says nothing
        about the versions, suites or groups offered: the question stays open."""
        return value not in _SAYS_NOTHING_ABOUT_THE_OFFER

    @classmethod
    def describe(cls, value: int) -> str:
        """The RFC name of an alert, or its number when unknown."""
        try:
            return cls(value).name
        except ValueError:
            return f"alert_{value}"


_SAYS_NOTHING_ABOUT_THE_OFFER = frozenset({
    AlertDescription.internal_error, AlertDescription.user_canceled, AlertDescription.access_denied,
    AlertDescription.unexpected_message, AlertDescription.bad_record_mac, AlertDescription.record_overflow,
    AlertDescription.decrypt_error})
