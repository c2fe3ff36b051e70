"""The conformance suite: parametrized from the catalog, runnable against any target.

Run it with `pytest --pyargs pytest_apigw_tls.conformance` (installed) or `pytest conformance/` (in the repository);
with no options it proves every policy on the reference server.
"""
