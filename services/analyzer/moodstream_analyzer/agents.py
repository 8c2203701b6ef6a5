"""Analyzer agents.

Reads: ``raw`` (:class:`RawMessage`, keyed by message id).
Writes: ``scored`` (:class:`ScoredMessage`, same key, so per-message order holds) and
``dead-letters`` (a record on ``raw`` that is no raw message, with its bytes).

Records are read in batches with a plain aiokafka consumer
(:mod:`moodstream_common.input_batches`: commit only after ``scored`` has the batch)
and scored in model calls on executor threads
(one per call that may run at once, :func:`~moodstream_analyzer.model.call_plan`), so the
event loop keeps heartbeating (and traces and sends the finished calls' records) while
the model runs.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from opentelemetry.context import Context

from moodstream_analyzer.app import app, dead_letter_topic, raw_topic, scored_topic, settings
from moodstream_analyzer.delivery import OrderedPublisher, publish_in_order
from moodstream_analyzer.model import ModelUnavailable, SentimentModel, load_model
from moodstream_analyzer.scoring import score_batch
from moodstream_common.faust_app import send_direct
from moodstream_common.input_batches import Batch, InputBatches
from moodstream_common.metrics import (
    BATCH_SIZE,
    DEAD_LETTERS,
    MESSAGES_IN,
    MESSAGES_OUT,
    MODEL_LATENCY,
)
from moodstream_common.records import DeadLetter, RawMessage, ScoredMessage
from moodstream_common.tracing import batch_links, child_span_headers, extract_context, tracer

log = logging.getLogger("moodstream.analyzer")
SERVICE = "analyzer"
RAW_TOPIC = raw_topic.get_topic_name()
SCORED_TOPIC = scored_topic.get_topic_name()

_plan = settings.call_plan()
_executor = ThreadPoolExecutor(max_workers=_plan.calls, thread_name_prefix="model")
_model: SentimentModel | None = None
_model_error: str | None = None
_load_attempts = 0


def loaded_model() -> SentimentModel | None:
    """The model if it has finished loading, else ``None``."""
    return _model


def model_error() -> str | None:
    """Why the model directory cannot be served right now (path and fix), else ``None``."""
    return _model_error


def load_attempts() -> int:
    """How often loading the model has been tried since the worker started."""
    return _load_attempts


async def model() -> SentimentModel:
    """The loaded model (loaded once, off the event loop).

    While the directory cannot be served (missing, partial, corrupt) this waits and
    tries again every ``model_retry_seconds``: the service stays up, ``/readyz`` says
    why, nothing is consumed, and the error is logged once, not once per try. A fixed
    directory (``make model``) is picked up without a restart.
    """
    global _model, _model_error, _load_attempts
    loop = asyncio.get_running_loop()
    load = functools.partial(
        load_model,
        settings.model_path,
        backend=settings.backend,
        threads=_plan.threads,
        mini_batch_size=settings.batch_size,
        token_budget=settings.token_budget,
    )
    while _model is None:
        _load_attempts += 1
        try:
            loaded = await loop.run_in_executor(_executor, load)
        except ModelUnavailable as exc:
            if str(exc) != _model_error:
                log.error("model unavailable, not scoring until it is fixed: %s", exc)
            _model_error = str(exc)
            await asyncio.sleep(settings.model_retry_seconds)
            continue
        _model, _model_error = loaded, None
        log.info("model %s %s loaded (%s backend)", loaded.name, loaded.version, settings.backend)
    return _model


@app.task  # type: ignore[untyped-decorator]  # Faust leaves its decorators untyped
async def score_raw() -> None:
    """Score ``raw`` in batches into ``scored`` until stopped (once the model is loaded)."""
    sentiment_model = await model()
    await raw_topic.maybe_declare()
    await InputBatches(
        settings.broker,
        RAW_TOPIC,
        group=settings.broker.input_group(SERVICE),
        carry_from=settings.broker.app_id(SERVICE),
        prepare=functools.partial(start_scoring, sentiment_model),
        publish=publish_scored,
        max_records=settings.stream_batch_size,
        wait_seconds=settings.batch_within_seconds,
    ).run()


@dataclass
class Scoring:
    """One batch on its way: its model calls queued, nothing sent yet."""

    records: int
    chunks: list[list[RawMessage]]
    calls: list[asyncio.Future[tuple[list[ScoredMessage], float]]]
    parents: list[Context]
    rejected: list[DeadLetter]


async def start_scoring(sentiment_model: SentimentModel, records: Batch) -> Scoring:
    """Decode one fetched batch and queue its model calls of ``batch_size``.

    All of a batch's calls go on the model threads at once, so each starts the moment
    a thread is free, and the reader fetches and queues the next batch while this one
    is published. A record that is no :class:`RawMessage` is kept for dead letters.
    """
    messages: list[RawMessage] = []
    parents: list[Context] = []
    rejected: list[DeadLetter] = []
    for record in records:
        try:
            message = RawMessage.loads(record.value or b"")
            if not isinstance(message, RawMessage):
                raise TypeError(f"a {type(message).__name__}, not a RawMessage")
        except Exception as exc:  # noqa: BLE001  any bytes may be on a topic
            rejected.append(_undecodable(record, exc))
            continue
        messages.append(message)
        parents.append(extract_context(record.headers))
    loop = asyncio.get_running_loop()
    chunks = [
        messages[start : start + settings.batch_size]
        for start in range(0, len(messages), settings.batch_size)
    ]
    calls = [
        loop.run_in_executor(_executor, _timed_score, sentiment_model, chunk) for chunk in chunks
    ]
    return Scoring(len(records), chunks, calls, parents, rejected)


async def publish_scored(batch: Scoring) -> None:
    """Send a batch's scored records to ``scored`` as its calls finish, in order, and its
    undecodable records to dead letters; returns once the broker has all of them.

    Each call's records are sent as soon as it and every call before it are done, so
    their broker round trips overlap the next calls (:class:`OrderedPublisher`).
    """
    publisher: OrderedPublisher[tuple[ScoredMessage, dict[str, bytes]]] = OrderedPublisher(
        lambda item: send_direct(app, scored_topic, item[0].id, item[0], item[1])
    )
    with tracer().start_as_current_span(
        "moodstream.analyzer.batch", links=batch_links(batch.parents)
    ) as span:
        span.set_attribute("moodstream.batch_size", batch.records)
        MESSAGES_IN.labels(SERVICE, RAW_TOPIC).inc(batch.records)
        offset = 0
        for chunk, call in zip(batch.chunks, batch.calls, strict=True):
            scored, seconds = await call
            BATCH_SIZE.labels(SERVICE).observe(len(chunk))
            MODEL_LATENCY.labels(SERVICE).observe(seconds)
            parents, offset = batch.parents[offset : offset + len(chunk)], offset + len(chunk)
            await publisher.send(_with_score_spans(parents, scored))
    if batch.rejected:
        await publish_in_order(lambda letter: dead_letter_topic.send(value=letter), batch.rejected)
        DEAD_LETTERS.labels(SERVICE, "undecodable_raw_record").inc(len(batch.rejected))
        log.warning("%d records on %s are no raw messages; sent to dead letters",
                    len(batch.rejected), RAW_TOPIC)
    # Every record on the broker before the batch's offsets can be committed.
    await publisher.settle()
    MESSAGES_OUT.labels(SERVICE, SCORED_TOPIC).inc(batch.records - len(batch.rejected))


def _undecodable(record: Any, error: Exception) -> DeadLetter:
    """A dead letter for a ``raw`` record that does not decode, with its exact bytes."""
    value = record.value or b""
    return DeadLetter(
        reason="undecodable_raw_record",
        detail=f"{RAW_TOPIC} partition {record.partition} offset {record.offset}: "
        f"{type(error).__name__}: {error}"[:500],
        source=f"topic:{RAW_TOPIC}",
        service=SERVICE,
        received_at=time.time(),
        original_b64=base64.b64encode(value).decode("ascii"),
        original_preview=value[:2000].decode("utf-8", "replace")[:500],
        message_id=record.key.decode("utf-8", "replace") if record.key else None,
    )


def _timed_score(
    sentiment_model: SentimentModel, messages: Sequence[RawMessage]
) -> tuple[list[ScoredMessage], float]:
    """Score the messages (on a model thread); also how long the call took."""
    started = time.perf_counter()
    scored = score_batch(sentiment_model, messages)
    return scored, time.perf_counter() - started


def _with_score_spans(
    parents: Sequence[Context], scored: Sequence[ScoredMessage]
) -> list[tuple[ScoredMessage, dict[str, bytes]]]:
    """Each scored record with headers carrying its own span, a child of its raw record's."""
    return [
        (
            record,
            child_span_headers(
                "moodstream.analyzer.score",
                parent,
                {"moodstream.message_id": record.id, "moodstream.label": record.label or ""},
            ),
        )
        for parent, record in zip(parents, scored, strict=True)
    ]
