#!/usr/bin/env python3
"""The end-to-end competitor: the official Zulip Python client (`zulip` on PyPI), its
`call_on_each_event` loop, and the same eight handlers as `registry.py`, reading a
backlog of events waiting in a queue of a Zulip-compatible server (`zlc sandbox
--backlog`), as realm 1, until it has seen `--events` events.

    python3 bench/official_client.py --zuliprc sandbox.zuliprc --events 100000 [--json]

It prints events/s (from the start of the client to the last event), its peak RSS and
the handlers' counts.
"""

import argparse
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import registry  # noqa: E402  (the same handler classes and the same eight listeners)

import zulip  # noqa: E402


class Enough(Exception):
    """Raised from the callback to leave `call_on_each_event`."""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zuliprc", required=True)
    ap.add_argument("--events", type=int, required=True, help="stop after this many events")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    handlers = registry.registry.handlers
    seen = 0
    start = time.perf_counter()
    client = zulip.Client(config_file=args.zuliprc, client="zlc-bench")

    def on_event(event):
        nonlocal seen
        for handler in handlers:
            if handler.can_handle(event, 1):
                handler.handle(event)
        seen += 1
        if seen >= args.events:
            raise Enough()

    try:
        client.call_on_each_event(on_event, event_types=["message"])
    except Enough:
        pass
    elapsed = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = {
        "events": seen,
        "seconds": elapsed,
        "events_per_s": seen / elapsed if elapsed > 0 else 0.0,
        "peak_rss_mib": peak_kib / 1024,
        "counts": registry.registry.counts(),
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{seen} events in {elapsed:.2f} s: {out['events_per_s']:,.0f} events/s, peak RSS {out['peak_rss_mib']:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
