#!/usr/bin/env bash
# Regenerate migrations/versions/0001_initial.py from the models (pre-release only: once a
# release exists, every schema change is a new migration instead).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
rm -f migrations/versions/0001_initial.py
.venv/bin/python - "$tmp" <<'PY'
import sys
from alembic import command
from idp.migrate import alembic_config
cfg = alembic_config(f"sqlite:///{sys.argv[1]}/empty.sqlite3")
command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001",
                 version_path="migrations/versions")
PY
mv migrations/versions/0001_*.py migrations/versions/0001_initial.py 2>/dev/null || true
.venv/bin/ruff format -q migrations/versions/0001_initial.py 2>/dev/null || true
rm -rf "$tmp"
echo "regenerated migrations/versions/0001_initial.py"
