"""The reference server under attack and on error paths, on real sockets: resources stay bounded,
logs stay truthful, and malformed input gets the alert a real TLS server sends."""

import contextlib
import json
import socket
import threading
import time

import pytest
from OpenSSL import SSL
from pytest_apigw_tls.reference_server import Endpoint, ReferenceServer, ServerConfig, ServerSettings
from pytest_apigw_tls.reference_server.admin import AdminServer
from pytest_apigw_tls.reference_server.control import ControlPlane

from pytest_apigw_tls.probing.access import http_probe
from pytest_apigw_tls.probing.handshake import client_connection, client_context, drive
from pytest_apigw_tls.probing.probes import Outcome, ProbeOffer, Target, connect, raw_probe
from pytest_apigw_tls.probing.wire import build_client_hello
from pytest_apigw_tls.probing.wire.messages import ClientHello, Extension

from .helpers import admin_request

HOST = "api.example.test"
TIMEOUT = 5.0
JSON_FORMAT = '{"ip":"$context.identity.sourceIp","path":"$context.path","tlsVersion":"$context.tlsVersion"}'


def server(**settings):
    endpoints = (Endpoint(HOST, "TLS_1_0"), Endpoint("strict.example.test", "SecurityPolicy_TLS13_1_3_2025_09",
                                                        access_mode="STRICT"))
    return ReferenceServer(ServerConfig(endpoints, ServerSettings(**settings)))


def tls_to(running, hostname=HOST, version=None):
    target = Target(*running.address, hostname)
    sock = connect(target, TIMEOUT)
    tls = client_connection(target, client_context(version, None, None), sock)
    drive(tls.do_handshake, sock, time.monotonic() + TIMEOUT)
    return sock, tls


def read_all(sock, tls):
    data, deadline = b"", time.monotonic() + TIMEOUT
    while True:
        try:
            chunk = drive(lambda: tls.recv(65536), sock, deadline)
        except (SSL.ZeroReturnError, SSL.SysCallError):
            return data
        if not chunk:
            return data
        data += chunk


def settle(running):
    for _ in range(100):
        if running.active_connections == 0:
            return
        time.sleep(0.05)


def test_connect_requests_are_refused_logged_and_leave_nothing_behind():
    with server() as running:
        threads = threading.active_count()
        for _ in range(50):
            sock, tls = tls_to(running)
            with sock:
                drive(lambda: tls.sendall(f"CONNECT evil.example:443 HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()),
                      sock, time.monotonic() + TIMEOUT)
                answer = read_all(sock, tls)
            assert answer.startswith(b"HTTP/1.1 405 ")
        settle(running)
        assert running.active_connections == 0 and threading.active_count() <= threads
        last = json.loads(running.access_log.lines[-1])
        assert (last["httpMethod"], last["status"]) == ("CONNECT", 405)
        running.check()


def test_a_request_dripped_byte_by_byte_is_cut_off_by_the_request_deadline():
    with server(request_timeout=1.0, idle_timeout=5.0) as running:
        sock, tls = tls_to(running)
        started = time.monotonic()
        with sock:
            request = f"GET / HTTP/1.1\r\nHost: {HOST}\r\nX-Slow: ".encode() + b"a" * 100
            with pytest.raises((SSL.Error, OSError)):
                for byte in request:  # each read is quick (0.2 s < idle_timeout), the whole never ends
                    drive(lambda b=byte: tls.sendall(bytes([b])), sock, time.monotonic() + TIMEOUT)
                    time.sleep(0.2)
                    if time.monotonic() - started > 4:
                        break
                read_all(sock, tls) or (_ for _ in ()).throw(OSError("closed"))
        assert time.monotonic() - started < 4
        settle(running)
        assert running.active_connections == 0


def test_one_client_address_cannot_take_every_slot():
    with server(max_connections_per_client=3) as running:
        idle = [socket.create_connection(running.address) for _ in range(5)]
        time.sleep(0.3)
        assert running.refused_connections == 2
        for sock in idle:
            sock.close()


def test_log_values_are_escaped_so_a_line_cannot_be_forged():
    with server(access_log_format=JSON_FORMAT) as running:
        path = '/","tlsVersion":"TLSv1.3","ip":"10.66.66.66'
        from pytest_apigw_tls.policy.codepoints import TlsVersion

        assert http_probe(Target(*running.address, HOST), HOST, TIMEOUT, path=path.replace(" ", ""),
                          version=TlsVersion.TLSv1_0).status == 200
        line = json.loads(running.access_log.lines[-1])
        assert line == {"ip": "127.0.0.1", "path": path.replace(" ", ""), "tlsVersion": "TLSv1"}


@pytest.mark.parametrize("sni,alert", [("api.example.test\nsecond-line", "illegal_parameter"),
                                       ("127.0.0.1", "illegal_parameter"),
                                       ("nobody.example.test", "unrecognized_name")])
def test_an_sni_that_is_not_a_known_hostname_gets_its_own_alert(sni, alert):
    with server() as running:
        observation = raw_probe(Target(*running.address, sni), ProbeOffer((0x0303,), (0xC02F,), (0x001D,)), TIMEOUT)
    assert observation.outcome is Outcome.REJECTED and observation.evidence == f"fatal alert {alert}"


def test_a_malformed_client_hello_gets_decode_error():
    with server() as running, socket.create_connection(running.address, timeout=TIMEOUT) as sock:
        body = bytes.fromhex("0303") + b"\x00" * 32 + b"\x00" + b"\xff\xff"  # suites claim 65535 bytes
        sock.sendall(b"\x16\x03\x01" + (len(body) + 4).to_bytes(2, "big") + b"\x01" + len(body).to_bytes(3, "big")
                     + body)
        assert sock.recv(100) == b"\x15\x03\x03\x00\x02\x02\x32"  # fatal decode_error, then a clean close
        assert sock.recv(100) == b""


def _first_answer(running, data):
    with socket.create_connection(running.address, timeout=TIMEOUT) as sock:
        sock.sendall(data)
        return sock.recv(5 + 16384)


def _hello_bytes(sni=HOST):
    return build_client_hello((0x0303,), (0xC02F,), (0x001D,), (), sni).to_records()


@pytest.mark.parametrize("prefix,alert", [
    (b"\x17\x03\x03\x00\x00", 10),  # an empty application-data record first
    (b"\x14\x03\x03\x00\x01\x01", 10),  # a ChangeCipherSpec first
    (b"\x16\x03\x01\x00\x04\x02\x00\x00\x00", 10),  # a ServerHello where the ClientHello goes
], ids=["empty-application-data", "change-cipher-spec", "wrong-handshake-type"])
def test_a_record_or_message_out_of_place_gets_unexpected_message(prefix, alert):
    """RFC 8446 6.2 and OpenSSL: an unexpected record type or handshake message is unexpected_message
    (tlsfuzzer's test-invalid-client-hello, test-tls13-zero-length-data)."""
    with server() as running:
        assert _first_answer(running, prefix + _hello_bytes()) == b"\x15\x03\x03\x00\x02\x02" + bytes([alert])


def test_a_client_hello_claiming_four_mib_gets_illegal_parameter_at_once():
    with server() as running, socket.create_connection(running.address, timeout=TIMEOUT) as sock:
        sock.sendall(b"\x16\x03\x01\x00\x04\x01\x40\x00\x00")  # 4 MiB claimed, the connection kept open
        started = time.monotonic()
        assert sock.recv(100) == b"\x15\x03\x03\x00\x02\x02\x2f"
        assert time.monotonic() - started < 1


def test_a_non_ascii_sni_gets_illegal_parameter():
    hello = _hello_bytes("api.example.test").replace(b"api.example.test", "\u00e4pi.example.tes".encode())
    with server() as running:
        assert _first_answer(running, hello) == b"\x15\x03\x03\x00\x02\x02\x2f"


def test_bytes_after_a_whole_client_hello_are_left_to_openssl_which_answers_first():
    with server() as running:
        answer = _first_answer(running, _hello_bytes() + b"GARBAGE!")
    assert answer[:1] == b"\x16"  # a handshake record: the ServerHello, as an OpenSSL server sends


def test_a_legal_client_hello_over_64_kib_is_served():
    with server() as running:
        suites = tuple(range(0x6000, 0xC000)) + (0xC02F,)  # 48 KB of unassigned (or GREASE) suites, then a real one
        hello = build_client_hello((0x0303,), suites, (0x001D, 0x0017), (), HOST)
        padded = ClientHello(hello.legacy_version, hello.random, hello.session_id, hello.cipher_suites,
                             hello.extensions + (Extension(21, b"\x00" * 40000),))
        assert len(padded.to_bytes()) > 80 * 1024  # over the old 64 KiB cut-off
        with socket.create_connection(running.address, timeout=TIMEOUT) as sock:
            sock.sendall(padded.to_records())
            from pytest_apigw_tls.probing.probes import read_first_flight

            answer = read_first_flight(sock, time.monotonic() + TIMEOUT)
        assert answer[0].cipher_suite == 0xC02F


def test_the_http_answer_comes_in_one_record_and_alpn_picks_http11():
    """Over memory BIOs, so that every TLS record the server sends can be counted. TLS 1.2: there
    application data and alerts have record types of their own (TLS 1.3 hides both, with tickets)."""
    from pytest_apigw_tls.policy.codepoints import TlsVersion

    with server() as running:
        context = client_context(TlsVersion.TLSv1_2, None, None)
        context.set_alpn_protos([b"h2", b"http/1.1"])
        tls = SSL.Connection(context, None)
        tls.set_tlsext_host_name(HOST.encode())
        tls.set_connect_state()
        received = []
        with socket.create_connection(running.address, timeout=TIMEOUT) as sock:

            def flush():
                while True:
                    try:
                        sock.sendall(tls.bio_read(65536))
                    except SSL.WantReadError:
                        return

            def until(step):
                while True:
                    try:
                        result = step()
                        flush()
                        return result
                    except SSL.WantReadError:
                        flush()
                        chunk = sock.recv(65536)
                        received.append(chunk)
                        tls.bio_write(chunk)

            until(tls.do_handshake)
            assert tls.get_alpn_proto_negotiated() == b"http/1.1"
            received.clear()
            tls.sendall(f"GET / HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
            flush()
            answer = until(lambda: tls.recv(65536))
        assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"}")
        raw, records = b"".join(received), []
        while len(raw) >= 5:
            records.append(raw[0])
            raw = raw[5 + int.from_bytes(raw[3:5], "big"):]
        assert records.count(23) == 1, records  # the whole answer (headers and body) in one record


def test_the_admin_endpoint_refuses_foreign_hosts_large_bodies_and_bad_paths():
    endpoints = (Endpoint("abcdef1234.execute-api.us-east-1.amazonaws.com", "TLS_1_0", kind="default"),)
    with ReferenceServer(ServerConfig(endpoints)) as running, AdminServer(ControlPlane(running)) as admin:
        assert admin_request(admin.url)[0] == 200
        assert admin_request(admin.url, headers={"Host": "rebind.attacker.example"})[0] == 403
        assert admin_request(admin.url, headers={"Origin": "http://rebind.attacker.example"})[0] == 403
        status, body = admin_request(admin.url, "PATCH", "/restapis/abcdef1234", b"{}",
                                     {"Content-Length": str(200 * 1024 * 1024)})
        assert status == 413
        status, body = admin_request(admin.url, "PATCH", "/restapis/abcdef1234",
                                     json.dumps({"patchOperations": [{"op": "replace", "path": 7}]}).encode())
        assert status == 400 and body["__type"] == "BadRequestException"


def test_ten_thousand_endpoints_start_and_serve_without_issuing_every_certificate():
    endpoints = tuple(Endpoint(f"e{i}.fleet.test", "TLS_1_2", cert_type="ecdsa") for i in range(10_000))
    with ReferenceServer(ServerConfig(endpoints)) as running:
        last = Target(*running.address, "e9999.fleet.test")
        assert http_probe(last, "e9999.fleet.test", TIMEOUT).status == 200
        assert len(running.authority._leaves) == 1


def test_an_access_log_that_cannot_be_written_is_counted_and_said(capsys):
    from pytest_apigw_tls.reference_server.accesslog import AccessLog

    full = open("/dev/full", "w")
    log = AccessLog(full)
    log.write({"tlsVersion": "TLSv1.3"})
    log.write({"tlsVersion": "TLSv1.2"})
    with contextlib.suppress(OSError):  # the file object still holds what it could not write
        full.close()
    assert log.lost == 2 and len(log.lines) == 2
    assert capsys.readouterr().err.count("access log: cannot write") == 1
