"""Validate and normalize one input into a :class:`RawMessage`, or reject it with a reason.

Pure functions (no Faust, no I/O), shared by both doors (HTTP and the input topic).
Accepted shapes: the update/delete contract, tweets (API v1.1 and v2) and a bare
``{"text": ...}``. Every rejection is a :class:`Rejected` with a machine-readable
``reason``; nothing else may escape, whatever the input.

Rules where the contract is silent:
- ``type`` defaults to ``update``; ids may be strings or integers (not booleans or
  floats), at most ``max_id_chars``; an id is generated only for input with neither
  ``id`` nor ``type`` (the bare-text shape).
- Whitespace-only text counts as missing. Control characters, NULs and odd Unicode are
  kept; lone surrogates (not encodable as UTF-8) become U+FFFD.
- Timestamps: ISO-8601 (naive = UTC, ``Z`` allowed), Twitter's ``created_at`` format,
  epoch seconds or milliseconds as numbers or numeric strings (values above 1e11 are
  milliseconds). Before 1970 or more than ``max_future_seconds`` after arrival is
  rejected; any past time is kept (late data is counted downstream).
- Duplicate JSON keys: the last one wins (as in every mainstream JSON parser).
"""

from __future__ import annotations

import base64
import json
import math
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from moodstream_common.records import (
    EVENT_DELETE,
    EVENT_TYPES,
    EVENT_UPDATE,
    DeadLetter,
    RawMessage,
)

TWITTER_TIME = "%a %b %d %H:%M:%S %z %Y"
_NUMERIC = re.compile(r"^\s*-?\d+(\.\d+)?\s*$")
MILLIS_THRESHOLD = 1e11  # 1e11 s is year 5138; 1e11 ms is 1973


class Rejected(Exception):
    """Input that cannot be accepted; ``reason`` is a stable code, ``detail`` for people."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Limits:
    """Configurable bounds on input."""

    max_body_bytes: int = 1_000_000
    max_text_chars: int = 10_000
    max_id_chars: int = 256
    max_depth: int = 32
    max_future_seconds: float = 86_400.0


def decode_json(body: bytes, *, max_bytes: int, max_depth: int = 32) -> object:
    """Parse a JSON body, rejecting oversize, invalid UTF-8, bad JSON and deep nesting."""
    if len(body) > max_bytes:
        raise Rejected("body_too_large", f"body is {len(body)} bytes; the limit is {max_bytes}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejected("invalid_utf8", f"byte {exc.start} is not valid UTF-8") from None
    depth = _max_depth(text)
    if depth > max_depth:
        raise Rejected("too_deeply_nested", f"nesting depth {depth} exceeds {max_depth}")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except Rejected:
        raise
    except (ValueError, RecursionError) as exc:
        raise Rejected("malformed_json", str(exc)[:200]) from None


def _reject_constant(name: str) -> float:
    raise Rejected("malformed_json", f"{name} is not valid JSON")


def _max_depth(text: str) -> int:
    """Deepest bracket nesting outside strings (checked before parsing, so the parser's
    recursion can never be exhausted)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def normalize(obj: object, *, received_at: float, source: str, limits: Limits) -> RawMessage:
    """One accepted input as a ``raw`` record; raises :class:`Rejected` otherwise."""
    if not isinstance(obj, dict):
        raise Rejected("not_an_object", f"expected a JSON object, got {_kind(obj)}")
    if isinstance(obj.get("data"), dict) and "text" in obj["data"]:
        fields = _from_tweet_v2(obj["data"])
    elif _looks_like_tweet_v1(obj):
        fields = _from_tweet_v1(obj)
    else:
        fields = _from_contract(obj)
    return _build(fields, received_at=received_at, source=source, limits=limits)


def _looks_like_tweet_v1(obj: dict[str, Any]) -> bool:
    return (
        "id_str" in obj
        or "full_text" in obj
        or "extended_tweet" in obj
        or isinstance(obj.get("user"), dict)
    )


def _from_contract(obj: dict[str, Any]) -> dict[str, Any]:
    fields = {key: obj.get(key) for key in ("id", "type", "text", "user_id", "timestamp")}
    fields["generate_id"] = "id" not in obj and "type" not in obj
    fields["hashtags"] = []
    return fields


def _from_tweet_v1(obj: dict[str, Any]) -> dict[str, Any]:
    extended = obj.get("extended_tweet")
    text = obj.get("full_text") or obj.get("text")
    if isinstance(extended, dict) and extended.get("full_text"):
        text = extended["full_text"]
    user = obj.get("user")
    entities = obj.get("entities")
    if isinstance(extended, dict) and isinstance(extended.get("entities"), dict):
        entities = extended["entities"]
    return {
        "id": obj.get("id_str", obj.get("id")),
        "type": EVENT_UPDATE,
        "text": text,
        "user_id": (user.get("id_str", user.get("id")) if isinstance(user, dict) else None),
        "timestamp": obj.get("created_at"),
        "generate_id": False,
        "hashtags": _entity_hashtags(entities),
    }


def _from_tweet_v2(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": data.get("id"),
        "type": EVENT_UPDATE,
        "text": data.get("text"),
        "user_id": data.get("author_id"),
        "timestamp": data.get("created_at"),
        "generate_id": False,
        "hashtags": _entity_hashtags(data.get("entities"), key="tag"),
    }


def _entity_hashtags(entities: object, key: str = "text") -> list[str]:
    if not isinstance(entities, dict) or not isinstance(entities.get("hashtags"), list):
        return []
    tags = []
    for item in entities["hashtags"]:
        if isinstance(item, dict) and isinstance(item.get(key), str) and item[key].strip():
            tag = _clean_str(item[key]).casefold()
            if tag not in tags:
                tags.append(tag)
    return tags[:100]


def _build(
    fields: dict[str, Any], *, received_at: float, source: str, limits: Limits
) -> RawMessage:
    event_type = fields["type"] if fields["type"] is not None else EVENT_UPDATE
    if not isinstance(event_type, str):
        raise Rejected("wrong_type", f"type must be a string, got {_kind(event_type)}")
    if event_type not in EVENT_TYPES:
        raise Rejected("unknown_type", f"type must be one of {list(EVENT_TYPES)}")
    if fields["generate_id"]:
        message_id = f"msg_{uuid.uuid4().hex}"
    else:
        message_id = _identifier(fields["id"], "id", limits, required=True) or ""
    user_id = _identifier(fields["user_id"], "user_id", limits, required=False)
    text = _text(fields["text"], limits, required=event_type == EVENT_UPDATE)
    if event_type == EVENT_DELETE:
        text = None
    event_time = parse_timestamp(fields["timestamp"], received_at=received_at, limits=limits)
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
    )


def _identifier(value: object, name: str, limits: Limits, *, required: bool) -> str | None:
    if value is None:
        if required:
            raise Rejected(
                f"missing_{name}" if name == "id" else "wrong_type", f"{name} is missing"
            )
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Rejected("wrong_type", f"{name} must be a string or an integer, got {_kind(value)}")
    text = _clean_str(str(value)).strip()
    if not text:
        if required:
            raise Rejected(f"missing_{name}", f"{name} is empty")
        return None
    if len(text) > limits.max_id_chars:
        raise Rejected("wrong_type", f"{name} is longer than {limits.max_id_chars} characters")
    return text


def _text(value: object, limits: Limits, *, required: bool) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise Rejected("missing_text", "an update needs a non-empty text")
        return None
    if not isinstance(value, str):
        raise Rejected("wrong_type", f"text must be a string, got {_kind(value)}")
    if len(value) > limits.max_text_chars:
        raise Rejected(
            "text_too_long",
            f"text has {len(value)} characters; the limit is {limits.max_text_chars}",
        )
    return _clean_str(value)


def _clean_str(value: str) -> str:
    """``value`` with lone surrogates replaced by U+FFFD, so it encodes as UTF-8."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def parse_timestamp(value: object, *, received_at: float, limits: Limits) -> float | None:
    """Epoch seconds (UTC) of ``value``, ``None`` when absent; :class:`Rejected` if invalid."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise Rejected("bad_timestamp", "a boolean is not a timestamp")
    if isinstance(value, str) and _NUMERIC.match(value):
        value = float(value)
    if isinstance(value, int | float):
        seconds = float(value)
        if not math.isfinite(seconds):
            raise Rejected("bad_timestamp", "timestamp is not a finite number")
        if abs(seconds) >= MILLIS_THRESHOLD:
            seconds /= 1000.0
    elif isinstance(value, str):
        seconds = _parse_text_time(value.strip())
    else:
        raise Rejected("bad_timestamp", f"timestamp must be a string or number, got {_kind(value)}")
    if seconds < 0:
        raise Rejected("bad_timestamp", "timestamp is before 1970-01-01")
    if seconds > received_at + limits.max_future_seconds:
        raise Rejected(
            "bad_timestamp",
            f"timestamp is more than {limits.max_future_seconds:.0f}s in the future",
        )
    return seconds


def _parse_text_time(text: str) -> float:
    for parse in (_iso, _twitter):
        try:
            parsed = parse(text)
        except (ValueError, OverflowError):
            continue
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        try:
            return parsed.timestamp()
        except (ValueError, OverflowError):
            break
    raise Rejected("bad_timestamp", f"cannot parse timestamp {text[:64]!r}")


def _iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))


def _twitter(text: str) -> datetime:
    return datetime.strptime(text, TWITTER_TIME)


def _kind(value: object) -> str:
    """JSON name of ``value``'s type, for error details."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    names = {dict: "object", list: "array", str: "string"}
    return names.get(type(value), type(value).__name__)


def dead_letter(
    body: bytes,
    rejected: Rejected,
    *,
    source: str,
    service: str,
    received_at: float,
    message_id: str | None = None,
) -> DeadLetter:
    """A dead-letter record keeping the exact original bytes (base64) and the reason."""
    return DeadLetter(
        reason=rejected.reason,
        detail=rejected.detail,
        source=source,
        service=service,
        received_at=received_at,
        original_b64=base64.b64encode(body).decode("ascii"),
        original_preview=body[:2_000].decode("utf-8", "replace")[:500],
        message_id=message_id,
    )
