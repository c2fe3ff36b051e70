"""The universe is IANA's registries: their size and shape, and what follows from each name."""

import pytest

from pytest_apigw_tls.policy.codepoints import TlsVersion as V
from pytest_apigw_tls.policy.universe import derive_suite, load_universe

UNIVERSE = load_universe()


def is_grease(code):
    return code & 0x0F0F == 0x0A0A and code >> 8 == code & 0xFF


def test_every_assigned_suite_of_the_registry_and_nothing_else():
    codes = [s.code for s in UNIVERSE.suites]
    assert len(codes) == len(set(codes)) == 350
    assert not any(is_grease(c) for c in codes)
    assert 0x00FF not in codes and 0x5600 not in codes, "signalling values are not suites"
    assert {0x1301, 0x1302, 0x1303, 0x1304, 0x1305, 0x1306, 0x1307} <= set(codes)
    assert all(c >> 8 != 0xFF for c in codes), "private use"
    families = {"DHE": 0, "CAMELLIA": 0, "ARIA": 0, "CCM": 0, "PSK": 0}
    for suite in UNIVERSE.suites:
        for family in families:
            families[family] += family in suite.iana
    assert min(families.values()) >= 20, families


def test_every_assigned_group_of_the_registry():
    groups = {g.name: g.code for g in UNIVERSE.groups}
    assert len(groups) == 56
    assert {f"ffdhe{n}" for n in (2048, 3072, 4096, 6144, 8192)} <= set(groups)
    assert {"brainpoolP256r1", "brainpoolP384r1tls13", "MLKEM512", "MLKEM1024", "SecP384r1MLKEM1024"} <= set(groups)
    assert not any(is_grease(code) for code in groups.values())


@pytest.mark.parametrize("code,name,low,high,auth", [
    (0x0001, "TLS_RSA_WITH_NULL_MD5", V.SSLv3, V.TLSv1_2, "RSA"),
    (0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5", V.SSLv3, V.TLSv1_0, "RSA"),
    (0x0009, "TLS_RSA_WITH_DES_CBC_SHA", V.SSLv3, V.TLSv1_1, "RSA"),
    (0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", V.TLSv1_0, V.TLSv1_2, "RSA"),
    (0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", V.TLSv1_2, V.TLSv1_2, "ECDSA"),
    (0x00AA, "TLS_DHE_PSK_WITH_AES_128_GCM_SHA256", V.TLSv1_2, V.TLSv1_2, "PSK"),
    (0xC004, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA", V.TLSv1_0, V.TLSv1_2, "ECDH"),
    (0xC0B0, "TLS_ECCPWD_WITH_AES_128_GCM_SHA256", V.TLSv1_2, V.TLSv1_3, "ECCPWD"),
    (0x1306, "TLS_AEGIS_256_SHA384", V.TLSv1_3, V.TLSv1_3, "any"),
    (0xC0B4, "TLS_SHA256_SHA256", V.TLSv1_3, V.TLSv1_3, "any"),
])
def test_versions_and_authentication_follow_from_the_name(code, name, low, high, auth):
    suite = derive_suite(code, name)
    assert (suite.min_version, suite.max_version, suite.auth) == (low, high, auth)


def test_offers_per_version_cover_the_registry():
    tls13 = UNIVERSE.suites_offered_at(V.TLSv1_3)
    below = UNIVERSE.suites_offered_at(V.TLSv1_2)
    assert {s.code for s in tls13} | {s.code for s in below} == {s.code for s in UNIVERSE.suites}
    tls13_groups = {g.code for g in UNIVERSE.groups_offered_at(V.TLSv1_3)}
    below_groups = {g.code for g in UNIVERSE.groups_offered_at(V.TLSv1_2)}
    assert all(g.kind == "ecdhe" for g in UNIVERSE.groups_offered_at(V.TLSv1_2))
    # RFC 8446 4.2.7: the obsolete curves are never offered at TLS 1.3, but still asked below it
    obsolete = set(range(0x0001, 0x0017)) | {0x001A, 0x001B, 0x001C}
    assert not tls13_groups & (obsolete | {0xFF01, 0xFF02})
    assert obsolete <= below_groups
    assert {0x0017, 0x0018, 0x0019, 0x001D, 0x001E, 0x0100, 0x11EC} <= tls13_groups
    assert len(tls13_groups) == 56 - len(obsolete) - 2


def test_one_suite_model_and_one_group_model_whoever_names_them():
    """The registry's items are the catalog's model: every catalog suite and group reads the same from
    the registry (key exchange and authentication apart, mode, versions), so a policy file naming a
    suite by its registry name gets the same cases as one naming it from the catalog."""
    from pytest_apigw_tls.policy.catalog import load_catalog
    from pytest_apigw_tls.policy.items import Group, Suite

    catalog = load_catalog()
    for suite in catalog.suites:
        registered = UNIVERSE.suite(suite.code)
        assert isinstance(registered, Suite) and registered == suite
        assert (registered.kx, registered.auth, registered.mode, registered.min_version, registered.max_version) == (
            suite.kx, suite.auth, suite.mode, suite.min_version, suite.max_version), suite.openssl
    for group in catalog.groups:
        registered = UNIVERSE.group(group.code)
        assert isinstance(registered, Group) and (registered.kind, registered.min_version) == (
            group.kind, group.min_version), group.name
