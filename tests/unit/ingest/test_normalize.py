"""Normalization: every accepted shape, every rejection reason, hostile input."""

import json
import math

import pytest

from moodstream_common.records import RawMessage
from moodstream_ingest.normalize import Limits, Rejected, dead_letter, decode_json, normalize
from tests.corpus.hostile import HOSTILE_BODIES, HOSTILE_TEXTS

NOW = 1_763_900_000.0
LIMITS = Limits()


def norm(obj, **kw):
    return normalize(obj, received_at=NOW, source="test", limits=kw.pop("limits", LIMITS))


def reason(obj):
    with pytest.raises(Rejected) as caught:
        norm(obj)
    return caught.value.reason


def test_contract_update_with_naive_iso_time_is_utc():
    msg = norm({"id": "msg_158", "user_id": "u_2301322", "text": "hi",
                "timestamp": "2025-07-06T13:35:15.598473", "type": "update"})
    assert (msg.id, msg.type, msg.user_id, msg.text) == ("msg_158", "update", "u_2301322", "hi")
    assert math.isclose(msg.event_time, 1751808915.598473)
    assert msg.event_time_source == "message"


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2025-07-06T13:35:15Z", 1751808915.0),
        ("2025-07-06T15:35:15+02:00", 1751808915.0),
        ("2025-07-06 13:35:15", 1751808915.0),
        (1751808915, 1751808915.0),
        (1751808915.5, 1751808915.5),
        (1751808915500, 1751808915.5),
        ("1751808915", 1751808915.0),
        ("1751808915500", 1751808915.5),
        ("Sun Jul 06 13:35:15 +0000 2025", 1751808915.0),
    ],
)
def test_timestamp_formats(stamp, expected):
    assert norm({"id": "a", "text": "t", "timestamp": stamp}).event_time == expected


def test_missing_timestamp_uses_arrival_and_says_so():
    msg = norm({"id": "a", "text": "t", "type": "update"})
    assert (msg.event_time, msg.event_time_source) == (NOW, "arrival")


def test_delete_needs_only_an_id_and_drops_text():
    msg = norm({"id": "a", "type": "delete", "text": "ignored"})
    assert (msg.type, msg.text) == ("delete", None)


def test_bare_text_gets_a_generated_id():
    first, second = norm({"text": "hello"}), norm({"text": "hello"})
    assert first.id.startswith("msg_") and first.id != second.id
    assert first.type == "update"


def test_integer_ids_become_strings():
    assert norm({"id": 12345, "text": "t"}).id == "12345"


def test_tweet_v1_extended_text_user_time_and_hashtags():
    tweet = {
        "id_str": "1050118621198921728", "text": "short", "truncated": True,
        "extended_tweet": {"full_text": "the full text #Café",
                           "entities": {"hashtags": [{"text": "Café"}]}},
        "user": {"id_str": "6253282"},
        "created_at": "Wed Oct 10 20:19:24 +0000 2018",
    }
    msg = norm(tweet)
    assert (msg.id, msg.user_id, msg.text) == ("1050118621198921728", "6253282", "the full text #Café")
    assert msg.hashtags == ["café"]
    assert msg.event_time == 1539202764.0


def test_tweet_v2():
    msg = norm({"data": {"id": "1", "text": "hello #X", "author_id": "2",
                         "created_at": "2022-01-01T00:00:00.000Z",
                         "entities": {"hashtags": [{"tag": "X"}]}}})
    assert (msg.id, msg.user_id, msg.event_time, msg.hashtags) == ("1", "2", 1640995200.0, ["x"])


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ([1], "not_an_object"),
        ({"type": "update", "text": "t"}, "missing_id"),
        ({"id": "", "text": "t"}, "missing_id"),
        ({"id": True, "text": "t"}, "wrong_type"),
        ({"id": 1.5, "text": "t"}, "wrong_type"),
        ({"id": "a", "type": "upsert", "text": "t"}, "unknown_type"),
        ({"id": "a", "type": 1, "text": "t"}, "wrong_type"),
        ({"id": "a", "type": "update"}, "missing_text"),
        ({"id": "a", "text": "   "}, "missing_text"),
        ({"id": "a", "text": 5}, "wrong_type"),
        ({"id": "a", "text": "t" * 10_001}, "text_too_long"),
        ({"id": "a", "text": "t", "timestamp": "soon"}, "bad_timestamp"),
        ({"id": "a", "text": "t", "timestamp": True}, "bad_timestamp"),
        ({"id": "a", "text": "t", "timestamp": -1}, "bad_timestamp"),
        ({"id": "a", "text": "t", "timestamp": NOW + 10 * 86_400}, "bad_timestamp"),
        ({"id": "a", "text": "t", "user_id": ["u"]}, "wrong_type"),
        ({"id": "i" * 300, "text": "t"}, "wrong_type"),
    ],
)
def test_rejections(obj, expected):
    assert reason(obj) == expected


def test_far_past_timestamps_are_kept():
    assert norm({"id": "a", "text": "t", "timestamp": "1971-01-01T00:00:00Z"}).event_time == 31536000.0


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"x" * 11, "body_too_large"),
        (b"\xff", "invalid_utf8"),
        (b"{", "malformed_json"),
        (b'{"a": NaN}', "malformed_json"),
        (b"[" * 40 + b"]" * 40, "too_deeply_nested"),
    ],
)
def test_decode_rejections(body, expected):
    with pytest.raises(Rejected) as caught:
        decode_json(body, max_bytes=10 if expected == "body_too_large" else 1_000)
    assert caught.value.reason == expected


def test_text_limit_is_configurable():
    with pytest.raises(Rejected):
        norm({"id": "a", "text": "abcdef"}, limits=Limits(max_text_chars=5))


@pytest.mark.parametrize("text", HOSTILE_TEXTS, ids=range(len(HOSTILE_TEXTS)))
def test_hostile_text_is_kept_and_round_trips(text):
    msg = norm({"id": "h", "type": "update", "text": text})
    again = RawMessage.loads(msg.dumps())
    assert again.text == msg.text
    assert len(msg.text) == len(text)  # kept, at most lone surrogates replaced


@pytest.mark.parametrize("body", HOSTILE_BODIES, ids=range(len(HOSTILE_BODIES)))
def test_hostile_bodies_are_accepted_or_rejected_never_crash(body):
    try:
        msg = norm(decode_json(body, max_bytes=1_000_000))
    except Rejected as rejected:
        letter = dead_letter(body, rejected, source="t", service="ingest", received_at=NOW)
        assert letter.reason and letter.original_b64 is not None
        json.loads(letter.dumps())
    else:
        assert RawMessage.loads(msg.dumps()).id == msg.id
