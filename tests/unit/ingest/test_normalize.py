"""Normalization: every accepted shape, every rejection reason, timestamps, hostile input."""

import base64
import json
import math
import random
import time

import pytest

from moodstream_common.records import DeadLetter, RawMessage
from moodstream_ingest.normalize import (
    MAX_DEAD_LETTER_ORIGINAL_BYTES,
    Limits,
    Rejected,
    dead_letter,
    decode_json,
    normalize,
    parse_timestamp,
)
from tests.corpus.hostile import HOSTILE_BODIES, HOSTILE_CASES, HOSTILE_TEXTS

NOW = 1_763_900_000.0  # 2025-11-23T12:13:20Z
LIMITS = Limits()
JULY_6 = 1751808915.0  # 2025-07-06T13:35:15Z


def norm(obj, limits=LIMITS, received_at=NOW):
    return normalize(obj, received_at=received_at, source="test", limits=limits)


def rejection(obj, limits=LIMITS):
    with pytest.raises(Rejected) as caught:
        norm(obj, limits=limits)
    return caught.value


def reason(obj, limits=LIMITS):
    return rejection(obj, limits).reason


def decode_reason(body, max_bytes=1_000_000, **kw):
    with pytest.raises(Rejected) as caught:
        decode_json(body, max_bytes=max_bytes, **kw)
    return caught.value.reason


def round_trip(msg: RawMessage) -> RawMessage:
    again = RawMessage.loads(msg.dumps())
    assert again.asdict() == msg.asdict()
    return again


def lone_surrogates_replaced(text: str) -> str:
    return "".join("\ufffd" if 0xD800 <= ord(char) <= 0xDFFF else char for char in text)


# -- the contract -----------------------------------------------------------------


def test_contract_update_as_users_send_it():
    msg = norm({"id": "msg_158", "user_id": "u_2301322", "text": "I love it",
                "timestamp": "2025-07-06T13:35:15.598473", "type": "update"})
    assert (msg.id, msg.type, msg.user_id, msg.text) == ("msg_158", "update", "u_2301322", "I love it")
    assert math.isclose(msg.event_time, JULY_6 + 0.598473, abs_tol=1e-6)
    assert (msg.event_time_source, msg.received_at, msg.source) == ("message", NOW, "test")
    assert msg.hashtags == []
    round_trip(msg)


def test_update_needs_only_id_and_text():
    msg = norm({"id": "a", "text": "t"})
    assert (msg.type, msg.user_id, msg.event_time, msg.event_time_source) == (
        "update", None, NOW, "arrival")


def test_type_null_means_update():
    assert norm({"id": "a", "type": None, "text": "t"}).type == "update"


def test_delete_needs_only_an_id():
    msg = norm({"id": "a", "type": "delete"})
    assert (msg.id, msg.type, msg.text, msg.user_id, msg.event_time_source) == (
        "a", "delete", None, None, "arrival")
    round_trip(msg)


def test_delete_keeps_user_and_time_and_drops_text():
    msg = norm({"id": "a", "type": "delete", "text": "gone", "user_id": "u",
                "timestamp": "2025-07-06T13:35:15Z"})
    assert (msg.text, msg.user_id, msg.event_time, msg.event_time_source) == (
        None, "u", JULY_6, "message")


@pytest.mark.parametrize("text", [5, ["x"], {"a": 1}, "x" * 20_000, " ", True])
def test_delete_ignores_any_text(text):
    assert norm({"id": "a", "type": "delete", "text": text}).text is None


def test_delete_still_validates_what_it_keeps():
    assert reason({"id": "a", "type": "delete", "user_id": [1]}) == "wrong_type"
    assert reason({"id": "a", "type": "delete", "timestamp": "soon"}) == "bad_timestamp"


def test_bare_text_gets_a_generated_id():
    first, second = norm({"text": "hello"}), norm({"text": "hello"})
    assert first.id.startswith("msg_") and len(first.id) == 4 + 32
    assert first.id != second.id
    assert first.type == "update" and first.text == "hello"


def test_bare_text_keeps_user_and_time_but_still_gets_an_id():
    msg = norm({"text": "t", "user_id": "u", "timestamp": JULY_6})
    assert msg.id.startswith("msg_") and (msg.user_id, msg.event_time) == ("u", JULY_6)


def test_an_explicit_type_without_id_is_missing_id_not_generated():
    assert reason({"type": "update", "text": "t"}) == "missing_id"
    assert reason({"id": None, "text": "t"}) == "missing_id"


def test_unknown_fields_are_ignored():
    msg = norm({"id": "a", "text": "t", "lang": "en", "score": 5, "__proto__": {"type": "delete"}})
    assert (msg.id, msg.type) == ("a", "update")


def test_text_is_kept_verbatim_not_stripped_or_normalized():
    text = "  cafe\u0301\t\n #Tag \x00 "
    assert norm({"id": "a", "text": text}).text == text


# -- ids ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(12345, "12345"), (0, "0"), (-7, "-7"), (2**64, "18446744073709551616"),
     (1050118621198921728, "1050118621198921728"), ("1e3", "1e3"), (" a ", " a "),
     ("\U0001f600", "\U0001f600"), ("\u202eabc", "\u202eabc"), ("\ud800x", "\ufffdx"),
     ("i" * 256, "i" * 256)],
)
def test_ids_accepted(value, expected):
    msg = norm({"id": value, "user_id": value, "text": "t"})
    assert (msg.id, msg.user_id) == (expected, expected)
    round_trip(msg)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, "wrong_type"), (False, "wrong_type"), (1.5, "wrong_type"), (12345.0, "wrong_type"),
     ([], "wrong_type"), ({}, "wrong_type"), ("", "missing_id"), ("  \t", "missing_id"),
     (None, "missing_id"), ("i" * 257, "id_too_long"), ("a\nb", "bad_id"), ("\x00", "bad_id"),
     ("a\x7f", "bad_id"), ("a\x85", "bad_id"), ("\x1b[31m", "bad_id")],
)
def test_bad_ids(value, expected):
    assert reason({"id": value, "text": "t"}) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, "wrong_type"), (1.5, "wrong_type"), (["u"], "wrong_type"), ({"id": 1}, "wrong_type"),
     ("u" * 257, "id_too_long"), ("u\r\n", "bad_id")],
)
def test_bad_user_ids(value, expected):
    assert reason({"id": "a", "text": "t", "user_id": value}) == expected


@pytest.mark.parametrize("value", [None, "", "   "])
def test_blank_user_id_is_absent(value):
    assert norm({"id": "a", "text": "t", "user_id": value}).user_id is None


def test_id_limit_is_configurable():
    limits = Limits(max_id_chars=3)
    assert norm({"id": "abc", "text": "t"}, limits=limits).id == "abc"
    assert reason({"id": "abcd", "text": "t"}, limits=limits) == "id_too_long"


def test_a_rejection_after_the_id_was_read_carries_it():
    assert rejection({"id": "m1", "text": "t", "timestamp": "soon"}).message_id == "m1"
    assert rejection({"id": 7, "type": "update"}).message_id == "7"
    assert rejection({"id": "m1", "type": "upsert"}).message_id is None  # type checked first
    assert rejection({"text": " "}).message_id.startswith("msg_")


# -- type and text -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("upsert", "unknown_type"), ("UPDATE", "unknown_type"), ("Delete", "unknown_type"),
     (" update", "unknown_type"), ("", "unknown_type"), (1, "wrong_type"), (True, "wrong_type"),
     (["update"], "wrong_type")],
)
def test_bad_types(value, expected):
    assert reason({"id": "a", "type": value, "text": "t"}) == expected


@pytest.mark.parametrize("text", [None, "", " ", "\t\n\r", "\u3000", "\u2003\u00a0", "\x1c\x1f",
                                  "\u2028\u2029", "\x85"])
def test_missing_or_blank_text(text):
    assert reason({"id": "a", "text": text}) == "missing_text"
    assert reason({"id": "a"}) == "missing_text"


@pytest.mark.parametrize("text", ["\u200b", "\x00", "\u2800", "\u3164", "\ufeff", "\x7f"])
def test_invisible_but_not_whitespace_text_is_kept(text):
    assert norm({"id": "a", "text": text}).text == text


@pytest.mark.parametrize("text", [5, 1.5, True, ["t"], {"t": 1}])
def test_text_of_the_wrong_type(text):
    assert reason({"id": "a", "text": text}) == "wrong_type"


def test_text_limit_counts_code_points_and_is_configurable():
    assert len(norm({"id": "a", "text": "\U0001f600" * 10_000}).text) == 10_000
    assert reason({"id": "a", "text": "a" * 10_001}) == "text_too_long"
    limits = Limits(max_text_chars=5)
    assert norm({"id": "a", "text": "abcde"}, limits=limits).text == "abcde"
    assert reason({"id": "a", "text": "abcdef"}, limits=limits) == "text_too_long"


def test_lone_surrogates_become_replacement_characters():
    msg = norm({"id": "a", "text": "a\ud800b\udfffc"})
    assert msg.text == "a\ufffdb\ufffdc"
    assert round_trip(msg).text == "a\ufffdb\ufffdc"
    assert msg.dumps().decode("utf-8")


def test_a_split_surrogate_pair_is_joined():
    assert norm({"id": "a", "text": "x\ud83d\ude00"}).text == "x\U0001f600"


def test_nul_and_control_characters_survive_the_topic():
    text = "".join(chr(code) for code in range(32)) + "\x7f\x85\u202e"
    assert round_trip(norm({"id": "a", "text": text})).text == text


# -- timestamps --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2025-07-06T13:35:15", JULY_6),  # naive = UTC
        ("2025-07-06T13:35:15.598473", JULY_6 + 0.598473),
        ("2025-07-06 13:35:15", JULY_6),
        ("2025-07-06T13:35:15Z", JULY_6),
        ("2025-07-06T13:35:15z", JULY_6),
        ("2025-07-06T13:35:15.000Z", JULY_6),
        ("2025-07-06T13:35:15+00:00", JULY_6),
        ("2025-07-06T15:35:15+02:00", JULY_6),
        ("2025-07-06T08:35:15-05:00", JULY_6),
        ("2025-07-06T19:05:15+05:30", JULY_6),
        ("2025-07-06T15:35:15+0200", JULY_6),
        ("20250706T133515Z", JULY_6),
        ("2025-07-06", JULY_6 - 13 * 3600 - 35 * 60 - 15),
        ("  2025-07-06T13:35:15Z \n", JULY_6),
        ("Sun Jul 06 13:35:15 +0000 2025", JULY_6),
        ("Sun Jul 06 15:35:15 +0200 2025", JULY_6),
        ("Sun Jul 06 08:35:15 -0500 2025", JULY_6),
        (1751808915, JULY_6),  # epoch seconds
        (1751808915.5, JULY_6 + 0.5),
        (1751808915500, JULY_6 + 0.5),  # milliseconds
        (1751808915500000, JULY_6 + 0.5),  # microseconds
        (1751808915500000000, JULY_6 + 0.5),  # nanoseconds
        ("1751808915", JULY_6),  # numeric strings
        ("1751808915.5", JULY_6 + 0.5),
        ("1751808915500", JULY_6 + 0.5),
        (" 1751808915 ", JULY_6),
        (99_999_999_999, 99_999_999_999.0),  # just under the ms bound: seconds (year 5138)...
        (100_000_000_000, 100_000_000.0),  # ...at it: milliseconds (1973-03-03)
    ],
)
def test_timestamp_formats(stamp, expected):
    far = Limits(max_future_seconds=1e12)  # so the boundary values are not "future"
    msg = norm({"id": "a", "text": "t", "timestamp": stamp}, limits=far)
    assert math.isclose(msg.event_time, expected, abs_tol=1e-6)
    assert msg.event_time_source == "message"


def test_twitter_dates_do_not_depend_on_the_weekday_name():
    assert parse_timestamp("Mon Jul 06 13:35:15 +0000 2025", received_at=NOW,
                           limits=LIMITS) == JULY_6


@pytest.mark.parametrize("stamp", [None, "", "   "])
def test_missing_timestamp_is_arrival_time(stamp):
    msg = norm({"id": "a", "text": "t", "timestamp": stamp})
    assert (msg.event_time, msg.event_time_source) == (NOW, "arrival")


@pytest.mark.parametrize(
    "stamp",
    [True, False, float("nan"), float("inf"), -float("inf"), 10**400, "9" * 400, 0, 0.0, -1,
     "-1", "1970-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "0001-01-01T00:00:00",
     "9999-12-31T23:59:59", NOW + 86_401, (NOW + 86_401) * 1000, "yesterday", "now", "NaN",
     "inf", "1e9", "1_751_808_915", "+1751808915", "2025-13-01", "2025-02-30",
     "2025-07-06T24:00:00", "2025-07-06T13:35:15+25:00", "2025-07-06T13:35:15 UTC",
     "Wed Oct 99 20:19:24 +0000 2018", "Wed Foo 10 20:19:24 +0000 2018",
     "wed oct 10 20:19:24 +0000 2018", "Wed, 10 Oct 2018 20:19:24 +0000", [1751808915],
     {"seconds": 1}, "\x00", "٢٠٢٥-٠٧-٠٦"],
)
def test_bad_timestamps(stamp):
    assert reason({"id": "a", "text": "t", "timestamp": stamp}) == "bad_timestamp"


def test_far_past_timestamps_are_kept():
    assert norm({"id": "a", "text": "t", "timestamp": "1971-01-01T00:00:00Z"}).event_time == 31536000.0
    assert norm({"id": "a", "text": "t", "timestamp": "1970-01-01T00:00:01Z"}).event_time == 1.0
    assert norm({"id": "a", "text": "t", "timestamp": 1.5}).event_time == 1.5


def test_milliseconds_before_1973_read_as_seconds_are_in_the_future():
    # 5e10 ms is 1971-08, but below the 1e11 bound it means seconds: the year 3554.
    assert reason({"id": "a", "text": "t", "timestamp": 50_000_000_000}) == "bad_timestamp"


def test_future_window_is_relative_to_arrival_and_configurable():
    within = {"id": "a", "text": "t", "timestamp": NOW + 86_400}
    assert norm(within).event_time == NOW + 86_400
    assert reason(within, limits=Limits(max_future_seconds=60)) == "bad_timestamp"
    assert norm({"id": "a", "text": "t", "timestamp": NOW + 30},
                limits=Limits(max_future_seconds=60)).event_time == NOW + 30


# -- tweets ------------------------------------------------------------------------


def test_tweet_v1_basic():
    msg = norm({"id": 1050118621198921728, "id_str": "1050118621198921728",
                "text": "hello #World #world", "user": {"id": 6253282, "id_str": "6253282"},
                "created_at": "Wed Oct 10 20:19:24 +0000 2018",
                "entities": {"hashtags": [{"text": "World", "indices": [6, 12]},
                                          {"text": "world", "indices": [13, 19]}]}})
    assert (msg.id, msg.user_id, msg.text, msg.type) == (
        "1050118621198921728", "6253282", "hello #World #world", "update")
    assert msg.event_time == 1539202764.0
    assert msg.hashtags == ["world"]
    round_trip(msg)


def test_tweet_v1_full_text_wins_over_text():
    assert norm({"id_str": "1", "text": "short…", "full_text": "the full"}).text == "the full"


def test_tweet_v1_extended_tweet_wins_and_brings_its_entities():
    msg = norm({"id_str": "1", "text": "short…", "full_text": "mid", "truncated": True,
                "extended_tweet": {"full_text": "the whole text #Café",
                                   "entities": {"hashtags": [{"text": "Café"}]}},
                "entities": {"hashtags": []}})
    assert (msg.text, msg.hashtags) == ("the whole text #Café", ["café"])


def test_tweet_v1_blank_full_text_falls_back_to_text():
    assert norm({"id_str": "1", "full_text": " ", "text": "fallback"}).text == "fallback"


def test_tweet_v1_falls_back_to_numeric_ids_and_timestamp_ms():
    msg = norm({"id": 42, "id_str": None, "text": "t", "user": {"id": 7},
                "timestamp_ms": "1751808915500"})
    assert (msg.id, msg.user_id, msg.event_time) == ("42", "7", JULY_6 + 0.5)


def test_tweet_v1_without_user_or_time():
    msg = norm({"id_str": "1", "full_text": "t"})
    assert (msg.user_id, msg.event_time_source) == (None, "arrival")


@pytest.mark.parametrize(
    ("tweet", "expected"),
    [
        ({"id_str": "1", "text": "t", "user": "not an object"}, "wrong_type"),
        ({"id_str": "1", "text": "t", "user": ["x"]}, "wrong_type"),
        ({"id_str": "1", "text": "t", "extended_tweet": "x"}, "wrong_type"),
        ({"id_str": "1", "text": "t", "created_at": "Wed Oct 99 20:19:24 +0000 2018"},
         "bad_timestamp"),
        ({"full_text": "t", "user": {"id_str": "1"}}, "missing_id"),
        ({"id_str": "1", "user": {"id_str": "1"}}, "missing_text"),
        ({"id_str": "1", "full_text": 5}, "wrong_type"),
        ({"id_str": True, "text": "t"}, "wrong_type"),
        ({"id_str": "1", "text": "t", "user": {"id_str": "a\nb"}}, "bad_id"),
    ],
)
def test_bad_tweets_v1(tweet, expected):
    assert reason(tweet) == expected


def test_tweet_hashtags_are_casefolded_deduplicated_and_bounded():
    tags = [{"text": "#Straße"}, {"text": "STRASSE"}, {"text": "strasse"}, {"text": " "},
            {"text": 7}, 5, None, "x", {"text": "x" * 281}, {"nope": "y"}]
    tags += [{"text": f"tag{i}"} for i in range(500)]
    msg = norm({"id_str": "1", "text": "t", "entities": {"hashtags": tags}})
    assert msg.hashtags[0] == "strasse"  # ß casefolds to ss; "#" dropped
    assert len(msg.hashtags) == 100 and len(set(msg.hashtags)) == 100
    assert msg.hashtags[1:3] == ["tag0", "tag1"]


@pytest.mark.parametrize("entities", [None, 5, "x", [], {"hashtags": "x"}, {"hashtags": None}])
def test_malformed_tweet_entities_are_ignored(entities):
    assert norm({"id_str": "1", "text": "t", "entities": entities}).hashtags == []


def test_tweet_v1_delete_notice():
    msg = norm({"delete": {"status": {"id": 1, "id_str": "1", "user_id": 2, "user_id_str": "2"},
                           "timestamp_ms": "1751808915000"}})
    assert (msg.id, msg.type, msg.user_id, msg.event_time, msg.text) == (
        "1", "delete", "2", JULY_6, None)


@pytest.mark.parametrize(("notice", "expected"), [
    ({"delete": "x"}, "wrong_type"),
    ({"delete": {"status": 5}}, "wrong_type"),
    ({"delete": {"status": {}}}, "missing_id"),
])
def test_bad_tweet_delete_notices(notice, expected):
    assert reason(notice) == expected


def test_tweet_v2():
    msg = norm({"data": {"id": "1", "text": "hello #X #x", "author_id": "2",
                         "created_at": "2022-01-01T00:00:00.000Z",
                         "entities": {"hashtags": [{"start": 6, "end": 8, "tag": "X"},
                                                   {"start": 9, "end": 11, "tag": "x"}]}},
                "includes": {"users": [{"id": "2", "username": "someone"}]}})
    assert (msg.id, msg.user_id, msg.text, msg.event_time, msg.hashtags) == (
        "1", "2", "hello #X #x", 1640995200.0, ["x"])


def test_tweet_v2_note_tweet_holds_the_long_text():
    msg = norm({"data": {"id": "1", "text": "truncated…", "note_tweet": {"text": "the long one"}}})
    assert msg.text == "the long one"


@pytest.mark.parametrize(("body", "expected"), [
    ({"data": [{"id": "1", "text": "t"}]}, "wrong_type"),
    ({"data": "x"}, "wrong_type"),
    ({"data": {"id": "1", "text": 5}}, "wrong_type"),
    ({"data": {"id": "1"}}, "missing_text"),
    ({"data": {"text": "t"}}, "missing_id"),
    ({"data": {"id": "1", "text": "t", "created_at": "later"}}, "bad_timestamp"),
])
def test_bad_tweets_v2(body, expected):
    assert reason(body) == expected


def test_contract_keys_win_over_tweet_keys():
    # A contract delete with extra tweet-like fields must stay a delete.
    msg = norm({"id": "a", "type": "delete", "user": {"id_str": "9"}, "created_at": "x",
                "data": {"text": "t"}})
    assert (msg.type, msg.user_id, msg.event_time_source) == ("delete", None, "arrival")


def test_contract_id_and_text_win_over_data_and_delete():
    assert norm({"id": "a", "text": "t", "data": {"id": "b", "text": "u"}}).id == "a"
    assert norm({"id": "a", "text": "t", "delete": {"status": {"id": 1}}}).type == "update"


# -- shapes that are not objects ---------------------------------------------------


@pytest.mark.parametrize("value", [None, 1, 1.5, True, "text", [], [{"id": "a", "text": "t"}]])
def test_not_an_object(value):
    assert reason(value) == "not_an_object"


# -- decode_json -------------------------------------------------------------------


def test_decode_accepts_json_and_keeps_values():
    assert decode_json(b'{"a": [1, "\\u00e9", null]}', max_bytes=100) == {"a": [1, "é", None]}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", "malformed_json"), (b"{", "malformed_json"), (b"nope", "malformed_json"),
        (b'{"a": NaN}', "malformed_json"), (b'{"a": Infinity}', "malformed_json"),
        (b'{"a": -Infinity}', "malformed_json"), (b'{"a": 1,}', "malformed_json"),
        (b'{"a": "x\ny"}', "malformed_json"), (b'{"a": 1} {"b": 2}', "malformed_json"),
        (b"1" * 5_000, "malformed_json"), (b"\xef\xbb\xbf\xef\xbb\xbf{}", "malformed_json"),
        (b"\xff", "invalid_utf8"), (b'"\xc3\x28"', "invalid_utf8"), (b'"\xed\xa0\x80"', "invalid_utf8"),
        (b'"\xc0\x80"', "invalid_utf8"), ("{}".encode("utf-16"), "invalid_utf8"),
        (b"[" * 33 + b"]" * 33, "too_deeply_nested"), (b"[" * 100_000, "too_deeply_nested"),
        (b'{"a":' * 33 + b"1" + b"}" * 33, "too_deeply_nested"),
        (b'{"a": [' * 17 + b"1" + b"]}" * 17, "too_deeply_nested"),
    ],
)
def test_decode_rejections(body, expected):
    assert decode_reason(body) == expected


def test_body_limit_is_inclusive():
    assert decode_json(b"[1, 2]", max_bytes=6) == [1, 2]
    assert decode_reason(b"[1, 2] ", max_bytes=6) == "body_too_large"


def test_depth_limit_is_inclusive_and_configurable():
    assert decode_json(b"[" * 32 + b"]" * 32, max_bytes=1_000) is not None
    assert decode_json(b"[" * 5 + b"]" * 5, max_bytes=1_000, max_depth=5) is not None
    assert decode_reason(b"[" * 6 + b"]" * 6, max_depth=5) == "too_deeply_nested"


def test_brackets_inside_strings_do_not_count_as_nesting():
    body = json.dumps({"text": "[" * 1_000 + '\\"{' * 1_000 + '"[[', "k[{": "]]}"}).encode()
    assert decode_json(body, max_bytes=100_000)["text"].startswith("[[[")


def test_escaped_backslash_before_a_quote_ends_the_string():
    # "a\\" is a complete string; the brackets after it are real nesting.
    body = b'["a\\\\", ' + b"[" * 40 + b"]" * 40 + b"]"
    assert decode_reason(body) == "too_deeply_nested"


def test_recursion_error_never_escapes_even_with_no_depth_limit():
    body = b"[" * 100_000 + b"]" * 100_000
    assert decode_reason(body, max_depth=10**9) == "too_deeply_nested"


def test_a_leading_bom_is_ignored():
    assert decode_json(b'\xef\xbb\xbf{"a": 1}', max_bytes=100) == {"a": 1}


def test_duplicate_keys_last_one_wins():
    obj = decode_json(b'{"id": "x", "type": "update", "text": "t", "type": "delete"}',
                      max_bytes=1_000)
    assert norm(obj).type == "delete"


def test_nesting_scan_is_linear_on_adversarial_bodies():
    # Each of these would take minutes with a backtracking string pattern.
    bodies = [b'"' + b'\\"' * 499_000, b'"' * 999_000, b"\\" * 999_000,
              b"[" + b"[]," * 333_000 + b"[]]", b"[" * 999_000]
    started = time.perf_counter()
    for body in bodies:
        with pytest.raises(Rejected):
            decode_json(body, max_bytes=1_000_000, max_depth=0)
    assert time.perf_counter() - started < 5.0


# -- dead letters ------------------------------------------------------------------


def test_dead_letter_keeps_exact_bytes_reason_and_preview():
    body = b'{"id": "a", "text": "\xff\xfe"}'
    letter = dead_letter(body, Rejected("invalid_utf8", "byte 21"), source="topic:events",
                         service="ingest", received_at=NOW)
    again = DeadLetter.loads(letter.dumps())
    assert base64.b64decode(again.original_b64) == body
    assert (again.reason, again.detail, again.source, again.service, again.received_at) == (
        "invalid_utf8", "byte 21", "topic:events", "ingest", NOW)
    assert again.original_preview == '{"id": "a", "text": "\ufffd\ufffd"}'
    assert again.message_id is None


def test_dead_letter_preview_is_truncated():
    body = ("é" * 10_000).encode()
    letter = dead_letter(body, Rejected("x", "y"), source="http", service="ingest",
                         received_at=NOW)
    assert letter.original_preview == "é" * 500 + "…"
    assert base64.b64decode(letter.original_b64) == body


def test_dead_letter_takes_the_id_from_the_rejection_unless_given():
    rejected = rejection({"id": "m9", "text": "t", "timestamp": "soon"})
    common = {"source": "http", "service": "ingest", "received_at": NOW}
    assert dead_letter(b"{}", rejected, **common).message_id == "m9"
    assert dead_letter(b"{}", rejected, message_id="other", **common).message_id == "other"


# -- the hostile corpus ------------------------------------------------------------


def test_corpus_is_broad():
    assert len(HOSTILE_TEXTS) >= 200
    assert len(HOSTILE_BODIES) == len(HOSTILE_CASES) >= 400
    reasons = {expected for _name, _body, expected in HOSTILE_CASES}
    assert reasons >= {None, "malformed_json", "invalid_utf8", "body_too_large", "not_an_object",
                       "wrong_type", "missing_id", "unknown_type", "missing_text",
                       "text_too_long", "bad_timestamp", "too_deeply_nested", "id_too_long",
                       "bad_id"}


@pytest.mark.parametrize("text", HOSTILE_TEXTS, ids=range(len(HOSTILE_TEXTS)))
def test_hostile_text_is_kept_and_round_trips(text):
    expected = lone_surrogates_replaced(text)
    direct = norm({"id": "h", "type": "update", "text": text})
    assert direct.text == expected
    assert round_trip(direct).text == expected
    via_json = norm(decode_json(json.dumps({"id": "h", "text": text}).encode(),
                                max_bytes=1_000_000))
    assert via_json.text == expected


@pytest.mark.parametrize(("name", "body", "expected"), HOSTILE_CASES,
                         ids=[name for name, _body, _expected in HOSTILE_CASES])
def test_hostile_body_is_accepted_or_rejected_as_expected(name, body, expected):
    try:
        msg = norm(decode_json(body, max_bytes=LIMITS.max_body_bytes), received_at=time.time())
    except Rejected as rejected:
        assert rejected.reason == expected, rejected.detail
        wire = dead_letter(body, rejected, source="t", service="ingest", received_at=NOW).dumps()
        assert len(wire) < 1_000_000  # fits in one Kafka message
        letter = DeadLetter.loads(wire)
        assert base64.b64decode(letter.original_b64) == body[:MAX_DEAD_LETTER_ORIGINAL_BYTES]
        assert len(letter.original_preview) <= 501
    else:
        assert expected is None, f"accepted, expected {expected}"
        again = round_trip(msg)
        assert again.id and again.type in ("update", "delete")
        assert again.text is None or (again.text.strip() and len(again.text) <= 10_000)


_FUZZ_VALUES = [None, True, False, 0, -1, 1.5, 1e308, float("nan"), 10**400, "", " ", "x",
                "\x00", "\ud800", "a\nb", "2025-07-06T13:35:15Z", "1751808915", "update",
                "delete", [], {}, [1], {"a": 1}, {"id_str": "1"}, {"text": "t"}, "i" * 300]
_FUZZ_KEYS = ["id", "type", "text", "user_id", "timestamp", "id_str", "full_text", "user",
              "extended_tweet", "created_at", "entities", "timestamp_ms", "data", "delete",
              "note_tweet", "author_id", "status", "hashtags", "full_text"]


_FUZZ_BASES = [
    {"id": "a", "type": "update", "text": "t", "user_id": "u", "timestamp": 1751808915},
    {"id": "a", "type": "delete"},
    {"text": "t"},
    {"id_str": "1", "full_text": "t", "user": {"id_str": "2"}, "created_at": "2025-07-06"},
    {"data": {"id": "1", "text": "t", "author_id": "2"}},
    {"delete": {"status": {"id_str": "1"}}},
]


def _fuzz_value(rng, depth):
    if depth < 2 and rng.random() < 0.2:
        return _fuzz_object(rng, depth + 1)
    return rng.choice(_FUZZ_VALUES)


def _fuzz_object(rng, depth):
    return {key: _fuzz_value(rng, depth) for key in rng.sample(_FUZZ_KEYS, rng.randint(0, 4))}


def _mutated(rng):
    """A valid shape with a few fields replaced, added or removed."""
    obj = json.loads(json.dumps(rng.choice(_FUZZ_BASES)))
    target = obj
    for key in ("data", "delete", "user"):
        if isinstance(obj.get(key), dict) and rng.random() < 0.5:
            target = obj[key]
    for _ in range(rng.randint(0, 3)):
        roll = rng.random()
        if roll < 0.6:
            target[rng.choice(_FUZZ_KEYS)] = _fuzz_value(rng, 0)
        elif target:
            target.pop(rng.choice(list(target)))
    return obj


def test_random_objects_only_ever_raise_rejected():
    rng = random.Random(20250706)
    outcomes = {"accepted": 0, "rejected": 0}
    for _ in range(5_000):
        obj = _mutated(rng)
        try:
            msg = norm(obj)
        except Rejected as rejected:
            assert rejected.reason and rejected.detail
            outcomes["rejected"] += 1
        else:
            round_trip(msg)
            outcomes["accepted"] += 1
    assert min(outcomes.values()) > 100  # the fuzzing reaches both ends


def test_dead_letter_of_a_huge_body_keeps_its_head_and_fits_in_a_kafka_message():
    body = json.dumps({"id": "big", "text": "a" * 999_000}).encode()
    rejected = rejection(json.loads(body))
    letter = dead_letter(body, rejected, source="http", service="ingest", received_at=NOW)
    assert len(letter.dumps()) < 1_000_000
    assert base64.b64decode(letter.original_b64) == body[:MAX_DEAD_LETTER_ORIGINAL_BYTES]
    assert letter.detail.startswith("text has 999000 characters")
    assert f"first {MAX_DEAD_LETTER_ORIGINAL_BYTES} of {len(body)} bytes kept" in letter.detail
    small = dead_letter(body, rejected, source="http", service="ingest", received_at=NOW,
                        max_original_bytes=len(body))
    assert base64.b64decode(small.original_b64) == body and "truncated" not in small.detail
