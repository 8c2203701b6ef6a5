"""Answer a view from every aggregator worker, not just the one asked.

Each worker holds the partial rows of the partitions assigned to it (plus standby
copies of others', which must not be counted twice). With one worker, every view is
local. With several, the worker asked sums its *active* partitions and asks each peer
(from Faust's assignment metadata) for theirs via ``GET /internal/rows``; so every
worker gives the same answer.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from moodstream_aggregator import queries, tables
from moodstream_aggregator.access import auth_headers
from moodstream_aggregator.app import app
from moodstream_aggregator.keys import tag_window
from moodstream_aggregator.kinds import MINUTE, RowKind, series_kind

log = logging.getLogger("moodstream.aggregator.scatter")
PEER_TIMEOUT_S = 5.0


def active_partitions(table: Any = tables.aggregates) -> set[int]:
    """Partitions of ``table`` this worker actively owns."""
    topic = table.changelog_topic.get_topic_name()
    return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topic}


def peer_urls(table: Any = tables.aggregates) -> list[str]:
    """Base URLs of the other workers that own partitions of ``table``."""
    try:
        metadata = app.router.table_metadata(table.name)
    except Exception:  # noqa: BLE001  no assignment yet (starting, rebalancing)
        return []
    own = str(app.conf.canonical_url).rstrip("/")
    return sorted(
        str(url).rstrip("/")
        for url, topics in metadata.items()
        if str(url).rstrip("/") != own and any(topics.values())
    )


async def rows(kind: str, keys: list[str]) -> queries.Rows:
    """``{key: row}`` summed over every partition of every worker."""
    peers = peer_urls()
    if not peers:
        return queries.local_rows(kind, keys)
    answer = queries.local_rows(kind, keys, active_partitions())
    async with httpx.AsyncClient(timeout=PEER_TIMEOUT_S, headers=auth_headers()) as client:
        for peer in peers:
            response = await client.get(
                f"{peer}/internal/rows", params={"kind": kind, "keys": keys}
            )
            response.raise_for_status()
            queries.merge_rows(answer, response.json()["rows"])
    return answer


async def feed(query: queries.FeedQuery) -> dict[str, Any]:
    """A page of the live feed over every partition of every worker: each worker's
    newest ``limit`` that match, merged, and the newest ``limit`` of those."""
    peers = peer_urls()
    if not peers:
        return queries.feed_page(queries.local_feed(query), query.limit)
    entries = queries.local_feed(query, active_partitions())
    async with httpx.AsyncClient(timeout=PEER_TIMEOUT_S, headers=auth_headers()) as client:
        for peer in peers:
            response = await client.get(f"{peer}/internal/feed", params=query.params())
            response.raise_for_status()
            entries.extend(response.json()["messages"])
    return queries.feed_page(entries, query.limit)


async def alerts() -> list[dict[str, Any]]:
    """Every rule's episode state, from whichever worker holds the ``alerts`` table."""
    peers = peer_urls(tables.alerts)
    if not peers:
        return queries.local_alert_states()
    states = queries.local_alert_states(active_partitions(tables.alerts))
    async with httpx.AsyncClient(timeout=PEER_TIMEOUT_S, headers=auth_headers()) as client:
        for peer in peers:
            response = await client.get(f"{peer}/internal/alerts")
            response.raise_for_status()
            states.extend(response.json()["states"])
    return states


async def watermark() -> float:
    """Newest event time seen by any worker (0 when nothing was seen)."""
    return queries.watermark_from(await rows(RowKind.WATERMARK, ["all"]))


async def hashtag_series(tag: str, last: int) -> dict[str, Any]:
    """One hashtag's ``last`` minutes up to the newest event time, all workers."""
    end = await watermark()
    starts = queries.window_starts(MINUTE, last, end)
    found = await rows(RowKind.HASHTAG_SERIES, [tag_window(start, tag) for start in starts])
    return queries.hashtag_series_from(tag, starts, found, end)


async def series(size: int, last: int) -> dict[str, Any]:
    """The ``last`` windows of ``size`` seconds up to the newest event time, all workers."""
    kind = series_kind(size)
    end = await watermark()
    starts = queries.window_starts(size, last, end)
    return queries.series_from(size, starts, await rows(kind, [str(s) for s in starts]), end)
