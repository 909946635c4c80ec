"""Heavy, rarely used libraries stay out of a freshly started worker (worker RSS, issue 2).

A worker imports `idp.wsgi`; everything imported then is resident in every worker for its
whole life. PDF rendering, QR drawing and LDAP are imported inside the functions that use
them (bench/README.md round 3, "RSS"). A new top-level import of one of them fails here,
deterministically, instead of creeping back as a few MiB in the next benchmark.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# What each costs a worker, measured over Flask + SQLAlchemy + Redis already loaded.
LAZY = [
    ("reportlab", "counter agreement PDF, ≈ 4–7 MiB"),
    ("qrcode", "TOTP enrolment and QR sign-in, ≈ 4 MiB"),
    ("PIL", "pulled in by qrcode, ≈ 2–3 MiB"),
    ("lxml", "pulled in by qrcode's SVG images, ≈ 4 MiB"),
    ("ldap3", "staff directory sign-in, ≈ 5 MiB"),
    ("pypdf", "not used by the server, ≈ 9 MiB"),
]


@pytest.fixture(scope="module")
def worker_modules(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Top-level package names in `sys.modules` after a fresh interpreter imports idp.wsgi."""
    db = tmp_path_factory.mktemp("lazy") / "idp.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    env.update(IDP_TESTING="1", IDP_DATABASE_URL=f"sqlite:///{db}")
    code = ("import json, sys\nimport idp.wsgi\n"
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_worker_imports_the_app(worker_modules: set[str]) -> None:
    # The subprocess really built the app: otherwise an absent module proves nothing.
    assert {"idp", "admin_ui", "flask", "sqlalchemy"} <= worker_modules


@pytest.mark.parametrize(("package", "why"), LAZY, ids=[p for p, _ in LAZY])
def test_heavy_library_is_not_imported_at_start(worker_modules: set[str], package: str,
                                                why: str) -> None:
    assert package not in worker_modules, (
        f"{package} ({why}) is imported when a worker starts: import it inside the "
        "function that uses it (worker RSS, issue 2)")
