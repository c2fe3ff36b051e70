"""Documented facts of policy-facts.md, asserted by hand against the packaged catalog."""

import pytest

from pytest_apigw_tls.errors import CatalogError, UnknownPolicyError
from pytest_apigw_tls.policy.catalog import load_catalog, parse_catalog
from pytest_apigw_tls.policy.codepoints import TlsVersion
from pytest_apigw_tls.policy.universe import DATA

CATALOG = load_catalog()
T13, T12 = TlsVersion.TLSv1_3, TlsVersion.TLSv1_2


def names(suites):
    return sorted(s.openssl for s in suites)


def test_sixteen_entries_in_the_documented_families():
    regional = [p for p in CATALOG.policies if p.endpoint_types == ("REGIONAL", "PRIVATE")]
    edge = [p for p in CATALOG.policies if p.endpoint_types == ("EDGE",)]
    assert len(CATALOG.policies) == 16
    assert len([p for p in regional if p.is_enhanced]) == 9  # 7 documented, 2 known only by name (Ext2)
    assert len([p for p in regional if not p.enforceable]) == 2
    assert len([p for p in edge if p.is_enhanced]) == 3
    assert sorted(p.name for p in CATALOG.policies if not p.is_enhanced) == ["TLS_1_0", "TLS_1_0", "TLS_1_2", "TLS_1_2"]


def test_tls13_only_policy_accepts_exactly_the_three_suites_named_by_the_blog():
    policy = CATALOG.policy("SecurityPolicy_TLS13_1_3_2025_09")
    assert [v.label for v in policy.versions.value] == ["TLSv1.3"]
    assert names(policy.accepted_suites(T13, "rsa")) == [
        "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"]
    assert policy.tls12_suites.value == ()
    assert policy.tls13_suites.provenance == "documented" and policy.tls13_suites.source == "blog"


@pytest.mark.parametrize("policy", [p for p in CATALOG.policies if "PFS" in p.name], ids=lambda p: p.id)
def test_pfs_variants_have_no_cbc_and_no_rsa_key_exchange(policy):
    assert policy.tls12_suites.value
    for suite in policy.tls12_suites.value:
        assert suite.mode == "AEAD" and suite.kx == "ECDHE", suite.openssl


@pytest.mark.parametrize("policy", [p for p in CATALOG.policies if "FIPS" in p.name], ids=lambda p: p.id)
def test_fips_variants_have_no_chacha20(policy):
    for suite in policy.tls13_suites.value + policy.tls12_suites.value:
        assert "CHACHA20" not in suite.openssl


def test_edge_only_names_are_invalid_for_regional_and_the_reverse():
    edge = CATALOG.policy("SecurityPolicy_TLS13_2025_EDGE")
    assert edge.valid_for("EDGE") and not edge.valid_for("REGIONAL") and not edge.valid_for("PRIVATE")
    with pytest.raises(UnknownPolicyError, match="not valid for endpoint type REGIONAL"):
        CATALOG.policy("SecurityPolicy_TLS13_2025_EDGE", "REGIONAL")
    with pytest.raises(UnknownPolicyError, match="not valid for endpoint type EDGE"):
        CATALOG.policy("SecurityPolicy_TLS13_1_3_2025_09", "EDGE")


def test_legacy_names_resolve_per_family_because_their_suites_differ():
    regional, edge = CATALOG.policy("TLS_1_2", "REGIONAL"), CATALOG.policy("TLS_1_2", "EDGE")
    assert regional.id == "TLS_1_2" and edge.id == "TLS_1_2@EDGE"
    assert "ECDHE-RSA-CHACHA20-POLY1305" in names(edge.tls12_suites.value)
    assert "ECDHE-RSA-CHACHA20-POLY1305" not in names(regional.tls12_suites.value)


def test_certificate_type_decides_which_tls12_suites_can_be_accepted():
    policy = CATALOG.policy("SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09")
    assert names(policy.accepted_suites(T12, "rsa")) == ["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384"]
    assert names(policy.accepted_suites(T12, "ecdsa")) == ["ECDHE-ECDSA-AES128-GCM-SHA256",
                                                           "ECDHE-ECDSA-AES256-GCM-SHA384"]
    assert len(policy.accepted_suites(T13, "ecdsa")) == 3


def test_legacy_tls10_negotiates_only_sha1_cbc_suites_below_tls12():
    policy = CATALOG.policy("TLS_1_0")
    assert names(policy.accepted_suites(TlsVersion.TLSv1_0, "rsa")) == [
        "AES128-SHA", "AES256-SHA", "ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES256-SHA"]
    assert policy.accepted_suites(TlsVersion.TLSv1_1, "rsa") == policy.accepted_suites(TlsVersion.TLSv1_0, "rsa")
    assert not policy.allows_version(TlsVersion.SSLv3)


def test_post_quantum_groups_only_on_pq_and_edge_policies_and_only_at_tls13():
    hybrid = CATALOG.group("X25519MLKEM768")
    for policy in CATALOG.policies:
        assert policy.accepts_group(hybrid, T13) == (policy.is_post_quantum), policy.id
        assert not policy.accepts_group(hybrid, T12)
    assert not CATALOG.policy("SecurityPolicy_TLS12_2018_EDGE").accepts_group(CATALOG.group("SecP384r1MLKEM1024"), T13)


def test_every_fact_carries_provenance_and_inferred_ones_are_marked():
    fips_pq = CATALOG.policy("SecurityPolicy_TLS13_1_2_FIPS_PQ_2025_09")
    assert fips_pq.tls12_suites.inferred and "ECDHE-only" in fips_pq.tls12_suites.note
    for policy in CATALOG.policies:
        assert policy.groups.inferred or policy.groups.unknown, "no API Gateway document states the groups"
        for fact in (policy.versions, policy.tls13_suites, policy.tls12_suites, policy.groups):
            assert fact.source in CATALOG.sources


def test_beyond_catalog_universe_has_code_points_openssl_may_not_implement():
    catalog_codes = {s.code for p in CATALOG.policies for s in p.tls12_suites.value + p.tls13_suites.value}
    extra = {s.code for s in CATALOG.suites} - catalog_codes
    assert {0x000A, 0xC011, 0x0005, 0x0001, 0x003B, 0x0034, 0x0033, 0x1304, 0x1305} <= extra
    assert {"secp521r1", "ffdhe2048"} <= {g.name for g in CATALOG.groups}


def test_unknown_policy_suggests_the_closest_name():
    with pytest.raises(UnknownPolicyError, match="did you mean SecurityPolicy_TLS13_1_3_2025_09"):
        CATALOG.policy("SecurityPolicy_TLS13_1_3_2025_9")


def test_a_catalog_with_an_unknown_suite_name_is_refused():
    text = """
[sources]
blog = "x"
[[suite]]
openssl = "TLS_AES_128_GCM_SHA256"
iana = "TLS_AES_128_GCM_SHA256"
code = 0x1301
kx = "any"
auth = "any"
mode = "AEAD"
min = "TLSv1.3"
max = "TLSv1.3"
[[group]]
name = "x25519"
code = 29
kind = "ecdhe"
min = "TLSv1.0"
[sets]
[[policy]]
id = "P"
name = "P"
kind = "enhanced"
endpoint_types = ["REGIONAL"]
versions = { value = ["TLSv1.3"], provenance = "documented", source = "blog" }
tls13_suites = { value = ["B"], provenance = "documented", source = "blog" }
tls12_suites = { value = [], provenance = "documented", source = "blog" }
groups = { value = ["x25519"], provenance = "documented", source = "blog" }
"""
    with pytest.raises(CatalogError, match="unknown cipher suite 'B'"):
        parse_catalog(text)


def test_a_named_suite_must_be_the_registry_value_under_its_name():
    """Regression: NULL-MD5 was once filed at 0x0000, which IANA calls TLS_NULL_WITH_NULL_NULL."""
    text = ((DATA / "catalog.toml")
            .read_text("utf-8").replace('iana = "TLS_RSA_WITH_NULL_MD5"\ncode = 0x0001',
                                        'iana = "TLS_RSA_WITH_NULL_MD5"\ncode = 0x0000'))
    with pytest.raises(CatalogError, match="0x0000 is TLS_NULL_WITH_NULL_NULL in the IANA registry"):
        parse_catalog(text)
    assert CATALOG.suite("NULL-MD5").code == 0x0001


@pytest.mark.parametrize("policy", [p for p in CATALOG.policies if "FIPS" in p.name and p.enforceable],
                         ids=lambda p: p.id)
def test_fips_variants_refuse_classical_x25519_and_keep_the_nist_curves(policy):
    names_ = {g.name for g in policy.groups.value}
    assert "x25519" not in names_ and {"secp256r1", "secp384r1"} <= names_
    assert policy.groups.inferred


def test_edge_tls12_is_for_custom_domain_names_only():
    assert CATALOG.policy("TLS_1_2", "EDGE").resource_kinds == ("domainnames",)
    assert "restapis" in CATALOG.policy("TLS_1_2", "REGIONAL").resource_kinds


def test_configuration_facts_no_source_states_are_inferred():
    rules = {r.id: r for r in CATALOG.rules}
    assert rules["access-mode-required"].provenance == "inferred"
    assert rules["access-mode-not-supported"].provenance == "inferred"
    assert rules["host-comparison"].provenance == "inferred"
    assert all(r.source in CATALOG.sources for r in rules.values())


def test_catalog_names_every_policy_the_service_model_knows():
    """The next name API Gateway adds shows up here (refresh the snapshot with `make service-model`)."""
    import json
    import pathlib

    snapshot = json.loads((pathlib.Path(__file__).parent / "snapshots" / "apigateway_security_policies.json")
                          .read_text())
    assert sorted(snapshot["security_policies"]) == sorted({p.name for p in CATALOG.policies})


def test_policies_known_only_by_name_have_unknown_suites_and_groups():
    ext2 = CATALOG.policy("SecurityPolicy_TLS13_1_2_Ext2_PQ_2025_09")
    assert ext2.unknown_facts == ("tls13_suites", "tls12_suites", "groups")
    assert ext2.versions.inferred and [v.label for v in ext2.versions.value] == ["TLSv1.2", "TLSv1.3"]


def test_a_policy_name_in_the_wrong_case_gets_did_you_mean():
    with pytest.raises(UnknownPolicyError, match="did you mean SecurityPolicy_TLS13_1_3_2025_09"):
        CATALOG.policy("securitypolicy_tls13_1_3_2025_09")
