"""The same mutated ClientHellos to the reference server and to plain OpenSSL holding the reference
server's own context for that endpoint (tests/servers/plain_openssl.py): their first answers agree.
The reference server reads every ClientHello itself before OpenSSL does (to pick the endpoint by
SNI); whatever that reader does differently from OpenSSL shows up here. The differences it keeps on
purpose are named in on_purpose() and in the README ("How the reference server answers
unusual ClientHellos")."""

import socket

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pytest_apigw_tls.reference_server.connection import is_hostname

from pytest_apigw_tls.probing.wire import ClientHello, DecodeError, NotAscii, Record, build_client_hello

from .servers.plain_openssl import beside_the_reference_server

HOST = "api.example.test"
TIMEOUT = 3.0


@pytest.fixture(scope="module", params=["default", "alert"], ids=["any-sni-served", "unknown-sni-refused"])
def servers(request):
    """(reference address, plain OpenSSL address, unknown_sni): one TLS_1_0 RSA endpoint, served to any
    SNI, or only to its own name (API Gateway's way)."""
    with beside_the_reference_server(HOST, unknown_sni=request.param) as (reference, plain):
        yield reference.address, plain.address, request.param


def first_answer(address, data):
    """What a server sends first: ("handshake", message type), ("alert", description), or ("closed",)."""
    with socket.create_connection(address, timeout=TIMEOUT) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)  # a hello that claims more bytes than it has meets an end, on both
        answer = b""
        try:
            while len(answer) < 6 and (chunk := sock.recv(4096)):
                answer += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    if answer[:1] == b"\x16" and len(answer) >= 6:
        return "handshake", answer[5]
    if answer[:1] == b"\x15" and len(answer) >= 7:
        return "alert", answer[6]
    return ("closed",) if not answer else ("bytes", answer[:1])


def _hello(versions=(0x0304, 0x0303), sni=HOST):
    return build_client_hello(versions, (0x1301, 0xC02F, 0x002F), (0x001D, 0x0017), (0x001D,), sni).to_records()


@st.composite
def mutated_hellos(draw):
    """A legal ClientHello (TLS 1.3 or 1.2 only), then one mutation a fuzzer makes."""
    hello = _hello(draw(st.sampled_from([(0x0304, 0x0303), (0x0303,)])))
    kind = draw(st.sampled_from(["flip", "truncate", "record-length", "handshake-length", "append", "insert",
                                 "split"]))
    if kind == "flip":
        at = draw(st.integers(0, len(hello) - 1))
        return hello[:at] + bytes([hello[at] ^ draw(st.integers(1, 255))]) + hello[at + 1:]
    if kind == "truncate":
        return hello[:draw(st.integers(1, len(hello) - 1))]
    if kind == "record-length":
        return hello[:3] + draw(st.integers(0, 0x4800)).to_bytes(2, "big") + hello[5:]
    if kind == "handshake-length":
        return hello[:6] + draw(st.integers(0, 0x10000)).to_bytes(3, "big") + hello[9:]
    if kind == "append":
        return hello + draw(st.binary(min_size=1, max_size=64))
    if kind == "insert":
        at = draw(st.integers(9, len(hello)))
        return hello[:at] + draw(st.binary(min_size=1, max_size=8)) + hello[at:]
    message = hello[5:]  # split: the same hello in two records
    at = draw(st.integers(1, len(message) - 1))
    return Record(22, 0x0301, message[:at]).to_bytes() + Record(22, 0x0301, message[at:]).to_bytes()


def on_purpose(data, unknown_sni):
    """(alert, why) where the reference server answers `data` otherwise than OpenSSL alone, or None.
    The hello is the first handshake message of the first record, by its own length (as both servers
    read it: a shorter length ends the hello before its extensions, and so before its SNI)."""
    record = data[5:5 + int.from_bytes(data[3:5], "big")]
    try:
        hello = ClientHello.from_bytes(record[:4 + int.from_bytes(record[1:4], "big")])
        name = hello.server_name
    except NotAscii:
        return 47, "an SNI that is not ASCII: illegal_parameter (RFC 6066 3)"
    except DecodeError:
        return None
    if name is not None and not is_hostname(name):
        return 47, "an SNI that is not a hostname: illegal_parameter (RFC 6066 3)"
    if unknown_sni == "alert" and name != HOST:
        return 112, "no endpoint has this name (or none was sent): unrecognized_name, as API Gateway"
    return None


def _hello_ending_before_its_extensions():
    """A handshake length that ends the hello after its compression methods, the record unchanged:
    a hello without extensions (so without SNI), then bytes of a next message."""
    data = _hello((0x0303,))
    extensions = 5 + 4 + 2 + 32 + 1 + data[5 + 4 + 2 + 32]  # then suites and compression methods
    extensions += 2 + int.from_bytes(data[extensions:extensions + 2], "big")
    extensions += 1 + data[extensions]
    return data[:6] + (extensions - 9).to_bytes(3, "big") + data[9:]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=mutated_hellos())
@example(data=_hello_ending_before_its_extensions())
def test_a_mutated_client_hello_gets_the_answer_openssl_alone_gives(servers, data):
    reference, plain, unknown_sni = servers
    ours, openssls = first_answer(reference, data), first_answer(plain, data)
    if ours != openssls:
        why = on_purpose(data, unknown_sni)
        assert why and ours == ("alert", why[0]), (ours, openssls, data.hex())


@pytest.mark.parametrize("data", [
    _hello(), _hello((0x0303,)), _hello()[:40], _hello() + b"\x17\x03\x03\x00\x00",
    b"\x80\x2e\x01\x03\x01\x00\x15\x00\x00\x00\x10" + bytes.fromhex("00002f00000a000035000033000039000016000004")[:21]
    + bytes(16),  # an SSLv2-format ClientHello for TLS 1.0, which OpenSSL takes
], ids=["tls13", "tls12", "truncated", "then-empty-appdata", "sslv2-format"])
def test_chosen_hellos_get_openssls_answer(servers, data):
    reference, plain, unknown_sni = servers
    if unknown_sni == "alert" and data[:1] == b"\x80":
        pytest.skip("an SSLv2-format hello carries no SNI: refused as any hello without one")
    assert first_answer(reference, data) == first_answer(plain, data)
