"""The training data: every source described, and no text in two places."""

from __future__ import annotations

from collections import Counter

import pytest

from moodstream_model.data import (
    IMDB_MAX_CHARS,
    TWO_CLASS,
    left_out_keys,
    load_crowdflower,
    load_drug_reviews,
    load_reviews,
    split_of,
    text_key,
)
from tests.helpers import model_splits


@pytest.fixture(scope="module")
def splits():
    return model_splits()


def test_text_key_folds_case_punctuation_and_spacing() -> None:
    assert text_key("Great flight!!  Thanks @united") == text_key("great flight thanks united")
    assert text_key("great flight") != text_key("great fight")


def test_no_text_is_in_two_splits_or_in_an_evaluation_set(splits) -> None:
    train = {text_key(e.text) for e in splits.train}
    dev = {text_key(e.text) for e in splits.dev}
    tests = {name: {text_key(e.text) for e in ex} for name, ex in splits.test.items()}
    held_out = left_out_keys()
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
        classes = ({"positive", "negative"} if source["corpus"] in TWO_CLASS
                   else {"positive", "neutral", "negative"})
        assert set(source["split_labels"]["train"]) == classes, source["corpus"]
        assert sum(source["split_labels"]["test"].values()) == source["split"]["test"]
    transfer = load_reviews("rotten_tomatoes").source
    assert transfer["label_mapping"] == {"fresh": "positive", "rotten": "negative",
                                         "plot": "dropped"}
    drugs = load_drug_reviews()
    assert set(drugs.source["labels"]) == {"positive", "neutral", "negative"}
    assert drugs.source["size"] == len(drugs.examples) > 900


def test_left_out_corpora_include_the_drug_reviews() -> None:
    keys = left_out_keys()
    drugs = {text_key(e.text) for e in load_drug_reviews().examples}
    films = {text_key(e.text) for e in load_reviews("rotten_tomatoes").examples}
    assert drugs <= keys and films <= keys


def test_imdb_reviews_are_short_and_unescaped(splits) -> None:
    source = next(s for s in splits.sources if s["corpus"] == "imdb_reviews")
    imdb_test = splits.test["imdb_reviews"]
    assert source["split"]["train"] > 2_000
    assert all(len(e.text) <= IMDB_MAX_CHARS for e in imdb_test)
    assert not any("<br" in e.text for e in imdb_test)


def test_a_texts_split_depends_on_that_text_alone() -> None:
    keys = [text_key(f"review number {i}") for i in range(5_000)]
    first = {key: split_of(key, 13, 0.05, 0.06) for key in keys}
    # Another order, and another text among them, move nothing.
    again = {key: split_of(key, 13, 0.05, 0.06) for key in [text_key("new text"), *reversed(keys)]}
    assert all(again[key] == where for key, where in first.items())
    shares = Counter(first.values())
    assert 0.03 < shares["dev"] / len(keys) < 0.07
    assert 0.04 < shares["test"] / len(keys) < 0.08
    assert {split_of(key, 14, 0.05, 0.06) for key in keys[:200]} == {"train", "dev", "test"}


def test_a_capped_corpus_is_sampled_from_all_of_it(splits) -> None:
    # CrowdFlower is six corpora one after another; the cap must not keep the first ones.
    examples = load_crowdflower().examples
    train = {text_key(e.text) for e in splits.train}
    quarters = [examples[i * len(examples) // 4 : (i + 1) * len(examples) // 4] for i in range(4)]
    shares = [sum(text_key(e.text) in train for e in part) / len(part) for part in quarters]
    assert min(shares) > 0.5 * max(shares), shares
