#!/usr/bin/env bash
# Shared set-up for the README commands and CI: uv, the locked environment, and PostgreSQL.
# Sourced, not run: it exports what the caller needs.
set -euo pipefail
export PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1

if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check uv
fi
# Bytecode is compiled once, at install: without .pyc files importing Prefect + GX costs 15 s instead of 5
# (the machines set PYTHONDONTWRITEBYTECODE). Not exported, and not `compile-bytecode` in pyproject.toml:
# either makes every later `uv run` recompile all ~14k files and print so.
UV_COMPILE_BYTECODE=1 uv sync --frozen --quiet
# uv compiles what it installs into the environment; the project itself is installed editable, so its own
# modules are compiled here (without this every command compiles them again in memory, unseen: ~0.1-0.3 s).
uv run --frozen --no-sync python -m compileall -q -j 0 cutover flows tasks bench > /dev/null

install_test_services() {
  # Azurite (Azure Storage emulator) for the tests, pinned in package-lock.json; needs Node.js >= 18.
  if [ ! -x node_modules/.bin/azurite-blob ]; then
    npm ci --no-audit --no-fund --silent
  fi
}

start_postgres() {
  # The machine's PostgreSQL (CI and the test suite use it); started when it is down.
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then return 0; fi
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && return 0; sleep 1; done
  fi
  echo "PostgreSQL is not reachable at 127.0.0.1:5432 (set CUTOVER_TEST_PG_DSN to another server)" >&2
  return 1
}
