"""The aggregate agent in Faust's test context: updates replace, deletes retract,
redelivery changes nothing, and rows are partial per source partition."""

import pytest

from moodstream_aggregator import keys, queries, tables
from moodstream_aggregator.agents import aggregate
from moodstream_aggregator.app import app
from moodstream_common.records import ScoredMessage
from tests.unit.aggregator import local_views


def scored(message_id, label="positive", score=0.5, event_time=1_751_808_915.2, **extra):
    return ScoredMessage(
        id=message_id, type=extra.pop("type", "update"), event_time=event_time,
        received_at=event_time, text=extra.pop("text", "t"), user_id=extra.pop("user_id", "u1"),
        label=label, score=score, hashtags=extra.pop("hashtags", ["launch"]),
        model_version="test", **extra,
    )


@pytest.fixture()
async def agent():
    app.finalize()
    app.flow_control.resume()
    async with aggregate.test_context() as agent:
        yield agent
    tables.aggregates.data.clear()


def totals():
    return queries.summarize(local_views.counts("total", "all"))


async def test_update_then_redelivery_counts_once(agent):
    await agent.put(scored("m1"), key="m1", partition=0)
    await agent.put(scored("m1"), key="m1", partition=0)
    assert totals()["positive"] == 1
    assert totals()["total"] == 1


async def test_update_replaces_and_delete_retracts(agent):
    await agent.put(scored("m1"), key="m1", partition=1)
    await agent.put(scored("m1", label="negative", score=-0.9), key="m1", partition=1)
    assert (totals()["positive"], totals()["negative"]) == (0, 1)
    assert queries.summarize(local_views.counts("user", "u1"))["negative"] == 1
    await agent.put(scored("m1", type="delete", label=None), key="m1", partition=1)
    assert totals()["total"] == 0
    assert tables.message_state("m1")["deleted"] is True


async def test_partitions_hold_partial_rows_that_sum(agent):
    await agent.put(scored("a"), key="a", partition=0)
    await agent.put(scored("b", label="neutral", score=0.0), key="b", partition=3)
    assert len(tables.partials("total", "all")) == 2
    assert (totals()["positive"], totals()["neutral"]) == (1, 1)
    second = local_views.series(1, 1)["windows"][0]
    assert second["total"] == 2
    assert local_views.top_hashtags_minute(queries.minute_of(1_751_808_915.2), 5) == [
        {"hashtag": "launch", "count": 2}
    ]


async def test_late_record_is_counted_and_reported(agent):
    await agent.put(scored("new", event_time=10_000.0), key="new", partition=0)
    await agent.put(scored("old", event_time=100.0), key="old", partition=0)
    assert totals()["total"] == 2
    assert local_views.late_count() == 1


async def test_old_windows_and_messages_expire(agent, monkeypatch):
    from moodstream_aggregator import agents

    monkeypatch.setattr(agents.aggregation.rules, "expiry_interval_seconds", 0.0)
    monkeypatch.setattr(agents.aggregation.retention, "second_retention", 10)
    monkeypatch.setattr(agents.aggregation.retention, "minute_retention", 120)
    monkeypatch.setattr(agents.aggregation.retention, "message_retention", 300)
    monkeypatch.setattr(agents.aggregation.rules, "message_retention_seconds", 300)
    await agent.put(scored("old", event_time=1_000.0), key="old", partition=2)
    assert local_views.series(1, 1, until=1_000.0)["windows"][0]["total"] == 1
    await agent.put(scored("new", event_time=2_000.0), key="new", partition=2)
    # The old second and minute windows and the old message are gone; totals stay.
    assert local_views.series(1, 1, until=1_000.0)["windows"][0]["total"] == 0
    assert local_views.series(60, 1, until=1_000.0)["windows"][0]["total"] == 0
    assert tables.message_state("old") is None
    assert tables.message_state("new") is not None
    assert totals()["total"] == 2


async def test_a_hashtag_series_follows_updates_and_deletes_per_minute(agent):
    minute = 1_751_808_900
    await agent.put(scored("a", event_time=minute + 5.0, hashtags=["launch", "help"]),
                    key="a", partition=0)
    await agent.put(scored("b", label="negative", score=-0.8, event_time=minute + 65.0,
                           hashtags=["launch"]), key="b", partition=3)
    series = local_views.hashtag_series("launch", 3)
    assert series["hashtag"] == "launch"
    assert [w["window_start"] for w in series["windows"]] == [
        queries.iso(minute - 60), queries.iso(minute), queries.iso(minute + 60)
    ]
    assert [(w["positive"], w["negative"]) for w in series["windows"]] == [(0, 0), (1, 0), (0, 1)]
    assert [w["total"] for w in local_views.hashtag_series("help", 3)["windows"]] == [0, 1, 0]
    # An update moves the message to its new label and tags; a delete takes it out.
    await agent.put(scored("a", label="negative", score=-0.5, event_time=minute + 5.0,
                           hashtags=["help"]), key="a", partition=0)
    assert [w["total"] for w in local_views.hashtag_series("launch", 3)["windows"]] == [0, 0, 1]
    assert local_views.hashtag_series("help", 3)["windows"][1]["negative"] == 1
    await agent.put(scored("b", type="delete", label=None), key="b", partition=3)
    assert [w["total"] for w in local_views.hashtag_series("launch", 3)["windows"]] == [0, 0, 0]


async def test_hashtag_series_rows_expire_with_the_minute_windows(agent, monkeypatch):
    from moodstream_aggregator import agents

    monkeypatch.setattr(agents.aggregation.rules, "expiry_interval_seconds", 0.0)
    monkeypatch.setattr(agents.aggregation.retention, "minute_retention", 120)
    await agent.put(scored("old", event_time=1_000.0, hashtags=["launch"]), key="old",
                    partition=2)
    assert len(tables.partials("hashtag_series", "960|launch")) == 1
    await agent.put(scored("new", event_time=2_000.0, hashtags=["launch"]), key="new",
                    partition=2)
    assert tables.partials("hashtag_series", "960|launch") == []
    assert len(tables.partials("hashtag_series", "1980|launch")) == 1


def test_a_hashtag_is_looked_up_as_the_analyzer_stores_it():
    assert keys.hashtag_of("#Launch") == "launch"
    assert keys.hashtag_of("\uff03CAFE\u0301") == "caf\u00e9"
    assert keys.hashtag_of("  ") == ""
    assert keys.hashtag_of("#" * 3) == ""


async def test_the_feed_shows_live_messages_newest_first_with_filters_and_pages(agent):
    base = 1_751_808_900.0
    for index in range(12):
        label = ("positive", "neutral", "negative")[index % 3]
        await agent.put(
            scored(f"f{index:02d}", label=label, event_time=base + index, user_id=f"u{index % 2}",
                   hashtags=["launch"] if index % 4 == 0 else ["help"], text=f"text {index}"),
            key=f"f{index:02d}", partition=index % 4)
    feed = queries.local_feed(queries.FeedQuery(limit=50))
    assert [entry["id"] for entry in feed] == [f"f{index:02d}" for index in reversed(range(12))]
    assert feed[0] | {"score": None} == {
        "id": "f11", "user_id": "u1", "text": "text 11", "label": "negative", "score": None,
        "event_time": base + 11, "hashtags": ["help"], "language": "und",
        "model_version": "test"}
    negative = queries.local_feed(queries.FeedQuery(label="negative"))
    assert [entry["id"] for entry in negative] == ["f11", "f08", "f05", "f02"]
    launch = queries.local_feed(queries.FeedQuery(hashtag="launch", user_id="u0"))
    assert [entry["id"] for entry in launch] == ["f08", "f04", "f00"]

    # Pages of 5 through the cursor: every message once, in order, then no next page.
    seen, cursor = [], None
    while True:
        before = queries.parse_feed_cursor(cursor) if cursor else None
        page = queries.feed_page(
            queries.local_feed(queries.FeedQuery(limit=5, before=before)), 5)
        seen += [entry["id"] for entry in page["messages"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == [entry["id"] for entry in feed]

    # An update shows its current text and label (even when only the text changed); a
    # delete takes the message out.
    await agent.put(scored("f11", label="negative", event_time=base + 11, user_id="u1",
                           hashtags=["help"], text="edited"), key="f11", partition=3)
    assert queries.local_feed(queries.FeedQuery(limit=1))[0]["text"] == "edited"
    await agent.put(scored("f10", label="positive", event_time=base + 10, user_id="u0",
                           hashtags=["help"], text="now happy"), key="f10", partition=2)
    assert queries.local_feed(queries.FeedQuery(label="positive", limit=1))[0]["id"] == "f10"
    await agent.put(scored("f11", type="delete", label=None), key="f11", partition=3)
    assert queries.local_feed(queries.FeedQuery(limit=1))[0]["id"] == "f10"


async def test_the_feed_keeps_only_the_start_of_a_long_text(agent):
    await agent.put(scored("long", text="x" * 10_000), key="long", partition=0)
    text = queries.local_feed(queries.FeedQuery())[0]["text"]
    assert len(text) == 280 and text.endswith("…")


def test_a_feed_cursor_it_did_not_give_out_is_refused():
    position = (1_751_808_900.5, "id with {braces} and ü")
    assert queries.parse_feed_cursor(queries.feed_cursor(position)) == position
    for bad in ("", "!!", "bm90IGpzb24", queries.feed_cursor((1.0, "x"))[:-2] + "zz"):
        with pytest.raises(ValueError, match="cursor"):
            queries.parse_feed_cursor(bad)


def test_partition_of_matches_the_producer_partitioner():
    from aiokafka.partitioner import DefaultPartitioner

    partitioner = DefaultPartitioner()
    for message_id in ("msg_1", "msg_158", "ü", "lg_99999"):
        expected = partitioner(message_id.encode(), list(range(4)), list(range(4)))
        assert tables.partition_of(message_id) == expected


async def test_a_half_applied_event_is_completed_exactly_once_on_redelivery(agent):
    """Simulate a crash that lost the end of an event's writes (its message state and
    some rows): redelivering the event fills in only what is missing."""
    await agent.put(scored("m1"), key="m1", partition=0)            # offset 0
    await agent.put(scored("m1", label="negative", score=-1.0), key="m1", partition=0)  # 1
    after = dict(tables.aggregates.data.items())
    # Roll back: the message state of offset 1 and the "total" row were lost, the
    # other rows of offset 1 survived.
    tables.aggregates.data[tables.message_key("m1")] = {
        "current": after[tables.message_key("m1")]["current"] | {"label": "positive",
                                                                  "score": 0.5},
        "deleted": False, "deleted_at": None, "~offset": 0}
    total_key = tables.row_key("total", 0, "all")
    tables.aggregates.data[total_key] = {"positive": 1, "neutral": 0, "negative": 0,
                                         "score_sum": 0.5, "~offset": 0}
    user_before = dict(tables.aggregates.data[tables.row_key("user", 0, "u1")])
    assert (totals()["positive"], totals()["negative"]) == (1, 0)  # the lost state
    # Redelivery of offset 1 (a crash means the same record comes again, same offset).
    agent.sent_offset = 1
    await agent.put(scored("m1", label="negative", score=-1.0), key="m1", partition=0)
    assert (totals()["positive"], totals()["negative"]) == (0, 1)
    # The user row already had offset 1's change: not applied twice.
    user_after = tables.aggregates.data[tables.row_key("user", 0, "u1")]
    assert user_after["negative"] == user_before["negative"] == 1


async def _expire_now(agent, monkeypatch, retention: float) -> None:
    from moodstream_aggregator import agents

    monkeypatch.setattr(agents.aggregation.rules, "expiry_interval_seconds", 0.0)
    monkeypatch.setattr(agents.aggregation.retention, "message_retention", retention)
    monkeypatch.setattr(agents.aggregation.rules, "message_retention_seconds", retention)


async def test_a_message_resent_after_its_state_expired_is_not_counted_twice(agent, monkeypatch):
    """Its state is gone but its contribution to the totals is not: applying it again
    would double-count, so it is refused and reported as expired."""
    await _expire_now(agent, monkeypatch, retention=300)
    await agent.put(scored("old", event_time=1_000.0), key="old", partition=2)
    await agent.put(scored("new", event_time=2_000.0), key="new", partition=2)
    assert tables.message_state("old") is None  # expired
    assert totals()["total"] == 2
    await agent.put(scored("old", event_time=1_000.0), key="old", partition=2)
    assert totals()["total"] == 2
    assert local_views.expired_count() == 1
    assert tables.message_state("old") is None
    # A delete of it cannot retract either; it is refused the same way.
    await agent.put(scored("old", type="delete", label=None, event_time=1_000.0),
                    key="old", partition=2)
    assert (totals()["total"], local_views.expired_count()) == (2, 2)


async def test_a_message_within_retention_without_state_is_applied(agent, monkeypatch):
    await _expire_now(agent, monkeypatch, retention=300)
    await agent.put(scored("new", event_time=2_000.0), key="new", partition=2)
    await agent.put(scored("recent", event_time=1_800.0), key="recent", partition=2)
    assert (totals()["total"], local_views.expired_count()) == (2, 0)


async def test_a_future_timestamp_moves_the_watermark_only_a_little(agent, monkeypatch):
    """A day-ahead timestamp must not close every window nor expire recent messages,
    whose later deletes would then no longer retract them."""
    from moodstream_aggregator import agents

    await _expire_now(agent, monkeypatch, retention=3_600)
    monkeypatch.setattr(agents.aggregation.rules, "watermark_max_ahead_seconds", 60.0)
    now = 1_751_808_915.0
    await agent.put(scored("recent", event_time=now), key="recent", partition=1)
    future = ScoredMessage(
        id="future", type="update", event_time=now + 86_000, received_at=now + 1,
        text="t", user_id="u2", label="negative", score=-0.5, hashtags=[],
    )
    await agent.put(future, key="future", partition=1)
    assert local_views.watermark() == now + 1 + 60.0  # clamped to arrival + 60 s
    assert tables.message_state("recent") is not None
    await agent.put(scored("recent", type="delete", label=None, event_time=now + 2),
                    key="recent", partition=1)
    assert (totals()["positive"], totals()["negative"]) == (0, 1)
    # The future message still counts in its own (future) window.
    minute = queries.minute_of(now + 86_000)
    assert local_views.series(60, 1, until=minute)["windows"][0]["total"] == 1


def test_watermark_candidate_without_arrival_time_is_the_event_time():
    from moodstream_aggregator.agents import aggregation

    assert aggregation.watermark_candidate(5_000.0, 0.0) == 5_000.0
    assert aggregation.watermark_candidate(5_000.0, 1_000.0) == 1_060.0
    assert aggregation.watermark_candidate(900.0, 1_000.0) == 900.0


async def test_a_peer_that_does_not_answer_delays_publishing_and_crashes_nothing(monkeypatch):
    # A SIGKILLed peer stays in the assignment until its session times out; the publish
    # timer used to raise ConnectError and take this worker down with it.
    import inspect

    import httpx

    from moodstream_aggregator import agents, scatter
    from moodstream_aggregator.kinds import RowKind

    async def peer_is_gone(kind, keys):
        raise httpx.ConnectError("All connection attempts failed")

    monkeypatch.setattr(scatter, "rows", peer_is_gone)
    dirty = agents.aggregation.dirty
    dirty.clear()
    dirty.update({(RowKind.TOTAL, "all"), (RowKind.USER, "u_1")})
    await inspect.unwrap(agents.publish_changes)()  # one tick, not the timer's endless loop
    assert dirty == {(RowKind.TOTAL, "all"), (RowKind.USER, "u_1")}  # kept for the next tick
    dirty.clear()
