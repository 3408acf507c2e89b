#!/usr/bin/env python3
"""The Python competitor: event listeners the way the original Django design wrote them.

Handler classes (`Handler`, `MessageHandler`, `FilteredHandler`) are configured per
listener and added to a `Registry`; dispatch asks every registered handler
`can_handle(event, realm)` in turn and calls `handle(event)` on the ones that accept. This is zlc's yardstick: the
same eight listeners as `pipelines/bench.toml`, over the same JSONL file of Zulip
`GET /events` events, replayed as realm 1.

    python3 bench/registry.py FILE[.gz] [--repeat N] [--json]

The whole file is read into memory first; the timed part is `json.loads` + filters +
dispatch for every line, `--repeat` times.
"""

import argparse
import gzip
import json
import re
import sys
import time


class Handler:
    """Base class: a named handler for some event types on some realms."""

    def __init__(self, name, event_types, realms=None):
        self.name = name
        self.event_types = frozenset(event_types)
        self.realms = frozenset(realms) if realms is not None else None  # None: every realm
        self.handled = 0

    def can_handle(self, event, realm):
        if event.get("type") not in self.event_types:
            return False
        return self.realms is None or realm in self.realms

    def handle(self, event):
        self.handled += 1


class MessageHandler(Handler):
    """Handles `message` events, optionally only in some channels (by name)."""

    def __init__(self, name, realms=None, channels=None):
        super().__init__(name, ("message",), realms)
        self.channels = frozenset(channels) if channels is not None else None

    def can_handle(self, event, realm):
        if event.get("type") not in self.event_types:
            return False
        if self.realms is not None and realm not in self.realms:
            return False
        if self.channels is None:
            return True
        message = event.get("message") or {}
        return message.get("type") == "stream" and message.get("display_recipient") in self.channels


class FilteredHandler(MessageHandler):
    """A message handler that also needs its content to match a regex."""

    def __init__(self, name, pattern, realms=None, channels=None):
        super().__init__(name, realms, channels)
        self.pattern = re.compile(pattern)

    def can_handle(self, event, realm):
        # The message handler's checks, written out: one call per handler and event,
        # as a hand-tuned registry would have it.
        if event.get("type") not in self.event_types:
            return False
        if self.realms is not None and realm not in self.realms:
            return False
        message = event.get("message") or {}
        if self.channels is not None and (
            message.get("type") != "stream" or message.get("display_recipient") not in self.channels
        ):
            return False
        return self.pattern.search(message.get("content", "")) is not None


class Registry:
    """Handlers in registration order. Dispatch (in `main`) asks each in turn."""

    def __init__(self):
        self.handlers = []

    def add(self, handler):
        self.handlers.append(handler)
        return handler

    def counts(self):
        return {h.name: h.handled for h in self.handlers}


# The eight listeners, configured instances of the handler classes (one class per kind
# of handler, as the original design's base classes; not one class per listener, which
# would make every call site see many classes and cost Python about 7 % more).
registry = Registry()
registry.add(FilteredHandler("alerts", r"(?i)\b(alert|error|incident)\b", realms={1}, channels={"alerts", "devel"}))
registry.add(FilteredHandler("deploys", r"deploy #\d+", realms={1}, channels={"devel", "general"}))
registry.add(FilteredHandler("mentions", r'data-user-id="100"|@\*\*Listener Bot\*\*', realms={1}))
registry.add(FilteredHandler("pr_links", r"https?://github\.com/\S+/pull/\d+", channels={"Denmark", "Verona"}))
registry.add(FilteredHandler("tracebacks", r"Traceback \(most recent call last\)", realms={1}, channels={"devel", "general", "Rome"}))
registry.add(MessageHandler("all_realm_1", realms={1}))
registry.add(MessageHandler("realm_2_only", realms={2}))
registry.add(Handler("reactions", ("reaction",)))


def read_lines(path):
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
    opener = gzip.open if gzipped else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [line for line in (l.strip() for l in f) if line]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", help="JSONL file of events, gzipped or not")
    ap.add_argument("--repeat", type=int, default=1, help="process the file N times")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()

    lines = read_lines(args.path)
    loads, handlers = json.loads, registry.handlers
    start = time.perf_counter()
    for _ in range(args.repeat):
        for line in lines:
            # Dispatch: ask every registered handler, in order (realm 1).
            event = loads(line)
            for handler in handlers:
                if handler.can_handle(event, 1):
                    handler.handle(event)
    elapsed = time.perf_counter() - start

    n = len(lines) * args.repeat
    rate = n / elapsed if elapsed > 0 else 0.0
    if args.json:
        print(json.dumps({"events": n, "seconds": elapsed, "events_per_s": rate, "counts": registry.counts()}))
    else:
        print(f"{n} events in {elapsed:.3f} s: {rate:,.0f} events/s")
        for name, count in registry.counts().items():
            print(f"  {name:14} {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
