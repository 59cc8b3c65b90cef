"""PgQueuer doing fiscal's benchmark job on fiscal's own table.

A row inserted into public.investigations is enqueued by a trigger into
PgQueuer's table (the frontend only inserts), and the entrypoint claims the
row and completes it: the two statements of fiscal's no-op pipeline.

Run by bench/peers/run.sh, which installs pgqueuer from PyPI and its schema.
Usage: python pgqueuer_peer.py URL SAMPLES CONCURRENCY; prints one JSON line.
"""

import asyncio
import json
import sys
import time
from datetime import timedelta
from pathlib import Path

import asyncpg
from pgqueuer import PgQueuer
from pgqueuer.db import AsyncpgPoolDriver
from pgqueuer.models import Job

# The statements every peer runs, as fiscal bench does (see job.json).
SQL = json.loads((Path(__file__).parent / "job.json").read_text())

TRIGGER = """
create or replace function public.bench_peer_pgqueuer() returns trigger
language plpgsql as $$
begin
  insert into public.pgqueuer (priority, entrypoint, payload, execute_after, status)
  values (0, 'investigate', convert_to(new.id::text, 'UTF8'), now(), 'queued');
  return new;
end $$;
drop trigger if exists bench_peer_pgqueuer on public.investigations;
create trigger bench_peer_pgqueuer after insert on public.investigations
  for each row execute function public.bench_peer_pgqueuer();"""

UNTRIGGER = """
drop trigger if exists bench_peer_pgqueuer on public.investigations;
drop function if exists public.bench_peer_pgqueuer();"""

async def wait_until_idle(conn: asyncpg.Connection) -> None:
    deadline = time.monotonic() + 600
    while await conn.fetchval(SQL["has_unfinished"]):
        if time.monotonic() > deadline:
            raise RuntimeError("the queue did not empty within 10 minutes")
        await asyncio.sleep(0.002)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[round((len(values) - 1) * q)]


async def main(url: str, samples: int, concurrency: int) -> None:
    admin = await asyncpg.connect(url)
    pool = await asyncpg.create_pool(url, min_size=concurrency, max_size=concurrency + 2)
    pgq = PgQueuer(AsyncpgPoolDriver(pool))

    @pgq.entrypoint("investigate")
    async def investigate(job: Job) -> None:
        investigation = job.payload.decode()
        async with pool.acquire() as conn:
            token = await conn.fetchval(SQL["claim"], investigation, "pgqueuer")
            if token is not None:
                await conn.execute(SQL["complete"], investigation, token)

    citizen = await admin.fetchval(SQL["new_user"])
    await admin.execute(TRIGGER)
    # PgQueuer picks at most batch_size jobs per fetch; with concurrency
    # tasks in flight it needs max_concurrent_tasks >= 2 * batch_size.
    batch = max(1, concurrency)
    runner = asyncio.create_task(
        pgq.run(
            batch_size=batch,
            max_concurrent_tasks=max(2 * batch, concurrency),
            dequeue_timeout=timedelta(seconds=1),
        )
    )
    try:
        await asyncio.sleep(1)
        singles = min(samples, 200)
        since = await admin.fetchval("select now()")
        for _ in range(singles):
            await admin.execute(SQL["enqueue"], citizen, 1)
            await wait_until_idle(admin)
        picked = [
            max(r[0], 0.0)
            for r in await admin.fetch(SQL["pickups"], since)
        ]
        started = time.monotonic()
        await admin.execute(SQL["enqueue"], citizen, samples)
        await wait_until_idle(admin)
        seconds = time.monotonic() - started
        from importlib.metadata import version

        print(
            json.dumps(
                {
                    "peer": "pgqueuer",
                    "version": version("pgqueuer"),
                    "concurrency": concurrency,
                    "samples": samples,
                    "jobs_per_second": samples / seconds,
                    "pickup_p50_ms": percentile(picked, 0.5),
                    "pickup_p99_ms": percentile(picked, 0.99),
                }
            )
        )
    finally:
        await admin.execute(UNTRIGGER)
        pgq.shutdown.set()
        await asyncio.wait_for(runner, 30)
        await pool.close()
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
