"""The records' JSON codec: orjson through Faust, and what it must keep exact.

Faust encodes every record, table value and changelog record with orjson when it is
installed (pyproject pins it). orjson writes UTF-8 instead of ``\\u`` escapes and
refuses what cannot be UTF-8, so these tests pin down what crosses a topic unchanged.
"""

from __future__ import annotations

import json

import faust.utils.json

from moodstream_common.records import DeadLetter, RawMessage, ScoredMessage
from moodstream_ingest.normalize import Limits, normalize
from tests.corpus.hostile import HOSTILE_TEXTS


def test_faust_encodes_with_orjson() -> None:
    # Without it every service falls back to the stdlib encoder, about 2.5x slower.
    assert faust.utils.json.orjson is not None
    record = RawMessage(id="a", type="update", event_time=1.0, received_at=1.0, text="café")
    assert "café".encode() in record.dumps()  # UTF-8, not an escape: orjson wrote it


def test_every_hostile_text_crosses_raw_and_scored_exactly() -> None:
    for index, text in enumerate(HOSTILE_TEXTS):
        # Through ingest's normalization first, as every text on raw has been: a lone
        # surrogate, which orjson refuses, is U+FFFD by then.
        raw = normalize(
            {"id": f"m{index}", "type": "update", "text": text},
            received_at=1_750_000_000.0,
            source="http",
            limits=Limits(),
        )
        wire = raw.dumps()
        assert RawMessage.loads(wire).text == raw.text, index
        assert json.loads(wire)["text"] == raw.text, index  # any JSON reader agrees
        scored = ScoredMessage(
            id=raw.id, type=raw.type, event_time=raw.event_time, received_at=raw.received_at,
            text=raw.text, label="neutral", score=-0.25, hashtags=["café"],
        )
        again = ScoredMessage.loads(scored.dumps())
        assert (again.text, again.score, again.hashtags) == (raw.text, -0.25, ["café"]), index


def test_floats_and_unicode_keep_their_exact_value() -> None:
    times = [1_750_000_000.123456, 0.1 + 0.2, 5e-324, 1.7976931348623157e308]
    for event_time in times:
        record = ScoredMessage(
            id="ü/😀", type="update", event_time=event_time, received_at=event_time,
            score=event_time,
        )
        back = ScoredMessage.loads(record.dumps())
        assert (back.id, back.event_time, back.score) == ("ü/😀", event_time, event_time)


def test_a_dead_letter_keeps_a_preview_of_undecodable_bytes() -> None:
    original = b"\xff\xfe not utf-8 \xed\xa0\x80"
    letter = DeadLetter(
        reason="undecodable_raw_record", detail="d", source="topic:raw", service="s",
        received_at=1.0, original_b64="", original_preview=original.decode("utf-8", "replace"),
    )
    assert DeadLetter.loads(letter.dumps()).original_preview == original.decode("utf-8", "replace")
