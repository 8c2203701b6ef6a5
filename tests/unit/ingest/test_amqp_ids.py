"""AMQP messages without an id get one that survives redelivery."""

import json

from moodstream_ingest.amqp_intake import item_for, stable_id


def test_same_message_same_id_on_every_delivery():
    body = json.dumps({"text": "hello again"}).encode()
    first = item_for("sentiment-analysis-queue", body, None)
    again = item_for("sentiment-analysis-queue", body, None)
    assert first.value["id"] == again.value["id"]
    assert first.value["id"].startswith("amqp-")
    assert first.original == body  # dead letters keep the exact bytes


def test_message_id_property_wins_and_queues_do_not_collide():
    body = json.dumps({"text": "same words"}).encode()
    assert item_for("q", body, "m-42").value["id"] == "m-42"
    assert stable_id("a", body, None) != stable_id("b", body, None)


def test_bodies_that_carry_or_need_their_own_id_are_left_alone():
    with_id = json.dumps({"id": "x1", "text": "t"}).encode()
    assert item_for("q", with_id, "m-1").value == {"id": "x1", "text": "t"}
    delete = json.dumps({"type": "delete"}).encode()  # must stay a missing_id rejection
    assert "id" not in item_for("q", delete, "m-2").value
    tweet = json.dumps({"id_str": "99", "text": "tweet"}).encode()
    assert item_for("q", tweet, None).value == {"id_str": "99", "text": "tweet"}


def test_undecodable_bodies_pass_through_for_a_dead_letter():
    item = item_for("q", b"\xff{nope", None)
    assert not item.decoded and item.original == b"\xff{nope"
