"""OpenID Provider (OIDC Core 1.0, RFC 6749, RFC 7636, RFC 7662, RFC 7009, RFC 9068)."""

from __future__ import annotations

from flask import Flask

from idp.platform import Platform


def init_app(app: Flask, platform: Platform) -> None:
    """Wire the authorization server and register the protocol endpoints."""
