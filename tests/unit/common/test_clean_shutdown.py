"""Local table stores survive a clean stop and are discarded after a crash."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from rocksdict import Rdict

from moodstream_common import clean_shutdown


def _store(tabledir: Path, name: str) -> Path:
    path = tabledir / name
    db = Rdict(str(path))
    db[b"key"] = b"value"
    db.close()
    return path


def test_stores_left_by_a_crash_are_discarded(tmp_path, caplog):
    first, second = _store(tmp_path, "aggregates-0.db"), _store(tmp_path, "aggregates-1.db")
    backups = tmp_path / "aggregates-backups"
    backups.mkdir()
    with caplog.at_level(logging.WARNING, logger="moodstream.clean_shutdown"):
        discarded = clean_shutdown.discard_after_crash(tmp_path)
    assert discarded == [first, second]
    assert not first.exists() and not second.exists()
    assert backups.exists(), "only stores are discarded"
    assert "did not stop cleanly: discarded 2 local table store(s)" in caplog.text


def test_stores_vouched_for_by_a_clean_stop_are_kept(tmp_path):
    store = _store(tmp_path, "aggregates-0.db")
    clean_shutdown.mark_clean(tmp_path)
    assert clean_shutdown.discard_after_crash(tmp_path) == []
    db = Rdict(str(store))
    assert db[b"key"] == b"value"
    db.close()


def test_a_clean_stop_vouches_for_one_run_only(tmp_path):
    store = _store(tmp_path, "aggregates-0.db")
    clean_shutdown.mark_clean(tmp_path)
    clean_shutdown.discard_after_crash(tmp_path)  # a start: the marker is used up
    # ... and that run is killed before it can stop cleanly:
    assert clean_shutdown.discard_after_crash(tmp_path) == [store]


@pytest.mark.parametrize("prepare", ["missing", "empty"])
def test_nothing_to_discard_on_a_first_start(tmp_path, prepare):
    tabledir = tmp_path / "tables"
    if prepare == "empty":
        tabledir.mkdir()
    assert clean_shutdown.discard_after_crash(tabledir) == []
    clean_shutdown.mark_clean(tabledir)  # no folder, no marker: nothing to vouch for
    assert (tabledir / clean_shutdown.MARKER).exists() == (prepare == "empty")
