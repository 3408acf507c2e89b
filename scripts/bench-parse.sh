#!/usr/bin/env bash
# Parse rate of zlc's typed events against the Python reference, on the same file, in
# the same run (ratios hold on a noisy machine; absolute numbers drift).
#
#     scripts/bench-parse.sh [FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
file="${1:-bench/events-50k.jsonl.gz}"
[ -f "$file" ] || { echo "error: $file not found" >&2; exit 1; }
file=$(realpath "$file")

cargo build --release -p zlc-runtime --bench parse -q 2>/dev/null || cargo bench -p zlc-runtime --bench parse --no-run
rust=$(taskset -c 0 cargo bench -q -p zlc-runtime --bench parse -- "$file" --repeat 4 --json)
py=$(taskset -c 0 python3 bench/registry.py "$file" --repeat 4 --json)

python3 - "$rust" "$py" <<'PY'
import json, sys
r, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
py = p["events_per_s"]
print(f"bench/registry.py (json.loads + 8 handlers): {py:12,.0f} events/s")
for key, label in [("head_per_s", "zlc head only"), ("typed_per_s", "zlc typed parse"), ("value_per_s", "serde_json::Value")]:
    print(f"{label:44}: {r[key]:12,.0f} events/s  ({r[key] / py:5.1f}x Python)")
print(f"typed parse / serde_json::Value: {r['typed_per_s'] / r['value_per_s']:.2f}")
PY
