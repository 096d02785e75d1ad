#!/usr/bin/env bash
# Live benchmark through router replicas that run as separate processes (as `kvedge serve
# --redis-url` behind an L4 balancer would), unlike `npm run bench -- --replica-sweep`, whose
# replicas share one process and event loop with the sim and the client. Starts a private
# redis-server, a sim fleet publishing KV events, N `kvedge serve` replicas, runs the bench client
# against them (requests spread per request), prints the placement-claim and turn metrics of each
# replica, and stops everything it started.
#
#   scripts/bench-replica-processes.sh [--replicas 4] [--policy kvedge] [--workload sibling-bursts]
#     [--pods 4] [--out bench/results/replica-processes] [-- <extra kvedge serve flags>]
#
# Ports: 18100+ (sim HTTP), 15557+ (KV events), 18200+ / 19200+ (replicas, admin), 16391 (Redis);
# override the bases with SIM_PORT, KV_PORT, ROUTER_PORT, ADMIN_PORT, REDIS_PORT.
set -euo pipefail

replicas=4 policy=kvedge workload=sibling-bursts pods=4 out=bench/results/replica-processes
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --replicas) replicas=$2; shift 2 ;;
    --policy) policy=$2; shift 2 ;;
    --workload) workload=$2; shift 2 ;;
    --pods) pods=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

sim_port=${SIM_PORT:-18100} kv_port=${KV_PORT:-15557}
router_port=${ROUTER_PORT:-18200} admin_port=${ADMIN_PORT:-19200} redis_port=${REDIS_PORT:-16391}
model=meta-llama/Llama-3.1-8B-Instruct
logs=$(mktemp -d)
cd "$(dirname "$0")/.."

pids=()
cleanup() {
  # npx/tsx wrappers do not forward signals to their node child: stop whole process groups.
  for pid in "${pids[@]}"; do kill -- "-$pid" 2>/dev/null || true; done
  redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
  sleep 1
}
trap cleanup EXIT

wait_for() {
  local url=$1 what=$2
  for _ in $(seq 1 120); do
    if curl -sf -o /dev/null "$url"; then return 0; fi
    sleep 0.5
  done
  echo "timed out waiting for $what ($url); logs in $logs" >&2
  exit 1
}

echo "[1/4] redis-server on :$redis_port" >&2
redis-server --port "$redis_port" --save '' --appendonly no --daemonize yes --logfile "$logs/redis.log"

echo "[2/4] sim fleet: $pods pods on :$sim_port+, KV events on :$kv_port+" >&2
setsid npx tsx src/cli/sim.ts --pods "$pods" --port "$sim_port" --kv-port "$kv_port" --replay-port off \
  --control-port off --fleet-file off --tokenizer synthetic --block-size 64 --max-waiting 1000000 \
  >"$logs/sim.log" 2>&1 &
pids+=($!)
endpoints=()
for ((i = 0; i < pods; i++)); do
  wait_for "http://127.0.0.1:$((sim_port + i))/v1/models" "sim pod $i"
  endpoints+=("127.0.0.1:$((sim_port + i))@$((kv_port + i))")
done

echo "[3/4] $replicas kvedge replicas ($policy) on :$router_port+" >&2
targets=()
for ((i = 0; i < replicas; i++)); do
  setsid npx tsx src/cli/kvedge.ts serve --policy "$policy" --endpoints "$(IFS=,; echo "${endpoints[*]}")" \
    --redis-url "redis://127.0.0.1:$redis_port/0" --tokenizer "$model=synthetic" --index-block-size 64 \
    --port $((router_port + i)) --admin-port $((admin_port + i)) --threads 1 --log-level warn \
    "${extra[@]}" >"$logs/replica-$i.log" 2>&1 &
  pids+=($!)
  targets+=("http://127.0.0.1:$((router_port + i))")
done
for ((i = 0; i < replicas; i++)); do wait_for "http://127.0.0.1:$((admin_port + i))/metrics" "replica $i"; done

echo "[4/4] bench client: $workload through ${#targets[@]} replicas" >&2
npm run --silent bench -- --mode live --target-url "$(IFS=,; echo "${targets[*]}")" --workload "$workload" \
  --pods "$pods" --label "$replicas replica processes ($policy)" --out "$out"

echo
echo "| replica | claims won | claims taken | claims unavailable | turn waits | timed out | mean wait (ms) |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for ((i = 0; i < replicas; i++)); do
  curl -s "http://127.0.0.1:$((admin_port + i))/metrics" | awk -v r="$i" '
    /^kvedge_placement_claims_total\{outcome="won"\}/ { won = $2 }
    /^kvedge_placement_claims_total\{outcome="taken"\}/ { taken = $2 }
    /^kvedge_placement_claims_total\{outcome="unavailable"\}/ { unavailable = $2 }
    /^kvedge_placement_turn_waits_total\{outcome="timed_out"\}/ { timedOut = $2 }
    /^kvedge_placement_turn_wait_seconds_count/ { count = $2 }
    /^kvedge_placement_turn_wait_seconds_sum/ { sum = $2 }
    END {
      mean = 0
      if (count > 0) mean = 1000 * sum / count
      printf "| %s | %d | %d | %d | %d | %d | %.1f |\n", r, won, taken, unavailable, count, timedOut, mean
    }'
done

# What each replica learned: its predicted prefill (without queue or decode interference) for a new
# prompt of ~6,000 tokens and one of ~100, per pod. The sim pods are identical, so a spread between
# pods is learning error (docs/scheduling.md, "Learning rates online").
probe() {
  python3 -c 'import json, sys; print(json.dumps({"model": sys.argv[1], "max_tokens": 8,
    "prompt": " ".join("%s%d" % (sys.argv[3], i) for i in range(int(sys.argv[2])))}))' "$model" "$1" "$2" |
    curl -s "http://127.0.0.1:$3/debug/route" -d @- | python3 -c '
import json, sys
state = json.load(sys.stdin).get("pluginState", {}).get("kvedge-picker")
if state:
    costs = sorted(state["costs"], key=lambda c: c["endpointId"])
    p = [c["prediction"] for c in costs]
    print(" ".join("%.3f" % (x["prefillSeconds"] + x["steps"] * x["stepSeconds"]) for x in p))
else:
    print("(not the kvedge policy)")'
}
echo
echo "| replica | predicted prefill of a new 6,000-token prompt, per pod (s) | of a new 100-token prompt (s) |"
echo "|---|---|---|"
for ((i = 0; i < replicas; i++)); do
  echo "| $i | $(probe 6000 probelong $((admin_port + i))) | $(probe 100 probeshort $((admin_port + i))) |"
done
echo "logs: $logs" >&2
