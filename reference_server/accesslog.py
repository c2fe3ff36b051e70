"""Access log lines in API Gateway's style: `$context.*` variables, JSON lines by default.

`$context.tlsVersion` and `$context.cipherSuite` are API Gateway's own (OpenSSL spelling here);
`$context.sni`, `$context.host`, `$context.tlsGroup`, `$context.securityPolicy`, `$context.arrivalType`,
`$context.endpointAccessMode` and `$context.endpointType` are this server's additions.
"""

from __future__ import annotations

import collections
import json
import re
import threading
from typing import Any, TextIO

from .config import DEFAULT_LOG_FORMAT

_VARIABLE = re.compile(r"\$context\.([A-Za-z0-9_.]+)")
VARIABLES = ("requestId", "requestTime", "domainName", "identity.sourceIp", "identity.userAgent", "httpMethod",
             "path", "protocol", "status", "responseLength", "tlsVersion", "cipherSuite", "tlsGroup", "sni",
             "host", "securityPolicy", "endpointAccessMode", "endpointType", "arrivalType", "error.message")


def format_line(fmt: str, values: dict[str, Any]) -> str:
    """Render one line; unknown or empty variables print "-" as API Gateway does."""
    if fmt == DEFAULT_LOG_FORMAT:
        return json.dumps({name: values.get(name) for name in VARIABLES}, separators=(",", ":"))

    def substitute(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        return "-" if value in (None, "") else str(value)

    return _VARIABLE.sub(substitute, fmt)


class AccessLog:
    """Thread-safe line writer; keeps the last `keep` lines in memory for fixtures and tests."""

    def __init__(self, stream: TextIO | None, fmt: str = DEFAULT_LOG_FORMAT, keep: int = 10_000) -> None:
        self.stream = stream
        self.fmt = fmt
        self.lock = threading.Lock()
        self.lines: collections.deque[str] = collections.deque(maxlen=keep)

    def write(self, values: dict[str, Any]) -> None:
        line = format_line(self.fmt, values)
        with self.lock:
            self.lines.append(line)
            if self.stream is not None:
                self.stream.write(line + "\n")
                self.stream.flush()
