"""``python -m simulator`` serves the app over real HTTP."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def test_module_entry_point_serves_discovery():
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", "0", "--key", "k"], cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = line.rsplit(" ", 1)[-1].strip()
        assert url.startswith("http://127.0.0.1:")
        meta = requests.get(url + "/oidc/.well-known/openid-configuration", timeout=5).json()
        assert meta["issuer"] == url + "/oidc"
        assert meta["id_token_signing_alg_values_supported"] == ["ES256"]
    finally:
        proc.terminate()
        proc.wait(timeout=5)
