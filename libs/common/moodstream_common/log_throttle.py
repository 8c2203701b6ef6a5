"""Keep a broker outage to a few readable log lines instead of thousands.

While a broker is down, aiokafka logs the same connection errors on every retry (about
ten lines a second per client), which buries everything else and fills disks. The
filter here lets the first record of each kind through, then at most one per
``interval`` seconds carrying how many were held back::

    Unable connect to node with id 1: [Errno 111] Connect call failed (+87 similar in 10s)

A "kind" is the logger, level and message *template*, so distinct problems still show.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

THROTTLED_PREFIXES = ("aiokafka",)


class ThrottleRepeats(logging.Filter):
    """Pass one record per (logger, level, template) per ``interval`` seconds."""

    def __init__(self, interval: float = 10.0, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.interval = interval
        self._clock = clock
        self._last: dict[tuple[str, int, object], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        """Let ``record`` through if its kind was quiet for ``interval`` seconds."""
        key = (record.name, record.levelno, record.msg)
        now = self._clock()
        seen = self._last.get(key)
        if seen is not None and now - seen[0] < self.interval:
            self._last[key] = (seen[0], seen[1] + 1)
            return False
        held_back = seen[1] if seen is not None else 0
        self._last[key] = (now, 0)
        if held_back:
            record.msg = f"{record.msg} (+{held_back} similar in {self.interval:.0f}s)"
        return True


def throttle_repeats(interval: float = 10.0) -> ThrottleRepeats:
    """Install one :class:`ThrottleRepeats` on every aiokafka logger; returns it.

    Filters on a logger see only that logger's own records, so it goes on each one
    that exists (they are created when aiokafka is imported, before this runs).
    """
    throttle = ThrottleRepeats(interval)
    names = [
        name
        for name in logging.root.manager.loggerDict
        if name.startswith(THROTTLED_PREFIXES)
    ]
    for name in names:
        logging.getLogger(name).addFilter(throttle)
    return throttle
