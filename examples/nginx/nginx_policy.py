"""A vendor's conformance run, on nginx: turn a catalog policy into an nginx configuration, start
Debian's nginx on loopback with it, and run the conformance suite against it.

    python examples/nginx/nginx_policy.py --policy SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09 [--cert-type rsa]

nginx here links the system OpenSSL (3.0): it has no post-quantum hybrid groups, so a PQ policy
can only be implemented without them; `unsupported_groups()` names them and the run reports the
cases that fail for that reason apart from any other failure.
"""

from __future__ import annotations

import argparse
import contextlib
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from typing import Iterator

import trustme

from pytest_apigw_tls import Policy, load_catalog

HOSTNAME = "vendor.example.test"
# What the system OpenSSL 3.0 behind Debian's nginx knows (the hybrids arrived in OpenSSL 3.5).
SYSTEM_OPENSSL_GROUPS = {"x25519", "x448", "secp256r1", "secp384r1", "secp521r1", "ffdhe2048", "ffdhe3072"}
_NGINX_GROUP_NAMES = {"secp256r1": "prime256v1"}


def unsupported_groups(policy: Policy) -> list[str]:
    return [g.name for g in policy.groups.value if g.name not in SYSTEM_OPENSSL_GROUPS]


def render_config(policy: Policy, prefix: pathlib.Path, port: int, cert_file: pathlib.Path) -> str:
    """nginx.conf implementing `policy` as closely as nginx with the system OpenSSL can."""
    versions = " ".join(v.label.replace("TLSv1.0", "TLSv1") for v in policy.versions.value)
    legacy = ":".join(s.openssl for s in policy.tls12_suites.value) or "DEFAULT"
    security_level = 0 if min(policy.versions.value) < 0x0303 else 1
    groups = ":".join(_NGINX_GROUP_NAMES.get(g.name, g.name) for g in policy.groups.value
                      if g.name in SYSTEM_OPENSSL_GROUPS)
    tls13 = ":".join(s.openssl for s in policy.tls13_suites.value)
    return f"""
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name {HOSTNAME};
        ssl_certificate {cert_file};
        ssl_certificate_key {cert_file};
        ssl_protocols {versions};
        ssl_ciphers {legacy}:@SECLEVEL={security_level};
        ssl_conf_command Ciphersuites {tls13};
        ssl_ecdh_curve {groups};
        ssl_prefer_server_ciphers on;
        ssl_session_tickets off;
        location / {{ default_type application/json; return 200 '{{"server":"nginx"}}'; }}
    }}
}}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_nginx(policy: Policy, cert_type: str = "rsa") -> Iterator[tuple[str, int]]:
    """Start nginx in the foreground on a free loopback port; yield its address; stop it."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not pathlib.Path(binary).exists():
        raise FileNotFoundError("nginx is not installed (apt-get install nginx)")
    with tempfile.TemporaryDirectory(prefix="apigw-nginx-") as directory:
        prefix = pathlib.Path(directory)
        leaf = trustme.CA().issue_cert(HOSTNAME, key_type=trustme.KeyType[cert_type.upper()])
        cert_file = prefix / "leaf.pem"
        leaf.private_key_and_cert_chain_pem.write_to_path(str(cert_file))
        port = _free_port()
        (prefix / "nginx.conf").write_text(render_config(policy, prefix, port, cert_file))
        command = [binary, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"]
        with subprocess.Popen(command, stderr=subprocess.PIPE, text=True) as process:
            try:
                _wait_listening(port, process)
                yield "127.0.0.1", port
            finally:
                process.terminate()
                process.wait(timeout=10)


def _wait_listening(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited: {process.stderr.read().strip() if process.stderr else ''}")
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        time.sleep(0.05)
    raise RuntimeError("nginx did not start listening within 10s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the conformance suite against nginx set up for a policy.")
    parser.add_argument("--policy", default="SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09")
    parser.add_argument("--cert-type", choices=("rsa", "ecdsa"), default="rsa")
    args = parser.parse_args(argv)
    policy = load_catalog().policy(args.policy)
    missing = unsupported_groups(policy)
    with running_nginx(policy, args.cert_type) as (host, port):
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "--pyargs", "pytest_apigw_tls.conformance", "-q", "-p", "no:cacheprovider",
             "--tb=no",
             "-rf", "--apigw-target", f"{host}:{port}", "--apigw-sni", HOSTNAME, "--apigw-policy", policy.id,
             "--apigw-cert-type", args.cert_type], cwd=tempfile.gettempdir(), capture_output=True, text=True)
    print(result.stdout)
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAILED")]
    explained = [line for line in failed if any(f"-{group}-accepted" in line for group in missing)]
    print(f"nginx (system OpenSSL) under {policy.id}: {len(failed)} failing cases; "
          f"{len(explained)} of them are post-quantum groups this OpenSSL lacks ({', '.join(missing) or 'none'}); "
          f"{len(failed) - len(explained)} other")
    return 0 if len(failed) == len(explained) else 1


if __name__ == "__main__":
    sys.exit(main())
