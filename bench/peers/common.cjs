// What the Node peers share with `fiscal bench`: the statements of job.json
// (the same insert and wait, the claim and completion of one row), pick-up
// read off the table (created_at to started_at, both the server's clock).
const SQL = require("./job.json");

async function user(pool) {
  const { rows } = await pool.query(SQL.new_user);
  return rows[0].id;
}

async function enqueue(pool, citizen, n) {
  await pool.query(SQL.enqueue, [citizen, n]);
}

async function waitUntilIdle(pool) {
  const deadline = Date.now() + 600_000;
  for (;;) {
    const { rows } = await pool.query(SQL.has_unfinished);
    if (!rows[0].busy) return;
    if (Date.now() > deadline) throw new Error("the queue did not empty within 10 minutes");
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function pickups(pool, since) {
  const { rows } = await pool.query(SQL.pickups, [since]);
  return rows.map((r) => Math.max(r.ms, 0)).sort((a, b) => a - b);
}

function percentile(sorted, q) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.round(q * (sorted.length - 1)))];
}

module.exports = { SQL, user, enqueue, waitUntilIdle, pickups, percentile };
