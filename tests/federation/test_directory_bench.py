"""bench/directory.py (issue 6 item 6) at N=2 000 on the test PostgreSQL, so the national
directory benchmark cannot rot: it loads what it says, finds what it loaded through the
directory's own code, and reports the shape docs/federation-scale.md is written from."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text

from bench.directory import LAYERS, main, render, run
from bench.directory_synth import Synthetic
from idp.federation.directory import directory_index
from tests.pg import admin_url


def test_synthetic_entries_are_real_blind_indexes() -> None:
    """The loaded indexes are what directory_index computes for the synthetic documents."""
    synth = Synthetic()
    for i in (0, 7, 1_999, 10**15):
        assert synth.index(i) == directory_index(synth.key, "resident_id", synth.number(i))
    homes = {synth.home(i) for i in range(5_000)}
    assert len(synth.nodes) > 330 and len(homes) > 300  # spread over the country's cities
    assert all(h.startswith("https://id.") for h in homes)


@pytest.mark.parametrize("argv", [
    ["-n", "0"],
    ["-n", "ten"],
    ["--samples", "-5"],
    ["--clients", "0"],
    ["--clients", "9"],
    ["--samples", "2", "--clients", "4"],
    ["--database", "x; DROP DATABASE postgres"],
    ["--database", "Upper"],
])
def test_bad_arguments_are_refused(argv: list[str], capsys: pytest.CaptureFixture[str]
                                   ) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "error:" in capsys.readouterr().err


@pytest.mark.postgres
def test_benchmark_at_2000_entries() -> None:
    database = f"dirbench_{uuid.uuid4().hex[:10]}"
    report = run(admin_url(), os.environ["IDP_TEST_REDIS_URL"], 2_000, samples=40, clients=2,
                 database=database)

    assert report["n"] == 2_000 and report["load"]["total_s"] > 0
    st = report["storage"]
    assert st["entries"] == 2_000 and "uq_federation_directory_blind_index" in st["indexes"]
    parts = st["table_bytes"] + sum(ix["bytes"] for ix in st["indexes"].values())
    assert parts <= st["total_bytes"] and st["total_per_entry"] > 64  # at least the index
    # The lookup is an index scan on the unique blind index, not a sequential scan.
    assert "uq_federation_directory_blind_index" in report["plan"][0]

    rows = {(r["layer"], r["op"], r["clients"]): r for r in report["latency"]}
    assert set(rows) == {(layer, op, c) for layer in LAYERS for op in ("lookup", "register")
                         for c in (1, 2)}
    for r in rows.values():
        assert r["samples"] == 40 and 0 < r["p50_ms"] <= r["p99_ms"] and r["ops_per_s"] > 0
        # Half the lookups are of loaded entries (and return their home node — the worker
        # checks the node); half the registrations hit an entry registered elsewhere.
        assert r["found"] == r["found_expected"] == 20, r

    table = render(report)
    assert "| service | lookup | 2 | 40 |" in table and "bytes/entry" in table
    engine = create_engine(admin_url())
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM pg_database WHERE datname = :d"),
                            {"d": database}).scalar() == 0, "dropped at the end"
    engine.dispose()
