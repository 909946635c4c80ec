"""Run `idp demo` as a real process tree on free loopback ports, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import requests

from bench.forms import Form, forms_of
from idp.serve import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
IDP = str(Path(sys.executable).parent / "idp")


@dataclass
class DemoStack:
    """The running demo: the platform and both demo systems, and how to reach them."""

    proc: subprocess.Popen[bytes]
    var_dir: Path
    env: dict[str, str]
    issuer: str
    social: str
    housing: str
    log: Path

    def idp(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run an ``idp`` command against the stack's database."""
        env = {**self.env, "IDP_DEBUG": "true", "IDP_ISSUER": self.issuer}  # as `idp demo` runs
        return subprocess.run([IDP, *args], env=env, capture_output=True, text=True,
                              timeout=60, check=True)

    def stop(self) -> None:
        """Stop the whole process group `idp demo` leads; kill it if it lingers."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # any child left behind
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=5)


def demo_env(var_dir: Path) -> dict[str, str]:
    """The environment minus any IDP_* setting of the caller, with a private var dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    env["IDP_VAR_DIR"] = str(var_dir)
    return env


def start_demo(var_dir: Path, timeout: float = 60) -> DemoStack:
    ports = [free_port() for _ in range(3)]
    env = demo_env(var_dir)
    log = var_dir / "demo.log"
    var_dir.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [IDP, "demo", "--port", str(ports[0]), "--social-security-port", str(ports[1]),
             "--housing-fund-port", str(ports[2])],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    stack = DemoStack(proc, var_dir, env, f"http://127.0.0.1:{ports[0]}",
                      f"http://127.0.0.1:{ports[1]}", f"http://127.0.0.1:{ports[2]}", log)
    deadline = time.monotonic() + timeout
    try:
        for port in ports:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError("idp demo exited:\n" + log.read_text(errors="replace"))
                try:
                    wait_for_port("127.0.0.1", port, timeout=0.5)
                    break
                except TimeoutError:
                    if time.monotonic() > deadline:
                        raise
        while "Ctrl-C" not in log.read_text(errors="replace"):  # the banner: all ready
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("demo not ready:\n" + log.read_text(errors="replace"))
            time.sleep(0.1)
    except BaseException:
        stack.stop()
        raise
    return stack


def submit(browser: requests.Session, page: requests.Response, form: Form,
           **values: str) -> requests.Response:
    """Submit a form as a browser would (relative action resolved against the page URL)."""
    url = urljoin(page.url, form.action or page.url)
    data = {**form.fields, **values}
    if form.method == "post":
        return browser.post(url, data=data, timeout=20)
    return browser.get(url, params=data, timeout=20)


def login_form(page: requests.Response) -> Form | None:
    for form in forms_of(page.text):
        if "password" in form.fields or "identifier" in form.fields:
            return form
    return None


def pass_consent(browser: requests.Session, page: requests.Response) -> requests.Response:
    """Approve a consent page if the platform shows one (first use per client and scope)."""
    for _ in range(2):
        forms = [f for f in forms_of(page.text) if f.method == "post" and "csrf_token" in f.fields
                 and "password" not in f.fields]
        if not forms or "/authorize" not in urljoin(page.url, forms[0].action):
            return page
        page = submit(browser, page, forms[0])
    return page
