"""Access log lines in API Gateway's style: `$context.*` variables, JSON lines by default.

`$context.tlsVersion` and `$context.cipherSuite` are API Gateway's own (OpenSSL spelling here);
`$context.sni`, `$context.host`, `$context.tlsGroup`, `$context.securityPolicy`, `$context.arrivalType`,
`$context.endpointAccessMode` and `$context.endpointType` are this server's additions.
"""

from __future__ import annotations

import collections
import html
import json
import re
import sys
import threading
from typing import Any, TextIO

from .config import DEFAULT_LOG_FORMAT

_VARIABLE = re.compile(r"\$context\.([A-Za-z0-9_.]+)")
VARIABLES = ("requestId", "requestTime", "domainName", "identity.sourceIp", "identity.userAgent", "httpMethod",
             "path", "protocol", "status", "responseLength", "tlsVersion", "cipherSuite", "tlsGroup", "sni",
             "host", "securityPolicy", "endpointAccessMode", "endpointType", "arrivalType", "error.message")


def format_kind(fmt: str) -> str:
    """How values must be escaped: by the syntax of the format they sit in (API Gateway's console
    presets are JSON, XML, CSV and CLF)."""
    stripped = fmt.strip()
    if stripped == DEFAULT_LOG_FORMAT or stripped.startswith("{"):
        return "json"
    if stripped.startswith("<"):
        return "xml"
    if "," in stripped and " " not in stripped:
        return "csv"
    return "text"


def escape(kind: str, value: str, quoted: bool) -> str:
    """A value rendered so that no client-chosen byte can end its field or its line (no forged fields,
    no split lines): JSON string escapes, XML entities, RFC 4180 quoting, or CLF-style backslash escapes."""
    if kind == "json":
        escaped = json.dumps(value)
        return escaped[1:-1] if quoted else escaped
    if kind == "xml":
        return html.escape(value, quote=True).translate(_CONTROL_AS_ENTITY)
    if kind == "csv":
        clean = value.translate(_CONTROL_AS_SPACE)
        return f'"{clean.replace(chr(34), chr(34) * 2)}"' if any(c in clean for c in ',"') else clean
    out = []
    for char in value:
        if char in '"\\' or ord(char) < 0x20 or ord(char) == 0x7F or (char == " " and not quoted):
            out.append(f"\\x{ord(char):02x}" if char not in '"\\' else "\\" + char)
        else:
            out.append(char)
    return "".join(out)


_CONTROL_AS_ENTITY = {code: f"&#{code};" for code in range(0x20) if code not in (0x09,)}
_CONTROL_AS_SPACE = {code: " " for code in range(0x20)}


def format_line(fmt: str, values: dict[str, Any]) -> str:
    """Render one line; unknown or empty variables print "-" as API Gateway does; every value escaped
    for the format's syntax."""
    if fmt == DEFAULT_LOG_FORMAT:
        return json.dumps({name: values.get(name) for name in VARIABLES}, separators=(",", ":"))
    kind = format_kind(fmt)

    def substitute(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        if value in (None, ""):
            return "-"
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        opener = fmt[match.start() - 1] if match.start() > 0 else ""
        if kind == "text" and opener == "[":  # CLF's [$context.requestTime]: spaces kept as the service writes them
            return escape(kind, str(value), quoted=True).replace("]", "\\x5d")
        return escape(kind, str(value), quoted=opener in ('"', "'"))

    return _VARIABLE.sub(substitute, fmt)


class AccessLog:
    """Thread-safe line writer; keeps the last `keep` lines in memory for fixtures and tests."""

    def __init__(self, stream: TextIO | None, fmt: str = DEFAULT_LOG_FORMAT, keep: int = 10_000) -> None:
        self.stream = stream
        self.fmt = fmt
        self.lock = threading.Lock()
        self.lines: collections.deque[str] = collections.deque(maxlen=keep)
        self.lost = 0  # lines that could not be written to the stream

    def write(self, values: dict[str, Any]) -> None:
        line = format_line(self.fmt, values)
        with self.lock:
            self.lines.append(line)
            if self.stream is None:
                return
            try:
                self.stream.write(line + "\n")
                self.stream.flush()
            except (OSError, ValueError) as error:  # a full disk or a closed file: say so, never lose lines silently
                self.lost += 1
                if self.lost == 1:
                    print(f"apigw-tls: access log: cannot write ({error}); counting lost lines", file=sys.stderr)
