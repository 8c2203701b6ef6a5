"""Row kinds: one definition, and the published contract says what is really published."""

import json

import pytest

from moodstream_aggregator.contributions import Contribution, deltas, window_start
from moodstream_aggregator.keys import row_key, window_of
from moodstream_aggregator.kinds import MINUTE, SECOND, WINDOW_KINDS, RowKind, series_kind
from moodstream_common.records import AGGREGATE_KINDS, AggregateUpdate


def test_the_published_contract_names_exactly_the_published_kinds():
    assert set(AGGREGATE_KINDS) == {kind.value for kind in RowKind if kind.published}


def test_a_message_writes_every_published_kind_and_nothing_else():
    contribution = Contribution(
        label="negative", score=-0.7, event_time=130.2, user_id="u1", hashtags=("launch",)
    )
    written = {delta.kind for delta in deltas(None, contribution)}
    assert written == {kind for kind in RowKind if kind.published}


def test_window_kinds_carry_their_window_sizes():
    assert {kind: kind.window_seconds for kind in WINDOW_KINDS} == {
        RowKind.SECOND: SECOND,
        RowKind.MINUTE: MINUTE,
        RowKind.HASHTAG_MINUTE: MINUTE,
        RowKind.HASHTAG_SERIES: MINUTE,
    }
    assert RowKind.TOTAL.window_seconds is None
    delta_keys = {d.kind: d.key for d in deltas(None, Contribution("positive", 0.5, 130.2))}
    for kind in (RowKind.SECOND, RowKind.MINUTE):
        assert delta_keys[kind] == str(window_start(130.2, kind.window_seconds))
    tagged = Contribution("positive", 0.5, 130.2, hashtags=("launch",))
    series_keys = {d.key for d in deltas(None, tagged) if d.kind == RowKind.HASHTAG_SERIES}
    assert series_keys == {"120|launch"}
    assert window_of("120|launch") == 120 == window_of("120")


def test_series_kind_refuses_a_window_it_does_not_keep():
    assert series_kind(1) is RowKind.SECOND and series_kind(60) is RowKind.MINUTE
    with pytest.raises(ValueError, match="use 1 or 60"):
        series_kind(5)


def test_kinds_are_their_strings_in_keys_and_published_records():
    # Stored keys and the aggregates topic keep the layout they had as plain strings.
    assert row_key(RowKind.HASHTAG_MINUTE, 3, "120") == "hashtag_minute|3|120"
    update = AggregateUpdate(kind=RowKind.USER, key="u1", value={"total": 1})
    assert json.loads(update.dumps())["kind"] == "user"
