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
        discard_on_truncation(app)(TopicPartition("scored", 1), 40, 0, "test")
        assert list(dbs[1].keys()) == []
        assert list(dbs[0].keys()) == [b"m|0"]
    finally:
        for db in dbs.values():
            db.close()


# -- the guard's decision inside Faust's recovery (the numbers of a real loss report) --


class _Identity:
    """A BrokerIdentity whose broker answers with ``current``."""

    def __init__(self, tmp_path, recorded, current):
        from moodstream_common.changelog_guard import BrokerIdentity

        self._real = BrokerIdentity(tmp_path, "unused:0")
        if recorded:
            self._real.record(recorded)
        self._current = current

    def recorded(self):
        return self._real.recorded()

    def record(self, cluster_id):
        self._real.record(cluster_id)

    async def current(self):
        return self._current


class _Consumer:
    """Reports each changelog end from ``ends`` in turn (the last one repeats)."""

    def __init__(self, tp, ends):
        self.tp, self.ends = tp, list(ends)

    async def earliest_offsets(self, *tps):
        return dict.fromkeys(tps, 0)

    async def highwaters(self, *tps):
        end = self.ends.pop(0) if len(self.ends) > 1 else self.ends[0]
        return dict.fromkeys(tps, end)


async def _recover(tmp_path, identity, ends, monkeypatch):
    from collections import Counter

    from faust.tables.recovery import Recovery

    from moodstream_common import changelog_guard

    monkeypatch.setattr(changelog_guard, "LAG_WAIT_SECONDS", 5.0)
    changelog_guard.install()
    tp = TP(CHANGELOG, 0)
    db = Rdict(str(tmp_path / "store.db"))
    for i in range(41):
        db[f"m|{i}".encode()] = b"{}"
    table = SimpleNamespace(name="aggregates", data=SimpleNamespace(_db_for_partition={0: db}.get))
    app = SimpleNamespace()
    if identity is not None:
        changelog_guard.prove_truncation_with(app, identity)
    recovery = SimpleNamespace(
        app=app, tp_to_table={tp: table}, active_highwaters=Counter({tp: ends[0] - 1}),
        log=SimpleNamespace(info=lambda *a, **k: None),
        _start_offsets_logtable=lambda *a, **k: "",
    )
    destination = Counter({tp: 465})  # the store applied changelog offset 465
    try:
        await Recovery._build_offsets(recovery, _Consumer(tp, ends), {tp}, destination, "active")
        return destination[tp], len(list(db.keys())), recovery.active_highwaters[tp]
    finally:
        db.close()
        changelog_guard._identities.pop(id(app), None)


async def test_a_lagging_changelog_end_from_the_same_broker_keeps_the_store(tmp_path, monkeypatch):
    identity = _Identity(tmp_path, "moodstream-dev-aaaa", "moodstream-dev-aaaa")
    offset, keys, highwater = await _recover(tmp_path, identity, [301, 435, 470], monkeypatch)
    assert (offset, keys) == (465, 41)  # nothing discarded
    assert highwater == 469  # Faust's consistency check and recovery see the real end


async def test_a_new_cluster_id_proves_the_loss_and_the_store_is_rebuilt(tmp_path, monkeypatch):
    identity = _Identity(tmp_path, "moodstream-dev-aaaa", "moodstream-dev-bbbb")
    offset, keys, _ = await _recover(tmp_path, identity, [0], monkeypatch)
    assert (offset, keys) == (-1, 0)
    assert identity.recorded() == "moodstream-dev-bbbb"  # the store now belongs to it


async def test_without_a_recorded_cluster_id_nothing_is_discarded(tmp_path, monkeypatch):
    identity = _Identity(tmp_path, None, "moodstream-dev-aaaa")
    offset, keys, _ = await _recover(tmp_path, identity, [301], monkeypatch)
    assert (offset, keys) == (465, 41)
    assert identity.recorded() == "moodstream-dev-aaaa"


async def test_on_kafka_an_end_below_the_local_offset_still_discards(tmp_path, monkeypatch):
    offset, keys, _ = await _recover(tmp_path, None, [301], monkeypatch)
    assert (offset, keys) == (-1, 0)
