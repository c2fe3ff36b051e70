"""`python -m pytest_apigw_tls.cli`: the console script."""

from .main import run

run()
