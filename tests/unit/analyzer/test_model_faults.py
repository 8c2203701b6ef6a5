"""A missing, partial or corrupt model directory: one clear error naming the path and
the fix, for each way a copy goes wrong (on a copy of the real built model)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from moodstream_analyzer.model import METADATA_FILE, ModelUnavailable, load_model, sha256_file
from tests.unit.analyzer.test_model import MODEL_DIR

ONNX_FILES = ("metadata.json", "model.onnx", "tokenizer.json")


@pytest.fixture()
def onnx_copy(tmp_path: Path) -> Path:
    """The ONNX backend's files of the built model, copied (no flair weights needed)."""
    copy = tmp_path / "model"
    copy.mkdir()
    for name in ONNX_FILES:
        shutil.copy(MODEL_DIR / name, copy / name)
    return copy


def _rehash(model_dir: Path, name: str) -> None:
    """Record ``name``'s current SHA-256, as a copy that lies about its files would."""
    metadata = json.loads((model_dir / METADATA_FILE).read_text())
    key = "file_sha256" if name == "model.onnx" else "tokenizer_sha256"
    metadata["onnx"][key] = sha256_file(model_dir / name)
    (model_dir / METADATA_FILE).write_text(json.dumps(metadata))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


CASES: dict[str, tuple[Callable[[Path], None], str, str]] = {
    # name: (how the copy goes wrong, the file the error names, what it says)
    "no metadata": (lambda d: (d / "metadata.json").unlink(), "metadata.json", "not found"),
    "no onnx file": (lambda d: (d / "model.onnx").unlink(), "model.onnx", "is missing"),
    "no tokenizer": (lambda d: (d / "tokenizer.json").unlink(), "tokenizer.json", "is missing"),
    "truncated onnx": (lambda d: _truncate(d / "model.onnx"), "model.onnx", "SHA-256"),
    "flipped byte": (lambda d: _flip_a_byte(d / "model.onnx"), "model.onnx", "SHA-256"),
    "truncated onnx, hash rewritten": (
        lambda d: (_truncate(d / "model.onnx"), _rehash(d, "model.onnx")),
        "model.onnx", "cannot be loaded"),
    "garbage tokenizer, hash rewritten": (
        lambda d: ((d / "tokenizer.json").write_text("{"), _rehash(d, "tokenizer.json")),
        "tokenizer.json", "cannot be loaded"),
    "metadata without the export": (
        lambda d: (d / "metadata.json").write_text(json.dumps(
            {k: v for k, v in json.loads((d / "metadata.json").read_text()).items()
             if k != "onnx"})),
        "metadata.json", "no ONNX export"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_broken_model_directory_gets_one_clear_error(onnx_copy: Path, case: str) -> None:
    breakage, named, says = CASES[case]
    assert load_model(onnx_copy, backend="onnx").is_loaded()  # whole, it loads
    breakage(onnx_copy)
    with pytest.raises(ModelUnavailable) as raised:
        load_model(onnx_copy, backend="onnx")
    message = str(raised.value)
    assert str(onnx_copy / named) in message
    assert says in message
    assert "make model" in message
