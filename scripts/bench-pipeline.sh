#!/usr/bin/env bash
# bench.toml replaying events-50k, beside the Python reference and a bare typed parse
# of the same events, in one script (ratios hold on a noisy machine; absolute numbers
# drift). Everything is pinned to one core.
#
#     scripts/bench-pipeline.sh [FILE] [REPEAT]
set -euo pipefail
cd "$(dirname "$0")/.."
file="${1:-bench/events-50k.jsonl.gz}"
repeat="${2:-8}"
[ -f "$file" ] || { echo "error: $file not found" >&2; exit 1; }
file=$(realpath "$file")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The replay is read uncompressed, repeated, so that zlib and process start-up are
# not what is measured.
for _ in $(seq "$repeat"); do zcat -f "$file"; done > "$work/events.jsonl"
n=$(wc -l < "$work/events.jsonl")

bin=$(cargo run -q -p zlc -- build pipelines/bench.toml 2>/dev/null)
cargo bench -q -p zlc-runtime --bench parse --no-run 2>/dev/null

zlc=$(taskset -c 0 "$bin" run --replay "$work/events.jsonl" --realm 1 --summary-json \
      --store "sqlite://$work/bench.db" --log-level warn)
parse=$(taskset -c 0 cargo bench -q -p zlc-runtime --bench parse -- "$work/events.jsonl" --repeat 1 --json)
py=$(taskset -c 0 python3 bench/registry.py "$file" --repeat "$repeat" --json)

python3 - "$zlc" "$parse" "$py" "$n" <<'PY'
import json, sys
z, parse, py, n = json.loads(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[3]), int(sys.argv[4])
rate = z["_run"]["events_per_s"]
print(f"events: {n} ({z['_run']['events']} dispatched)")
print(f"bench/registry.py (8 handlers)        : {py['events_per_s']:12,.0f} events/s")
print(f"zlc bench binary (replay, 8 listeners): {rate:12,.0f} events/s  = {rate / py['events_per_s']:.1f}x Python")
print(f"bare parse, full typed Message        : {parse['typed_per_s']:12,.0f} events/s; zlc reaches {rate / parse['typed_per_s']:.0%} of it")
print(f"bare parse, dispatch view (same fields): {parse['view_per_s']:12,.0f} events/s; zlc reaches {rate / parse['view_per_s']:.0%} of it")
want = {"alerts": 3070, "deploys": 183, "mentions": 512, "pr_links": 769, "tracebacks": 862,
        "all_realm_1": 50000, "realm_2_only": 0, "reactions": 0}
reps = z["_run"]["events"] // 50000
bad = {k: z[k]["matched"] for k, v in want.items() if z[k]["matched"] != v * reps}
print("counts:", "match the reference" if not bad else f"DIFFER: {bad}")
PY
