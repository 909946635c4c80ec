"""A real nginx doing mTLS in front of the platform, for the certificate sign-in tests.

deploy/idp-x509-login.conf is included verbatim into tests/orgs/nginx_x509.test.conf; nginx
runs from a private prefix on a free loopback port with a server certificate made here.
`main_site` runs the shipped deploy/nginx.conf itself (the main vhost), adapted to loopback.
Process handling is the gateway tests' (tests/gateway/stack.py).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from idp.serve import free_port
from tests.gateway.stack import NGINX, ROOT, _process
from tests.orgs.x509_helpers import SECRET

TEMPLATE = Path(__file__).with_name("nginx_x509.test.conf")
PROXY_ADDRESS = "127.0.0.2"  # nginx's proxy_bind: the one trusted proxy


@dataclass
class MtlsSite:
    url: str  # https://127.0.0.1:port, asking for a client certificate
    ca_file: Path  # trust this to talk to it
    prefix: Path

    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _server_certificate(prefix: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(IPv4Address(
                "127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
            .sign(key, hashes.SHA256()))
    (prefix / "server.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (prefix / "server.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))


@contextmanager
def _nginx(kind: str, render: Callable[[Path, int], str]) -> Iterator[MtlsSite]:
    """nginx on a free port in a prefix of its own (server certificate, temp directories),
    removed afterwards; ``render(prefix, port)`` is its configuration."""
    port = free_port()
    # Outside pytest's 0700 tmp tree: nginx workers (user nobody when run as root) must
    # reach their temp directories.
    prefix = Path(tempfile.mkdtemp(prefix=f"idp-{kind}-nginx-"))
    try:
        prefix.chmod(0o755)
        (prefix / "tmp").mkdir(mode=0o755)
        _server_certificate(prefix)
        conf = prefix / "nginx.conf"
        conf.write_text(render(prefix, port), encoding="utf-8")
        with _process([NGINX, "-p", str(prefix), "-c", str(conf), "-e",
                       str(prefix / "error.log")], dict(os.environ), prefix / "nginx.log",
                      port):
            yield MtlsSite(f"https://127.0.0.1:{port}", prefix / "server.pem", prefix)
    finally:
        shutil.rmtree(prefix, ignore_errors=True)


@contextmanager
def mtls_site(idp_port: int, client_cas: str = "") -> Iterator[MtlsSite]:
    """nginx on a free port proxying /login/certificate to the platform at ``idp_port``;
    ``client_cas`` (PEM): the optional ``ssl_client_certificate`` list, so nginx verifies
    too and answers 495 for what it refuses (the snippet sends that to the platform)."""
    def render(prefix: Path, port: int) -> str:
        client_ca = ""
        if client_cas:
            (prefix / "client-cas.pem").write_text(client_cas, encoding="ascii")
            client_ca = f"ssl_client_certificate {prefix / 'client-cas.pem'};"
        text = TEMPLATE.read_text(encoding="utf-8")
        for name, value in {"PREFIX": prefix, "PORT": port, "IDP_PORT": idp_port,
                            "DEPLOY": ROOT / "deploy",
                            "CLIENT_CA": client_ca, "SECRET": SECRET}.items():
            text = text.replace(f"@@{name}@@", str(value))
        return text

    with _nginx("x509", render) as site:
        yield site


MAIN_CONF = ROOT / "deploy" / "nginx.conf"


def render_main(prefix: Path, port: int, http_port: int, idp_port: int) -> str:
    """The shipped deploy/nginx.conf on loopback: its own ports, prefix and certificate,
    one upstream (the platform), and ``proxy_bind`` to the trusted proxy address — so it
    reaches the platform exactly as the certificate vhost does (the attack's premise).
    Every edit must match, so a reshaped config fails here instead of testing nothing."""
    text = MAIN_CONF.read_text(encoding="utf-8")
    temp = " ".join(f"{kind}_temp_path {prefix}/tmp/{kind};"
                    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    edits = [
        (r"worker_processes auto;", f"worker_processes 1; daemon off; pid {prefix}/nginx.pid;"),
        (r"access_log /dev/stdout idp;", "access_log off;"),
        (r"error_log /dev/stderr warn;", f"error_log {prefix}/error.log info;"),
        (r"http \{", "http { " + temp),
        (r"(\s*server idp\d:8000[^;]*;)+", f"\n        server 127.0.0.1:{idp_port};"),
        (r"listen 80;", f"listen 127.0.0.1:{http_port};"),
        (r"listen 443 ssl( http2)?;", f"listen 127.0.0.1:{port} ssl;"),
        (r"/etc/nginx/tls/fullchain\.pem", str(prefix / "server.pem")),
        (r"(ssl_certificate_key) /etc/nginx/tls/privkey\.pem;",
         rf"\1 {prefix / 'server.key'}; proxy_bind {PROXY_ADDRESS};"),
    ]
    for pattern, replacement in edits:
        text, count = re.subn(pattern, replacement, text, count=1)
        assert count == 1, f"deploy/nginx.conf no longer has {pattern!r}"
    return text


@contextmanager
def main_site(idp_port: int) -> Iterator[MtlsSite]:
    """The main vhost (deploy/nginx.conf) in front of the platform at ``idp_port``."""
    http_port = free_port()
    with _nginx("main", lambda prefix, port: render_main(prefix, port, http_port,
                                                          idp_port)) as site:
        yield site
