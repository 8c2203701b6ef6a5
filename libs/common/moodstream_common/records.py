"""Records carried on Moodstream topics: the contracts between services.

Rules for changing them: only add fields with defaults; a breaking change gets a
new namespace version and a new topic. Times are float epoch seconds (UTC) so that
every consumer, Python or not, reads them without a date parser.
"""

from __future__ import annotations

import faust

EVENT_UPDATE = "update"
EVENT_DELETE = "delete"
EVENT_TYPES = (EVENT_UPDATE, EVENT_DELETE)

LABEL_POSITIVE = "positive"
LABEL_NEUTRAL = "neutral"
LABEL_NEGATIVE = "negative"
LABELS = (LABEL_POSITIVE, LABEL_NEUTRAL, LABEL_NEGATIVE)
# Counted, but not under a sentiment label: the analyzer gave it no label (``unscored_reason``).
UNSCORED = "unscored"
UNSCORED_UNSUPPORTED_LANGUAGE = "unsupported_language"

LANGUAGE_UNDETERMINED = "und"  # ISO 639-2's code for "undetermined"


class RawMessage(faust.Record, namespace="moodstream.raw.v1", serializer="json"):
    """A validated, normalized event on the ``raw`` topic, keyed by ``id``.

    ``event_time`` is the message's own timestamp; when the sender gave none it is
    the arrival time and ``event_time_source`` says ``"arrival"``.
    """

    id: str
    type: str  # EVENT_UPDATE or EVENT_DELETE
    event_time: float
    received_at: float
    text: str | None = None
    user_id: str | None = None
    event_time_source: str = "message"  # "message" | "arrival"
    source: str = "http"  # "http", "topic:<name>", ...
    hashtags: list[str] = []  # hashtags the source already tagged (tweet entities)
    language: str = LANGUAGE_UNDETERMINED  # ISO 639-1 code, or "und"
    language_confidence: float = 0.0  # the detector's confidence in ``language``, 0..1


class ScoredMessage(faust.Record, namespace="moodstream.scored.v1", serializer="json"):
    """A raw event plus the analyzer's output, on the ``scored`` topic, keyed by ``id``.

    For a delete there is nothing to score: ``label`` is ``None``. An update the model
    cannot read (its ``language`` is not one the model was trained and evaluated on) is
    not scored either: ``label`` is ``None`` and ``unscored_reason`` says why
    (:data:`UNSCORED_UNSUPPORTED_LANGUAGE`); it is still counted, as unscored.
    ``score`` is the sentiment polarity in [-1, 1] (P(positive) - P(negative));
    ``confidence`` is the probability of ``label``.
    """

    id: str
    type: str
    event_time: float
    received_at: float
    text: str | None = None
    user_id: str | None = None
    event_time_source: str = "message"
    source: str = "http"
    label: str | None = None
    score: float = 0.0
    confidence: float = 0.0
    hashtags: list[str] = []
    mentions: list[str] = []
    model_name: str = ""
    model_version: str = ""
    scored_at: float = 0.0
    language: str = LANGUAGE_UNDETERMINED
    language_confidence: float = 0.0
    unscored_reason: str | None = None


# What ``AggregateUpdate.kind`` can be: the aggregator's published row kinds
# (moodstream_aggregator.kinds; a test keeps the two equal).
AGGREGATE_KINDS = (
    "total", "second", "minute", "user", "hashtag", "hashtag_minute", "hashtag_series",
    "language",
)


class AggregateUpdate(faust.Record, namespace="moodstream.aggregate.v1", serializer="json"):
    """A snapshot of one aggregate after it changed, on the ``aggregates`` topic.

    ``kind`` is one of :data:`AGGREGATE_KINDS`, ``key`` the row within it (``all``, a
    window start in epoch seconds, a user id or a hashtag); the record's key is
    ``kind|key``. ``value`` is the row summed over every worker: label counts, total and
    mean score, or ``{"top": [{"hashtag", "count"}...]}`` for ``hashtag_minute``.
    """

    kind: str
    key: str
    value: dict[str, object]
    window_start: float | None = None
    updated_at: float = 0.0


ALERT_FIRING = "firing"
ALERT_RESOLVED = "resolved"


class Alert(faust.Record, namespace="moodstream.alert.v1", serializer="json"):
    """An alert episode starting (``firing``) or ending (``resolved``), on the ``alerts``
    topic, keyed by ``id``.

    ``id`` is ``<rule>#<episode number>``: the firing and the resolving record of one
    episode share it, and no other episode has it, so a receiver that keeps the latest
    record per ``(id, state)`` sees each transition once. ``started_at``/``ended_at``
    are event times (the newest the aggregator had seen); ``value`` and ``messages`` are
    what the rule saw over its window at this transition.
    """

    id: str
    rule: str
    state: str  # ALERT_FIRING or ALERT_RESOLVED
    scope: str  # "all" or "#<hashtag>"
    metric: str
    comparison: str  # "above" or "below"
    threshold: float
    window_minutes: int
    min_messages: int
    value: float
    messages: int
    started_at: float
    ended_at: float | None = None
    updated_at: float = 0.0


class AlertCheck(faust.Record, namespace="moodstream.alertcheck.v1", serializer="json"):
    """Aggregator-internal, on ``alert-checks``: aggregates changed, evaluate the rules."""

    at: float


class DeadLetter(faust.Record, namespace="moodstream.deadletter.v1", serializer="json"):
    """Input that could not be accepted, with the reason and the original bytes.

    ``original_b64`` holds the exact bytes received (base64) so a fixed consumer can
    replay them; ``original_preview`` is a lossy UTF-8 preview for people.
    """

    reason: str  # machine-readable code, e.g. "malformed_json"
    detail: str
    source: str  # "http", "topic:events", "service:analyzer", ...
    service: str
    received_at: float
    original_b64: str = ""
    original_preview: str = ""
    message_id: str | None = None
