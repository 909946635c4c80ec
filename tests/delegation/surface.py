"""Helpers for the delegation API and page tests: department systems, app tokens, pages."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import update

from idp.oidc.models import Client
from idp.platform import Platform
from tests.delegation.helpers import Tree
from tests.oidc.helpers import register, sign_in
from tests.qr.helpers import App, app_client, signed_in_app

# The tree of tests/delegation/helpers.py names these clients and items; service items are
# the clients' registered scopes (idp/delegation/overview.py), set here directly.
DEPARTMENTS = {"dept-a": ("市场监管服务", "openid licence tax read"),
               "dept-b": ("税务服务", "openid read")}


def departments(platform: Platform) -> None:
    """Register the two department systems the tree's grants name."""
    for client_id, (name, scope) in DEPARTMENTS.items():
        rp = register(platform, name=name)
        with platform.db.session() as db:
            db.execute(update(Client).where(Client.client_id == rp.client_id)
                       .values(client_id=client_id, scope=scope))


class Apps:
    """The platform's own app, signed in as any person of the tree."""

    def __init__(self, app: Flask, tree: Tree) -> None:
        self.app, self.tree = app, tree
        self.rp = app_client(tree.platform)
        self._tokens: dict[str, App] = {}

    def headers(self, name: str) -> dict[str, str]:
        if name not in self._tokens:
            self._tokens[name] = signed_in_app(self.app, self.tree.platform,
                                               self.tree.people[name], rp=self.rp)
        return self._tokens[name].headers()


def browser_as(app: Flask, tree: Tree, name: str) -> Any:
    """A test client signed in (SSO cookie) as the tree's person ``name``."""
    browser = app.test_client()
    sign_in(browser, tree.platform, tree.people[name])
    return browser
