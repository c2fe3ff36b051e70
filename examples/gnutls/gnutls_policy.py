"""A vendor's run on another TLS stack: GnuTLS (Debian's gnutls-serv) set up for a catalog policy and
judged by the conformance suite.

    python examples/gnutls/gnutls_policy.py --policy SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09 [--cert-type rsa]

A GnuTLS priority string lists key exchanges, ciphers and MACs separately and enables every
combination of them, so it cannot express a suite list exactly: a TLS 1.3 policy with CHACHA20 and a
TLS 1.2 ECDHE list without it cannot be had together. Debian 12's GnuTLS (3.7) also has no
post-quantum hybrid groups. `unavoidable()` predicts both kinds of difference from the policy; the run
names each failing case and says whether it is one of them.
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
GNUTLS_GROUPS = {"x25519": "X25519", "x448": "X448", "secp256r1": "SECP256R1", "secp384r1": "SECP384R1",
                 "secp521r1": "SECP521R1", "ffdhe2048": "FFDHE2048", "ffdhe3072": "FFDHE3072"}
_CIPHERS = {"AES128-GCM": "AES-128-GCM", "AES256-GCM": "AES-256-GCM", "CHACHA20": "CHACHA20-POLY1305",
            "AES_128_GCM": "AES-128-GCM", "AES_256_GCM": "AES-256-GCM", "AES128": "AES-128-CBC",
            "AES256": "AES-256-CBC"}
_KX = {"ECDHE-ECDSA": "ECDHE-ECDSA", "ECDHE-RSA": "ECDHE-RSA", "DHE-RSA": "DHE-RSA"}


def _cipher(name: str) -> str:
    return next(value for key, value in _CIPHERS.items() if key in name)


def _kx(name: str) -> str:
    return next((value for key, value in _KX.items() if name.startswith(key)), "RSA")


def _mac(name: str) -> str:
    if any(a in name for a in ("GCM", "CHACHA20")):
        return "AEAD"
    return {"SHA384": "SHA384", "SHA256": "SHA256"}.get(name.rsplit("-", 1)[-1], "SHA1")


def priority(policy: Policy) -> str:
    """The closest GnuTLS priority string to `policy`."""
    versions = [f"+VERS-{v.label.replace('v', '').replace('TLS', 'TLS')}" for v in policy.versions.value]
    suites = policy.tls13_suites.value + policy.tls12_suites.value
    ciphers = dict.fromkeys(_cipher(s.openssl) for s in suites)
    kxs = dict.fromkeys(_kx(s.openssl) for s in policy.tls12_suites.value)
    macs = dict.fromkeys(["AEAD", *(_mac(s.openssl) for s in policy.tls12_suites.value)])
    groups = [f"+GROUP-{GNUTLS_GROUPS[g.name]}" for g in policy.groups.value if g.name in GNUTLS_GROUPS]
    parts = ["NONE", *versions, *(f"+{c}" for c in ciphers), *(f"+{k}" for k in kxs), *(f"+{m}" for m in macs),
             *groups, "+SIGN-ALL", "+COMP-NULL", "+CTYPE-X509"]
    return ":".join(parts)


def unavoidable(policy: Policy, cert_type: str) -> set[str]:
    """Case items GnuTLS cannot get right under this policy: groups it lacks, and the suites its
    cartesian priority string enables beyond the policy's list."""
    from pytest_apigw_tls import TlsVersion

    missing = {g.name for g in policy.groups.value if g.name not in GNUTLS_GROUPS}
    allowed = {s.openssl for s in policy.tls12_suites.value}
    ciphers = {_cipher(s.openssl) for s in policy.tls13_suites.value + policy.tls12_suites.value}
    kxs = {_kx(s.openssl) for s in policy.tls12_suites.value}
    macs = {"AEAD", *(_mac(s.openssl) for s in policy.tls12_suites.value)}
    extra = set()
    for suite in load_catalog().suites_at(TlsVersion.TLSv1_2):
        try:
            combination = (_kx(suite.openssl), _cipher(suite.openssl), _mac(suite.openssl))
        except StopIteration:
            continue
        if (suite.openssl not in allowed and combination[0] in kxs and combination[1] in ciphers
                and combination[2] in macs and suite.works_with_cert(cert_type)):
            extra.add(suite.openssl)
    return missing | extra


@contextlib.contextmanager
def running_gnutls(policy: Policy, cert_type: str) -> Iterator[tuple[str, int]]:
    server = shutil.which("gnutls-serv")
    if server is None:
        raise RuntimeError("gnutls-serv is not installed (Debian package gnutls-bin)")
    key_type = trustme.KeyType.RSA if cert_type == "rsa" else trustme.KeyType.ECDSA
    leaf = trustme.CA(key_type=key_type).issue_cert(HOSTNAME, key_type=key_type)
    with tempfile.TemporaryDirectory(prefix="apigw-gnutls-") as directory:
        cert, key = pathlib.Path(directory) / "cert.pem", pathlib.Path(directory) / "key.pem"
        cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
        leaf.private_key_pem.write_to_path(str(key))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        process = subprocess.Popen([server, "--http", "--port", str(port), "--x509certfile", str(cert),
                                    "--x509keyfile", str(key), "--priority", priority(policy)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 10
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"gnutls-serv exited: {process.stderr.read().strip()[:300]}")
                with contextlib.suppress(OSError):
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("gnutls-serv did not start listening within 10s")
                time.sleep(0.05)
            yield "127.0.0.1", port
        finally:
            process.terminate()
            process.wait(timeout=10)
            if process.stderr:
                process.stderr.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the conformance suite against gnutls-serv set up for a policy.")
    parser.add_argument("--policy", default="SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09")
    parser.add_argument("--cert-type", choices=("rsa", "ecdsa"), default="rsa")
    args = parser.parse_args(argv)
    policy = load_catalog().policy(args.policy)
    expected = unavoidable(policy, args.cert_type)
    with running_gnutls(policy, args.cert_type) as (host, port):
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "--pyargs", "pytest_apigw_tls.conformance", "-q", "-p", "no:cacheprovider",
             "--tb=no", "-rfE", "-k", "not test_certificate_type", "--apigw-target", f"{host}:{port}", "--apigw-sni",
             HOSTNAME, "--apigw-policy", policy.id, "--apigw-cert-type", args.cert_type],
            cwd=tempfile.gettempdir(), capture_output=True, text=True)
    print(result.stdout)
    print(f"priority string: {priority(policy)}")
    failed = [line for line in result.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    explained = [line for line in failed if any(f"-{item}-" in line for item in expected)]
    for line in failed:
        item = next((i for i in expected if f"-{i}-" in line), None)
        why = "unavoidable: " + ("GnuTLS 3.7 lacks this group" if item in {g.name for g in policy.groups.value}
                                 else "a priority string enables every kx x cipher x MAC") if item else "NOT EXPLAINED"
        print(f"  {line.split(' - ')[0]}: {why}")
    print(f"gnutls-serv under {policy.id}: {len(failed)} failing cases; {len(explained)} of them differences this "
          f"stack cannot avoid; {len(failed) - len(explained)} other")
    return 0 if len(failed) == len(explained) else 1


if __name__ == "__main__":
    sys.exit(main())
