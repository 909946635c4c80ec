"""``python -m bench.refresh_ir N``: N refresh rotations in process, for instruction counts.

Run it under callgrind twice, with N and with 0, and divide the difference of the two
"Collected" totals by N: the client's instructions per rotation, free of this machine's
load (bench/README.md, round 5)::

    valgrind --tool=callgrind python -m bench.refresh_ir 400
    valgrind --tool=callgrind python -m bench.refresh_ir 0
"""

from __future__ import annotations

import sys

from bench.micro import Caller, bench_app, flow, run


def main() -> None:
    n = int(sys.argv[1])
    with bench_app(2) as (app, fx):
        caller = Caller(app)
        tokens = [flow(caller, fx, fx["users"][i % 2]) for i in range(2)]
        run("refresh", caller, fx, tokens, 50)  # warm-up: statements compiled and prepared
        if n:
            run("refresh", caller, fx, tokens, n)
        app.extensions["idp"].db.dispose()


if __name__ == "__main__":
    main()
