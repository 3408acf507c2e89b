#!/usr/bin/env bash
# Handover time of `zlc run FILE --watch`: a pipeline answering every message runs
# against `zlc sandbox --traffic` (demo messages, reactions and presence all the time);
# its reply template is edited N times (default 10). zlc prints one line per handover
# with its duration (SIGTERM to the old binary → the new one polls every connection);
# this prints each and their median. (That no message is lost or answered twice across
# handovers is the test `cli/tests/it/watch.rs`.)
#
#     scripts/bench-watch.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
edits="${1:-10}"
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build -q -p zlc
zlc=target/debug/zlc
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$zlc" sandbox --addr "127.0.0.1:$port" --zuliprc "$work/rc" --traffic > "$work/sandbox.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do [ -f "$work/rc" ] && break; sleep 0.2; done

write() {
    cat > "$work/watch_bench.toml.new" <<TOML
[pipeline]
name = "watch_bench"

[[listener]]
name = "answer"
events = "message"
limit_per_conversation = "off"
limit_per_sender = "off"

[[listener.action]]
type = "reply"
template = "v$1 answers {{message.id}}"
TOML
    mv "$work/watch_bench.toml.new" "$work/watch_bench.toml"
}
write 0
"$zlc" run "$work/watch_bench.toml" --watch -- run --config-file "$work/rc" \
    --store "sqlite://$work/watch.db" --stats-interval 1 > "$work/watch.log" 2>&1 &
watcher=$!
pids+=($watcher)
wait_for() { # COUNT TEXT
    for _ in $(seq 1 1200); do
        [ "$(grep -c "$2" "$work/watch.log" || true)" -ge "$1" ] && return 0
        sleep 0.1
    done
    echo "timed out waiting for $2"; cat "$work/watch.log"; exit 1
}
wait_for 1 " runs$"
for i in $(seq 1 "$edits"); do
    sleep 2
    write "$i"
    wait_for "$i" "zlc: handed over"
done
sleep 3
kill -INT "$watcher"; wait "$watcher" || true

grep "zlc: handed over" "$work/watch.log"
grep "zlc: handed over" "$work/watch.log" | grep -o "in [0-9.]* s" | awk '{print $2}' | sort -n | awk '
    { v[NR] = $1 } END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "handovers: %d, median %.2f s, min %.2f s, max %.2f s\n", NR, m, v[1], v[NR]
    }'
