# The two commands of the README. Each creates .venv on first use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

## OTA campaign from testcases/ against the virtual bench; Allure results in reports/allure-results
run: $(STAMP)
	$(BIN)/pytest testcases --alluredir reports/allure-results --clean-alluredir $(ARGS); \
	status=$$?; cp reports/categories.json reports/allure-results/; exit $$status

## every test: the framework's own (tests/) and the OTA suites (testcases/)
test: $(STAMP)
	$(BIN)/pytest -n 2 $(ARGS)

## performance measurements (not tests)
bench: $(STAMP)
	$(BIN)/python benchmarks/throughput.py

clean:
	rm -rf $(VENV) reports/allure-results
