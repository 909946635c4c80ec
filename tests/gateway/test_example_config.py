"""connectors/gateway/nginx.conf.example is accepted by a real nginx (``nginx -t``) once its
"ADAPT" values are filled in, with the shipped snippets it includes."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from idp.serve import free_port
from tests.gateway.stack import GATEWAY_DIR, NGINX, SNIPPETS

pytestmark = pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx is not installed")


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "legacy.example.gov.cn")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    crt, pem = directory / "site.crt", directory / "site.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    return crt, pem


def test_example_passes_nginx_config_test(tmp_path: Path) -> None:
    crt, pem = self_signed(tmp_path)
    text = (GATEWAY_DIR / "nginx.conf.example").read_text(encoding="utf-8")
    text = (text.replace("/etc/nginx/idp-gateway/", f"{SNIPPETS}/")
            .replace("/etc/nginx/tls/legacy.example.gov.cn.crt", str(crt))
            .replace("/etc/nginx/tls/legacy.example.gov.cn.key", str(pem))
            .replace("listen 80;", f"listen 127.0.0.1:{free_port()};")
            .replace("listen 443 ssl;", f"listen 127.0.0.1:{free_port()} ssl;"))
    assert "listen 80;" not in text and "listen 443" not in text
    assert "/etc/nginx" not in text
    (tmp_path / "site.conf").write_text(text, encoding="utf-8")
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
                    f"events {{}}\nhttp {{\n access_log off;\n include {tmp_path}/site.conf;\n}}\n")
    done = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(conf), "-e",
                           str(tmp_path / "error.log")], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr
