"""Language detection on a fixed multilingual sample, with the real fastText model."""

from __future__ import annotations

import pytest

from moodstream_ingest.language import MAX_CHARS, MIN_CONFIDENCE, detect
from moodstream_ingest.normalize import Limits, normalize
from tests.corpus.languages import SENTENCES, UNDETERMINED

# The sentences of every language the unit test pins (short texts are the detector's
# weak spot: bench/language_detectors.py reports them instead).
SAMPLE = {
    language: SENTENCES[language]
    for language in ("en", "fr", "es", "de", "ko", "ja", "ar", "ru", "it", "pt", "zh", "nl")
}


@pytest.mark.parametrize(
    ("language", "text"), [(language, text) for language, texts in SAMPLE.items() for text in texts]
)
def test_each_language_of_the_sample_is_detected(language: str, text: str) -> None:
    found = detect(text)
    assert found.language == language, found
    assert MIN_CONFIDENCE <= found.confidence <= 1.0


@pytest.mark.parametrize("text", UNDETERMINED)
def test_emoji_only_and_very_short_texts_are_undetermined(text: str) -> None:
    assert detect(text).language == "und"


def test_hashtags_mentions_and_urls_do_not_decide_the_language() -> None:
    assert detect("Je suis très déçu par la livraison #BlackFriday @amazon_help").language == "fr"
    assert detect("https://example.com/very/long/english/path ¿Dónde está mi pedido?").language == (
        "es"
    )


def test_mixed_text_is_its_majority_language_or_undetermined() -> None:
    assert detect("Merci for the help, really great service today").language == "en"
    assert detect("ok ok ok gracias").language == "und"  # no majority the model is sure of
    assert detect("최고 product ever").language in ("en", "und")


@pytest.mark.parametrize(
    "text",
    [
        "Z̷̛̛͓̮̟̣̟̟a̶̢̛̮̣l̵̨̛̦̼g̴̨̛̟o̸̢̧̗ t̶e̷x̸t̵ " * 300,
        "🔥😡💯🙏" * 2_500,
        "\x00\ud800 broken \udfff surrogates \x1b[31m",
        "\u202eevil bidi override\u202c and more words",
        "𒀀𒀁𒀂 𐎀𐎁 ꙮ",  # scripts the model does not know
        "\n".join(["line of text in english"] * 500),
    ],
)
def test_hostile_texts_never_raise(text: str) -> None:
    found = detect(text)
    assert isinstance(found.language, str) and 0.0 <= found.confidence <= 1.0


def test_a_very_long_text_is_judged_by_its_beginning() -> None:
    french = "Le colis est arrivé en retard et abîmé. " * 30  # past MAX_CHARS
    assert len(french) > MAX_CHARS
    assert detect(french + "The rest of this long text is in English. " * 200).language == "fr"


def test_normalize_carries_the_language_on_the_raw_record() -> None:
    raw = normalize(
        {"id": "m1", "text": "Estoy muy feliz con mi compra"},
        received_at=1e9,
        source="http",
        limits=Limits(),
    )
    assert (raw.language, raw.language_confidence > MIN_CONFIDENCE) == ("es", True)
    deleted = normalize(
        {"id": "m1", "type": "delete", "text": "Estoy muy feliz"},
        received_at=1e9,
        source="http",
        limits=Limits(),
    )
    assert (deleted.language, deleted.language_confidence) == ("und", 0.0)
    off = normalize(
        {"id": "m1", "text": "Estoy muy feliz con mi compra"},
        received_at=1e9,
        source="http",
        limits=Limits(detect_language=False),
    )
    assert off.language == "und"


@pytest.mark.parametrize(
    ("text", "language"), [("최악", "ko"), ("ありがとう", "ja"), ("届かない", "ja")]
)
def test_a_script_one_language_writes_decides_even_a_short_text(text: str, language: str) -> None:
    assert detect(text).language == language
