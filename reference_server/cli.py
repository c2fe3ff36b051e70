"""`apigw-tls serve`: run the reference server in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any

from pytest_apigw_tls.errors import ConfigError

if TYPE_CHECKING:
    from .config import ServerConfig
    from .server import ReferenceServer


def register(commands: Any) -> None:
    serve = commands.add_parser("serve", help="run the policy-enforcing reference server",
                                description="Serve every endpoint of a config (default: one per catalog policy) "
                                            "on one TLS port; the policy is chosen by SNI.")
    serve.add_argument("--config", metavar="FILE", help="endpoints TOML (default: built-in endpoints)")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (default 0: any free port)")
    serve.add_argument("--access-log", metavar="FILE", help="append access-log lines to FILE (default stdout)")
    serve.add_argument("--admin-port", type=int, metavar="PORT",
                       help="also serve the admin endpoint (update-rest-api / update-domain-name) on this loopback "
                            "port (0: any free port)")
    serve.add_argument("--admin-host", default="127.0.0.1", metavar="ADDRESS",
                       help="address of the admin endpoint (default 127.0.0.1 whatever --host is: it has no "
                            "authentication; bind it elsewhere only on purpose)")
    serve.add_argument("--propagation-delay", type=float, default=0.0, metavar="SECONDS",
                       help="delay before an accepted change is enforced (AWS: up to 900); default 0")
    serve.set_defaults(run=run_serve)


def _with_overrides(config: ServerConfig, args: argparse.Namespace) -> ServerConfig:
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    return dataclasses.replace(config, settings=dataclasses.replace(config.settings, **overrides)).validate()


def endpoint_table(server: ReferenceServer) -> str:
    rows = [f"  {'hostname':<52} {'type':<8} {'policy':<44} {'mode':<6} cert"]
    for e in server.endpoints:
        rows.append(f"  {e.hostname:<52} {e.endpoint_type:<8} {e.security_policy:<44} {e.access_mode or '-':<6} "
                    f"{e.cert_type}")
    return "\n".join(rows)


def _close_quietly(stream: Any) -> None:
    """A log that could not be written (a full disk) has said so already; closing must not add a traceback."""
    with contextlib.suppress(OSError):
        stream.close()


def _check_numbers(args: argparse.Namespace) -> None:
    for name in ("port", "admin_port"):
        value = getattr(args, name)
        if value is not None and not 0 <= value <= 65535:
            raise ConfigError(f"--{name.replace('_', '-')} {value} is out of range (0-65535)")
    if not math.isfinite(args.propagation_delay) or args.propagation_delay < 0:
        raise ConfigError(f"--propagation-delay must be a finite number >= 0, not {args.propagation_delay}")


def run_serve(args: argparse.Namespace) -> int:
    _check_numbers(args)
    from .admin import AdminServer
    from .config import default_config, load_config
    from .control import ControlPlane
    from .server import ReferenceServer

    config = _with_overrides(load_config(args.config, args.catalog) if args.config else default_config(args.catalog),
                             args)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())  # before the address is printed: callers may stop us then
    with contextlib.ExitStack() as stack:
        log_stream = sys.stdout
        if args.access_log:
            try:
                log_stream = open(args.access_log, "a", encoding="utf-8")
                stack.callback(_close_quietly, log_stream)
            except OSError as error:
                raise ConfigError(f"cannot open access log {args.access_log}: {error.strerror}") from None
        try:
            server = stack.enter_context(ReferenceServer(config, access_log=log_stream))
        except OSError as error:
            raise ConfigError(str(error.strerror or error)) from None
        admin_line = ""
        if args.admin_port is not None:
            control = ControlPlane(server, args.propagation_delay)
            stack.callback(control.cancel)
            try:
                admin = stack.enter_context(AdminServer(control, args.admin_host, args.admin_port))
            except OSError as error:  # the port taken, by another program or by --port itself
                raise ConfigError(f"admin endpoint on {args.admin_host}:{args.admin_port}: "
                                  f"{error.strerror or error}") from None
            admin_line = f"admin endpoint: {admin.url}\n"
        host, port = server.address
        shown = f"[{host}]" if ":" in host else host
        example = server.endpoints[0].hostname
        paths = "".join(f"arrival path {kind}: {h}:{p}\n" for kind, (h, p) in server.arrival_paths.items())
        print(f"apigw-tls reference server on {shown}:{port}\nCA file: {server.ca_file}\n{endpoint_table(server)}\n"
              f"{paths}{admin_line}Try: curl --cacert {server.ca_file} --resolve {example}:{port}:{host} https://{example}:{port}/",
              flush=True)
        try:
            stopped.wait()
        except KeyboardInterrupt:
            pass
        print("stopping", file=sys.stderr)
    return 0
