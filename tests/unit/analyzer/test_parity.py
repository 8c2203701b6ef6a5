"""The ONNX int8 export against the flair model it came from, on the evaluation sets:
labels agree on at least 97 % of the texts (all sets together, and at least 95 % in
each set) and macro-F1 moves by at most one point in every set."""

from __future__ import annotations

import pytest

from moodstream_model import build, evaluation, training
from moodstream_model.data import training_splits
from tests.unit.analyzer.test_model import MODEL_DIR

MIN_AGREEMENT = 0.97
MIN_SET_AGREEMENT = 0.95
MAX_F1_DIFFERENCE = 0.01


def _sets():
    settings = training.TrainingSettings()
    splits = training_splits(seed=settings.seed, max_train_per_corpus=settings.max_train_per_corpus)
    return build.evaluation_sets(splits.test)


SETS = _sets()


@pytest.fixture(scope="module")
def scored():
    """Both backends' metrics and labels on every set, scored once for all the tests."""
    results = {}
    for backend in ("onnx", "flair"):
        scorer = evaluation.model_scorer(evaluation.served_model(MODEL_DIR, backend))
        results[backend] = {
            name: evaluation.evaluate(scorer, examples, build.labels_of(name))
            for name, examples in SETS.items()
        }
    return results


@pytest.mark.parametrize("set_name", list(SETS))
def test_onnx_agrees_with_flair(scored, set_name: str) -> None:
    (onnx, onnx_labels), (flair, flair_labels) = (
        scored["onnx"][set_name], scored["flair"][set_name])
    agreement = evaluation.agreement(onnx_labels, flair_labels)
    assert len(onnx_labels) >= 200
    assert agreement >= MIN_SET_AGREEMENT, (set_name, agreement)
    assert abs(onnx["macro_f1"] - flair["macro_f1"]) <= MAX_F1_DIFFERENCE, (onnx, flair)


def test_onnx_agrees_with_flair_on_all_the_texts(scored) -> None:
    onnx = [label for name in SETS for label in scored["onnx"][name][1]]
    flair = [label for name in SETS for label in scored["flair"][name][1]]
    assert len(onnx) == sum(map(len, SETS.values())) > 7_000
    assert evaluation.agreement(onnx, flair) >= MIN_AGREEMENT
