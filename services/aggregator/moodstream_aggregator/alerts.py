"""Alert agents: check the rules when aggregates change, publish each episode's start
and end to ``alerts``, and POST those records to the webhook.

Reads: ``alert-checks`` (:class:`AlertCheck`, sent by every worker's publish tick when
its aggregates changed) and ``alerts`` (:class:`Alert`).
Writes: the ``alerts`` table (rule -> episode state), the ``alerts`` topic, the webhook.

Both topics have one partition, so one worker checks the rules at a time, against the
totals of every worker (:mod:`moodstream_aggregator.scatter`), and episodes cannot
race. Event time only moves when data arrives, so with no change there is nothing to
check. Delivery to the webhook runs in its own agent from the ``alerts`` topic: a
webhook that is slow or down delays only the webhook's records, never the aggregates,
and a record the webhook has not taken is retried after a restart (at least once; the
``id`` tells a receiver it has seen it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
from faust import StreamT
from faust.types import EventT

from moodstream_aggregator import episodes, queries, scatter, tables
from moodstream_aggregator.alert_rules import Rule, load_rules, observe
from moodstream_aggregator.app import alert_checks_topic, alerts_topic, app, settings
from moodstream_aggregator.kinds import MINUTE
from moodstream_aggregator.webhook import Webhook, deliver
from moodstream_common.metrics import ALERT_WEBHOOK_FAILURES, ALERTS
from moodstream_common.records import Alert, AlertCheck

log = logging.getLogger("moodstream.aggregator.alerts")

# Read at import, so a rules file that is not valid stops the worker before it joins.
rules: list[Rule] = load_rules(settings.alert_rules)
webhook = (
    Webhook(
        url=settings.alert_webhook_url,
        secret=settings.alert_webhook_secret.get_secret_value(),
        timeout_seconds=settings.alert_webhook_timeout_seconds,
        attempts=settings.alert_webhook_attempts,
    )
    if settings.alert_webhook_url
    else None
)
CHECKS_PER_BATCH = 1_000


async def request_check() -> None:
    """Ask for the rules to be checked (aggregates changed on this worker)."""
    if rules:
        await alert_checks_topic.send(value=AlertCheck(at=time.time()))


@app.agent(alert_checks_topic, concurrency=1)
async def check_rules(stream: StreamT[AlertCheck]) -> AsyncIterator[int]:
    """Check every rule once per batch of requests; yields the alerts published."""
    async for events in stream.take_events(  # type: ignore[attr-defined]  # Stream has it; StreamT lacks it
        CHECKS_PER_BATCH, within=settings.alert_check_within_seconds
    ):
        try:
            yield await check(events[-1]) if rules else 0
        except httpx.HTTPError as exc:
            # A killed peer is asked until the group drops it: not a reason to crash this
            # worker. The next published change asks for a check again.
            log.warning("a peer aggregator did not answer (%r): rules checked again at "
                        "the next change", exc)
            yield 0


async def check(event: EventT[Any]) -> int:
    """Evaluate the rules at the newest event time; publish and store what changed."""
    watermark = await scatter.watermark()
    if not watermark:
        return 0
    now = time.time()
    changed: list[tuple[str, episodes.State]] = []
    published: list[Alert] = []
    for rule in rules:
        starts = queries.window_starts(MINUTE, rule.window_minutes, watermark)
        rows = await scatter.rows(rule.row_kind(), rule.row_keys(starts))
        state = tables.alerts.get(rule.name)
        new_state, alert = episodes.step(state, rule, observe(rule, rows.values()), watermark, now)
        if new_state != state:
            changed.append((rule.name, new_state))
        if alert is not None:
            published.append(alert)
    for alert in published:
        # On the topic before the state says so: a crash in between sends the same id
        # again (the stored episode count did not move), never loses the alert.
        await (await alerts_topic.send(key=alert.id, value=alert))
        ALERTS.labels(alert.rule, alert.state).inc()
        log.warning(
            "alert %s %s: %s %s %s %g (%.4g over %d messages, %d min)",
            alert.id,
            alert.state,
            alert.scope,
            alert.metric,
            alert.comparison,
            alert.threshold,
            alert.value,
            alert.messages,
            alert.window_minutes,
        )
    tables.write_as(event, changed, table=tables.alerts)
    return len(published)


@app.agent(alerts_topic, concurrency=1)
async def post_alerts(stream: StreamT[Alert]) -> AsyncIterator[bool]:
    """POST each alert record to the webhook (when one is set); yields whether it was taken."""
    async for alert in stream:
        if webhook is None:
            yield False
            continue
        taken = await deliver(webhook, episodes.alert_json(alert))
        if not taken:
            ALERT_WEBHOOK_FAILURES.inc()
        yield taken
