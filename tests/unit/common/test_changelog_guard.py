"""Local table state ahead of its changelog is found and emptied (real RocksDB)."""

from types import SimpleNamespace

from faust.types import TP
from rocksdict import Rdict

from moodstream_common.changelog_guard import discard_partition, holds_data, stale_partitions

CHANGELOG = "moodstream-aggregator-aggregates-changelog"


def test_stale_only_where_local_offset_reaches_past_the_changelog_end():
    tps = [TP(CHANGELOG, p) for p in range(5)]
    applied = {tps[0]: 12, tps[1]: 4, tps[2]: -1, tps[3]: None, tps[4]: 9}
    end_offsets = {tps[0]: 0, tps[1]: 5, tps[2]: 0, tps[3]: 0, tps[4]: 9}
    assert stale_partitions(applied, end_offsets) == {tps[0]: (12, 0), tps[4]: (9, 9)}


def test_local_data_beside_an_empty_changelog_is_stale_even_without_an_offset():
    tps = [TP(CHANGELOG, p) for p in range(3)]
    applied = {tps[0]: None, tps[1]: -1, tps[2]: None}
    end_offsets = {tps[0]: 0, tps[1]: 0, tps[2]: 7}
    # tps[2] holds data but its changelog has records: Faust replays them, not stale.
    assert stale_partitions(applied, end_offsets, {tps[0], tps[2]}) == {tps[0]: (-1, 0)}


def test_a_missing_changelog_is_like_an_empty_one():
    tps = [TP(CHANGELOG, p) for p in range(3)]
    applied = {tps[0]: None, tps[1]: 5, tps[2]: None}
    end_offsets: dict = {}  # the broker answered no end: the topic is gone
    assert stale_partitions(applied, end_offsets, {tps[0]}) == {tps[0]: (-1, 0), tps[1]: (5, 0)}


def test_discard_empties_only_that_partitions_store(tmp_path):
    dbs = {p: Rdict(str(tmp_path / f"p{p}.db")) for p in (0, 1)}
    for p, db in dbs.items():
        for i in range(5):
            db[f"m|{p}-{i}".encode()] = b"{}"
        db[b"__faust\x00offset__"] = b"12"
    table = SimpleNamespace(name="aggregates", data=SimpleNamespace(_db_for_partition=dbs.get))
    try:
        assert holds_data(table, TP(CHANGELOG, 0))
        assert discard_partition(table, TP(CHANGELOG, 0)) == 6
        assert list(dbs[0].keys()) == []
        assert not holds_data(table, TP(CHANGELOG, 0))
        assert len(list(dbs[1].keys())) == 6
    finally:
        for db in dbs.values():
            db.close()


def test_stores_without_partitions_are_left_alone():
    table = SimpleNamespace(name="aggregates", data={})
    assert discard_partition(table, TP(CHANGELOG, 0)) == 0


def test_a_truncated_source_partition_empties_that_partition_of_every_table(tmp_path):
    from aiokafka.structs import TopicPartition

    from moodstream_common.changelog_guard import discard_on_truncation

    dbs = {p: Rdict(str(tmp_path / f"t{p}.db")) for p in (0, 1)}
    for p, db in dbs.items():
        db[f"m|{p}".encode()] = b"{}"
    table = SimpleNamespace(name="aggregates", data=SimpleNamespace(_db_for_partition=dbs.get))
    app = SimpleNamespace(tables={"aggregates": table})
    try:
        discard_on_truncation(app)(TopicPartition("scored", 1), 40, 0)
        assert list(dbs[1].keys()) == []
        assert list(dbs[0].keys()) == [b"m|0"]
    finally:
        for db in dbs.values():
            db.close()
