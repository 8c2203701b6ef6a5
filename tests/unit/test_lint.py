"""The house style is checked with every test run: ruff everywhere, mypy strict on
services and libs (``make lint`` runs the same two commands)."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)


def mypy_cache_dir() -> Path:
    """mypy's cache, outside the checkout so a fresh clone at the same path (CI) reuses
    it (a strict run takes 4 s instead of 85), one per checkout path: a cache shared by
    two checkouts went stale and reported errors that were not there."""
    key = hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]
    return Path.home() / ".cache" / "moodstream" / "mypy" / key


def test_ruff_finds_nothing():
    result = _run(str(BIN / "ruff"), "check", "libs", "services", "tools", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_finds_nothing():
    config = (ROOT / "pyproject.toml").read_text()
    assert re.search(r"^\[tool\.mypy\][^\[]*^strict = true$", config, re.MULTILINE | re.DOTALL)
    result = _run(str(BIN / "mypy"), "--cache-dir", str(mypy_cache_dir()),
                  "libs/common/moodstream_common", "services")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_type_ignore_names_its_code_and_a_reason():
    bare = []
    for folder in ("libs", "services", "tools", "bench", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            if path == Path(__file__).resolve():  # this test spells the pattern out
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if "type: ignore" in line and not re.search(
                    r"type: ignore\[[a-z, -]+\]  # \S", line
                ):
                    bare.append(f"{path.relative_to(ROOT)}:{number}")
    assert not bare, f"type: ignore without a code and a reason: {bare}"
