# syntax=docker/dockerfile:1
# Tenantry's image: a builder stage installs the locked dependencies and the package (as a wheel,
# so alembic/ and policies/ travel inside it under tenantry/_resources/); the runtime stage gets
# the virtualenv only: no uv, no compilers, no source tree, a non-root user.
#
# The base image is an argument so that CI can pin it by digest and offline builders
# (buildah/podman --isolation=chroot) can point at a mirror. Builder and runtime must share it:
# the virtualenv's interpreter links to the base image's Python.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
ARG UV_VERSION=0.13.9
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
WORKDIR /src
# Dependencies first: this layer is reused until uv.lock changes.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project --no-cache
COPY README.md ./
COPY alembic ./alembic
COPY policies ./policies
COPY tenantry ./tenantry
RUN uv sync --frozen --no-dev --no-editable --no-cache

FROM ${PYTHON_IMAGE} AS runtime
# The release workflow passes pyproject's version; local builds say "dev".
ARG VERSION=dev
LABEL org.opencontainers.image.title="tenantry" \
      org.opencontainers.image.description="Multi-tenant user management for SaaS backends" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
# A fixed numeric id, so that Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
RUN groupadd --system --gid 10001 tenantry \
    && useradd --system --uid 10001 --gid tenantry --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin tenantry
COPY --from=builder /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TENANTRY_ENV=production \
    TENANTRY_HOST=0.0.0.0 \
    TENANTRY_PORT=8000
WORKDIR /app
USER 10001:10001
EXPOSE 8000
# No curl in slim images: Python's urllib probes /healthz (it fails on any non-2xx answer).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('TENANTRY_PORT', '8000') + '/healthz', timeout=4)"]
CMD ["tenantry", "serve"]
