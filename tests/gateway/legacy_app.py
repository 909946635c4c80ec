"""A tiny "legacy" department system for tests/gateway and bench/gateway.py.

It knows nothing of OIDC: it echoes the X-Idp-* headers it received (so a test can see
exactly what reached it, forged or not) and what `verify_identity` makes of them.
Run: ``python tests/gateway/legacy_app.py PORT`` with ``IDP_GW_SIGNING_KEY`` set.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from flask import Flask, jsonify, request

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "connectors" / "gateway"))

from idp_gateway.signing import SignatureError, verify_identity  # noqa: E402

app = Flask(__name__)
KEY = os.environ.get("IDP_GW_SIGNING_KEY", "").encode()


@app.route("/", defaults={"path": ""}, methods=["GET", "POST"])
@app.route("/<path:path>", methods=["GET", "POST"])
def echo(path: str):  # type: ignore[no-untyped-def]
    """Every header whose name looks like X-Idp-*, however spelled, and the verdict."""
    seen = {k: v for k, v in request.headers.items()
            if k.lower().replace("_", "-").startswith("x-idp-")}
    try:
        who = verify_identity(request.headers, KEY)
        identity = {"sub": who.sub, "name": who.name, "acr": who.acr, "amr": list(who.amr),
                    "level": who.level}
        error = None
    except SignatureError as exc:
        identity, error = None, str(exc)
    return jsonify(path="/" + path, method=request.method, headers=seen, identity=identity,
                   error=error)


if __name__ == "__main__":
    from werkzeug.serving import WSGIRequestHandler, run_simple

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args: object, **kwargs: object) -> None:
            pass

    run_simple("127.0.0.1", int(sys.argv[1]), app, threaded=True, request_handler=Quiet)
