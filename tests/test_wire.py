"""The raw TLS codec: bytes spelled out field by field, round trips, and refusal of bad lengths."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_apigw_tls.probing.wire import Alert, ClientHello, DecodeError, HandshakeBuffer, Record, ServerHello
from pytest_apigw_tls.probing.wire.builder import build_client_hello
from pytest_apigw_tls.probing.wire.keyshares import UnsupportedKeyShare, make_key_share
from pytest_apigw_tls.probing.wire.messages import HRR_RANDOM, Extension


def test_alert_record_parses_field_by_field():
    data = bytes([
        0x15,  # content type: alert
        0x03, 0x03,  # record version TLS 1.2
        0x00, 0x02,  # length 2
        0x02,  # level fatal
        0x28,  # handshake_failure (40)
    ])
    record, used = Record.parse_prefix(data)
    assert used == 7 and record.content_type == 21
    assert Alert.from_bytes(record.fragment) == Alert(2, 40)


def test_incomplete_record_asks_for_more_and_garbage_is_refused():
    assert Record.parse_prefix(b"\x16\x03\x03\x00\x05abc") is None
    with pytest.raises(DecodeError, match="content type"):
        Record.parse_prefix(b"HTTP/1.1 400 Bad Request\r\n")
    with pytest.raises(DecodeError, match="exceeds"):
        Record.parse_prefix(b"\x16\x03\x03\xff\xff")


def test_server_hello_reads_supported_versions_and_key_share():
    body = bytes.fromhex(
        "0303"  # legacy_version TLS 1.2
        + "11" * 32  # random
        + "00"  # empty legacy_session_id_echo
        + "1302"  # cipher suite TLS_AES_256_GCM_SHA384
        + "00"  # compression null
        + "000e"  # extensions length 14
        + "002b" "0002" "0304"  # supported_versions: TLS 1.3
        + "0033" "0004" "001d" "0000"  # key_share: x25519, empty key (shape only)
    )
    hello = ServerHello.from_body(body)
    assert hello.selected_version == 0x0304 and hello.cipher_suite == 0x1302
    assert hello.key_share_group == 0x001D and not hello.is_hello_retry_request
    assert hello.body() == body


def test_hello_retry_request_is_recognised_by_its_random():
    hello = ServerHello(0x0303, HRR_RANDOM, b"", 0x1301, 0, (Extension(51, bytes.fromhex("11ec")),))
    parsed = ServerHello.from_body(hello.body())
    assert parsed.is_hello_retry_request and parsed.key_share_group == 0x11EC


def test_truncated_server_hello_raises_decode_error():
    with pytest.raises(DecodeError, match="need"):
        ServerHello.from_body(bytes.fromhex("0303") + b"\x00" * 10)


def test_built_client_hello_carries_exactly_the_offer():
    hello = build_client_hello((0x0304,), (0x1301, 0x1304), (0x11EC, 0x001D), (0x11EC,), "api.example.com")
    parsed = ClientHello.from_bytes(hello.to_bytes())
    assert parsed == hello
    assert parsed.cipher_suites == (0x1301, 0x1304) and parsed.server_name == "api.example.com"
    key_share = next(e.data for e in parsed.extensions if e.type == 51)
    assert int.from_bytes(key_share[2:4], "big") == 0x11EC
    assert int.from_bytes(key_share[4:6], "big") == 1184 + 32  # ML-KEM-768 encapsulation key + x25519


def test_key_shares_have_the_sizes_of_their_groups():
    sizes = {0x001D: 32, 0x0017: 65, 0x0018: 97, 0x11EC: 1216, 0x11EB: 65 + 1184, 0x11ED: 97 + 1568}
    for group, size in sizes.items():
        assert len(make_key_share(group)) == size
    with pytest.raises(UnsupportedKeyShare):
        make_key_share(0x0100)


def test_handshake_buffer_joins_a_message_split_across_records():
    message = build_client_hello((0x0303,), (0xC02F,), (0x001D,)).to_bytes()
    buffer = HandshakeBuffer()
    assert buffer.feed(message[:10]) == []
    [(msg_type, body)] = buffer.feed(message[10:])
    assert msg_type == 1 and ClientHello.from_body(body).cipher_suites == (0xC02F,)


hostnames = st.from_regex(r"[a-z][a-z0-9]{0,20}(\.[a-z][a-z0-9]{0,20}){0,3}", fullmatch=True)
code_points = st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=60)


@given(suites=code_points, groups=st.lists(st.sampled_from([0x1D, 0x17, 0x18, 0x19, 0x100]), max_size=5),
       versions=st.sets(st.sampled_from([0x0300, 0x0301, 0x0302, 0x0303]), min_size=1), sni=st.none() | hostnames)
def test_client_hello_round_trips(suites, groups, versions, sni):
    hello = build_client_hello(tuple(versions), tuple(suites), tuple(groups), (), sni)
    assert ClientHello.from_bytes(hello.to_bytes()) == hello
    assert ClientHello.from_bytes(hello.to_bytes()).server_name == sni


@given(st.binary(max_size=32), st.integers(0, 0xFFFF),
       st.lists(st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=40)), max_size=6))
def test_server_hello_round_trips(session_id, suite, extensions):
    hello = ServerHello(0x0303, b"\x07" * 32, session_id, suite, 0, tuple(Extension(t, d) for t, d in extensions))
    assert ServerHello.from_body(hello.body()) == hello


@given(st.binary(max_size=300))
def test_random_bytes_never_crash_the_parsers(data):
    for parse in (ServerHello.from_body, ClientHello.from_bytes, Record.parse_prefix, Alert.from_bytes):
        try:
            parse(data)
        except DecodeError:
            pass


@pytest.mark.parametrize("group, key_class", [(0x001D, "X25519PublicKey"), (0x001E, "X448PublicKey")])
def test_montgomery_key_shares_are_fresh_public_keys(group, key_class):
    from cryptography.hazmat.primitives.asymmetric import x448, x25519

    module = x25519 if group == 0x001D else x448
    first, second = make_key_share(group), make_key_share(group)
    assert first != second
    getattr(module, key_class).from_public_bytes(first)  # raises on a malformed key


def test_key_share_generator_falls_back_to_the_public_api_without_the_private_binding():
    from pytest_apigw_tls.probing.wire import keyshares

    def public():
        return "public"
    assert keyshares._generator("no_such_curve", public) is public
