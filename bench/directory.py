"""``python -m bench.directory``: the national mutual-recognition directory at scale (R-62).

Issue 6 item 6. Against the test PostgreSQL of scripts/services.sh, in a database of its own
(``directory_bench``, dropped at the end unless ``--keep``):

1. loads N synthetic entries (default 10 000 000) with COPY into the ``federation_directory``
   table created from the model, indexes built after the load as pg_restore does;
2. measures lookup and registration latency (p50/p99) with 1 and ``--clients`` concurrent
   clients (separate processes started together) at three layers: ``sql`` — the directory's
   own statement through psycopg (what the database costs); ``service`` —
   ``Directory.lookup`` / ``Directory.register`` of a national node (no parent), i.e. the
   Redis rate-limit counter, the select, the insert and the audit append the API really
   runs; ``service-no-audit`` — the same without the audit append;
3. reports storage per entry, table and each index separately.

``--keep`` leaves the database for ``--reuse`` (measure again without reloading).

Entries look like the national node's: a blind index of a synthetic document (the same
keyed HMAC as ``directory_index``), home node = one of ~340 city nodes weighted by province
population, ``via`` = its province. Everything talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import re
import statistics
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
from sqlalchemy import bindparam, create_engine, make_url, select, text

from bench.directory_synth import Synthetic
from idp.audit.models import AuditHead, AuditRecord
from idp.db import Base, Database
from idp.federation.directory import AlreadyRegistered, Directory
from idp.federation.models import DirectoryEntry
from idp.ratelimit import RateLimiter
from idp.store import RedisStore

ROOT = Path(__file__).resolve().parent.parent
NATIONAL = "https://id.gov.cn"
# The document the synthetic entry i stands for; new registrations start far above N.
FRESH_BASE = 10**15
WARMUP = 20  # operations per client before the measured ones
# sql: the statements alone; service: Directory.lookup/register as the API runs them;
# service-no-audit: the same without the audit append (to show what the audit chain costs).
LAYERS = ("sql", "service", "service-no-audit")
_TABLE = DirectoryEntry.__tablename__
# The directory's own lookup (Directory._local), compiled once for the sql layer.
LOOKUP = select(DirectoryEntry.home_node).where(
    DirectoryEntry.blind_index == bindparam("blind_index"))


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ------------------------------------------------------------------------ load and storage


def create_schema(url: str) -> None:
    """The model's tables (directory + audit chain), exactly as the migration makes them."""
    engine = create_engine(url)
    Base.metadata.create_all(engine, tables=[DirectoryEntry.__table__, AuditHead.__table__,
                                             AuditRecord.__table__])
    engine.dispose()


def load(url: str, n: int, synth: Synthetic, batch: int = 50_000) -> dict[str, float]:
    """COPY ``n`` entries with the secondary indexes dropped, then rebuild them."""
    timings: dict[str, float] = {}
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        constraints = conn.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'u'", (_TABLE,)).fetchall()
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname "
            "NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
            (_TABLE, _TABLE)).fetchall()
        for name, _ in constraints:
            conn.execute(f'ALTER TABLE {_TABLE} DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        stamp = "2026-11-22 00:00:00+00"
        suffixes = [f"\t{home}\t{via}\t{stamp}\n" for home, via in synth.nodes]
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy(
                f"COPY {_TABLE} (id, blind_index, home_node, via, created_at) FROM STDIN") as cp:
            for start in range(0, n, batch):
                rows = []
                for i in range(start, min(n, start + batch)):
                    d = synth.digest(i)
                    rows.append(f"{i + 1}\t{d.hex()}{suffixes[synth.node_of(d)]}")
                cp.write("".join(rows).encode())
                if (start + batch) % 1_000_000 == 0:
                    print(f"loaded {start + batch:,} in {time.perf_counter() - started:.0f} s",
                          file=sys.stderr, flush=True)
        timings["copy_s"] = time.perf_counter() - started
        conn.execute(f"SELECT setval(pg_get_serial_sequence('{_TABLE}', 'id'), %s)", (n + 1,))
        started = time.perf_counter()
        conn.execute("SET maintenance_work_mem = '512MB'")
        for name, definition in constraints:
            conn.execute(f'ALTER TABLE {_TABLE} ADD CONSTRAINT "{name}" {definition}')
        for _, definition in indexes:
            conn.execute(definition)
        timings["index_s"] = time.perf_counter() - started
        started = time.perf_counter()
        conn.execute(f"VACUUM (ANALYZE) {_TABLE}")  # visibility map: index-only scans
        timings["vacuum_s"] = time.perf_counter() - started
    timings["total_s"] = sum(timings.values())
    timings["rows_per_s"] = n / timings["total_s"]
    return timings


def storage(url: str, n: int) -> dict[str, Any]:
    """Bytes per entry: heap (+ TOAST), each index, total."""
    with psycopg.connect(libpq(url)) as conn:
        table, total = conn.execute(
            "SELECT pg_table_size(%s::regclass), pg_total_relation_size(%s::regclass)",
            (_TABLE, _TABLE)).fetchone()
        rows = conn.execute(
            "SELECT c.relname, pg_relation_size(c.oid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = %s::regclass "
            "ORDER BY c.relname", (_TABLE,)).fetchall()
    indexes = {name: {"bytes": size, "per_entry": size / n} for name, size in rows}
    return {"entries": n, "table_bytes": table, "table_per_entry": table / n,
            "indexes": indexes, "total_bytes": total, "total_per_entry": total / n}


def explain_lookup(url: str, blind_index: str) -> list[str]:
    """The plan of one lookup (buffers touched: index-only or index + heap)."""
    sql = str(LOOKUP.compile(dialect=create_engine(url).dialect))
    sql = sql.replace("%(blind_index)s", "%s")
    with psycopg.connect(libpq(url)) as conn:
        return [r[0] for r in conn.execute(
            f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY OFF) {sql}",
            (blind_index,)).fetchall()]


# ------------------------------------------------------------------------ latency


def _national(url: str, redis_url: str, prefix: str) -> Directory:
    """``Directory`` of a national node (no parent) on ``url``: the real register/lookup."""
    settings = SimpleNamespace(federation_lookups_per_minute=10**9,
                               federation_registrations_per_minute=10**9)
    platform = SimpleNamespace(db=Database(url), settings=settings,
                               limiter=RateLimiter(RedisStore(redis_url, prefix=prefix)))
    node = SimpleNamespace(platform=platform, entity_id=NATIONAL,
                           config=SimpleNamespace(parent=""))
    return Directory(node)  # type: ignore[arg-type]


_BARRIER: list[Any] = [None]


def _set_barrier(barrier: Any) -> None:
    _BARRIER[0] = barrier


def _worker(task: dict[str, Any]) -> dict[str, Any]:
    """One client: warm up, wait for the common start, then time ``task['op']`` per key."""
    synth = Synthetic()
    op, layer = task["op"], task["layer"]
    if layer == "sql":
        sql = str(LOOKUP.compile(dialect=create_engine(task["url"]).dialect)).replace(
            "%(blind_index)s", "%s")
        insert = (f"INSERT INTO {_TABLE} (blind_index, home_node, via, created_at) "
                  "VALUES (%s, %s, %s, now())")
        conn = psycopg.connect(libpq(task["url"]), autocommit=True)

        def one(i: int) -> bool:
            idx = synth.index(i)
            if op == "register":
                try:
                    conn.execute(insert, (idx, NATIONAL, ""), prepare=True)
                    return False
                except psycopg.errors.UniqueViolation:
                    conn.execute(sql, (idx,), prepare=True).fetchone()
                    return True
            return conn.execute(sql, (idx,), prepare=True).fetchone() is not None
    else:
        if layer == "service-no-audit":  # this process only: what the audit append costs
            import idp.federation.directory as module
            module.audit = SimpleNamespace(record=lambda *a, **k: None)  # type: ignore
        directory = _national(task["url"], task["redis_url"], task["prefix"])

        def one(i: int) -> bool:
            idx = synth.index(i)
            if op == "register":
                try:
                    directory.register(idx, NATIONAL, requester=NATIONAL)
                    return False
                except AlreadyRegistered:
                    return True
            home = directory.lookup(idx, requester=NATIONAL)
            if home is not None and home != synth.home(i):
                raise AssertionError(f"entry {i}: {home} != {synth.home(i)}")
            return home is not None

    for i in task["warmup"]:  # connections, prepared statements, caches
        one(i)
    _BARRIER[0].wait(timeout=120)  # all clients start together
    latencies: list[float] = []
    found = 0
    started = time.time()
    for i in task["keys"]:
        t0 = time.perf_counter()
        found += one(i)
        latencies.append(time.perf_counter() - t0)
    return {"latencies": latencies, "found": found, "started": started, "ended": time.time()}


def _keys(op: str, n: int, samples: int, rng: random.Random, fresh: list[int]) -> list[int]:
    """Half existing, half missing for lookups; new (and, for half, existing = conflict)
    documents for registrations."""
    out = []
    for s in range(samples):
        if op == "lookup":
            out.append(rng.randrange(n) if s % 2 else FRESH_BASE // 2 + rng.randrange(n))
        elif s % 2 == 0:
            out.append(fresh[0])
            fresh[0] += 1
        else:
            out.append(rng.randrange(n))  # registered at a city node: the conflict path
    return out


def measure(url: str, redis_url: str, n: int, samples: int, client_counts: list[int],
            ) -> list[dict[str, Any]]:
    rng = random.Random(42)
    # New documents: a random range per run, so a --reuse run registers new ones too.
    fresh = [FRESH_BASE + random.SystemRandom().randrange(10**17)]
    prefix = f"dirbench-{uuid.uuid4().hex[:8]}:"
    results = []
    ctx = multiprocessing.get_context("fork")
    for layer in LAYERS:
        for op in ("lookup", "register"):
            for clients in client_counts:
                tasks = []
                barrier = ctx.Barrier(clients)
                for _ in range(clients):
                    # Warm-up keys surely exist (lookup) or are new (register).
                    warm = ([rng.randrange(n) for _ in range(WARMUP)] if op == "lookup"
                            else list(range(fresh[0], fresh[0] + WARMUP)))
                    if op == "register":
                        fresh[0] += WARMUP
                    tasks.append({"op": op, "layer": layer, "url": url,
                                  "redis_url": redis_url, "prefix": prefix, "warmup": warm,
                                  "keys": _keys(op, n, samples // clients or 1, rng, fresh)})
                started = time.perf_counter()
                with ProcessPoolExecutor(clients, mp_context=ctx, initializer=_set_barrier,
                                         initargs=(barrier,)) as pool:
                    outs = list(pool.map(_worker, tasks))
                wall = time.perf_counter() - started
                lat = [x for o in outs for x in o["latencies"]]
                expected = sum(len(t["keys"]) // 2 for t in tasks)
                span = max(o["ended"] for o in outs) - min(o["started"] for o in outs)
                results.append({
                    "layer": layer, "op": op, "clients": clients, "samples": len(lat),
                    "p50_ms": percentile(lat, 0.50) * 1000,
                    "p99_ms": percentile(lat, 0.99) * 1000,
                    "mean_ms": statistics.fmean(lat) * 1000,
                    "ops_per_s": len(lat) / span, "wall_s": wall,
                    "found": sum(o["found"] for o in outs),
                    "found_expected": expected})
    return results


# ------------------------------------------------------------------------ the run


def server_facts(url: str) -> dict[str, str]:
    with psycopg.connect(libpq(url)) as conn:
        facts = {name: conn.execute(f"SHOW {name}").fetchone()[0]
                 for name in ("server_version", "shared_buffers", "fsync",
                              "synchronous_commit", "work_mem")}
    facts["cpus"] = str(os.cpu_count())
    facts["loadavg"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return facts


def run(admin_url: str, redis_url: str, n: int, samples: int, clients: int,
        database: str = "directory_bench", keep: bool = False, reuse: bool = False
        ) -> dict[str, Any]:
    """Load (unless ``reuse``: the kept database of an earlier ``keep`` run), then measure."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    url = make_url(admin_url).set(database=database).render_as_string(hide_password=False)
    if not reuse:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{database}"'))
    try:
        synth = Synthetic()
        report: dict[str, Any] = {"n": n, "samples": samples, "server": server_facts(url),
                                  "load": None}
        if not reuse:
            create_schema(url)
            report["load"] = load(url, n, synth)
        report["storage"] = storage(url, n)
        report["plan"] = explain_lookup(url, synth.index(n // 2))
        report["latency"] = measure(url, redis_url, n, samples, sorted({1, clients}))
        return report
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


def render(report: dict[str, Any]) -> str:
    """The markdown tables of docs/federation-scale.md."""
    ld, st = report["load"], report["storage"]
    lines = [f"N = {report['n']:,} entries; server {report['server']}", "",
             "Load: reused the kept database" if ld is None else
             f"Load: COPY {ld['copy_s']:.1f} s, indexes {ld['index_s']:.1f} s, "
             f"VACUUM ANALYZE {ld['vacuum_s']:.1f} s, total {ld['total_s']:.1f} s "
             f"({ld['rows_per_s']:,.0f} entries/s)", "",
             "| relation | bytes | bytes/entry |", "| --- | ---: | ---: |",
             f"| table (heap) | {st['table_bytes']:,} | {st['table_per_entry']:.1f} |"]
    for name, ix in st["indexes"].items():
        lines.append(f"| index {name} | {ix['bytes']:,} | {ix['per_entry']:.1f} |")
    lines += [f"| **total** | {st['total_bytes']:,} | {st['total_per_entry']:.1f} |", "",
              "| layer | operation | clients | samples | p50 ms | p99 ms | ops/s | found |",
              "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in report["latency"]:
        lines.append(f"| {r['layer']} | {r['op']} | {r['clients']} | {r['samples']} | "
                     f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['ops_per_s']:,.0f} | "
                     f"{r['found']}/{r['found_expected']} |")
    lines += ["", "Lookup plan:", *(f"    {line}" for line in report["plan"])]
    return "\n".join(lines)


def _database_name(value: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", value):
        raise argparse.ArgumentTypeError("lower-case letters, digits and _ only")
    return value


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return number


def main(argv: list[str] | None = None) -> None:
    from bench.setup import services_env

    parser = argparse.ArgumentParser(prog="python -m bench.directory", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--entries", type=_positive, default=10_000_000)
    parser.add_argument("--samples", type=_positive, default=4000,
                        help="operations per measurement (split over the clients)")
    parser.add_argument("--clients", type=int, default=4, choices=range(1, 9))
    parser.add_argument("--database", default="directory_bench", type=_database_name)
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    parser.add_argument("--reuse", action="store_true",
                        help="measure again on the database an earlier --keep run loaded "
                             "with the same -n (implies --keep)")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" /
                        "directory.json")
    args = parser.parse_args(argv)
    if args.samples < args.clients:
        parser.error("--samples must be at least --clients")
    database_url, redis_url = services_env(ROOT)
    report = run(database_url, redis_url, args.entries, args.samples, args.clients,
                 args.database, args.keep or args.reuse, args.reuse)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(render(report))
    print(f"\n(written to {args.json})", file=sys.stderr)


if __name__ == "__main__":
    main()
