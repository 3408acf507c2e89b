#!/usr/bin/env bash
# The first hour of a new user, timed: from a fresh clone in an empty folder, with an
# empty ZLC_HOME and cargo target. Each step prints its time and how many times it
# compiled zlc-runtime (its output is kept in $WORK/STEP.log).
#
#   scripts/first-hour.sh [REPO] [COMMIT]     (default: this clone, its HEAD)
#
# Takes 15-20 minutes on 2 cores; needs a warm cargo registry (no network is used).
set -u
REPO=${1:-$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)}
COMMIT=${2:-$(git -C "$REPO" rev-parse HEAD)}
WORK=${WORK:-$(mktemp -d /tmp/zlc-first-hour.XXXXXX)}
unset CARGO_TARGET_DIR
export ZLC_HOME=$WORK/home
step() {
    local name=$1
    shift
    local s e
    s=$(date +%s.%N)
    "$@" >"$WORK/$name.log" 2>&1
    local rc=$?
    e=$(date +%s.%N)
    printf '%-26s rc=%d %7.1f s   runtime compiled: %s\n' "$name" "$rc" \
        "$(echo "$e - $s" | bc)" "$(grep -c 'Compiling zlc-runtime' "$WORK/$name.log")"
}
echo "first hour of $REPO at $COMMIT, in $WORK"
cd "$WORK" && git clone -q "$REPO" clone && git -C clone checkout -q "$COMMIT" && cd clone || exit 1
step 1-readme-command-1 cargo run -p zlc -- run --profile dev pipelines/analytics.toml -- run --replay pipelines/samples/demo-day.jsonl
step 2-cargo-install cargo install --path cli --root "$WORK/X"
cd "$WORK" && rm -rf clone && mkdir work && cd work || exit 1
step 3-new-pipeline "$WORK/X/bin/zlc" new pipeline demo
step 4-build-installed "$WORK/X/bin/zlc" build pipelines/demo.toml
step 5-test-installed "$WORK/X/bin/zlc" test pipelines/demo.toml
cd "$WORK" && git clone -q "$REPO" clone2 && git -C clone2 checkout -q "$COMMIT" && cd clone2 || exit 1
step 6-cargo-run-build cargo run -p zlc -- build "$WORK/work/pipelines/demo.toml"
step 7-cargo-run-analytics cargo run -p zlc -- build pipelines/analytics.toml
cd "$WORK/work" || exit 1
step 8-new-project "$WORK/X/bin/zlc" new project proj
cd proj || exit 1
step 9-project-cargo-test cargo test
step 10-project-zlc-build "$WORK/X/bin/zlc" build .
