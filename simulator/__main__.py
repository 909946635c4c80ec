"""``python -m simulator --host 127.0.0.1 --port 5900 [--key …]``: serve the simulator."""

from __future__ import annotations

import argparse
import logging
import os

from werkzeug.serving import make_server

from simulator import DEFAULT_CLIENT_ID, DEFAULT_KEY, SimConfig, create_app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m simulator",
                                     description="Bundled authority simulator (never deploy).")
    env = os.environ.get
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5900)
    parser.add_argument("--key", default=env("SIM_KEY", DEFAULT_KEY),
                        help="shared HMAC key for signed authority requests")
    parser.add_argument("--client-id", default=env("SIM_CLIENT_ID", DEFAULT_CLIENT_ID))
    parser.add_argument("--sms-key", default=env("SIM_SMS_KEY"),
                        help="HMAC key of the SMS gateway (the platform's secret key)")
    parser.add_argument("--slow-seconds", type=float, default=10.0)
    parser.add_argument("--seed", default=None, help="JSON file of people (default: bundled)")
    parser.add_argument("--issuer", default=None, help="trusted platform issuer URL")
    parser.add_argument("--oidc-client", action="append", default=[], metavar="ID:SECRET",
                        help="OIDC client of the trusted platform (repeatable)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    clients = dict(c.split(":", 1) for c in args.oidc_client if ":" in c)
    config = SimConfig(key=args.key, client_id=args.client_id, sms_key=args.sms_key,
                       slow_seconds=args.slow_seconds, issuer=args.issuer,
                       **({"oidc_clients": clients} if clients else {}))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    server = make_server(args.host, args.port, create_app(args.seed, config), threaded=True)
    print(f"authority simulator on http://{args.host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
