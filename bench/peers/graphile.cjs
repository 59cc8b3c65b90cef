// Graphile Worker doing fiscal's benchmark job on fiscal's own table: a row
// inserted into public.investigations is enqueued by a trigger (as the
// frontend only inserts), and the task claims the row and completes it, the
// two statements of fiscal's no-op pipeline. Graphile runs at its best here:
// a local queue of concurrency + 1 and batched completions.
//
// Run by bench/peers/run.sh, which installs graphile-worker from npm.
// Usage: node graphile.cjs URL SAMPLES CONCURRENCY; prints one JSON line.
const { run } = require("graphile-worker");
const { Pool } = require("pg");

const [url, samplesArg, concurrencyArg] = process.argv.slice(2);
const samples = Number(samplesArg ?? 5000);
const concurrency = Number(concurrencyArg ?? 4);

const TRIGGER = `
create or replace function public.bench_peer_graphile() returns trigger
language plpgsql as $$
begin
  perform graphile_worker.add_job('investigate', json_build_object('id', new.id));
  return new;
end $$;
drop trigger if exists bench_peer_graphile on public.investigations;
create trigger bench_peer_graphile after insert on public.investigations
  for each row execute function public.bench_peer_graphile();`;

const UNTRIGGER = `
drop trigger if exists bench_peer_graphile on public.investigations;
drop function if exists public.bench_peer_graphile();`;

const { SQL, enqueue, waitUntilIdle, pickups, percentile, user } = require("./common.cjs");

async function main() {
  const admin = new Pool({ connectionString: url, max: 2 });
  const citizen = await user(admin);
  const runner = await run({
    connectionString: url,
    concurrency,
    noHandleSignals: true,
    pollInterval: 1000,
    logger: quietLogger(),
    taskList: {
      investigate: async (payload, helpers) => {
        await helpers.withPgClient(async (pg) => {
          const claimed = await pg.query(SQL.claim, [payload.id, "graphile"]);
          if (claimed.rows.length === 0) return;
          await pg.query(SQL.complete, [payload.id, claimed.rows[0].claim_token]);
        });
      },
    },
    preset: {
      worker: {
        localQueue: { size: concurrency + 1 },
        completeJobBatchDelay: 0,
        failJobBatchDelay: 0,
      },
    },
  });
  await admin.query(TRIGGER);
  try {
    const singles = Math.min(samples, 200);
    const since = (await admin.query("select now() as t")).rows[0].t;
    for (let i = 0; i < singles; i++) {
      await enqueue(admin, citizen, 1);
      await waitUntilIdle(admin);
    }
    const picked = await pickups(admin, since);
    const started = process.hrtime.bigint();
    await enqueue(admin, citizen, samples);
    await waitUntilIdle(admin);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    console.log(
      JSON.stringify({
        peer: "graphile-worker",
        version: graphileVersion(),
        concurrency,
        samples,
        jobs_per_second: samples / seconds,
        pickup_p50_ms: percentile(picked, 0.5),
        pickup_p99_ms: percentile(picked, 0.99),
      }),
    );
  } finally {
    await admin.query(UNTRIGGER);
    await runner.stop();
    await admin.end();
  }
}

// The package's exports leave out package.json: read it beside its main file.
function graphileVersion() {
  const main = require.resolve("graphile-worker");
  const root = main.slice(0, main.lastIndexOf("graphile-worker") + "graphile-worker".length);
  const manifest = require("fs").readFileSync(require("path").join(root, "package.json"), "utf8");
  return JSON.parse(manifest).version;
}

function quietLogger() {
  const { Logger } = require("graphile-worker");
  return new Logger(() => (level, message) => {
    if (level === "error") console.error(message);
  });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
