"""The reference server on real sockets, with pyOpenSSL and the standard library's ssl as clients."""

import json
import socket
import ssl

import pytest
from pytest_apigw_tls.reference_server import Endpoint, ReferenceServer, ServerConfig, ServerSettings
from pytest_apigw_tls.reference_server.config import default_endpoints

from pytest_apigw_tls.policy.catalog import builtin_catalog, load_catalog
from pytest_apigw_tls.policy.codepoints import TlsVersion
from pytest_apigw_tls.probing.access import http_probe
from pytest_apigw_tls.probing.handshake import handshake_probe
from pytest_apigw_tls.probing.probes import Outcome, Target

CATALOG = load_catalog()
TLS_ENDPOINTS = [e for e in default_endpoints() if e.hostname.split(".")[1] in ("rsa", "ecdsa")]
TIMEOUT = 5.0




def target(reference_server, hostname):
    host, port = reference_server.address
    return Target(host, port, hostname)


def get_json(reference_server, hostname, **limits):
    observation = http_probe(target(reference_server, hostname), hostname, TIMEOUT, **limits)
    assert observation.status == 200, observation.evidence
    return json.loads(observation.body)


@pytest.mark.parametrize("endpoint", TLS_ENDPOINTS, ids=lambda e: e.hostname)
def test_every_allowed_version_and_suite_handshakes_and_is_reported(reference_server, endpoint):
    policy = endpoint.policy_in(builtin_catalog())
    for version in policy.versions.value:
        for suite in policy.accepted_suites(version, endpoint.cert_type):
            answer = get_json(reference_server, endpoint.hostname, version=version, suite=suite.openssl)
            assert (answer["tlsVersion"], answer["cipherSuite"]) == (version.openssl_name, suite.openssl)
            assert answer["securityPolicy"] == endpoint.security_policy


@pytest.mark.parametrize("endpoint", TLS_ENDPOINTS, ids=lambda e: e.hostname)
def test_every_disallowed_version_and_suite_gets_an_alert(reference_server, endpoint):
    policy = endpoint.policy_in(builtin_catalog())
    for version in (TlsVersion.TLSv1_0, TlsVersion.TLSv1_1, TlsVersion.TLSv1_2, TlsVersion.TLSv1_3):
        if not policy.allows_version(version):
            observation = handshake_probe(target(reference_server, endpoint.hostname), TIMEOUT, version)
            assert observation.outcome is Outcome.REJECTED and "alert" in observation.evidence, version
            continue
        for suite in CATALOG.suites_at(version):
            if policy.accepts_suite(suite, version, endpoint.cert_type) or not suite.negotiable_at(version):
                continue  # a real client cannot offer a suite outside its versions: the raw probes cover that
            observation = handshake_probe(target(reference_server, endpoint.hostname), TIMEOUT, version, suite.openssl)
            if "cannot offer" in observation.evidence or "failed locally" in observation.evidence:
                continue  # the local OpenSSL cannot offer it (RC4, export, PSK...): the raw probes cover it
            assert observation.outcome is Outcome.REJECTED, (version, suite.openssl, observation.evidence)


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
@pytest.mark.parametrize("endpoint", [e for e in TLS_ENDPOINTS if e.cert_type == "rsa"], ids=lambda e: e.hostname)
def test_stdlib_ssl_client_sees_the_same_versions(reference_server, endpoint):
    host, port = reference_server.address
    for version in (TlsVersion.TLSv1_0, TlsVersion.TLSv1_1, TlsVersion.TLSv1_2, TlsVersion.TLSv1_3):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(reference_server.ca_file)
        context.set_ciphers("ALL:@SECLEVEL=0")
        context.minimum_version = context.maximum_version = ssl.TLSVersion(int(version))
        with socket.create_connection((host, port), timeout=TIMEOUT) as raw:
            try:
                with context.wrap_socket(raw, server_hostname=endpoint.hostname) as tls:
                    negotiated = (tls.version(), tls.cipher()[0])
            except ssl.SSLError as error:
                assert not endpoint.policy_in(builtin_catalog()).allows_version(version), error
                continue
        assert endpoint.policy_in(builtin_catalog()).allows_version(version)
        assert negotiated[0] == version.openssl_name
        policy = endpoint.policy_in(builtin_catalog())
        assert negotiated[1] in {s.openssl for s in policy.accepted_suites(version, "rsa")}
        if version < TlsVersion.TLSv1_3:  # the stdlib can limit TLS 1.2-and-below suites one by one
            for suite in endpoint.policy_in(builtin_catalog()).accepted_suites(version, "rsa"):
                context.set_ciphers(f"{suite.openssl}:@SECLEVEL=0")
                with socket.create_connection((host, port), timeout=TIMEOUT) as raw:
                    with context.wrap_socket(raw, server_hostname=endpoint.hostname) as tls:
                        assert tls.cipher()[0] == suite.openssl


def test_endpoint_lookup_ignores_case_and_a_trailing_dot(reference_server):
    assert reference_server.endpoint("TLS-1-2.RSA.apigw.test.").hostname == "tls-1-2.rsa.apigw.test"
    assert reference_server.endpoint("nobody.apigw.test") is None


def test_two_hostnames_on_one_port_get_two_policies(reference_server):
    tls13_only, legacy = "tls13-1-3-2025-09.rsa.apigw.test", "tls-1-2.rsa.apigw.test"
    v12 = TlsVersion.TLSv1_2
    assert handshake_probe(target(reference_server, tls13_only), TIMEOUT, v12).outcome is Outcome.REJECTED
    assert handshake_probe(target(reference_server, legacy), TIMEOUT, v12).outcome is Outcome.ACCEPTED


@pytest.mark.parametrize("hostname,expected", [
    ("tls13-1-2-pq-2025-09.rsa.apigw.test", Outcome.ACCEPTED),
    ("tls12-2018-edge.rsa.apigw.test", Outcome.ACCEPTED),
    ("tls13-1-2-2021-06.rsa.apigw.test", Outcome.REJECTED),
    ("tls-1-2.rsa.apigw.test", Outcome.REJECTED),
])
def test_post_quantum_hybrid_only_on_pq_policies(reference_server, hostname, expected):
    observation = handshake_probe(target(reference_server, hostname), TIMEOUT, TlsVersion.TLSv1_3,
                                  groups=["X25519MLKEM768"])
    assert observation.outcome is expected, observation.evidence
    if expected is Outcome.ACCEPTED:
        assert get_json(reference_server, hostname, groups=["X25519MLKEM768"])["tlsGroup"] == "X25519MLKEM768"


@pytest.mark.parametrize("hostname,host_header,status", [
    ("tls13-1-3-2025-09.rsa.apigw.test", "tls13-1-3-2025-09.rsa.apigw.test", 200),
    ("tls13-1-3-2025-09.rsa.apigw.test", "TLS13-1-3-2025-09.rsa.apigw.test.:443", 200),
    ("tls13-1-3-2025-09.rsa.apigw.test", "tls13-1-3-2025-09.basic.apigw.test", 421),
    ("tls13-1-3-2025-09.rsa.apigw.test", None, 421),
    ("tls13-1-3-2025-09.basic.apigw.test", "tls13-1-3-2025-09.rsa.apigw.test", 200),
    ("tls13-1-3-2025-09.basic.apigw.test", None, 200),
])
def test_strict_refuses_host_mismatch_and_basic_lets_it_through(reference_server, hostname, host_header, status):
    observation = http_probe(target(reference_server, hostname), host_header, TIMEOUT)
    assert observation.status == status, observation.evidence
    if status == 421:
        assert json.loads(observation.body)["message"].startswith("Misdirected Request")


def test_policy_follows_sni_not_host(reference_server):
    answer = json.loads(http_probe(target(reference_server, "tls-1-0.rsa.apigw.test"),
                                   "tls13-1-3-2025-09.rsa.apigw.test", TIMEOUT, version=TlsVersion.TLSv1_0).body)
    assert answer["tlsVersion"] == "TLSv1" and answer["securityPolicy"] == "TLS_1_0"


def test_access_log_lines_carry_negotiated_version_and_suite(reference_server):
    answer = get_json(reference_server, "tls-1-2.ecdsa.apigw.test", version=TlsVersion.TLSv1_2,
                      suite="ECDHE-ECDSA-AES256-GCM-SHA384")
    line = next(json.loads(line) for line in reversed(reference_server.access_log.lines)
                if json.loads(line)["requestId"] == answer["requestId"])
    assert line["tlsVersion"] == "TLSv1.2" and line["cipherSuite"] == "ECDHE-ECDSA-AES256-GCM-SHA384"
    assert line["status"] == 200 and line["sni"] == "tls-1-2.ecdsa.apigw.test"
    assert line["identity.sourceIp"] == "127.0.0.1"


@pytest.mark.parametrize("sni", [None, "nobody.apigw.test"])
def test_missing_or_unknown_sni_gets_unrecognized_name_not_a_policy_refusal(reference_server, sni):
    """A client test that expects "refused by the policy" cannot pass on a wrong SNI (RFC 6066 3)."""
    observation = handshake_probe(target(reference_server, sni), TIMEOUT)
    assert observation.outcome is Outcome.REJECTED
    assert observation.evidence == "fatal alert unrecognized_name"
    assert reference_server.connections[-1]["refused"] == "unrecognized_name"


def test_unknown_sni_can_be_served_by_a_default_endpoint():
    endpoint = Endpoint("api.example.test", "TLS_1_2")
    config = ServerConfig((endpoint,), ServerSettings(unknown_sni="default", default_hostname="api.example.test"))
    with ReferenceServer(config) as running:
        host, port = running.address
        observation = handshake_probe(Target(host, port, None), TIMEOUT)
    assert observation.outcome is Outcome.ACCEPTED and observation.cert_type == "rsa"


def test_garbage_and_dropped_clients_do_not_stop_the_server(reference_server):
    host, port = reference_server.address
    for payload in (b"GET / HTTP/1.1\r\n\r\n", b"\x16\x03\x01\x00\x05\x01\x00\x00\x01", b"\x16\x03\x01"):
        with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
            sock.recv(100)
    assert get_json(reference_server, "tls-1-2.rsa.apigw.test")["tlsVersion"] == "TLSv1.3"


def test_server_stops_cleanly_and_releases_its_port():
    running = ReferenceServer(ServerConfig((Endpoint("a.example.test", "TLS_1_2"),))).start()
    address = running.address
    running.stop()
    with pytest.raises(OSError):
        socket.create_connection(address, timeout=1).close()


def test_tls10_client_context_really_negotiates_tls10(reference_server):
    observation = handshake_probe(target(reference_server, "tls-1-0-edge.rsa.apigw.test"), TIMEOUT, TlsVersion.TLSv1_0)
    assert observation.outcome is Outcome.ACCEPTED and observation.version == TlsVersion.TLSv1_0



def test_rsa_leaves_chain_to_an_rsa_root_and_ecdsa_leaves_to_an_ecdsa_root(reference_server):
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    roots = x509.load_pem_x509_certificates(reference_server.ca_file.read_bytes())
    by_subject = {root.subject: root for root in roots}
    for cert_type, key_class in (("rsa", rsa.RSAPublicKey), ("ecdsa", ec.EllipticCurvePublicKey)):
        leaf = reference_server.authority.leaf(f"tls-1-2.{cert_type}.apigw.test", cert_type).certificate
        assert isinstance(by_subject[leaf.issuer].public_key(), key_class), cert_type
        leaf.verify_directly_issued_by(by_subject[leaf.issuer])


def test_an_endpoint_with_both_certificate_types_is_detected_and_judged_on_both():
    from pytest_apigw_tls.probing.probes import ProbeSettings
    from pytest_apigw_tls.probing.scan import detect_cert_type, scan

    config = ServerConfig((Endpoint("both.example.test", "TLS_1_2", cert_type="rsa,ecdsa"),))
    with ReferenceServer(config) as running:
        both = Target(*running.address, "both.example.test")
        assert detect_cert_type(both, ProbeSettings()) == "rsa,ecdsa"
        result = scan(both, CATALOG.policy("TLS_1_2"), None, ProbeSettings())
    assert result.cert_type == "rsa,ecdsa" and result.conforms
    accepted = {v.expectation.item for v in result.verdicts if v.expectation.dimension == "suite"
                and v.observed == "accepted"}
    assert {"ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"} <= accepted


@pytest.mark.parametrize("offered,negotiated", [([b"h2"], None), ([b"h2", b"http/1.1"], b"http/1.1"), (None, b"")])
def test_alpn_without_overlap_is_refused_with_no_application_protocol(offered, negotiated):
    """RFC 7301 3.2: a server that supports none of the client's protocols SHALL answer
    no_application_protocol (nginx does); a client offering no ALPN at all is served."""
    import socket as sockets

    from OpenSSL import SSL

    with ReferenceServer() as reference_server:
        context = SSL.Context(SSL.TLS_METHOD)
        if offered:
            context.set_alpn_protos(offered)
        with sockets.create_connection(reference_server.address) as sock:
            connection = SSL.Connection(context, sock)
            connection.set_tlsext_host_name(b"tls-1-2.rsa.apigw.test")
            connection.set_connect_state()
            if negotiated is None:
                with pytest.raises(SSL.Error, match="no application protocol"):
                    connection.do_handshake()
            else:
                connection.do_handshake()
                assert connection.get_alpn_proto_negotiated() == negotiated
