"""The training data: every source described, and no text in two places."""

from __future__ import annotations

import pytest

from moodstream_model.data import EVAL_FILES, load_reviews, text_key, training_splits


@pytest.fixture(scope="module")
def splits():
    return training_splits(seed=13, max_train_per_corpus=8_000)


def test_text_key_folds_case_punctuation_and_spacing() -> None:
    assert text_key("Great flight!!  Thanks @united") == text_key("great flight thanks united")
    assert text_key("great flight") != text_key("great fight")


def test_no_text_is_in_two_splits_or_in_an_evaluation_set(splits) -> None:
    train = {text_key(e.text) for e in splits.train}
    dev = {text_key(e.text) for e in splits.dev}
    tests = {name: {text_key(e.text) for e in ex} for name, ex in splits.test.items()}
    held_out = {text_key(e.text) for name in EVAL_FILES for e in load_reviews(name).examples}
    assert train and dev and all(tests.values()) and held_out
    assert not train & dev
    assert not train & held_out and not dev & held_out
    for name, keys in tests.items():
        assert not keys & train, name
        assert not keys & dev, name
        assert not keys & held_out, name
        for other, other_keys in tests.items():
            assert other == name or not keys & other_keys, (name, other)


def test_every_source_is_described(splits) -> None:
    assert [s["corpus"] for s in splits.sources] == list(splits.test)
    for source in splits.sources:
        for field in ("package", "file", "license", "label_mapping", "rows", "split_labels"):
            assert source[field], (source["corpus"], field)
        assert "==" in source["package"]  # the version read from the installed package
        assert set(source["split_labels"]["train"]) == {"positive", "neutral", "negative"}
        assert sum(source["split_labels"]["test"].values()) == source["split"]["test"]
    transfer = load_reviews("rotten_tomatoes").source
    assert transfer["label_mapping"] == {"fresh": "positive", "rotten": "negative",
                                         "plot": "dropped"}
