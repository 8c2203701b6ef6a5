"""Aggregator HTTP views (JSON) and the dashboard page.

``GET /v1/sentiment/seconds?last=N`` and ``/v1/sentiment/minutes?last=N``,
``GET /v1/hashtags/minute?minute=<epoch|iso>&n=5``, ``GET /v1/hashtags?n=``,
``GET /v1/hashtags/{tag}/minutes?last=60``,
``GET /v1/messages?label=&hashtag=&user_id=&limit=50&cursor=`` (the live feed),
``GET /v1/alerts?recent=20``,
``GET /v1/users/{user_id}``, ``GET /v1/messages/{message_id}``, ``GET /v1/totals``,
``GET /v1/languages``,
``GET /healthz``.
"""

from __future__ import annotations

from faust.web import Request, Response, View

from moodstream_aggregator import (
    access,  # noqa: F401  (installs the read-token check on every view)
    alerts,
    dashboard,  # noqa: F401  (registers /dashboard and /static/)
    episodes,
    legacy,  # noqa: F401  (registers the /refresh_* polling endpoints)
    queries,
    scatter,
    tables,
)
from moodstream_aggregator.app import app, scored_topic
from moodstream_aggregator.contributions import empty_counts, languages_of, summarize
from moodstream_aggregator.keys import hashtag_of
from moodstream_aggregator.kinds import MINUTE, SECOND, RowKind
from moodstream_common.errors import error_body
from moodstream_common.health import register_health_pages
from moodstream_common.metrics import register_metrics_page
from moodstream_common.records import LABELS, UNSCORED

FEED_LABELS = (*LABELS, UNSCORED)

MAX_WINDOWS = 3_600


def _int_param(request: Request, name: str, default: int, upper: int) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if 1 <= value <= upper else None


def _bad_param(view: View, name: str, upper: int) -> Response:
    return view.json(
        error_body("bad_parameter", f"{name} must be an integer in 1..{upper}"),
        status=400,
    )


@app.page("/v1/sentiment/seconds")
class SentimentPerSecond(View):
    """Sentiment counts and mean score per 1-second window."""

    async def get(self, request: Request) -> Response:
        """The last ``last`` (default 60) seconds up to the newest event time."""
        last = _int_param(request, "last", 60, MAX_WINDOWS)
        if last is None:
            return _bad_param(self, "last", MAX_WINDOWS)
        return self.json(await scatter.series(SECOND, last))


@app.page("/v1/sentiment/minutes")
class SentimentPerMinute(View):
    """Sentiment counts and mean score per 1-minute window."""

    async def get(self, request: Request) -> Response:
        """The last ``last`` (default 30) minutes up to the newest event time."""
        last = _int_param(request, "last", 30, MAX_WINDOWS)
        if last is None:
            return _bad_param(self, "last", MAX_WINDOWS)
        return self.json(await scatter.series(MINUTE, last))


@app.page("/v1/hashtags/minute")
class HashtagsPerMinute(View):
    """Top hashtags of one minute (default: the newest)."""

    async def get(self, request: Request) -> Response:
        """``{"minute": iso, "top": [{"hashtag", "count"}...]}``."""
        n = _int_param(request, "n", 5, 1_000)
        if n is None:
            return _bad_param(self, "n", 1_000)
        raw_minute = request.query.get("minute")
        try:
            at = float(raw_minute) if raw_minute else None
        except ValueError:
            return self.json(error_body("bad_parameter", "minute: epoch"), status=400)
        if at is None:
            at = await scatter.watermark()
        minute = queries.minute_of(at)
        rows = await scatter.rows(RowKind.HASHTAG_MINUTE, [str(minute)])
        top = queries.top_from(rows.get(str(minute), {}), n)
        return self.json({"minute": queries.iso(minute), "top": top})


@app.page("/v1/hashtags")
class HashtagsOverall(View):
    """All hashtags with counts and sentiment mix."""

    async def get(self, request: Request) -> Response:
        """Most used first; ``n`` limits the list."""
        n = _int_param(request, "n", 0, 1_000_000) if "n" in request.query else 0
        if n is None:
            return _bad_param(self, "n", 1_000_000)
        rows = await scatter.rows(RowKind.HASHTAG, [queries.ALL_KEYS])
        return self.json({"hashtags": queries.hashtags_from(rows, n or None)})


@app.page("/v1/hashtags/{tag}/minutes")
class HashtagMinutes(View):
    """One hashtag's sentiment per 1-minute window of event time."""

    async def get(self, request: Request, tag: str) -> Response:
        """The last ``last`` (default 60) minutes up to the newest event time; ``tag`` is
        matched as extracted (case-folded, without ``#``), so ``%23Launch`` finds
        ``launch``."""
        last = _int_param(request, "last", 60, MAX_WINDOWS)
        if last is None:
            return _bad_param(self, "last", MAX_WINDOWS)
        wanted = hashtag_of(tag)
        if not wanted:
            return self.json(error_body("bad_parameter", "tag: a hashtag, with or without #"),
                             status=400)
        return self.json(await scatter.hashtag_series(wanted, last))


MAX_FEED_LIMIT = 500


def feed_query(request: Request) -> queries.FeedQuery:
    """The feed query a request asks for; ``ValueError`` naming the bad parameter."""
    params = request.query
    label = params.get("label") or None
    if label is not None and label not in FEED_LABELS:
        raise ValueError(f"label must be one of {', '.join(FEED_LABELS)}")
    hashtag = None
    if params.get("hashtag") is not None:
        hashtag = hashtag_of(params["hashtag"])
        if not hashtag:
            raise ValueError("hashtag: a hashtag, with or without #")
    limit = _int_param(request, "limit", 50, MAX_FEED_LIMIT)
    if limit is None:
        raise ValueError(f"limit must be an integer in 1..{MAX_FEED_LIMIT}")
    cursor = params.get("cursor")
    return queries.FeedQuery(
        label=label,
        hashtag=hashtag,
        user_id=params.get("user_id") or None,
        limit=limit,
        before=queries.parse_feed_cursor(cursor) if cursor else None,
    )


@app.page("/v1/messages")
class Feed(View):
    """The live feed: the newest live messages, filtered, a page at a time."""

    async def get(self, request: Request) -> Response:
        """``{"messages": [{"id", "user_id", "text", "label", "score", "event_time",
        "event_time_iso", "hashtags", "model_version"}...], "next": cursor | null}``,
        newest event time first; deleted messages are not in it, updated ones show
        their current text and label. ``next`` asks for the page after this one."""
        try:
            query = feed_query(request)
        except ValueError as exc:
            return self.json(error_body("bad_parameter", str(exc)), status=400)
        return self.json(await scatter.feed(query))


# `.+`: an id may hold `/`, `{` and `}`, which aiohttp's default `{name}` refuses.
@app.page("/v1/users/{user_id:.+}")
class UserView(View):
    """One user's message count and sentiment mix."""

    async def get(self, request: Request, user_id: str) -> Response:
        """``{"user_id", "positive", "neutral", "negative", "total", "mean_score"}``."""
        rows = await scatter.rows(RowKind.USER, [user_id])
        return self.json({"user_id": user_id, **summarize(rows.get(user_id) or empty_counts())})


@app.page("/v1/messages/{message_id:.+}")
class MessageView(View):
    """The current state of one message (routed to the worker that owns it)."""

    # Faust types table_route for handlers without URL parameters; it forwards them.
    @app.table_route(table=tables.aggregates, match_info="message_id")  # type: ignore[arg-type]  # Faust types table as CollectionT
    async def get(self, request: Request, message_id: str) -> Response:
        """``{"id", "deleted", ...current contribution}``; 404 if never seen."""
        state = tables.message_state(message_id)
        if state is None:
            return self.json(error_body("not_found", message_id), status=404)
        current = state.get("current") or {}
        return self.json(
            {
                "id": message_id,
                **current,
                "text": state.get("text"),
                "deleted": bool(state.get("deleted")),
            }
        )


@app.page("/v1/totals")
class Totals(View):
    """Counts over everything seen, the newest event time, and late records."""

    async def get(self, request: Request) -> Response:
        """``{"positive", "neutral", "negative", "total", "mean_score", "late", "expired",
        "watermark"}``."""
        mark = await scatter.watermark()
        total = (await scatter.rows(RowKind.TOTAL, ["all"])).get("all") or empty_counts()
        counters = {
            kind: queries.counter_from(await scatter.rows(kind, ["all"]), kind)
            for kind in (RowKind.LATE, RowKind.EXPIRED)
        }
        return self.json(
            {
                **summarize(total),
                **counters,
                "watermark": queries.iso(mark) if mark else None,
            }
        )


@app.page("/v1/languages")
class Languages(View):
    """Messages and their sentiment mix per detected language."""

    async def get(self, request: Request) -> Response:
        """``{"languages": [{"language", "positive", "neutral", "negative", "unscored",
        "total", "mean_score", "unscored_share"}...]}``, most messages first."""
        total = (await scatter.rows(RowKind.TOTAL, ["all"])).get("all") or {}
        codes = list(languages_of(total))
        rows = await scatter.rows(RowKind.LANGUAGE, codes) if codes else {}
        return self.json({"languages": queries.languages_from(rows)})


MAX_RECENT_ALERTS = episodes.RECENT_KEPT * 50


@app.page("/v1/alerts")
class Alerts(View):
    """Active alerts and the recently resolved ones."""

    async def get(self, request: Request) -> Response:
        """``{"active": [alert...], "recent": [alert...], "rules": [rule...]}``: active
        ones newest first, then the ``recent`` (default 20) newest resolved ones."""
        recent = _int_param(request, "recent", 20, MAX_RECENT_ALERTS)
        if recent is None:
            return _bad_param(self, "recent", MAX_RECENT_ALERTS)
        names = [rule.name for rule in alerts.rules]
        answer = queries.alerts_from(await scatter.alerts(), names, recent)
        rules = [rule.model_dump(exclude_none=True) for rule in alerts.rules]
        return self.json({**answer, "rules": rules})


@app.page("/internal/alerts")
class InternalAlerts(View):
    """This worker's part of ``/v1/alerts``: the rule states it actively holds."""

    async def get(self, request: Request) -> Response:
        """``{"states": [{"rule", "episodes", "active", "recent"}...]}``."""
        partitions = scatter.active_partitions(tables.alerts)
        return self.json({"states": queries.local_alert_states(partitions)})


@app.page("/internal/rows")
class InternalRows(View):
    """This worker's part of a view: rows summed over its active partitions."""

    async def get(self, request: Request) -> Response:
        """``{"rows": {key: row}}`` for ``kind`` and the repeated ``keys`` parameter."""
        keys = request.query.getall("keys", [])  # type: ignore[attr-defined]  # a MultiDict
        try:
            kind = RowKind(request.query.get("kind", ""))
        except ValueError:
            keys = []
        if not keys:
            return self.json(error_body("bad_parameter", "kind and keys"), status=400)
        return self.json({"rows": queries.local_rows(kind, keys, scatter.active_partitions())})


@app.page("/internal/feed")
class InternalFeed(View):
    """This worker's part of a feed page: its active partitions' newest matches."""

    async def get(self, request: Request) -> Response:
        """``{"messages": [feed entries]}``, the same query parameters as ``/v1/messages``."""
        try:
            query = feed_query(request)
        except ValueError as exc:
            return self.json(error_body("bad_parameter", str(exc)), status=400)
        return self.json({"messages": queries.local_feed(query, scatter.active_partitions())})


def _tables_held() -> bool:
    """Every ``scored`` partition this worker reads has its table partition here too.

    Right after a start on Kafka the group's first assignment can leave the new changelog
    topics out (``faust_fixes``); the worker then rejoins, and until it has, every view
    routed to a table partition would answer 503.
    """
    actives = app.assignor.assigned_actives()
    changelog = tables.aggregates.changelog_topic.get_topic_name()
    sources = {tp.partition for tp in actives if tp.topic == scored_topic.get_topic_name()}
    held = {tp.partition for tp in actives if tp.topic == changelog}
    return sources <= held


register_health_pages(app, "aggregator", also_ready=_tables_held)
register_metrics_page(app, "aggregator")
