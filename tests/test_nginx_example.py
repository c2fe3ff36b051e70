"""The vendor example: Debian's nginx set up for a policy, judged by the conformance suite."""

import shutil

import pytest

from pytest_apigw_tls.policy.catalog import load_catalog

from . import helpers

NGINX = shutil.which("nginx") or (shutil.which("/usr/sbin/nginx"))
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (make nginx-example installs it)")


def load_example():
    return helpers.load_example("nginx", "nginx_policy.py")


def test_nginx_conforms_except_for_the_groups_its_openssl_lacks(capsys):
    example = load_example()
    assert example.main(["--policy", "SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09"]) == 0
    out = capsys.readouterr().out
    assert "3 failing cases; 3 of them are post-quantum groups this OpenSSL lacks" in out
    failed = [line for line in out.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 3 and all("test_groups.py::test_group[" in line for line in failed)
    assert any("[SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09-TLSv1.3-X25519MLKEM768-accepted]" in line for line in failed)


def test_rendered_config_names_the_policy_and_drops_only_unsupported_groups(tmp_path):
    example = load_example()
    policy = load_catalog().policy("SecurityPolicy_TLS13_1_2_PQ_2025_09")
    config = example.render_config(policy, tmp_path, 8443, tmp_path / "leaf.pem")
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in config
    assert "ssl_ecdh_curve x25519:prime256v1:secp384r1;" in config
    assert example.unsupported_groups(policy) == ["X25519MLKEM768", "SecP256r1MLKEM768", "SecP384r1MLKEM1024"]
