# The idp node image: the package, its migrations and gunicorn. Configuration comes only
# from IDP_* environment variables (README.md, docs/operations.md).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    IDP_VAR_DIR=/app/var
WORKDIR /app

# Dependencies first, so a code change does not reinstall them.
COPY pyproject.toml ./
RUN mkdir -p idp admin_ui connectors && touch idp/__init__.py \
    && pip install --no-cache-dir . && pip uninstall -y idp

# The package runs from /app: idp/migrate.py finds Alembic's scripts in /app/migrations.
COPY idp ./idp
COPY admin_ui ./admin_ui
COPY connectors ./connectors
COPY migrations ./migrations
RUN pip install --no-cache-dir --no-deps -e . \
    && useradd --system --uid 10001 --home-dir /app idp \
    && mkdir -p /app/var && chown idp /app/var

# argon2 compiled for AVX2 (idp/argon2_pool.py): built on an x86-64 builder with AVX2 (a
# failed build fails the image), skipped elsewhere; a host without AVX2 uses libsodium at
# run time. The compiler leaves the image again.
COPY scripts/build_argon2_native.py ./scripts/
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && python scripts/build_argon2_native.py --strict \
    && apt-get purge -y gcc libc6-dev && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*

USER idp
EXPOSE 8000
# Two workers (one per core of a small node), threads for waits on PostgreSQL and Redis.
# The access log leaves out query strings (%(U)s, not %(r)s): id_token_hint and login_hint
# travel there. nginx is the only trusted proxy (IDP_PROXY_FIX=1).
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "2", "--worker-class", "gthread", \
     "--threads", "4", "--graceful-timeout", "10", "--access-logfile", "-", \
     "--access-logformat", "%(h)s %(t)s \"%(m)s %(U)s\" %(s)s %(B)s %(M)sms", \
     "idp.wsgi:app"]
