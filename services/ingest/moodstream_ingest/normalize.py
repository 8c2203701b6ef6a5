"""Validate and normalize one input into a :class:`RawMessage`, or reject it with a reason.

Pure functions (no Faust, no I/O but the language model read once by
:mod:`moodstream_ingest.language`), shared by every door (HTTP, the input topic, AMQP).
Accepted shapes: the update/delete contract, tweets (API v1.1, v1.1 status-deletion
notices and v2) and a bare ``{"text": ...}``. Every rejection is a
:class:`Rejected` with a machine-readable ``reason``; nothing else may escape,
whatever the input.

Rules where the contract is silent:

- Body: at most ``max_body_bytes``; strict UTF-8 (a leading UTF-8 BOM is dropped);
  strict JSON (``NaN``/``Infinity``, comments, trailing commas, unescaped control
  characters inside strings are malformed); nesting deeper than ``max_depth``
  is refused before the parser runs. Duplicate keys: the last one wins, as in
  JavaScript, Python and Go.
- Shape: an object with ``type``, ``user_id`` or ``timestamp`` is the contract (tweets
  have none of these keys); else, without ``id`` and ``text``, ``data`` makes it a v2
  tweet and ``delete`` a v1.1 deletion notice; else ``id_str``, ``full_text``,
  ``extended_tweet``, ``user``, ``created_at``, ``entities`` or ``timestamp_ms`` make
  it a v1.1 tweet; anything else is the contract. Unknown fields are ignored. Tweet
  text: ``extended_tweet.full_text`` > ``full_text`` > ``text`` (v2:
  ``note_tweet.text`` > ``text``), the first that is not blank.
- ``type``: ``"update"`` or ``"delete"`` exactly (case-sensitive); missing or null
  means update. An id is generated (``msg_`` + uuid4 hex) only for input with neither
  ``id`` nor ``type``, i.e. the bare-text shape.
- Ids (``id``, ``user_id``): a string, or an integer converted with ``str()``
  (booleans and floats are refused: a float cannot hold a tweet id exactly). Kept
  verbatim, not stripped; empty or whitespace-only counts as missing; at most
  ``max_id_chars``; control characters (C0, DEL, C1) are refused (``bad_id``) because
  ids end up in URLs, logs and table keys.
- Text: an update needs text; whitespace-only text (``str.strip``) counts as missing.
  It is kept verbatim otherwise: control characters, NULs (escaped as ``\\u0000``),
  bidi overrides and any odd Unicode stay. Lone surrogates (only reachable through
  ``\\ud800``-style escapes) cannot be encoded as UTF-8 and become U+FFFD (a split
  high+low pair is joined into its character). Length is counted in code points. A
  delete carries no text: its ``text`` is ignored, not validated, so a broken
  optional field never blocks a deletion.
- Timestamps: ISO-8601 (anything ``datetime.fromisoformat`` reads; naive = UTC,
  ``Z`` allowed), Twitter's ``Wed Oct 10 20:19:24 +0000 2018``, or epoch numbers
  (JSON numbers or ``[0-9]+(.[0-9]+)?`` strings) whose unit is read from the
  magnitude: below 1e11 seconds, below 1e14 milliseconds, below 1e17 microseconds,
  else nanoseconds (1e11 s is the year 5138; milliseconds before 1973-03-03 are
  therefore misread as seconds and land in the future). Missing, null or empty means
  the arrival time with ``event_time_source="arrival"``. Rejected: booleans,
  non-finite numbers, unparseable text, and times at or before the epoch (0 is the
  usual "unset" default) or more than ``max_future_seconds`` after arrival. Any
  other past time is kept: late data is counted downstream, not dropped here.
- Hashtags come only from tweet entities (v1.1 ``text``, v2 ``tag``): case-folded,
  leading ``#`` dropped, deduplicated in order, at most 100; malformed entities are
  ignored (they are enrichment, the analyzer extracts tags from the text as well).
- Language: an update's text gets ``language`` (ISO 639-1, or ``und``) and
  ``language_confidence`` by :func:`moodstream_ingest.language.detect`, which never
  rejects anything; a delete is ``und``.
"""

from __future__ import annotations

import base64
import json
import math
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from itertools import accumulate
from typing import Any

from moodstream_common.records import (
    EVENT_DELETE,
    EVENT_TYPES,
    EVENT_UPDATE,
    DeadLetter,
    RawMessage,
)
from moodstream_ingest.language import UNKNOWN, detect

# Epoch numbers: the first bound a value stays below names its unit (see module docs).
_EPOCH_UNITS = ((1e11, 1.0), (1e14, 1e3), (1e17, 1e6), (math.inf, 1e9))
_NUMERIC = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_TWITTER_TIME = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?P<month>[A-Z][a-z]{2}) (?P<day>[0-9]{2}) "
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2}) "
    r"(?P<sign>[+-])(?P<oh>[0-9]{2})(?P<om>[0-9]{2}) (?P<year>[0-9]{4})"
)
# Month names by hand: strptime's %b follows the process locale.
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}
_ID_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# For the nesting pre-scan, on bytes (UTF-8 never puts ASCII bytes inside a multi-byte
# character): escape pairs first, then the (now escape-free) string literals. Neither
# pattern backtracks, so the scan stays linear on any input.
_JSON_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_JSON_STRING = re.compile(rb'"[^"]*"')
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))
_BRACKET_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_MAX_HASHTAGS = 100
_MAX_HASHTAG_CHARS = 280
_PREVIEW_CHARS = 500
# 512 KiB of original is ~700 KB of base64: a dead letter stays under Kafka's 1 MiB.
MAX_DEAD_LETTER_ORIGINAL_BYTES = 512 * 1024
_DETAIL_CHARS = 64

_CONTRACT_KEYS = ("type", "user_id", "timestamp")
_TWEET_V1_KEYS = (
    "id_str",
    "full_text",
    "extended_tweet",
    "user",
    "created_at",
    "entities",
    "timestamp_ms",
)


class Rejected(Exception):
    """Input that cannot be accepted.

    ``reason`` is a stable machine-readable code (``malformed_json``, ``wrong_type``,
    ...), ``detail`` a sentence for people naming the field. ``message_id`` is the
    input's id when it was read before the problem was found (for dead letters).
    """

    def __init__(self, reason: str, detail: str, *, message_id: str | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.message_id = message_id


@dataclass(frozen=True)
class Limits:
    """Configurable bounds on input."""

    max_body_bytes: int = 1_000_000
    max_text_chars: int = 10_000
    max_id_chars: int = 256
    max_depth: int = 32
    max_future_seconds: float = 86_400.0
    detect_language: bool = True  # off: every message is "und", and scored as before


def decode_json(body: bytes, *, max_bytes: int, max_depth: int = 32) -> object:
    """Parse a JSON body; :class:`Rejected` for oversize, bad UTF-8, bad JSON, deep nesting.

    The nesting depth is measured before the parser runs, so no input can exhaust
    the parser's recursion; ``RecursionError`` is still caught as a second guard.
    """
    if len(body) > max_bytes:
        raise Rejected("body_too_large", f"body is {len(body)} bytes; the limit is {max_bytes}")
    try:
        text = bytes(body).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejected("invalid_utf8", f"byte {exc.start} is not valid UTF-8") from None
    if text.startswith("\ufeff"):
        text = text[1:]  # a BOM some Windows clients prepend; not part of the JSON text
    if _nesting_exceeds(bytes(body), max_depth):
        raise Rejected("too_deeply_nested", f"JSON nesting is deeper than {max_depth}")
    try:
        return _DECODER.decode(text)
    except Rejected:
        raise
    except RecursionError:  # only reachable with a max_depth above the recursion limit
        raise Rejected("too_deeply_nested", "JSON nesting exceeds the parser's limit") from None
    except ValueError as exc:
        raise Rejected("malformed_json", str(exc)[:200]) from None


def _reject_constant(name: str) -> float:
    raise Rejected("malformed_json", f"{name} is not valid JSON")


# One decoder for every body: json.loads with any option builds a new decoder per call,
# a third of the parse time of a one-message body.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _nesting_exceeds(data: bytes, max_depth: int) -> bool:
    """Whether brackets outside string literals nest deeper than ``max_depth``.

    Conservative on malformed input (an unterminated string's brackets count), which
    only matters for text the parser refuses anyway.
    """
    if data.count(b"[") + data.count(b"{") <= max_depth:
        return False  # cannot be deeper than the number of opening brackets
    stripped = _JSON_STRING.sub(b"", _JSON_ESCAPE.sub(b"", data))
    # Opening brackets as +1, closing as -1 (signed bytes); the deepest running sum is
    # the nesting depth. All in C: about 20 ms for a megabyte of brackets.
    steps = stripped.translate(_BRACKET_STEPS, _NOT_BRACKETS)
    return max(accumulate(memoryview(steps).cast("b")), default=0) > max_depth


def normalize(obj: object, *, received_at: float, source: str, limits: Limits) -> RawMessage:
    """One accepted input as a ``raw`` record; raises :class:`Rejected` otherwise."""
    if not isinstance(obj, dict):
        raise Rejected("not_an_object", f"expected a JSON object, got {_kind(obj)}")
    if any(key in obj for key in _CONTRACT_KEYS):
        fields = _from_contract(obj)
    elif "data" in obj and "id" not in obj and "text" not in obj:
        fields = _from_tweet_v2(obj["data"])
    elif "delete" in obj and "id" not in obj and "text" not in obj:
        fields = _from_tweet_delete(obj)
    elif any(key in obj for key in _TWEET_V1_KEYS):
        fields = _from_tweet_v1(obj)
    else:
        fields = _from_contract(obj)
    return _build(fields, received_at=received_at, source=source, limits=limits)


def _from_contract(obj: dict[str, Any]) -> dict[str, Any]:
    fields = {key: obj.get(key) for key in ("id", "type", "text", "user_id", "timestamp")}
    fields["generate_id"] = "id" not in obj and "type" not in obj
    fields["hashtags"] = []
    return fields


def _from_tweet_v1(obj: dict[str, Any]) -> dict[str, Any]:
    extended = _optional_object(obj, "extended_tweet")
    user = _optional_object(obj, "user")
    entities = obj.get("entities")
    if isinstance(extended.get("entities"), dict):
        entities = extended["entities"]
    return {
        "id": _first_present(obj.get("id_str"), obj.get("id")),
        "type": EVENT_UPDATE,
        "text": _first_text(extended.get("full_text"), obj.get("full_text"), obj.get("text")),
        "user_id": _first_present(user.get("id_str"), user.get("id")),
        "timestamp": _first_present(obj.get("created_at"), obj.get("timestamp_ms")),
        "generate_id": False,
        "hashtags": _entity_hashtags(entities, key="text"),
    }


def _from_tweet_delete(obj: dict[str, Any]) -> dict[str, Any]:
    notice = _optional_object(obj, "delete")
    status = _optional_object(notice, "status")
    return {
        "id": _first_present(status.get("id_str"), status.get("id")),
        "type": EVENT_DELETE,
        "text": None,
        "user_id": _first_present(status.get("user_id_str"), status.get("user_id")),
        "timestamp": _first_present(notice.get("timestamp_ms"), obj.get("timestamp_ms")),
        "generate_id": False,
        "hashtags": [],
    }


def _from_tweet_v2(data: object) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise Rejected("wrong_type", f"data must be one tweet object, got {_kind(data)}")
    note = _optional_object(data, "note_tweet")  # the full text of a long post
    return {
        "id": data.get("id"),
        "type": EVENT_UPDATE,
        "text": _first_text(note.get("text"), data.get("text")),
        "user_id": data.get("author_id"),
        "timestamp": data.get("created_at"),
        "generate_id": False,
        "hashtags": _entity_hashtags(data.get("entities"), key="tag"),
    }


def _optional_object(container: dict[str, Any], key: str) -> dict[str, Any]:
    """``container[key]`` when it is an object, ``{}`` when absent or null."""
    value = container.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Rejected("wrong_type", f"{key} must be an object, got {_kind(value)}")
    return value


def _first_present(*values: object) -> object:
    return next((value for value in values if value is not None), None)


def _first_text(*values: object) -> object:
    """The first candidate that is a non-blank string, else the first present one."""
    for value in values:
        if isinstance(value, str) and value.strip():
            return value
    return _first_present(*values)


def _entity_hashtags(entities: object, *, key: str) -> list[str]:
    if not isinstance(entities, dict) or not isinstance(entities.get("hashtags"), list):
        return []
    tags: list[str] = []
    for item in entities["hashtags"]:
        raw = item.get(key) if isinstance(item, dict) else None
        if not isinstance(raw, str):
            continue
        tag = _clean_str(raw.strip().removeprefix("#")).casefold()
        if tag and len(tag) <= _MAX_HASHTAG_CHARS and tag not in tags:
            tags.append(tag)
            if len(tags) == _MAX_HASHTAGS:
                break
    return tags


def _build(
    fields: dict[str, Any], *, received_at: float, source: str, limits: Limits
) -> RawMessage:
    event_type = fields["type"] if fields["type"] is not None else EVENT_UPDATE
    if not isinstance(event_type, str):
        raise Rejected("wrong_type", f"type must be a string, got {_kind(event_type)}")
    if event_type not in EVENT_TYPES:
        raise Rejected(
            "unknown_type", f"type {_show(event_type)} is not one of {list(EVENT_TYPES)}"
        )
    given_id = None if fields["generate_id"] else _identifier(fields["id"], "id", limits)
    if given_id is None and not fields["generate_id"]:
        raise Rejected("missing_id", "id is missing or empty")
    message_id = given_id or f"msg_{uuid.uuid4().hex}"
    try:
        user_id = _identifier(fields["user_id"], "user_id", limits)
        text = None
        if event_type == EVENT_UPDATE:
            text = _text(fields["text"], limits)
        event_time = parse_timestamp(fields["timestamp"], received_at=received_at, limits=limits)
    except Rejected as rejected:
        rejected.message_id = message_id
        raise
    detected = detect(text) if text is not None and limits.detect_language else UNKNOWN
    return RawMessage(
        id=message_id,
        type=event_type,
        text=text,
        user_id=user_id,
        event_time=event_time if event_time is not None else received_at,
        event_time_source="message" if event_time is not None else "arrival",
        received_at=received_at,
        source=source,
        hashtags=fields["hashtags"] if event_type == EVENT_UPDATE else [],
        language=detected.language,
        language_confidence=detected.confidence,
    )


def _identifier(value: object, name: str, limits: Limits) -> str | None:
    """An id as a string; ``None`` when absent, null, empty or whitespace-only."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Rejected("wrong_type", f"{name} must be a string or an integer, got {_kind(value)}")
    text = _clean_str(value) if isinstance(value, str) else str(value)
    if not text.strip():
        return None
    if len(text) > limits.max_id_chars:
        raise Rejected(
            "id_too_long", f"{name} has {len(text)} characters; the limit is {limits.max_id_chars}"
        )
    if _ID_CONTROL.search(text):
        raise Rejected("bad_id", f"{name} contains control characters")
    return text


def _text(value: object, limits: Limits) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise Rejected("missing_text", "an update needs a non-blank text")
    if not isinstance(value, str):
        raise Rejected("wrong_type", f"text must be a string, got {_kind(value)}")
    if len(value) > limits.max_text_chars:
        raise Rejected(
            "text_too_long",
            f"text has {len(value)} characters; the limit is {limits.max_text_chars}",
        )
    return _clean_str(value)


def _clean_str(value: str) -> str:
    """``value`` with lone surrogates replaced by U+FFFD, so it encodes as UTF-8.

    A high surrogate directly followed by a low one is joined into the character
    the pair encodes.
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return value


def parse_timestamp(value: object, *, received_at: float, limits: Limits) -> float | None:
    """Epoch seconds (UTC) of ``value``; ``None`` when absent; :class:`Rejected` if invalid.

    The accepted forms and the plausibility window are in the module docs.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise Rejected("bad_timestamp", "timestamp must not be a boolean")
    if isinstance(value, str) and _NUMERIC.fullmatch(value.strip()):
        value = float(value)
    if isinstance(value, int | float):
        seconds = _epoch_seconds(value)
    elif isinstance(value, str):
        seconds = _parse_text_time(value.strip())
    else:
        raise Rejected("bad_timestamp", f"timestamp must be a string or number, got {_kind(value)}")
    if seconds <= 0:
        raise Rejected("bad_timestamp", "timestamp is not after 1970-01-01T00:00:00Z")
    if seconds > received_at + limits.max_future_seconds:
        raise Rejected(
            "bad_timestamp",
            f"timestamp is more than {limits.max_future_seconds:.0f}s after arrival",
        )
    return seconds


def _epoch_seconds(number: int | float) -> float:
    try:
        value = float(number)
    except OverflowError:  # an integer beyond float range
        raise Rejected("bad_timestamp", "timestamp is out of range") from None
    if not math.isfinite(value):
        raise Rejected("bad_timestamp", "timestamp is not a finite number")
    for bound, per_second in _EPOCH_UNITS:
        if abs(value) < bound:
            return value / per_second
    raise AssertionError("unreachable: the last bound is infinite")


def _parse_text_time(text: str) -> float:
    parsed = _twitter_time(text) or _iso_time(text)
    if parsed is None:
        raise Rejected("bad_timestamp", f"cannot parse timestamp {_show(text)}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.timestamp()
    except (ValueError, OverflowError):
        raise Rejected("bad_timestamp", f"timestamp {_show(text)} is out of range") from None


def _iso_time(text: str) -> datetime | None:
    if text[-1:] == "z":
        text = text[:-1] + "Z"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _twitter_time(text: str) -> datetime | None:
    match = _TWITTER_TIME.fullmatch(text)
    if match is None or match["month"] not in _MONTHS:
        return None
    offset = timedelta(hours=int(match["oh"]), minutes=int(match["om"]))
    try:
        zone = timezone(-offset if match["sign"] == "-" else offset)
        return datetime(
            int(match["year"]),
            _MONTHS[match["month"]],
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"]),
            tzinfo=zone,
        )
    except ValueError:
        return None


def _kind(value: object) -> str:
    """JSON name of ``value``'s type, for error details."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    return type(value).__name__


def _show(text: str) -> str:
    """A short, escaped rendering of untrusted text for a detail message."""
    shown = repr(text[:_DETAIL_CHARS])
    return shown + "..." if len(text) > _DETAIL_CHARS else shown


def dead_letter(
    body: bytes,
    rejected: Rejected,
    *,
    source: str,
    service: str,
    received_at: float,
    message_id: str | None = None,
    max_original_bytes: int = MAX_DEAD_LETTER_ORIGINAL_BYTES,
) -> DeadLetter:
    """A dead-letter record keeping the original bytes (base64) and the reason.

    The bytes are exact up to ``max_original_bytes``; a longer body keeps only its
    head and ``detail`` says so, because base64 grows the body by a third and the
    record must still fit in one Kafka message (1 MiB by default) or the dead letter
    itself could not be sent. ``message_id`` defaults to the id the rejection found,
    if any. The preview is the first ~500 characters decoded leniently (invalid
    bytes become U+FFFD).
    """
    preview = bytes(body[: _PREVIEW_CHARS * 4]).decode("utf-8", "replace")
    if len(preview) > _PREVIEW_CHARS:
        preview = preview[:_PREVIEW_CHARS] + "…"
    detail = rejected.detail
    if len(body) > max_original_bytes:
        detail += f" [original truncated: first {max_original_bytes} of {len(body)} bytes kept]"
        body = body[:max_original_bytes]
    return DeadLetter(
        reason=rejected.reason,
        detail=detail,
        source=source,
        service=service,
        received_at=received_at,
        original_b64=base64.b64encode(body).decode("ascii"),
        original_preview=preview,
        message_id=message_id if message_id is not None else rejected.message_id,
    )
