# Both targets create or refresh .venv first, so they work on a machine with only python3 and make.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test lint venv clean fuzz bench bench-flaky nginx-example gnutls-example service-model

# pip compiles what it installs unless the environment forbids bytecode: allowed here, so the first
# test run does not compile every dependency in each of its workers (about 10 s).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	PYTHONDONTWRITEBYTECODE= $(VENV)/bin/python -m pip install --quiet --upgrade pip
	PYTHONDONTWRITEBYTECODE= $(VENV)/bin/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

# The conformance suite against the built-in reference server: every policy, both certificate types.
demo: $(STAMP)
	$(VENV)/bin/apigw-tls policies
	$(VENV)/bin/python -m pytest --pyargs pytest_apigw_tls.conformance -q --tb=line

# Style and types first (a few seconds), then the tests on four workers: on this 2-core machine about
# half of the tests' time is spent waiting on sockets, timeouts and pauses, which four workers overlap
# (77 s against 121 s with two). Bytecode is written (the environment may forbid it), so the many
# subprocesses the tests start do not each compile the package again.
test: $(STAMP) lint
	PYTHONDONTWRITEBYTECODE= $(VENV)/bin/python -m pytest -q -n 4

# ruff, then mypy over the package as installed (scripts/typecheck.py maps reference_server/ and conformance/ in).
lint: $(STAMP)
	$(VENV)/bin/ruff check pytest_apigw_tls reference_server conformance tests benchmarks scripts examples
	$(VENV)/bin/python scripts/typecheck.py

# A longer hostile-input run against the reference server (prints inputs, errors, leaked fds).
fuzz: $(STAMP)
	$(VENV)/bin/python benchmarks/fuzz_reference_server.py --examples 2000

# Benchmarks print ratios measured in one run (sslyze goes into a throwaway venv, never a dependency).
bench: $(STAMP)
	$(VENV)/bin/python benchmarks/scan_speed.py
	$(VENV)/bin/python benchmarks/load.py
	$(VENV)/bin/python benchmarks/plugin_cost.py

# False verdicts behind hostile fronts over 200 seeded runs per drop rate, and a hostile peer's memory (about 25 min).
bench-flaky: $(STAMP)
	$(VENV)/bin/python benchmarks/flaky_fronts.py --runs 200

# The vendor example: Debian's nginx set up for a policy and judged by the suite (installs nginx).
nginx-example: $(STAMP)
	command -v nginx >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx)
	$(VENV)/bin/python examples/nginx/nginx_policy.py --policy SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09

# Refresh the snapshot of API Gateway's SecurityPolicy enum from the newest botocore (a test compares the catalog with it).
service-model: $(STAMP)
	$(VENV)/bin/python scripts/refresh_service_model.py

# The second vendor example, on GnuTLS (installs gnutls-bin): what a priority string cannot express is named.
gnutls-example: $(STAMP)
	command -v gnutls-serv >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnutls-bin)
	$(VENV)/bin/python examples/gnutls/gnutls_policy.py --policy SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09

clean:
	rm -rf $(VENV) build *.egg-info
