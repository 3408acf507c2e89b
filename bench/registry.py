#!/usr/bin/env python3
"""The Python competitor: event listeners the way the original Django design wrote them.

Handler classes (`MessageHandler`, `FilteredHandler`) are registered with a decorator
in a `Registry`; dispatch asks every registered handler `can_handle(event, realm)` in
turn and calls `handle(event)` on the ones that accept. This is zlc's yardstick: the
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

    event_types = ()
    realms = None  # None: every realm

    def __init__(self, name):
        self.name = name
        self.handled = 0

    def can_handle(self, event, realm):
        if event.get("type") not in self.event_types:
            return False
        return self.realms is None or realm in self.realms

    def handle(self, event):
        self.handled += 1


class MessageHandler(Handler):
    """Handles `message` events, optionally only in some channels (by name)."""

    event_types = ("message",)
    channels = None

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

    pattern = None

    def __init__(self, name):
        super().__init__(name)
        self._search = re.compile(self.pattern).search

    def can_handle(self, event, realm):
        if not MessageHandler.can_handle(self, event, realm):
            return False
        return self._search((event.get("message") or {}).get("content", "")) is not None


class Registry:
    """Handlers by registration order; `register` is the decorator."""

    def __init__(self):
        self.handlers = []

    def register(self, name):
        def add(cls):
            self.handlers.append(cls(name))
            return cls

        return add

    def dispatch(self, event, realm):
        for handler in self.handlers:
            if handler.can_handle(event, realm):
                handler.handle(event)

    def counts(self):
        return {h.name: h.handled for h in self.handlers}


registry = Registry()


@registry.register("alerts")
class Alerts(FilteredHandler):
    channels = frozenset({"alerts", "devel"})
    realms = frozenset({1})
    pattern = r"(?i)\b(alert|error|incident)\b"


@registry.register("deploys")
class Deploys(FilteredHandler):
    channels = frozenset({"devel", "general"})
    realms = frozenset({1})
    pattern = r"deploy #\d+"


@registry.register("mentions")
class Mentions(FilteredHandler):
    realms = frozenset({1})
    pattern = r'data-user-id="100"|@\*\*Listener Bot\*\*'


@registry.register("pr_links")
class PullRequestLinks(FilteredHandler):
    channels = frozenset({"Denmark", "Verona"})
    pattern = r"https?://github\.com/\S+/pull/\d+"


@registry.register("tracebacks")
class Tracebacks(FilteredHandler):
    channels = frozenset({"devel", "general", "Rome"})
    realms = frozenset({1})
    pattern = r"Traceback \(most recent call last\)"


@registry.register("all_realm_1")
class AllOfRealmOne(MessageHandler):
    realms = frozenset({1})


@registry.register("realm_2_only")
class RealmTwoOnly(MessageHandler):
    realms = frozenset({2})


@registry.register("reactions")
class Reactions(Handler):
    event_types = ("reaction",)


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
    loads, dispatch = json.loads, registry.dispatch
    start = time.perf_counter()
    for _ in range(args.repeat):
        for line in lines:
            dispatch(loads(line), 1)
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
