"""score_batch on the real default (ONNX) model: hostile and empty texts in one batch."""

from __future__ import annotations

import pytest

from moodstream_analyzer.model import SentimentModel, load_model
from moodstream_analyzer.scoring import score_batch
from moodstream_analyzer.text import clean_for_scoring
from moodstream_common.records import (
    EVENT_DELETE,
    EVENT_UPDATE,
    LABEL_NEGATIVE,
    LABEL_NEUTRAL,
    LABEL_POSITIVE,
    RawMessage,
)
from tests.unit.analyzer.test_model import MODEL_DIR, NEGATIVE, POSITIVE

HOSTILE = {
    "zalgo": "Z̷̛̛͓̮̟̣̟̟a̶̢̛̮̣l̵̨̛̦̼g̴̨̛̟o̸̢̧̗ t̶e̷x̸t̵ " * 30,
    "emoji-flood": "🔥😡💯🙏" * 2_500,
    "ten-thousand-chars": ("the queue is long and the coffee is cold " * 250)[:10_000],
    "url-only": "http://example.com/only/a/link",
    "blank": " \t\n ",
}


@pytest.fixture(scope="module")
def onnx_model() -> SentimentModel:
    return load_model(MODEL_DIR, backend="onnx", threads=2)


def _update(key: str, text: str) -> RawMessage:
    return RawMessage(id=key, type=EVENT_UPDATE, event_time=1.0, received_at=1.0, text=text)


def test_a_batch_with_hostile_and_empty_texts_completes(onnx_model: SentimentModel) -> None:
    assert clean_for_scoring(HOSTILE["url-only"]) == ""
    records = (
        [_update(name, text) for name, text in HOSTILE.items()]
        + [_update(f"pos{i}", t) for i, t in enumerate(POSITIVE)]
        + [_update(f"neg{i}", t) for i, t in enumerate(NEGATIVE)]
        + [RawMessage(id="gone", type=EVENT_DELETE, event_time=1.0, received_at=1.0)]
    )
    scored = {record.id: record for record in score_batch(onnx_model, records)}
    assert set(scored) == {record.id for record in records}
    for name in ("url-only", "blank"):
        # Nothing left to score: neutral by definition, without a model call.
        assert (scored[name].label, scored[name].score, scored[name].confidence) == (
            LABEL_NEUTRAL, 0.0, 1.0)
    for name in ("zalgo", "emoji-flood", "ten-thousand-chars"):
        assert scored[name].label in (LABEL_POSITIVE, LABEL_NEUTRAL, LABEL_NEGATIVE)
        assert -1.0 <= scored[name].score <= 1.0
    assert [scored[f"pos{i}"].label for i in range(len(POSITIVE))] == [LABEL_POSITIVE] * 3
    assert [scored[f"neg{i}"].label for i in range(len(NEGATIVE))] == [LABEL_NEGATIVE] * 3
    assert scored["gone"].label is None
    assert {r.model_version for r in scored.values()} == {onnx_model.version}


def test_only_the_model_s_languages_are_scored(onnx_model: SentimentModel) -> None:
    # The real model's metadata.json names its languages: English, from its training data.
    assert onnx_model.languages == frozenset({"en"})
    records = [
        RawMessage(id="en", type=EVENT_UPDATE, event_time=1.0, received_at=1.0,
                   text=NEGATIVE[0], language="en", language_confidence=0.98),
        RawMessage(id="ko", type=EVENT_UPDATE, event_time=1.0, received_at=1.0,
                   text="너무 실망했어요 최악이에요 #help", language="ko", language_confidence=1.0),
        RawMessage(id="und", type=EVENT_UPDATE, event_time=1.0, received_at=1.0,
                   text="😡😡😡", language="und"),
        RawMessage(id="gone", type=EVENT_DELETE, event_time=1.0, received_at=1.0, language="fr"),
    ]
    scored = {record.id: record for record in score_batch(onnx_model, records)}
    assert (scored["en"].label, scored["en"].unscored_reason) == (LABEL_NEGATIVE, None)
    assert (scored["en"].language, scored["en"].language_confidence) == ("en", 0.98)
    korean = scored["ko"]
    assert (korean.label, korean.score, korean.unscored_reason) == (
        None, 0.0, "unsupported_language")
    assert (korean.language, korean.hashtags) == ("ko", ["help"])  # still enriched
    # "und" names no language the model is known not to read: emoji are scored.
    assert scored["und"].label == LABEL_NEGATIVE and scored["und"].unscored_reason is None
    assert scored["gone"].label is None and scored["gone"].unscored_reason is None
