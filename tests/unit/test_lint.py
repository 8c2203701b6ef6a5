"""The house style is checked with every test run: ruff everywhere, mypy strict on
services and libs (``make lint`` runs the same two commands)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing():
    result = _run(str(BIN / "ruff"), "check", "libs", "services", "tools", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_finds_nothing():
    result = _run(str(BIN / "mypy"), "libs/common/moodstream_common", "services")
    assert result.returncode == 0, result.stdout + result.stderr
