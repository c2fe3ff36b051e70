# Both targets create or refresh .venv first, so they work on a machine with only python3 and make.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test venv clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

# The conformance suite against the built-in reference server: every policy, both certificate types.
demo: $(STAMP)
	$(VENV)/bin/apigw-tls policies
	cd /tmp && $(CURDIR)/$(VENV)/bin/python -m pytest --pyargs conformance -q -p no:cacheprovider --tb=line

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q

clean:
	rm -rf $(VENV) build *.egg-info
