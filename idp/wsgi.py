"""The WSGI entry point for production servers: ``gunicorn idp.wsgi:app`` (`idp serve`).

Settings come from ``IDP_*`` environment variables; each worker process builds its own app.
"""

from __future__ import annotations

from idp import create_app

app = create_app()
