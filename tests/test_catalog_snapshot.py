"""Any change to the catalog must be a conscious, reviewed diff of tests/snapshots/catalog.json.

After an intended change, regenerate with: APIGW_TLS_UPDATE_SNAPSHOT=1 pytest tests/test_catalog_snapshot.py
"""

import json
import os
import pathlib

from pytest_apigw_tls.policy.catalog import load_catalog

SNAPSHOT = pathlib.Path(__file__).parent / "snapshots" / "catalog.json"


def render() -> str:
    catalog = load_catalog()
    document = {"suites": [s.to_dict() for s in catalog.suites], "groups": [g.to_dict() for g in catalog.groups],
                "policies": [p.to_dict() for p in catalog.policies]}
    return json.dumps(document, indent=1) + "\n"


def test_catalog_matches_the_reviewed_snapshot():
    if os.environ.get("APIGW_TLS_UPDATE_SNAPSHOT"):
        SNAPSHOT.write_text(render())
    assert render() == SNAPSHOT.read_text(), "catalog changed: review the diff, then regenerate the snapshot"
