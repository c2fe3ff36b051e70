"""Refresh tests/snapshots/apigateway_security_policies.json from the newest botocore on PyPI.

The snapshot is API Gateway's SecurityPolicy enum as the service model states it; a test compares the
catalog's policy names with it, so a name the service gains is noticed, not missed. Run `make service-model`.
"""

from __future__ import annotations

import datetime
import glob
import gzip
import json
import pathlib
import subprocess
import sys
import tempfile
import zipfile

SNAPSHOT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "snapshots" / "apigateway_security_policies.json"
MODEL = "botocore/data/apigateway/2015-07-09/service-2.json"


def main() -> int:
    with tempfile.TemporaryDirectory() as directory:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                        "-d", directory, "botocore"], check=True)
        wheel = glob.glob(f"{directory}/botocore-*.whl")[0]
        version = pathlib.Path(wheel).name.split("-")[1]
        with zipfile.ZipFile(wheel) as archive:
            name = next(n for n in archive.namelist() if n.startswith(MODEL))
            raw = archive.read(name)
    model = json.loads(gzip.decompress(raw) if name.endswith(".gz") else raw)
    document = {"source": f"botocore {version}, {MODEL} shapes.SecurityPolicy",
                "retrieved": datetime.date.today().isoformat(),
                "security_policies": model["shapes"]["SecurityPolicy"]["enum"],
                "endpoint_access_modes": model["shapes"]["EndpointAccessMode"]["enum"]}
    SNAPSHOT.write_text(json.dumps(document, indent=1) + "\n")
    print(f"{SNAPSHOT.name}: {len(document['security_policies'])} policies from botocore {version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
