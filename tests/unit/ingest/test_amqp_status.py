"""Readiness waits for the AMQP source to subscribe, and only when the source is on."""

from __future__ import annotations

from moodstream_ingest.amqp_status import BridgeStatus


def test_an_enabled_bridge_is_not_ready_until_it_consumes():
    status = BridgeStatus(enabled=True)
    assert not status.ready
    assert status.readiness() == {"amqp_consuming": False}
    status.consuming = True
    assert status.ready
    assert status.readiness() == {"amqp_consuming": True}


def test_a_disabled_bridge_neither_blocks_readiness_nor_reports():
    status = BridgeStatus()
    assert status.ready
    assert status.readiness() == {}
