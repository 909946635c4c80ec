"""``python -m demo.rp SYSTEM --clients var/demo/clients.json [--port P]``: serve one RP."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from werkzeug.serving import run_simple

from demo.rp import create_rp
from demo.rp.config import SYSTEMS, load_config
from idp.serve import quiet_request_handler


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m demo.rp", description=__doc__)
    parser.add_argument("system", choices=sorted(SYSTEMS))
    parser.add_argument("--clients", type=Path, default=Path("var/demo/clients.json"))
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args()
    config = load_config(args.system, args.clients.resolve(), port=args.port)
    logging.basicConfig(level=logging.INFO, format=f"{args.system}: %(message)s")
    port = int(config.base_url.rsplit(":", 1)[1])
    # Loopback only: the demo systems are never reachable from other machines.
    # Request logs without query strings: the callback URL carries the authorization code.
    run_simple("127.0.0.1", port, create_rp(config), threaded=True,
               request_handler=quiet_request_handler())


if __name__ == "__main__":
    main()
