"""Citizen-facing pages: login, account centre (zh-CN first, English available)."""

from __future__ import annotations

from flask import Flask

from idp.platform import Platform


def init_app(app: Flask, platform: Platform) -> None:
    """Register the page blueprints."""
