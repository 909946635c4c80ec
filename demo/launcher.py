"""``idp demo``: from nothing to a running platform and two department systems.

Embedded defaults only (SQLite under var/, in-process store, SMS outbox), debug mode so the
development keys are accepted, everything bound to 127.0.0.1. The platform runs in ONE
process because the in-process store is not shared between processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from demo.rp.config import SYSTEMS
from demo.seed import DEMO_CITIZEN, SELFCHECK_TEST_ACCOUNTS, ensure_citizen, ensure_clients

HOST = "127.0.0.1"


def demo_environment(port: int) -> None:
    """Demo settings, unless the caller set them: debug, plain-HTTP cookies, loopback issuer."""
    os.environ.setdefault("IDP_DEBUG", "true")
    os.environ.setdefault("IDP_SECURE_COOKIES", "false")
    # The demo citizen is a test account: the integration self-check page is on (issue 7).
    os.environ.setdefault("IDP_SELFCHECK_TEST_ACCOUNTS", SELFCHECK_TEST_ACCOUNTS)
    os.environ["IDP_ISSUER"] = f"http://{HOST}:{port}"


SIMULATOR_PORT = 5900  # docs/authorities.md; another free port when it is taken
SIMULATOR_KEY = "simulator-dev-key-change-me"  # the simulator's default, loopback only


def simulator_environment() -> int:
    """Point the platform at the bundled authority simulator (issue 3: registration works
    in the demo); return the simulator's port."""
    import json
    import socket

    from idp.serve import free_port

    sim_port = SIMULATOR_PORT
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        if probe.connect_ex((HOST, sim_port)) == 0:
            sim_port = free_port()
    base = f"http://{HOST}:{sim_port}"
    os.environ.setdefault("IDP_AUTHORITY_URL", base)
    os.environ.setdefault("IDP_AUTHORITY_CLIENT_ID", "idp")
    os.environ.setdefault("IDP_AUTHORITY_KEY", SIMULATOR_KEY)
    os.environ.setdefault("IDP_TRUSTED_PLATFORMS", json.dumps([{
        "name": "sim", "label": "可信平台(模拟)Trusted platform (simulated)",
        "issuer": f"{base}/oidc", "client_id": "idp-linked",
        "client_secret": "linked-secret-change-me", "levels": {"loa-3": 2, "loa-2": 1}}],
        ensure_ascii=False))
    return sim_port


def prepare(port: int, rp_ports: dict[str, int]) -> Path:
    """Migrate, create the signing key, seed the citizen and clients; return clients.json."""
    from idp.platform import Platform
    from idp.serve import check_settings, init_node
    from idp.settings import VAR_DIR

    settings = check_settings()
    print(f"· 初始化数据库 Initialising the database ({_where(settings.database_url)})")
    init_node(settings)
    platform = Platform.build(settings)
    try:
        if ensure_citizen(platform):
            print("· 已创建演示用户 Demo citizen created")
        clients_file = VAR_DIR / "demo" / "clients.json"
        if ensure_clients(platform, clients_file, rp_ports):
            print("· 已注册演示业务系统 Demo department systems registered")
    finally:
        platform.db.dispose()
    return clients_file


def _where(url: str) -> str:
    return url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else "database"


def start_all(procs: list[subprocess.Popen[bytes]], root: Path, port: int,
              rp_ports: dict[str, int], clients_file: Path) -> None:
    """Start the platform, wait for it, then the demo systems; each process joins ``procs``."""
    from idp.serve import wait_for_port

    idp = str(Path(sys.executable).parent / "idp")
    authority = os.environ.get("IDP_AUTHORITY_URL", "")
    if authority.startswith(f"http://{HOST}:"):  # ours to start, not a configured authority
        sim_port = int(authority.rsplit(":", 1)[1])
        procs.append(subprocess.Popen([sys.executable, "-m", "simulator", "--host", HOST,
                                       "--port", str(sim_port)], cwd=root))
        wait_for_port(HOST, sim_port, timeout=30)
    procs.append(subprocess.Popen([idp, "serve", "--server", "dev", "--host", HOST,
                                   "--port", str(port)]))
    wait_for_port(HOST, port, timeout=30)
    for key, rp_port in rp_ports.items():
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "demo.rp", key, "--clients", str(clients_file),
             "--port", str(rp_port)], cwd=root))
    for rp_port in rp_ports.values():
        wait_for_port(HOST, rp_port, timeout=30)


def stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + 10
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def banner(port: int, rp_ports: dict[str, int]) -> str:
    c = DEMO_CITIZEN
    lines = ["", "演示环境已启动 The demo is running (Ctrl-C 停止 / to stop):",
             f"  统一身份认证平台 Identity platform   http://{HOST}:{port}",
             f"  注册 Registration                    http://{HOST}:{port}/register",
             f"  接入自检 Integration self-check      http://{HOST}:{port}/integration/selfcheck",
             f"  核验模拟器 Authority simulator       {os.environ.get('IDP_AUTHORITY_URL', '-')}"]
    for key, rp_port in rp_ports.items():
        s = SYSTEMS[key]
        lines.append(f"  {s.name_zh} {s.name_en}  http://{HOST}:{rp_port}")
    lines += ["", "演示用户 Demo citizen (docs/demo.md):",
              f"  姓名 Name {c['name']}  身份证号 ID number {c['id_number']}",
              f"  手机号 Phone {c['phone']}  密码 Password {c['password']}",
              f"  短信验证码 SMS codes: http://{HOST}:{port}/dev/sms", ""]
    return "\n".join(lines)


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM stops the demo like Ctrl-C does, so children are always cleaned up."""
    raise KeyboardInterrupt


def run_demo(root: Path, port: int, rp_ports: dict[str, int] | None = None) -> int:
    """Set up and run until Ctrl-C (or SIGTERM); non-zero if a process died on its own."""
    rp_ports = rp_ports or {key: s.port for key, s in SYSTEMS.items()}
    demo_environment(port)
    simulator_environment()
    clients_file = prepare(port, rp_ports)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)  # even when started in the background
    procs: list[subprocess.Popen[bytes]] = []
    try:
        start_all(procs, root, port, rp_ports, clients_file)
        print(banner(port, rp_ports), flush=True)
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        print("一个演示进程已退出，正在停止 A demo process exited; stopping", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\n正在停止 Stopping…", flush=True)
        return 0
    finally:
        stop_all(procs)
