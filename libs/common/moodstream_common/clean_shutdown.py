"""After a crash, rebuild local table stores from their changelogs instead of reusing them.

A Faust RocksDB store writes every table change locally at once, sends it to the
changelog topic, and records the changelog offset it has "persisted" only when the
broker acknowledges the send. A process killed mid-stream (SIGKILL, OOM, power)
therefore leaves a store that is *ahead* of its recorded offset in two ways at once:

- some changes are in the store but never reached the changelog;
- some changes reached the changelog but the store never recorded their offset.

On the next start Faust replays the changelog from the recorded offset, so the second
kind is written again *over newer local values* of the same keys. Keys touched by both
kinds roll back while others do not. The aggregator skips an event whose message state
says it was applied, so a rolled-back window row loses that event for good (seen as
one message missing from the totals after a SIGKILL). The first kind also never
reaches the changelog, so a worker that later takes the partition over rebuilds
without it.

The changelog itself is always a consistent prefix of the changes (one partition per
table partition, written in order, and the aggregator writes rows before the message
state), and source offsets are committed only after the producer flushed. So the one
state that is always right after a crash is *the changelog alone*, plus the redelivered
events, which the aggregator's per-row offsets apply exactly once. Kafka Streams does
the same: without a clean-shutdown checkpoint it wipes the local store.

How a clean stop is told from a crash: :func:`mark_clean` writes a marker file in the
table folder after the worker stopped with exit code 0 (producer flushed, offsets
committed, stores closed); :func:`discard_after_crash` runs before the stores open, and
deletes the stores when the folder holds stores but no marker. The cost is a longer
start after a crash: the whole changelog is read again, which on Kafka or Redpanda
(compacted changelogs) is about the size of the live state.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

log = logging.getLogger("moodstream.clean_shutdown")

MARKER = ".clean-shutdown"


def _stores(tabledir: Path) -> list[Path]:
    return sorted(path for path in tabledir.glob("*.db") if path.is_dir())


def discard_after_crash(tabledir: Path) -> list[Path]:
    """Delete the RocksDB stores in ``tabledir`` unless the last run stopped cleanly.

    Returns the stores deleted ([] after a clean stop, on a first start, or when the
    folder holds none). Removes the marker either way: from now on the worker is
    running, and only another clean stop may vouch for the stores again.
    """
    marker = tabledir / MARKER
    was_clean = marker.exists()
    marker.unlink(missing_ok=True)
    stores = _stores(tabledir) if tabledir.is_dir() else []
    if was_clean or not stores:
        return []
    for store in stores:
        shutil.rmtree(store)
    log.warning(
        "the last run did not stop cleanly: discarded %d local table store(s) in %s; "
        "rebuilding them from their changelogs",
        len(stores),
        tabledir,
    )
    return stores


def mark_clean(tabledir: Path) -> None:
    """Record that the worker stopped cleanly, so the next start keeps its stores."""
    if tabledir.is_dir():
        (tabledir / MARKER).touch()
