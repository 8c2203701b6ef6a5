"""The pure parts of ``broker_compat``: flavors, settings, installing the patches.

Patch installation runs in a fresh interpreter, so this process's aiokafka stays as
shipped whatever order the tests run in.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import faust
import pytest
from aiokafka import AIOKafkaConsumer

from moodstream_common import broker_compat


def test_kafka_flavor_needs_no_settings():
    assert broker_compat.faust_settings("kafka") == {}
    assert broker_compat.consumer_settings("kafka") == {}


@pytest.mark.parametrize("call", [broker_compat.apply, broker_compat.faust_settings])
def test_unknown_flavor_is_rejected(call):
    with pytest.raises(ValueError, match="redpanda"):
        call("redpanda")


def test_flavor_is_case_insensitive():
    assert broker_compat.faust_settings(" Tansu ") == broker_compat.faust_settings("tansu")


def test_tansu_faust_settings_are_accepted_by_faust():
    settings = broker_compat.faust_settings("tansu")
    app = faust.App("compat-unit", broker="kafka://127.0.0.1:1", **settings)
    conf = app.conf
    # Tansu holds a JoinGroup for session/2: the session timeout sets the join time.
    assert conf.broker_session_timeout == 3.0
    assert conf.broker_heartbeat_interval * 3 <= conf.broker_session_timeout
    # Faust refuses a session timeout above the request timeout when it connects.
    assert conf.broker_session_timeout <= conf.broker_request_timeout


async def test_tansu_consumer_settings_are_accepted_by_aiokafka():
    settings = broker_compat.consumer_settings("tansu")
    assert settings["fetch_max_wait_ms"] > 0  # (f): 0 returns no topics on Tansu
    consumer = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1", **settings)
    try:
        assert consumer._coordinator is None  # built, not started: nothing connected
        assert settings["heartbeat_interval_ms"] < settings["session_timeout_ms"]
    finally:
        await consumer.stop()


_INSTALL = textwrap.dedent(
    """
    import json
    from aiokafka.consumer.fetcher import Fetcher
    from aiokafka.consumer.group_coordinator import GroupCoordinator
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
    from moodstream_common import broker_compat

    def current():
        return (
            GroupCoordinator._maybe_leave_group,
            Fetcher._proc_offset_request,
            Fetcher.__init__,
            AIOKafkaConsumerThread._create_worker_consumer,
        )

    shipped = current()
    broker_compat.apply("kafka")
    after_kafka = current()
    kafka_installed = sorted(broker_compat.installed())
    broker_compat.apply("tansu")
    first = current()
    broker_compat.apply("tansu")
    broker_compat.install_patch("latest_offset_from_high_watermark")
    print(json.dumps({
        "kafka_changes_nothing": after_kafka == shipped,
        "kafka_installed": kafka_installed,
        "tansu_replaces_all": all(a is not b for a, b in zip(first, shipped)),
        "tansu_idempotent": current() == first,
        "tansu_installed": sorted(broker_compat.installed()),
        "marked": [getattr(f, "__moodstream_patch__", None) for f in first],
    }))
    """
)


def test_apply_installs_once_and_only_for_tansu():
    result = subprocess.run(
        [sys.executable, "-c", _INSTALL], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report == {
        "kafka_changes_nothing": True,
        "kafka_installed": [],
        "tansu_replaces_all": True,
        "tansu_idempotent": True,
        "tansu_installed": sorted(broker_compat.PATCHES),
        "marked": ["leave_group", "latest_offsets", "out_of_range", "faust_fetch_wait"],
    }


def test_every_patch_is_documented():
    doc = broker_compat.__doc__ or ""
    for marker in ("(a)", "(b)", "(c)", "(d)", "(e)", "(f)", "(h)", "(i)"):
        assert marker in doc
    assert set(broker_compat.PATCHES) == {
        "faust_fetch_wait",
        "leave_group_generation_zero",
        "latest_offset_from_high_watermark",
        "out_of_range_past_log_end",
    }


def test_only_fetches_past_the_log_end_count_as_out_of_range():
    offsets = {("t", 0): 30, ("t", 1): 5, ("t", 2): 7, ("t", 3): 9}
    answered = [
        ("t", 0, 0, 5),    # ahead of an emptied log: Kafka says OFFSET_OUT_OF_RANGE
        ("t", 1, 0, 5),    # at the end: waiting for new records is right
        ("t", 2, 0, 100),  # behind the end: records to read
        ("t", 3, 3, 0),    # an error of its own: left to aiokafka
    ]
    assert broker_compat.ahead_of_log(offsets, answered) == [(("t", 0), 30, 5)]


def test_forget_partition_clears_the_faust_consumers_offsets():
    from aiokafka.structs import TopicPartition
    from faust.types import TP

    app = faust.App("compat-forget", broker="kafka://127.0.0.1:1")
    forget = broker_compat.forget_partition_in(app)
    forget(TopicPartition("raw", 0), 30, 5, "test")  # no consumer yet: creates none
    assert app._consumer is None
    consumer = app.consumer
    kept, lost = TP("raw", 1), TP("raw", 0)
    for tp in (kept, lost):
        consumer._read_offset[tp] = 29
        consumer._committed_offset[tp] = 30
        consumer._acked[tp].append(31)
    forget(TopicPartition("raw", 0), 30, 5, "test")
    assert consumer._read_offset[lost] is None  # records from 0 on are no longer "seen"
    assert consumer._committed_offset[lost] is None
    assert lost not in consumer._acked
    assert (consumer._read_offset[kept], consumer._committed_offset[kept]) == (29, 30)


_FAUST_FETCH_WAIT = textwrap.dedent(
    """
    import asyncio, sys
    from moodstream_common.faust_app import make_app
    from moodstream_common.settings import BrokerSettings

    app = make_app("compat", BrokerSettings(), web_port=6066)

    async def main():
        consumer = app.consumer._thread._create_worker_consumer(app.transport)
        print(consumer._fetch_max_wait_ms)

    asyncio.run(main())
    """
)


@pytest.mark.parametrize(("flavor", "wait_ms"), [("tansu", 100), ("kafka", 1500)])
def test_faust_consumers_wait_briefly_on_tansu_only(flavor, wait_ms):
    # (i): a record reaches a waiting Fetch ~0.4 x max_wait late on Tansu; Kafka answers
    # on min_bytes, so Faust's own 1,500 ms stays there.
    result = subprocess.run(
        [sys.executable, "-c", _FAUST_FETCH_WAIT],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "MOODSTREAM_BROKER_FLAVOR": flavor},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == str(wait_ms)
