"""tlsfuzzer's scripts against the reference server, and against plain OpenSSL holding the reference
server's own SSL context for the same endpoint (tests/servers/plain_openssl.py): every conversation
must end alike, with the alert the script expects or the same failure. A difference is then the
project's own (its ClientHello reader, its HTTP layer), never OpenSSL's or the policy's.

tlsfuzzer is not on PyPI: check it out (https://github.com/tlsfuzzer/tlsfuzzer, a commit that runs
with the tlslite-ng on PyPI, e.g. e471ffd for 0.8.2) and point APIGW_TLS_TLSFUZZER at it. Without
it these tests skip. Each script runs with one random seed on both sides (os.urandom included), so
the conversations a script samples, and their random payloads, are the same.
"""

import os
import re
import subprocess
import sys

import pytest

from .servers.plain_openssl import beside_the_reference_server

TLSFUZZER = os.environ.get("APIGW_TLS_TLSFUZZER", "")
pytestmark = pytest.mark.skipif(
    not (TLSFUZZER and os.path.isfile(os.path.join(TLSFUZZER, "scripts", "test-invalid-client-hello.py"))),
    reason="tlsfuzzer not found: check it out, set APIGW_TLS_TLSFUZZER")
HOST = "localhost.apigw.test"
SEED = 20261130

# What the reference server's own code touches: the ClientHello reader in front of OpenSSL (records,
# lengths, versions, extensions, SNI), alerts, and the HTTP answer after the handshake.
SCRIPTS = [
    "test-invalid-client-hello", "test-invalid-client-hello-w-record-overflow", "test-truncating-of-client-hello",
    "test-client-hello-max-size", "test-large-hello", "test-record-layer-fragmentation", "test-zero-length-data",
    "test-tls13-zero-length-data", "test-invalid-content-type", "test-invalid-version", "test-version-numbers",
    "test-tls13-legacy-version", "test-tls13-version-negotiation", "test-empty-extensions", "test-extensions",
    "test-large-number-of-extensions", "test-tls13-large-number-of-extensions", "test-invalid-cipher-suites",
    "test-tls13-invalid-ciphers", "test-tls13-nociphers", "test-invalid-compression-methods",
    "test-invalid-session-id", "test-tls13-keyshare-omitted", "test-ccs", "test-tls13-ccs",
    "test-tls13-unencrypted-alert", "test-tls13-empty-alert", "test-tls13-zero-content-type",
    "test-invalid-server-name-extension", "test-alpn-negotiation", "test-sslv2-connection",
    "test-sslv2hello-protocol", "test-tls13-shuffled-extentions", "test-tls13-record-padding",
    "test-conversation", "test-tls13-conversation", "test-connection-abort", "test-tls13-connection-abort",
    "test-cve-2016-6309", "test-invalid-server-name-extension-resumption",
]


@pytest.fixture(scope="module")
def servers():
    """(reference port, plain OpenSSL port), one TLS_1_0 RSA endpoint served to any SNI."""
    with beside_the_reference_server(HOST) as (reference, plain):
        yield reference.address[1], plain.address[1]


def conversations(script, port):
    """(exit status, conversations passed, names of those failed) of one seeded run."""
    path = os.path.join(TLSFUZZER, "scripts", f"{script}.py")
    code = (f"import os, random, runpy, sys; random.seed({SEED}); os.urandom = random.Random({SEED}).randbytes; "
            f"sys.argv = [{path!r}, '-p', '{port}']; runpy.run_path({path!r}, run_name='__main__')")
    environment = {**os.environ, "PYTHONHASHSEED": "0"}  # scripts that sample from a set sample alike
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                            env=environment)
    passed = re.search(r"^PASS: (\d+)$", result.stdout, re.M)
    failed = result.stdout.partition("\nFAILED:\n")[2]
    names = sorted({line.strip() for line in failed.splitlines() if line.startswith("\t")})
    return result.returncode, int(passed.group(1)) if passed else None, names


# Where the reference server answers otherwise than OpenSSL alone, on purpose: conversation -> why.
DIFFERENT_ON_PURPOSE = {
    "test-invalid-server-name-extension": {
        # RFC 6066 3: a HostName is ASCII letters, digits, hyphens and dots. API Gateway picks an endpoint
        # by this name, so a name that cannot be one is refused with illegal_parameter (tlsfuzzer expects
        # that too); OpenSSL alone takes any bytes.
        "'SNI name with ANSI color escapes code'", "'SNI name with BEL'", "'SNI name with NULL'",
        "'SNI name with UTF-8'"},
    "test-invalid-server-name-extension-resumption": {"'Sanity check, bad SNI'", "'session resume with malformed SNI'"},
}
SAMPLED = {"test-tls13-large-number-of-extensions"}  # samples conversations with no seed: compare counts


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_conversation_ends_as_it_does_with_openssl_alone(servers, script):
    reference_port, plain_port = servers
    ours, openssls = conversations(script, reference_port), conversations(script, plain_port)
    assert ours[1] is not None, f"{script} did not run: {ours}"
    on_purpose = DIFFERENT_ON_PURPOSE.get(script, set())
    if script in SAMPLED:
        assert (ours[0], ours[1], len(ours[2])) == (openssls[0], openssls[1], len(openssls[2]))
    elif on_purpose:
        assert set(openssls[2]) - set(ours[2]) == on_purpose and set(ours[2]) <= set(openssls[2])
    else:
        assert ours == openssls
