"""Aggregator service: idempotent sentiment aggregates in RocksDB tables, HTTP views."""
