# Recorda — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONDONTWRITEBYTECODE := 1
MODEL_INPUTS := config.yml domain.yml $(shell find data -name '*.yml' 2>/dev/null)

.PHONY: run run-production remind-production test test-unit test-clock lint venv train validate clean bench remind nlu-check

## make run: install, train if needed, start every service with sandbox defaults
run: venv models/.current
	$(BIN)/python -m bot.dev

## make test: data validation, Rasa test stories (NLU included), then the
## pytest suites (end-to-end included)
test: venv models/.current validate
	$(BIN)/rasa test core --e2e --stories tests/stories --fail-on-prediction-errors --out var/results --model models/current.tar.gz
	$(BIN)/python -m pytest -q tests

## make test-unit: the fast suites alone (tests/unit: in-process, no trained
## model); tests/integration and tests/e2e run with `pytest tests/<kind>`
test-unit: venv
	$(BIN)/python -m pytest -q tests/unit

## make lint: ruff (style, import order) on everything, mypy on the core
## (pyproject.toml says what each checks)
lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy

## make test-clock: the suites that depend on the date or the hour, run with
## the clock at five local times (scripts/test-at-times); not part of `make test`
CLOCK_TESTS := $(addprefix tests/integration/test_,$(addsuffix .py,actions booking_rest booking_sandbox \
	console_conversations console_day console_figures console_nlu_review console_robustness \
	console_security console_users follow_up job realistic_day reminder_store reports retention \
	sms_fallback)) \
	$(addprefix tests/e2e/test_,$(addsuffix .py,console_browser e2e sms_fallback_e2e))
test-clock: venv models/.current
	scripts/test-at-times $(CLOCK_TESTS)

venv: $(BIN)/.installed

$(BIN)/.installed: requirements.txt requirements-test.txt
	@py=$$(scripts/find-python310) || exit 1; \
	  [ -x $(BIN)/python ] || $$py -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.txt -r requirements-test.txt
	touch $@

validate: venv
	$(BIN)/rasa data validate --data data --domain domain.yml --config config.yml

## train: one model, written to models/current.tar.gz
train: models/.current
models/.current: $(BIN)/.installed $(MODEL_INPUTS)
	$(BIN)/rasa train --data data --domain domain.yml --config config.yml --out models --fixed-model-name current
	touch $@

## make nlu-check: for content editors — validate the data, train, run the
## conversation tests and score the model on the held-out messages
nlu-check: venv validate models/.current
	$(BIN)/rasa test core --e2e --stories tests/stories --fail-on-prediction-errors --out var/results --model models/current.tar.gz
	$(BIN)/python -m pytest -q tests/unit/test_language.py tests/unit/test_nlu_eval.py tests/integration/test_nlu_model.py
	$(BIN)/python -m bot.dev.nlu_eval

bench: venv models/.current
	$(BIN)/python -m bench.reminder_dispatch
	$(BIN)/python -m bench.button_latency
	$(BIN)/python -m bench.console_pages
	$(BIN)/python -m bench.channel_overhead

clean:
	rm -rf var models/*.tar.gz models/.current

## make remind: send the reminders of the next service day (while `make run` runs)
remind: venv
	$(BIN)/python -m bot.apps.reminders send --tomorrow

## make run-production: the production profile on this machine — PostgreSQL
## and Redis (Debian's packages, data under var/production/), several Rasa and
## action-server workers, the same sandbox and simulator as `make run`
run-production: venv models/.current
	$(BIN)/python -m bot.dev.production

## make remind-production: tomorrow's reminders through the running production profile
remind-production: venv
	$(BIN)/python -m bot.dev.production --remind
