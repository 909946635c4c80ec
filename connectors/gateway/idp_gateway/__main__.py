"""``python -m idp_gateway serve|check``: run the gateway, or check its settings.

``serve`` uses Werkzeug's threaded server (one process): fine for a department's test
environment and for tests; production runs ``idp_gateway.wsgi:app`` under gunicorn.
"""

from __future__ import annotations

import argparse
import logging
import sys

from idp_gateway.config import ConfigError, GatewayConfig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m idp_gateway")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the gateway (development server)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8700)
    sub.add_parser("check", help="check the IDP_GW_* settings and reach the platform")
    args = parser.parse_args(argv)
    try:
        config = GatewayConfig.from_env()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.command == "check":
        return _check(config)
    from werkzeug.serving import run_simple

    from idp_gateway.app import Gateway

    run_simple(args.host, args.port, Gateway(config), threaded=True)
    return 0


def _check(config: GatewayConfig) -> int:
    """Fetch discovery and keys once: the same calls the first login makes."""
    import requests

    from idp_gateway.oidc import LoginError, Platform

    platform = Platform(config)
    try:
        meta = platform.metadata()
        platform.keys()
    except (requests.RequestException, LoginError, ValueError, KeyError) as exc:
        print(f"error: platform at {config.issuer} not usable: {type(exc).__name__}",
              file=sys.stderr)
        return 1
    print(f"ok: issuer {meta['issuer']}; redirect_uri {config.redirect_uri}; "
          f"back-channel logout {config.public_url}/_gw/backchannel-logout")
    return 0


if __name__ == "__main__":
    sys.exit(main())
