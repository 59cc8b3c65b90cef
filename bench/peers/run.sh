#!/usr/bin/env bash
# fiscal beside its peers, in one run on one server: `fiscal bench` (the queue
# with a no-op pipeline and the raw ceiling of the same job shape), then
# Graphile Worker and PgQueuer doing the same job on the same table, with the
# same number of investigations and jobs at once. Not run in CI.
#
#   FISCAL_DATABASE__URL=postgres://postgres@127.0.0.1:5432/postgres \
#     bench/peers/run.sh [SAMPLES] [CONCURRENCY]
#
# The peers are installed by package name (npm, PyPI) into $PEERS_DIR
# (default /tmp/fiscal-peers), never into the repository. Needs node, npm,
# python3 and a release build of fiscal (built if missing).
set -euo pipefail

samples=${1:-5000}
concurrency=${2:-4}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
peers=${PEERS_DIR:-/tmp/fiscal-peers}
graphile_version=0.18.0
pgqueuer_version=1.6.0
database=fiscal_peers_bench
: "${FISCAL_DATABASE__URL:?set FISCAL_DATABASE__URL to a server fiscal bench may create databases on}"

mkdir -p "$peers"
if [ ! -d "$peers/node_modules/graphile-worker" ]; then
  (cd "$peers" && npm init -y >/dev/null && npm install --no-audit --no-fund \
    "graphile-worker@$graphile_version" >&2)
fi
if [ ! -x "$peers/venv/bin/python" ]; then
  python3 -m venv "$peers/venv"
  "$peers/venv/bin/pip" install -q "pgqueuer==$pgqueuer_version" asyncpg >&2
fi
fiscal="$repo/target/release/fiscal"
[ -x "$fiscal" ] || (cd "$repo" && cargo build --release >&2)

# fiscal first: it creates the database (migrated, empty) that the peers reuse.
"$fiscal" bench --database "$database" --finished-rows 0 --samples "$samples" \
  --concurrency "$concurrency" --json > "$peers/fiscal.json"
url=$(python3 - "$FISCAL_DATABASE__URL" "$database" <<'PY'
import sys
from urllib.parse import urlsplit, urlunsplit
parts = urlsplit(sys.argv[1])
print(urlunsplit(parts._replace(path="/" + sys.argv[2])))
PY
)

NODE_PATH="$peers/node_modules" node "$here/graphile.cjs" "$url" "$samples" "$concurrency" \
  > "$peers/graphile.json"
"$peers/venv/bin/pgq" --pg-dsn "$url" install >/dev/null 2>&1 || true
"$peers/venv/bin/python" "$here/pgqueuer_peer.py" "$url" "$samples" "$concurrency" \
  > "$peers/pgqueuer.json"

python3 - "$peers" <<'PY'
import json, sys
d = sys.argv[1]
fiscal = json.load(open(f"{d}/fiscal.json"))["empty"]
peers = [json.loads(open(f"{d}/{p}.json").read()) for p in ("graphile", "pgqueuer")]
rows = [("fiscal", fiscal["jobs_per_second"], fiscal["pickup_p50_ms"], fiscal["pickup_p99_ms"]),
        ("raw ceiling", fiscal["ceiling_per_second"], None, None)]
rows += [(f'{p["peer"]} {p["version"]}', p["jobs_per_second"], p["pickup_p50_ms"], p["pickup_p99_ms"]) for p in peers]
ms = lambda x: "" if x is None else f"{x:.2f}"
print("| | investigations/s | fiscal / this | pick-up p50 ms | pick-up p99 ms |")
print("|---|---|---|---|---|")
for name, rate, p50, p99 in rows:
    print(f"| {name} | {rate:,.0f} | {fiscal['jobs_per_second'] / rate:.2f} | {ms(p50)} | {ms(p99)} |")
report = {"fiscal": fiscal, "peers": peers,
          "fiscal_over_ceiling": fiscal["jobs_per_second"] / fiscal["ceiling_per_second"]}
for p in peers:
    report[f'fiscal_over_{p["peer"].replace("-", "_")}'] = fiscal["jobs_per_second"] / p["jobs_per_second"]
json.dump(report, open(f"{d}/report.json", "w"), indent=2)
print(f"\n(JSON: {d}/report.json)")
PY
