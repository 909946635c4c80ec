"""What a demo relying party needs to know: which system it is, where the platform is."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class System:
    """One demo department system (社会保障 or 住房公积金)."""

    key: str
    name_zh: str
    name_en: str
    port: int
    accent: str  # page colour, so the two systems are told apart at a glance

    @property
    def client_name(self) -> str:
        return f"{self.name_zh}（演示）"


SYSTEMS: dict[str, System] = {
    "social_security": System("social_security", "社会保障服务", "Social Security Services",
                              5101, "#0b6e4f"),
    "housing_fund": System("housing_fund", "住房公积金服务", "Housing Provident Fund Services",
                           5102, "#8a3b12"),
}

SCOPE = "openid profile realname"


@dataclass(frozen=True)
class RpConfig:
    """A running relying party: its system, base URL, the platform and its credentials."""

    system: System
    base_url: str
    issuer: str
    client_id: str
    client_secret: str
    data_dir: Path
    secret_key: str

    @property
    def redirect_uri(self) -> str:
        return f"{self.base_url}/callback"

    @property
    def post_logout_redirect_uri(self) -> str:
        return f"{self.base_url}/"

    @property
    def backchannel_logout_uri(self) -> str:
        return f"{self.base_url}/backchannel-logout"


def urls_for(system: System, host: str = "127.0.0.1", port: int | None = None) -> dict[str, str]:
    """The URLs a system registers with the platform (redirect, logout, back-channel)."""
    base = f"http://{host}:{port or system.port}"
    return {"base_url": base, "redirect_uri": f"{base}/callback",
            "post_logout_redirect_uri": f"{base}/",
            "backchannel_logout_uri": f"{base}/backchannel-logout"}


def load_config(system_key: str, clients_file: Path, port: int | None = None,
                host: str = "127.0.0.1") -> RpConfig:
    """Build the config from the credentials file `idp demo` writes (var/demo/clients.json)."""
    system = SYSTEMS[system_key]
    data = json.loads(clients_file.read_text(encoding="utf-8"))
    creds = data["systems"][system_key]
    return RpConfig(
        system=system,
        base_url=urls_for(system, host, port)["base_url"],
        issuer=data["issuer"],
        client_id=creds["client_id"],
        client_secret=creds["client_secret"],
        data_dir=clients_file.parent,
        # Per process: a restart signs everybody out of the demo system, which is harmless.
        secret_key=secrets.token_urlsafe(32),
    )
