"""Polling endpoints in the shapes existing sentiment dashboards already poll.

``GET /refresh_react_num_per_sec``: counts of the newest second plus the last 60
seconds' window starts and mean scores (``createdAtArray`` and ``scoreArray`` have
equal length); ``GET /refresh_react_num_per_min``: counts of the newest minute;
``GET /refresh_top_five_hashtags_per_min``: ``{"hashtag": count}`` of the newest minute.
"""

from __future__ import annotations

from typing import Any

from faust.web import Request, Response, View

from moodstream_aggregator import queries, scatter
from moodstream_aggregator.app import app
from moodstream_aggregator.kinds import MINUTE, SECOND, RowKind

LABELS = ("positive", "neutral", "negative")


async def _windows(size: int, last: int) -> list[dict[str, Any]]:
    windows: list[dict[str, Any]] = (await scatter.series(size, last))["windows"]
    return windows


@app.page("/refresh_react_num_per_sec")
class PerSecond(View):
    """``{"positive", "neutral", "negative", "createdAtArray", "scoreArray"}``."""

    async def get(self, request: Request) -> Response:
        """Newest second's counts; the last 60 seconds' starts and mean scores."""
        windows = await _windows(SECOND, 60)
        newest = windows[-1]
        return self.json(
            {
                **{label: newest[label] for label in LABELS},
                "createdAtArray": [w["window_start"] for w in windows],
                "scoreArray": [w["mean_score"] for w in windows],
            }
        )


@app.page("/refresh_react_num_per_min")
class PerMinute(View):
    """``{"positive", "neutral", "negative"}`` of the newest minute."""

    async def get(self, request: Request) -> Response:
        """Counts of the minute holding the newest event time."""
        newest = (await _windows(MINUTE, 1))[-1]
        return self.json({label: newest[label] for label in LABELS})


@app.page("/refresh_top_five_hashtags_per_min")
class TopFive(View):
    """``{"hashtag": count, ...}``: the newest minute's five most used hashtags."""

    async def get(self, request: Request) -> Response:
        """At most five entries, most used first."""
        end = await scatter.watermark()
        minute = str(queries.minute_of(end))
        rows = await scatter.rows(RowKind.HASHTAG_MINUTE, [minute])
        top = queries.top_from(rows.get(minute, {}), 5)
        return self.json({item["hashtag"]: item["count"] for item in top})
