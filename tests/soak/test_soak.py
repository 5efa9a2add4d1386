"""The fault-injection soak: seeded sessions through the real stack, every invariant checked.

Profiles (``REALTALK_SOAK_PROFILE``): ``ci`` (default) runs 200 sessions in 4 batches;
``long`` runs 2,000 in 20 batches. ``REALTALK_SOAK_SEED`` shifts the seeds (default 0),
``REALTALK_SOAK_REPORT=path`` appends one JSON line of figures per batch. A failure names
the seeds to replay: ``generate(seed)`` rebuilds the exact session.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from .generator import generate
from .harness import check, run_plan

PROFILES = {"ci": (4, 50), "long": (20, 100)}  # batches, sessions per batch
PROFILE = os.environ.get("REALTALK_SOAK_PROFILE", "ci")
if PROFILE not in PROFILES:
    raise ValueError(f"REALTALK_SOAK_PROFILE must be one of {sorted(PROFILES)}, got {PROFILE!r}")
BATCHES, PER_BATCH = PROFILES[PROFILE]
BASE_SEED = int(os.environ.get("REALTALK_SOAK_SEED", "0"))
SQLITE_EVERY = 5  # every 5th session persists to SQLite instead of memory
PG_EVERY = 10  # and every 10th of the others to PostgreSQL, when the test server is up
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str | None]:
    """The PostgreSQL test server (None when unreachable: those sessions use memory);
    every soak schema is dropped at the end."""
    import psycopg

    url = os.environ.get("REALTALK_TEST_PG_URL") or DEFAULT_PG_URL
    try:
        conn = psycopg.connect(url, connect_timeout=3, autocommit=True)
    except psycopg.Error:
        if os.environ.get("REALTALK_REQUIRE_PG") == "1":
            pytest.fail("REALTALK_REQUIRE_PG=1 but PostgreSQL is unreachable", pytrace=False)
        yield None
        return
    prefix = f"rt_soak_{os.getpid()}_"
    try:
        yield url
    finally:
        with conn:
            for (name,) in conn.execute(
                "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s)", (prefix,)
            ).fetchall():
                conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.mark.timeout(600)
@pytest.mark.parametrize("batch", range(BATCHES))
async def test_soak(batch: int, tmp_path: Path, pg_url: str | None) -> None:
    failures: dict[int, list[str]] = {}
    faults: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    first = BASE_SEED + batch * PER_BATCH
    for seed in range(first, first + PER_BATCH):
        plan = generate(seed)
        faults.update(plan.faults)
        outcomes[plan.outcome] += 1
        pg = None
        if pg_url and seed % SQLITE_EVERY and seed % PG_EVERY == 1:
            pg = (pg_url, f"rt_soak_{os.getpid()}_{seed}")
        result = await run_plan(plan, db_dir=tmp_path if seed % SQLITE_EVERY == 0 else None, pg=pg)
        totals["sessions_on_postgres"] += pg is not None
        totals["postgres_connections_killed"] += result.pg_connections_killed
        problems = check(result)
        if problems:
            failures[seed] = problems
        totals["connections"] += result.connections
        totals["audio_bytes_sent"] += result.talk_sent + result.clock.pushed
        totals["audio_bytes_reported_lost"] += sum(
            e.audio_bytes for e in result.events if e.type == "input_dropped"
        )
        totals["transcripts_persisted"] += sum(
            1 for m in result.messages if m.metadata.get("modality") == "audio"
        )
        totals["tool_calls"] += len(plan.tools)
    report = os.environ.get("REALTALK_SOAK_REPORT")
    if report:
        line = {
            "profile": PROFILE,
            "batch": batch,
            "seeds": [first, first + PER_BATCH - 1],
            "sessions": PER_BATCH,
            "failed": sorted(failures),
            "outcomes": dict(outcomes),
            "faults": dict(faults),
            **totals,
        }
        with Path(report).open("a", encoding="utf-8") as out:  # noqa: ASYNC230 (once per batch)
            out.write(json.dumps(line) + "\n")
    assert not failures, "\n".join(
        f"seed {seed}: " + "; ".join(problems) for seed, problems in failures.items()
    )


def test_generator_is_deterministic_and_covers_every_fault() -> None:
    """Same seed, same session; the CI profile injects every kind of fault."""
    assert generate(7) == generate(7)
    assert generate(7) != generate(8)
    kinds: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    for seed in range(BASE_SEED, BASE_SEED + BATCHES * PER_BATCH):
        plan = generate(seed)
        kinds.update(plan.faults)
        outcomes[plan.outcome] += 1
    expected = {"go_away", "close_1011", "drop", "setup_refusal", "slow_frame"}
    expected |= {"tool_now", "tool_release", "tool_hold", "cancellation"}
    assert expected <= {kind for kind, n in kinds.items() if n > 0}
    assert outcomes["closed"] > 0 and outcomes["reconnect_failed"] > 0
