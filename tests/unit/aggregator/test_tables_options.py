"""The aggregator bounds its RocksDB memory through settings, not Faust's defaults."""

from types import SimpleNamespace

from moodstream_aggregator.tables import MB, rocksdb_options


def _config(store: str) -> SimpleNamespace:
    return SimpleNamespace(
        store=store, rocksdb_write_buffer_mb=4, rocksdb_write_buffers=2, rocksdb_block_cache_mb=8
    )


def test_rocksdb_store_gets_the_configured_bounds():
    assert rocksdb_options(_config("rocksdb://")) == {
        "write_buffer_size": 4 * MB,
        "max_write_buffer_number": 2,
        "block_cache_size": 8 * MB,
    }


def test_memory_store_gets_no_rocksdb_options():
    assert rocksdb_options(_config("memory://")) == {}
