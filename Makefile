# The two commands of the README. Each creates .venv on first use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test campaign bench clean

# Catalog scenarios in the everyday commands: a fixed, reproducible sample (see README).
RUN_SAMPLE ?= 100
TEST_SAMPLE ?= 30

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

## OTA campaign from testcases/ against the virtual bench; Allure results in reports/allure-results
run: $(STAMP)
	$(BIN)/pytest -n 2 testcases --scenario-sample $(RUN_SAMPLE) --seed 0 \
		--alluredir reports/allure-results --clean-alluredir $(ARGS); \
	status=$$?; cp reports/categories.json reports/allure-results/; exit $$status

## every test: the framework's own (tests/) and the OTA suites (testcases/), with a fixed
## sample of the catalog scenarios
test: $(STAMP)
	$(BIN)/pytest -n 2 --scenario-sample $(TEST_SAMPLE) --seed 0 $(ARGS)

## every catalog scenario (testcases/scenarios), Allure results in reports/allure-results
campaign: $(STAMP)
	$(BIN)/pytest -n auto testcases/scenarios --alluredir reports/allure-results --clean-alluredir $(ARGS); \
	status=$$?; cp reports/categories.json reports/allure-results/; exit $$status

## performance measurements (not tests)
bench: $(STAMP)
	$(BIN)/python benchmarks/throughput.py

clean:
	rm -rf $(VENV) reports/allure-results
