"""Screenshots of docs/console.md, written by the browser tests themselves.

Nothing is written unless ``IDP_SCREENSHOTS`` names a folder; then every `shot` writes
``<name>-desktop.png`` at 1366×768 and ``<name>-phone.png`` at 390 px wide (full page), so
the docs show exactly what the tests checked, with synthetic data. To refresh them all:

    IDP_SCREENSHOTS=docs/screenshots .venv/bin/pytest -q -p no:cacheprovider \\
        tests/browser/test_counter_registration.py tests/browser/test_counter_org.py \\
        tests/browser/test_admin_ban.py tests/browser/test_console_staff.py
"""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import Page

DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


def shot(page: Page, name: str, *, phone: bool = True) -> None:
    """The current page at desktop and (unless ``phone=False``) phone width."""
    folder = os.environ.get("IDP_SCREENSHOTS")
    if not folder:
        return
    size = page.viewport_size or DESKTOP
    page.set_viewport_size(DESKTOP)  # type: ignore[arg-type]
    page.screenshot(path=str(Path(folder) / f"{name}-desktop.png"), full_page=True)
    if phone:
        page.set_viewport_size(PHONE)  # type: ignore[arg-type]
        page.screenshot(path=str(Path(folder) / f"{name}-phone.png"), full_page=True)
    page.set_viewport_size(size)  # type: ignore[arg-type]
