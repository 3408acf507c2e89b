"""Answer latency as a person in the chat sees it.

A person (Iago, on `zlc sandbox --person-zuliprc`) sends `ping N` into #general at a
steady rate; bots answer `<name> <message id>` (the zlc pipeline `zlc 123`, the official
client `py 123`), all at once, so that every bot answers the same pings under the same
load. The person's own event queue times each answer: from the moment the ping arrives
in the person's queue to the moment the answer arrives (the server's delivery is on both
sides, the same for every bot).

    latency.py --person RC --bots zlc,py --rate 10 --seconds 30 [--warmup 2]

prints one JSON object per bot: the rate, how many pings were sent and answered, and
p50, p99, p999 and max in milliseconds (p999 only with at least 1,000 answers). A ping
not answered within 10 s after the last one was sent counts as lost.

    latency.py --official-bot --bot RC

runs the competitor: the official Python client's `call_on_each_event`, answering each
ping with `send_message` (`py <id>`), until it is killed.
"""

import argparse
import json
import sys
import threading
import time

import zulip

CHANNEL = "general"
TOPIC = "pings"


def official_bot(rc: str) -> None:
    client = zulip.Client(config_file=rc)
    me = client.get_profile()["user_id"]

    def handle(event):
        if event.get("type") != "message":
            return
        m = event["message"]
        if m["sender_id"] == me or not m["content"].startswith("ping"):
            return
        client.send_message(
            {"type": "stream", "to": m["display_recipient"], "topic": m["subject"],
             "content": f"py {m['id']}"}
        )

    client.call_on_each_event(handle, event_types=["message"])


def percentile(sorted_ms, q):
    if not sorted_ms:
        return None
    i = min(len(sorted_ms) - 1, int(round(q * (len(sorted_ms) - 1))))
    return sorted_ms[i]


def measure(rc: str, bots: list, rate: float, seconds: float, warmup: float) -> list:
    client = zulip.Client(config_file=rc)
    me = client.get_profile()["user_id"]
    queue = client.register(event_types=["message"])
    qid, last = queue["queue_id"], queue["last_event_id"]
    pings = {}  # message id -> arrival (monotonic)
    answers = {b: {} for b in bots}  # bot -> ping id -> arrival
    stop = threading.Event()

    def follow():
        nonlocal last
        while not stop.is_set():
            r = client.get_events(queue_id=qid, last_event_id=last, dont_block=False)
            now = time.monotonic()
            if r.get("result") != "success":
                time.sleep(0.01)
                continue
            for e in r["events"]:
                last = max(last, e["id"])
                if e.get("type") != "message":
                    continue
                m = e["message"]
                text = m["content"]
                if m["sender_id"] == me and text.startswith("ping"):
                    pings.setdefault(m["id"], now)
                    continue
                words = text.split()
                if len(words) == 2 and words[0] in answers and words[1].isdigit():
                    answers[words[0]].setdefault(int(words[1]), now)

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()

    def send(n):
        r = client.send_message(
            {"type": "stream", "to": CHANNEL, "topic": TOPIC, "content": f"ping {n}"}
        )
        return r.get("id")

    # Warm-up: the bot's first answers (its first poll, connections) are not timed.
    started = time.monotonic()
    n = 0
    while time.monotonic() - started < warmup:
        send(n)
        n += 1
        time.sleep(1 / rate)
    warm_ids = set(pings)
    time.sleep(0.5)
    warm_ids |= set(pings)

    ids = []
    interval = 1 / rate
    start = time.monotonic()
    k = 0
    while True:
        due = start + k * interval
        now = time.monotonic()
        if due - start >= seconds:
            break
        if due > now:
            time.sleep(due - now)
        mid = send(n)
        if mid is not None:
            ids.append(mid)
        n += 1
        k += 1
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(
        i in a for a in answers.values() for i in ids
    ):
        time.sleep(0.05)
    stop.set()
    results = []
    for bot, got in answers.items():
        lat = sorted(
            (got[i] - pings[i]) * 1000 for i in ids if i in got and i in pings and i not in warm_ids
        )
        results.append({
            "bot": bot,
            "rate": rate,
            "sent": len(ids),
            "answered": sum(1 for i in ids if i in got),
            "p50_ms": percentile(lat, 0.50),
            "p99_ms": percentile(lat, 0.99),
            "p999_ms": percentile(lat, 0.999) if len(lat) >= 1000 else None,
            "max_ms": lat[-1] if lat else None,
        })
    return results


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--person")
    p.add_argument("--bot")
    p.add_argument("--official-bot", action="store_true")
    p.add_argument("--bots", default="zlc,py")
    p.add_argument("--rate", type=float, default=10)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--warmup", type=float, default=2)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    if a.official_bot:
        official_bot(a.bot)
        return
    for r in measure(a.person, a.bots.split(","), a.rate, a.seconds, a.warmup):
        print(json.dumps(r))
        if r["answered"] < r["sent"]:
            print(f"latency: {r['bot']}: {r['sent'] - r['answered']} pings were not answered",
                  file=sys.stderr)


if __name__ == "__main__":
    main()
