// What the Node peers share with `fiscal bench`: the same insert, the same
// wait, pick-up read off the table (created_at to started_at, both the
// server's clock).
const HAS_UNFINISHED = `
select exists (select 1 from public.investigations where status = 'pending')
    or exists (select 1 from public.investigations where status = 'processing') as busy`;

async function user(pool) {
  const { rows } = await pool.query(
    "insert into auth.users (id) values (gen_random_uuid()) returning id",
  );
  return rows[0].id;
}

async function enqueue(pool, citizen, n) {
  await pool.query(
    `insert into public.investigations (user_id, query, data_source)
     select $1, 'bench ' || g, 'contracts' from generate_series(1, $2::int8) g`,
    [citizen, n],
  );
}

async function waitUntilIdle(pool) {
  const deadline = Date.now() + 600_000;
  for (;;) {
    const { rows } = await pool.query(HAS_UNFINISHED);
    if (!rows[0].busy) return;
    if (Date.now() > deadline) throw new Error("the queue did not empty within 10 minutes");
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function pickups(pool, since) {
  const { rows } = await pool.query(
    `select extract(epoch from started_at - created_at)::float8 * 1000 as ms
     from public.investigations where created_at >= $1 and status = 'completed'`,
    [since],
  );
  return rows.map((r) => Math.max(r.ms, 0)).sort((a, b) => a - b);
}

function percentile(sorted, q) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.round(q * (sorted.length - 1)))];
}

module.exports = { user, enqueue, waitUntilIdle, pickups, percentile };
