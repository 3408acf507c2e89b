#!/usr/bin/env bash
# Memory under backpressure: a listener whose webhook takes 5 s per call, fed a replay
# of 100,000 and then 1,000,000 message events (events-50k repeated). Polling (here:
# reading the replay) pauses at the in-flight bound, so the resident memory must be
# the same for both. Each run is sampled for SECS seconds (default 90), then stopped
# with SIGTERM.
#
#     scripts/bench-backpressure.sh [SECS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-90}"
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

# A receiver that answers every call after 5 s, many at once.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 - "$port" > "$work/calls" 2> "$work/receiver.log" <<'PY' &
import http.server, socketserver, sys, time
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        time.sleep(5)
        self.send_response(200); self.send_header("content-length", "2"); self.end_headers()
        self.wfile.write(b"{}")
        sys.stdout.write("."); sys.stdout.flush()
    def log_message(self, *a): pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 4096
S(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
pids+=($!)

cat > "$work/backpressure.toml" <<TOML
[pipeline]
name = "backpressure"

[[realm]]
id = 1

[[listener]]
name = "slow_hook"
events = "message"
ordered = false
concurrency = 500
limit_per_conversation = "off"
limit_per_sender = "off"

[[listener.action]]
type = "webhook"
url = "http://127.0.0.1:$port/hook"
allow_private = true
body = { id = "{{message.id}}" }
TOML
bin=$(cargo run -q -p zlc -- build "$work/backpressure.toml" 2>/dev/null)

run() {
    local repeat=$1 events="$work/events-$1.jsonl"
    for _ in $(seq "$repeat"); do zcat bench/events-50k.jsonl.gz; done > "$events"
    local before
    before=$(wc -c < "$work/calls")
    "$bin" run --replay "$events" --realm 1 --store "sqlite://$work/bp-$repeat.db" \
        --log-level warn --drain-timeout 1 2> "$work/run-$repeat.log" &
    local pid=$! peak=0 rss=0 t
    for t in $(seq "$secs"); do
        sleep 1
        rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
        [ "$rss" -gt "$peak" ] && peak=$rss
    done
    local hwm
    hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
    kill -TERM "$pid"; wait "$pid" || true
    local done written
    done=$(($(wc -c < "$work/calls") - before))
    written=$("$bin" stats --json --store "sqlite://$work/bp-$repeat.db" |
        python3 -c 'import json,sys; l=json.load(sys.stdin)["listeners"][0]; print(l["succeeded"])')
    printf '%9d events waiting: RSS after %ss %6.1f MiB, peak %6.1f MiB (VmHWM %6.1f MiB); %s calls answered, %s written as done\n' \
        "$(wc -l < "$events")" "$secs" "$(echo "$rss/1024" | bc -l)" "$(echo "$peak/1024" | bc -l)" \
        "$(echo "$hwm/1024" | bc -l)" "$done" "$written"
    rm -f "$events"
}

echo "webhook: 5 s per call, 500 at once; in-flight bound: the listener's max_in_flight (1000) and --max-in-flight (2000);"
echo "a replay batch is 4 MiB (about 7,000 events): its work is written when all its jobs have ended"
run 2
run 20
