"""mypy over the package as it is installed, from a checkout.

The distribution maps the repository's top-level reference_server/ and conformance/ into the
pytest_apigw_tls namespace (pyproject.toml, package-dir). mypy reads modules from the file tree and
cannot follow that mapping, so this builds the installed tree from symbolic links in a temporary
directory and checks it there, with the project's mypy settings.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
MAPPED = {"reference_server": ROOT / "reference_server", "conformance": ROOT / "conformance"}


def installed_tree(directory: pathlib.Path) -> pathlib.Path:
    package = directory / "pytest_apigw_tls"
    package.mkdir()
    for entry in (ROOT / "pytest_apigw_tls").iterdir():
        if entry.name != "__pycache__":
            (package / entry.name).symlink_to(entry)
    for name, source in MAPPED.items():
        (package / name).symlink_to(source)
    return package


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="apigw-tls-typecheck-") as directory:
        installed_tree(pathlib.Path(directory))
        return subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
                               "-p", "pytest_apigw_tls"], cwd=directory, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
