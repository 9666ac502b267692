#!/usr/bin/env bash
# Issue 5 benchmark: POST /api/v1/predict under wrk, the seed-stack peer vs chainwatch,
# one after the other in this one run, both on the local PostgreSQL.
#
#   benchmarks/predict_wrk.sh            (from the repository root; needs .venv)
#
# Env: PG_ADMIN_URL (default postgresql://root@127.0.0.1:5432/postgres), DURATION (20s),
# CONNECTIONS (16), THREADS (2). The peer (../shared/peers/seed_stack) runs in its own venv
# at /tmp/peer (created when missing) on database `peer`; chainwatch runs `chainwatch
# serve` on a scratch database, with a `service` API key from `chainwatch create-user`.
# Both get the same load script (../shared/peers/load/predict.lua: a unique transaction
# per request). Prints requests/s, p50 and p99 for each and the ratios; absolute numbers
# vary between machines and runs, the ratios are the figures to compare. Processes and
# databases it created are removed at exit.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PEERS="$(cd "$ROOT/../shared/peers" && pwd)"
LUA="$PEERS/load/predict.lua"
PG_ADMIN_URL="${PG_ADMIN_URL:-postgresql://root@127.0.0.1:5432/postgres}"
PG_BASE="${PG_ADMIN_URL%/*}"
DURATION="${DURATION:-20s}"
CONNECTIONS="${CONNECTIONS:-16}"
THREADS="${THREADS:-2}"
PEER_PORT=8101
CW_PORT=8102
CW_DB="chainwatch_bench_$$"
WORK="$(mktemp -d /tmp/chainwatch-bench.XXXXXX)"
PIDS=()

note() { echo "== $*" >&2; }

cleanup() {
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  psql "$PG_ADMIN_URL" -qc "drop database if exists $CW_DB with (force)" >/dev/null 2>&1 || true
  psql "$PG_ADMIN_URL" -qc "drop database if exists peer with (force)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

wait_for() {  # wait_for URL SECONDS [HEADER]
  local deadline=$((SECONDS + $2))
  until curl -fsS -o /dev/null ${3:+-H "$3"} "$1" 2>/dev/null; do
    if ((SECONDS > deadline)); then
      echo "$1 did not answer within $2 s" >&2
      return 1
    fi
    sleep 0.5
  done
}

if ! command -v wrk >/dev/null; then
  note "wrk is not installed: installing it with apt-get (needs root)"
  apt-get install -y wrk >/dev/null
fi

# ---- the peer -------------------------------------------------------------------------
if [[ ! -x /tmp/peer/bin/uvicorn ]]; then
  note "creating the peer's venv in /tmp/peer"
  python3 -m venv /tmp/peer
  /tmp/peer/bin/pip install -q -r "$PEERS/seed_stack/requirements.txt"
fi
psql "$PG_ADMIN_URL" -qc "drop database if exists peer with (force)" >/dev/null
psql "$PG_ADMIN_URL" -qc "create database peer" >/dev/null
note "starting the peer on :$PEER_PORT"
(cd "$PEERS/seed_stack" && PEER_DATABASE_URL="postgresql+psycopg2://${PG_BASE#postgresql://}/peer" \
  exec /tmp/peer/bin/uvicorn app:app --port "$PEER_PORT" --log-level warning) \
  >"$WORK/peer.log" 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$PEER_PORT/docs" 120

run_wrk() {  # run_wrk NAME URL [API_KEY]
  note "wrk -t$THREADS -c$CONNECTIONS -d$DURATION against $1"
  env -u API_KEY ${3:+API_KEY="$3"} wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$LUA" "$2" \
    >"$WORK/$1.wrk"
  cat "$WORK/$1.wrk" >&2
}
run_wrk peer "http://127.0.0.1:$PEER_PORT"
kill "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null || true

# ---- chainwatch -----------------------------------------------------------------------
psql "$PG_ADMIN_URL" -qc "create database $CW_DB" >/dev/null
export DATABASE_URL="$PG_BASE/$CW_DB"
export CHAINWATCH_DATA_DIR="$WORK/data"
export CHAINWATCH_SECRET_KEY="benchmark-only-secret-key-0123456789abcdef"
export CHAINWATCH_LOG_LEVEL=warning
CW="$ROOT/.venv/bin/chainwatch"
"$CW" migrate >/dev/null 2>&1
KEY="$("$CW" create-user --username bench --role service 2>/dev/null | tail -n 1)"
note "starting chainwatch on :$CW_PORT (trains the bootstrap model first)"
"$CW" serve --port "$CW_PORT" >"$WORK/chainwatch.log" 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$CW_PORT/ready" 180
run_wrk chainwatch "http://127.0.0.1:$CW_PORT" "$KEY"

# ---- figures --------------------------------------------------------------------------
figures() {  # requests/s, p50 ms, p99 ms, non-2xx
  awk '
    function ms(v) {
      if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
      if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
      if (v ~ /s$/)  return substr(v, 1, length(v) - 1) * 1000
      return v
    }
    /Requests\/sec:/ { rps = $2 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    /Non-2xx/ { bad = $NF }
    END { printf "%s %s %s %s\n", rps, p50, p99, bad + 0 }
  ' "$WORK/$1.wrk"
}
read -r PEER_RPS PEER_P50 PEER_P99 PEER_BAD < <(figures peer)
read -r CW_RPS CW_P50 CW_P99 CW_BAD < <(figures chainwatch)
echo
printf "%-11s %12s %10s %10s %9s\n" "" "requests/s" "p50 ms" "p99 ms" "non-2xx"
printf "%-11s %12.1f %10.2f %10.2f %9d\n" peer "$PEER_RPS" "$PEER_P50" "$PEER_P99" "$PEER_BAD"
printf "%-11s %12.1f %10.2f %10.2f %9d\n" chainwatch "$CW_RPS" "$CW_P50" "$CW_P99" "$CW_BAD"
awk -v a="$CW_RPS" -v b="$PEER_RPS" -v c="$CW_P50" -v d="$PEER_P50" -v e="$CW_P99" -v f="$PEER_P99" \
  'BEGIN { printf "chainwatch / peer: %.2fx requests/s, %.2fx p50, %.2fx p99\n", a / b, c / d, e / f }'
