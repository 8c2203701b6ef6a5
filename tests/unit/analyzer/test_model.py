"""The sentiment model: protocol, metadata, and the real trained model on both backends.

The real-model tests load ``models/sentiment-v2`` (or ``ANALYZER_MODEL_PATH``) with
each backend (ONNX int8 and flair); build it first with ``make model`` (``make test``
does). Without a model they fail: a skipped test would hide that the real model was
never exercised.
"""

from __future__ import annotations

import json
import os
import random
import socket
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from moodstream_analyzer.flair_model import FlairSentimentModel
from moodstream_analyzer.model import (
    BACKENDS,
    DEFAULT_MODEL_DIR,
    METADATA_FILE,
    CallPlan,
    ModelMetadata,
    ModelUnavailable,
    Prediction,
    SentimentModel,
    call_plan,
    length_groups,
    load_model,
    name_symbols,
    prediction_from_probabilities,
    sha256_file,
)
from moodstream_analyzer.text import clean_for_scoring
from moodstream_common.records import LABEL_NEGATIVE, LABEL_NEUTRAL, LABEL_POSITIVE, LABELS
from tests.unit.analyzer.test_text import HOSTILE

REPO = Path(__file__).resolve().parents[3]

# How far a text's score may move with the texts it is batched with: float summation
# order only, in both backends. The int8 export has fixed activation ranges (static
# quantization), so batch-mates cannot change a score; with per-call ranges (dynamic
# quantization) they moved scores by up to 0.05 and a replay changed the aggregates.
BATCH_SCORE_TOLERANCE = {"flair": 1e-4, "onnx": 1e-4}
MODEL_DIR = Path(os.environ.get("ANALYZER_MODEL_PATH", REPO / DEFAULT_MODEL_DIR))

POSITIVE = [
    "I absolutely love this, best day ever!",
    "Thank you so much, the crew was wonderful and the flight was perfect.",
    "Just landed in Paris 😍",
]
NEGATIVE = [
    "This is terrible, I hate it and I want a refund.",
    "Worst customer service ever. Two hours on hold and nobody helped.",
    "Flight delayed again 😡",
]


class KeywordModel:
    """A tiny deterministic model, for tests only (never the service default)."""

    name = "keyword-test"
    version = "0"
    languages = frozenset({"en"})

    def __init__(self) -> None:
        self._loaded = False

    def load(self) -> None:
        self._loaded = True

    def is_loaded(self) -> bool:
        return self._loaded

    def predict_batch(self, texts: Sequence[str]) -> list[Prediction]:
        return [
            prediction_from_probabilities(
                {LABEL_POSITIVE: 1.0} if "good" in t else {LABEL_NEGATIVE: 1.0} if "bad" in t
                else {LABEL_NEUTRAL: 1.0}
            )
            for t in texts
        ]


def test_protocol_is_satisfied_by_both_models() -> None:
    assert isinstance(KeywordModel(), SentimentModel)
    labels = [p.label for p in KeywordModel().predict_batch(["good", "bad", "meh"])]
    assert labels == [LABEL_POSITIVE, LABEL_NEGATIVE, LABEL_NEUTRAL]


def test_prediction_from_probabilities() -> None:
    p = prediction_from_probabilities({"positive": 0.7, "neutral": 0.2, "negative": 0.1})
    assert p == Prediction("positive", pytest.approx(0.6), pytest.approx(0.7))
    n = prediction_from_probabilities({"positive": 0.05, "neutral": 0.15, "negative": 0.8})
    assert (n.label, n.score) == ("negative", pytest.approx(-0.75))
    # A tie between the poles is no evidence either way: neutral wins ties.
    tie = prediction_from_probabilities({"positive": 0.4, "neutral": 0.4, "negative": 0.2})
    assert tie.label == "neutral"
    assert prediction_from_probabilities({}).label == "neutral"


def test_name_symbols_spells_out_emoji() -> None:
    assert name_symbols("landed 😍") == "landed smiling face with heart-shaped eyes"
    assert name_symbols("👍🏽 ok") == "thumbs up sign ok"
    assert name_symbols("I ❤️ it") == "I red heart it"
    assert name_symbols("plain ascii :)") == "plain ascii :)"
    assert name_symbols("café 東京") == "café 東京"


def _write_model_dir(tmp_path: Path, **overrides: object) -> Path:
    (tmp_path / "model.pt").write_bytes(b"not really weights")
    body = {
        "name": "m",
        "version": "9.9.9",
        "created": "2024-01-01T00:00:00+00:00",
        "training_data": {"corpora": []},
        "weights_sha256": sha256_file(tmp_path / "model.pt"),
        **overrides,
    }
    (tmp_path / METADATA_FILE).write_text(json.dumps(body))
    return tmp_path


def test_name_and_version_come_from_metadata(tmp_path: Path) -> None:
    model = FlairSentimentModel(_write_model_dir(tmp_path))
    assert (model.name, model.version) == ("m", "9.9.9")
    assert not model.is_loaded()
    with pytest.raises(RuntimeError, match="not loaded"):
        model.predict_batch(["hello"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_missing_model_names_the_path_and_the_fix(tmp_path: Path, backend: str) -> None:
    with pytest.raises(ModelUnavailable, match=f"{tmp_path / METADATA_FILE}.*make model"):
        load_model(tmp_path, backend=backend)
    with pytest.raises(ModelUnavailable, match="make model"):
        load_model(tmp_path / "never-built", backend=backend)


def test_an_unknown_backend_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="onnx, flair"):
        load_model(_write_model_dir(tmp_path), backend="tensorflow")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"version": None}, "lacks version"), ({"labels": ["yes", "no"]}, "labels")],
)
def test_malformed_metadata_is_rejected(tmp_path: Path, overrides: dict, message: str) -> None:
    model_dir = _write_model_dir(tmp_path, **overrides)
    if overrides.get("version", "") is None:
        body = json.loads((model_dir / METADATA_FILE).read_text())
        del body["version"]
        (model_dir / METADATA_FILE).write_text(json.dumps(body))
    with pytest.raises(ModelUnavailable, match=message):
        ModelMetadata.read(model_dir)


def test_unreadable_metadata_is_refused(tmp_path: Path) -> None:
    (tmp_path / METADATA_FILE).write_text('{"name": "m", "vers')
    with pytest.raises(ModelUnavailable, match="cannot be read.*make model"):
        ModelMetadata.read(tmp_path)


def test_unknown_input_transform_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="input_transform"):
        FlairSentimentModel(_write_model_dir(tmp_path, input_transform="lowercase-v9"))


def test_weights_not_matching_metadata_are_refused(tmp_path: Path) -> None:
    model_dir = _write_model_dir(tmp_path, weights_sha256="0" * 64)
    with pytest.raises(ModelUnavailable, match="SHA-256.*make model"):
        FlairSentimentModel(model_dir).load()


def test_length_groups_keep_a_long_text_out_of_a_short_batch() -> None:
    lengths = [10] * 63 + [400]
    groups = length_groups(lengths, max_texts=64, token_budget=64 * 40)
    assert groups[0][0] == 63  # longest first, in a group of at most budget / 400 texts
    assert sorted(i for group in groups for i in group) == list(range(64))
    padded = [len(group) * max(lengths[i] for i in group) for group in groups]
    for group, cost in zip(groups, padded, strict=True):
        assert len(group) <= 64
        assert len(group) == 1 or cost <= 64 * 40
    # One call would pad all 64 texts to 400 words: 25,600; the groups pad 1,030.
    assert sum(padded) == 400 + 63 * 10


def test_length_groups_split_where_padding_costs_more_than_a_call() -> None:
    # One call would pad 64 texts to 30 tokens (1,920); two calls pad 8 x 30 + 56 x 10.
    lengths = [10] * 56 + [30] * 8
    groups = length_groups(lengths, max_texts=64, token_budget=2560, call_overhead_tokens=24)
    assert [sorted(g) for g in groups] == [list(range(56, 64)), list(range(56))]
    # A few texts one token shorter are not worth a second call: 24 + 4 x 10 > 4 x 1.
    assert len(length_groups([11] * 60 + [10] * 4, 64, 2560, call_overhead_tokens=24)) == 1


def _brute_force_cost(sizes: list[int], max_texts: int, budget: int, overhead: int) -> int:
    """Least cost over every way to cut the descending ``sizes`` into consecutive groups."""
    best = None
    for mask in range(1 << (len(sizes) - 1)):
        cost, start = 0, 0
        for end in range(1, len(sizes) + 1):
            if end == len(sizes) or mask >> (end - 1) & 1:
                members = end - start
                if members > max_texts or (members > 1 and members * sizes[start] > budget):
                    break
                cost += overhead + members * sizes[start]
                start = end
        else:
            best = cost if best is None else min(best, cost)
    assert best is not None
    return best


@pytest.mark.parametrize("seed", range(40))
def test_length_groups_are_the_cheapest_valid_cut(seed: int) -> None:
    rng = random.Random(seed)
    lengths = [rng.choice([1, 3, 8, 9, 14, 20, 40, 90]) for _ in range(rng.randint(1, 9))]
    max_texts, budget, overhead = rng.randint(1, 6), rng.choice([40, 100, 400]), rng.randint(0, 30)
    groups = length_groups(lengths, max_texts, budget, call_overhead_tokens=overhead)
    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
    cost = 0
    for group in groups:
        longest = max(lengths[i] for i in group)
        assert len(group) <= max_texts
        assert len(group) == 1 or len(group) * longest <= budget
        cost += overhead + len(group) * longest
    sizes = sorted(lengths, reverse=True)
    assert cost == _brute_force_cost(sizes, max_texts, budget, overhead)


def test_a_text_longer_than_the_budget_is_scored_alone() -> None:
    assert length_groups([10, 5_000, 10], max_texts=64, token_budget=2560) == [[1], [0, 2]]


def test_length_groups_of_short_texts_are_one_call() -> None:
    assert length_groups([5, 7, 3, 9], max_texts=64, token_budget=2560) == [[3, 1, 0, 2]]
    assert length_groups([5] * 10, max_texts=4, token_budget=2560) == [
        [0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert length_groups([], max_texts=64, token_budget=2560) == []


def test_real_model_scores_a_mixed_length_batch_like_one_by_one(
    real_model: SentimentModel,
) -> None:
    long_text = clean_for_scoring(" ".join(["the service was slow and the staff rude"] * 50))
    texts = [clean_for_scoring(t) for t in POSITIVE[:4]] + [long_text] + [
        clean_for_scoring(t) for t in NEGATIVE[:4]]
    batch = real_model.predict_batch(texts)
    single = [real_model.predict_batch([t])[0] for t in texts]
    assert [p.label for p in batch] == [p.label for p in single]
    tolerance = BATCH_SCORE_TOLERANCE[_backend(real_model)]
    for b, s in zip(batch, single, strict=True):
        assert b.score == pytest.approx(s.score, abs=tolerance)


# --- the real trained model ---------------------------------------------------------


def _backend(model: SentimentModel) -> str:
    return "flair" if isinstance(model, FlairSentimentModel) else "onnx"


@pytest.fixture(scope="module", params=BACKENDS)
def real_model(request: pytest.FixtureRequest) -> SentimentModel:
    if not (MODEL_DIR / METADATA_FILE).is_file():
        pytest.fail(f"no trained model in {MODEL_DIR}: run `make model`")

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"the model tried to open a connection: {args}")

    # Loading must need nothing but the model directory: no hub, no network.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", no_network)
        patch.setattr(socket, "create_connection", no_network)
        return load_model(MODEL_DIR, backend=request.param, threads=2)


def test_real_model_loads_offline_with_metadata_version(real_model: SentimentModel) -> None:
    metadata = json.loads((MODEL_DIR / METADATA_FILE).read_text())
    assert real_model.is_loaded()
    assert real_model.version == metadata["version"] and real_model.version
    assert real_model.name == metadata["name"]
    assert metadata["weights_sha256"] == sha256_file(MODEL_DIR / metadata["weights"])
    assert metadata["onnx"]["file_sha256"] == sha256_file(MODEL_DIR / metadata["onnx"]["file"])
    assert metadata["training_data"]["sources"]
    assert set(metadata["labels"]) == set(LABELS)
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert isinstance(real_model, SentimentModel)
    real_model.load()  # idempotent
    assert real_model.is_loaded()


def test_real_model_gets_clear_cases_right(real_model: SentimentModel) -> None:
    predictions = real_model.predict_batch(
        [clean_for_scoring(t) for t in POSITIVE + NEGATIVE]
    )
    for text, p in zip(POSITIVE, predictions[: len(POSITIVE)], strict=True):
        assert (p.label, p.score > 0.3) == (LABEL_POSITIVE, True), text
    for text, p in zip(NEGATIVE, predictions[len(POSITIVE) :], strict=True):
        assert (p.label, p.score < -0.3) == (LABEL_NEGATIVE, True), text


def test_real_model_predictions_are_well_formed(real_model: SentimentModel) -> None:
    texts = POSITIVE + NEGATIVE + ["The meeting is at 3pm in room 4.", ""]
    for p in real_model.predict_batch(texts):
        assert p.label in LABELS
        assert -1.0 <= p.score <= 1.0
        assert 1 / 3 - 1e-6 <= p.confidence <= 1.0
    blank = real_model.predict_batch(["", "   "])
    assert blank == [Prediction(LABEL_NEUTRAL, 0.0, 1.0)] * 2


def test_real_model_batch_equals_one_by_one(real_model: SentimentModel) -> None:
    texts = [clean_for_scoring(t) for t in POSITIVE + NEGATIVE + HOSTILE[:12]]
    batch = real_model.predict_batch(texts)
    single = [real_model.predict_batch([t])[0] for t in texts]
    assert len(batch) == len(texts)
    tolerance = BATCH_SCORE_TOLERANCE[_backend(real_model)]
    for b, s in zip(batch, single, strict=True):
        assert b.label == s.label
        assert b.score == pytest.approx(s.score, abs=tolerance)
        assert b.confidence == pytest.approx(s.confidence, abs=tolerance)


def test_real_model_is_total_on_hostile_input(real_model: SentimentModel) -> None:
    texts = [clean_for_scoring(t) for t in HOSTILE]
    predictions = real_model.predict_batch(texts)
    assert len(predictions) == len(texts)
    assert all(p.label in LABELS for p in predictions)


def test_hostile_texts_do_not_spoil_their_batch(real_model: SentimentModel) -> None:
    hostile = [
        "Z̷̛̛͓̮̟̣̟̟a̶̢̛̮̣l̵̨̛̦̼g̴̨̛̟o̸̢̧̗ " * 40,  # zalgo
        "😀😡🔥💯" * 500,  # emoji flood
        "lorem ipsum dolor " * 560,  # 10,000 characters
        "http://example.com/x #tag @user",  # nothing left to score once cleaned
        "‏‎؜",
    ]
    clear = POSITIVE + NEGATIVE
    mixed = [clean_for_scoring(t) for t in hostile[:3] + clear[:3] + hostile[3:] + clear[3:]]
    predictions = real_model.predict_batch(mixed)
    assert len(predictions) == len(mixed)
    assert all(p.label in LABELS and -1 <= p.score <= 1 for p in predictions)
    alone = real_model.predict_batch([clean_for_scoring(t) for t in clear])
    in_batch = predictions[3:6] + predictions[8:]
    assert [p.label for p in in_batch] == [p.label for p in alone]
    assert [p.label for p in alone] == [LABEL_POSITIVE] * 3 + [LABEL_NEGATIVE] * 3


def test_a_text_past_the_length_limit_is_judged_by_its_beginning(
    real_model: SentimentModel,
) -> None:
    metadata = json.loads((MODEL_DIR / METADATA_FILE).read_text())
    limit = metadata["onnx"]["max_sequence_tokens"]
    bad = "Worst customer service ever, I hate this airline and I want a refund. "
    good = "Thank you so much, the crew was wonderful and the flight was perfect. "
    # Each repeat is about 15 tokens: the opening repeats alone fill the limit.
    repeats = limit // 10
    bad_first, good_first = bad * repeats + good * 200, good * repeats + bad * 200
    assert len(bad_first) > 10 * limit
    labels = [p.label for p in real_model.predict_batch([bad_first, good_first])]
    assert labels == [LABEL_NEGATIVE, LABEL_POSITIVE]


def test_real_model_calls_from_threads_match_serial(real_model: SentimentModel) -> None:
    texts = POSITIVE + NEGATIVE
    expected = real_model.predict_batch(texts)
    results: list[list[Prediction]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(real_model.predict_batch(texts))
        except BaseException as exc:  # noqa: BLE001  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for result in results:
        assert [p.label for p in result] == [p.label for p in expected]
        assert [p.score for p in result] == pytest.approx([p.score for p in expected], abs=1e-5)


def test_the_onnx_backend_runs_one_single_threaded_call_per_core_and_one_spare():
    assert call_plan("onnx", cpus=2) == CallPlan(calls=3, threads=1)
    assert call_plan("onnx", cpus=8) == CallPlan(calls=9, threads=1)
    # Set by hand: fewer calls share the cores among them; explicit threads win.
    assert call_plan("onnx", calls=2, cpus=8) == CallPlan(calls=2, threads=4)
    assert call_plan("onnx", calls=1, threads=3, cpus=8) == CallPlan(calls=1, threads=3)
    assert call_plan("onnx", calls=4, cpus=2) == CallPlan(calls=4, threads=1)


def test_flair_makes_one_call_at_a_time_whatever_is_asked():
    assert call_plan("flair", calls=4, cpus=8) == CallPlan(calls=1, threads=0)
    assert call_plan("flair", threads=2, cpus=8) == CallPlan(calls=1, threads=2)


def test_onnx_calls_from_several_threads_at_once_score_as_one_at_a_time(onnx_model_for_threads):
    texts = [f"message {i}: {'great' if i % 3 == 0 else 'awful' if i % 3 == 1 else 'ok'} day"
             for i in range(256)]
    chunks = [texts[i : i + 32] for i in range(0, len(texts), 32)]
    one_at_a_time = [onnx_model_for_threads.predict_batch(chunk) for chunk in chunks]
    with ThreadPoolExecutor(max_workers=4) as pool:
        at_once = list(pool.map(onnx_model_for_threads.predict_batch, chunks))
    assert at_once == one_at_a_time


@pytest.fixture(scope="module")
def onnx_model_for_threads():
    return load_model(MODEL_DIR, backend="onnx", threads=1)
