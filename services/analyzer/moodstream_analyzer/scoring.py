"""Turn a batch of raw records into scored records (pure, model passed in)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from moodstream_analyzer.model import Prediction, SentimentModel
from moodstream_analyzer.text import clean_for_scoring, extract_hashtags, extract_mentions
from moodstream_common.records import (
    EVENT_UPDATE,
    LABEL_NEUTRAL,
    LANGUAGE_UNDETERMINED,
    UNSCORED_UNSUPPORTED_LANGUAGE,
    RawMessage,
    ScoredMessage,
)


def score_batch(model: SentimentModel, records: Sequence[RawMessage]) -> list[ScoredMessage]:
    """Score every update in ``records`` with one model call; deletes pass through.

    An update in a language the model does not support (:func:`readable`) is not
    scored: it goes out unlabelled, with ``unscored_reason``, and costs no model time.
    Blocking (runs the model): call it from an executor, not the event loop.
    """
    texts: list[str] = []
    positions: list[int] = []
    languages = model.languages
    for position, record in enumerate(records):
        if record.type != EVENT_UPDATE or not readable(record.language, languages):
            continue
        cleaned = clean_for_scoring(record.text or "")
        if cleaned:
            texts.append(cleaned)
            positions.append(position)
    predictions: dict[int, Prediction] = {}
    if texts:
        predictions = dict(zip(positions, model.predict_batch(texts), strict=True))
    scored_at = time.time()
    return [
        _scored(
            record,
            predictions.get(position),
            model,
            scored_at,
            supported=readable(record.language, languages),
        )
        for position, record in enumerate(records)
    ]


def readable(language: str, supported: frozenset[str]) -> bool:
    """Whether the model scores a message in ``language``: one it was trained and
    evaluated on, or ``und``. Undetermined texts (emoji, a word or two, numbers) are
    scored: the model reads emoji and short English, and ``und`` names no language it
    is known not to read."""
    return language == LANGUAGE_UNDETERMINED or language in supported


def _scored(
    record: RawMessage,
    prediction: Prediction | None,
    model: SentimentModel,
    scored_at: float,
    *,
    supported: bool,
) -> ScoredMessage:
    text = record.text or ""
    is_update = record.type == EVENT_UPDATE
    unscored_reason = None
    if is_update and not supported:
        label, score, confidence = None, 0.0, 0.0
        unscored_reason = UNSCORED_UNSUPPORTED_LANGUAGE
    elif is_update and prediction is None:
        # Nothing left to score (only a URL, only whitespace): neutral by definition.
        label, score, confidence = LABEL_NEUTRAL, 0.0, 1.0
    elif prediction is None:
        label, score, confidence = None, 0.0, 0.0
    else:
        label, score, confidence = prediction.label, prediction.score, prediction.confidence
    hashtags = sorted(set(record.hashtags) | set(extract_hashtags(text))) if is_update else []
    return ScoredMessage(
        id=record.id,
        type=record.type,
        event_time=record.event_time,
        received_at=record.received_at,
        text=record.text,
        user_id=record.user_id,
        event_time_source=record.event_time_source,
        source=record.source,
        label=label,
        score=score,
        confidence=confidence,
        hashtags=hashtags,
        mentions=extract_mentions(text) if is_update else [],
        model_name=model.name,
        model_version=model.version,
        scored_at=scored_at,
        language=record.language,
        language_confidence=record.language_confidence,
        unscored_reason=unscored_reason,
    )
