#!/usr/bin/env bash
# Issue 5's replica measurement: the same seeded workload through 1, 2 and 4 kvedge replicas that
# share state through one private redis-server, in front of one simulated fleet. The load generator
# spreads requests round-robin over the replicas (an L4 load balancer with a new connection per
# request: consecutive turns of a conversation land on different replicas, the hard case).
#
#   scripts/measure-replicas.sh [policy] [workload args...]
#   e.g. scripts/measure-replicas.sh llm-d-well-lit --workload multi-turn --requests 240 --rate 8
#
# Writes bench/results/replicas-<policy>/<n>/ (results.md per replica count) and prints one line each.
set -euo pipefail
POLICY=${1:-llm-d-well-lit}
shift || true
WORKLOAD_ARGS=("$@")
[ ${#WORKLOAD_ARGS[@]} -eq 0 ] && WORKLOAD_ARGS=(--workload multi-turn --requests 240 --rate 8)
PODS=4
WORK=$(mktemp -d)
OUT=bench/results/replicas-$POLICY
pids=()
# npx and tsx each fork: stop the whole tree of every started process.
kill_tree() { for c in $(pgrep -P "$1" 2>/dev/null); do kill_tree "$c"; done; kill "$1" 2>/dev/null || true; }
cleanup() { for p in "${pids[@]}"; do kill_tree "$p"; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

wait_http() { for _ in $(seq 1 150); do curl -sf "$1" >/dev/null && return 0; sleep 0.2; done; echo "timeout: $1" >&2; return 1; }

for n in 1 2 4; do
  # Fresh ports per round: a socket of the previous round may still be closing.
  SIM_PORT=$((18100 + 10 * n)) KV_PORT=$((18200 + 10 * n)) REDIS_PORT=$((18300 + n)) ROUTER_PORT=$((18400 + 10 * n))
  echo "== $n replica(s): starting redis, $PODS sim pods, $n routers ($POLICY)" >&2
  redis-server --port $REDIS_PORT --save '' --appendonly no --daemonize no >"$WORK/redis.log" 2>&1 & pids+=($!)
  npx tsx src/cli/sim.ts --pods $PODS --port $SIM_PORT --kv-port $KV_PORT --replay-port off --block-size 64 \
    --tokenizer synthetic --fleet-file "$WORK/fleet.yaml" --control-port off >"$WORK/sim.log" 2>&1 & pids+=($!)
  wait_http "http://127.0.0.1:$SIM_PORT/health"
  urls=()
  for i in $(seq 0 $((n - 1))); do
    port=$((ROUTER_PORT + i))
    npx tsx src/cli/kvedge.ts serve --policy "$POLICY" --fleet-file "$WORK/fleet.yaml" --port $port \
      --admin-port $((port + 500)) --threads 1 --redis-url "redis://127.0.0.1:$REDIS_PORT" \
      --redis-prefix "replicas-$n:" --tokenizer "meta-llama/Llama-3.1-8B-Instruct=synthetic" \
      >"$WORK/router-$i.log" 2>&1 & pids+=($!)
    urls+=("http://127.0.0.1:$port")
  done
  for u in "${urls[@]}"; do wait_http "$u/ready"; done
  targets=$(IFS=,; echo "${urls[*]}")
  npx tsx bench/run.ts --mode live --target-url "$targets" --label "$POLICY x$n" --pods $PODS \
    "${WORKLOAD_ARGS[@]}" --out "$OUT/$n" --no-progress | grep -E "^\| $POLICY" || true
  cleanup; pids=(); WORK=$(mktemp -d)
  sleep 1
done
