"""One exception family, so front-ends can turn any of them into a one-line message."""

from __future__ import annotations


class ApigwTlsError(Exception):
    """Base of every error this project raises on purpose; its text is meant for the user."""


class CatalogError(ApigwTlsError):
    """The packaged catalog or a name looked up in it is wrong."""


class UnknownPolicyError(CatalogError):
    """A policy name that the catalog does not know (the message suggests a close match)."""


class CapabilityError(ApigwTlsError):
    """The linked OpenSSL or Python library lacks something we need."""


class ConfigError(ApigwTlsError):
    """A configuration file or value is malformed."""


class TargetError(ApigwTlsError):
    """A target cannot be reached or named."""
