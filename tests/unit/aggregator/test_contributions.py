"""Pure retraction arithmetic: new - old, redelivery is a no-op."""

from moodstream_aggregator.contributions import (
    Contribution,
    apply_delta,
    contribution_of,
    deltas,
    summarize,
    window_start,
)
from moodstream_common.records import ScoredMessage


def scored(**fields):
    base = dict(id="m1", type="update", event_time=120.5, received_at=121.0, text="hi",
                user_id="u1", label="positive", score=0.8, hashtags=["a"])
    base.update(fields)
    return ScoredMessage(**base)


def replay(contributions):
    """Apply a sequence of per-message states to empty rows, like the agent does."""
    rows: dict[tuple[str, str], dict] = {}
    previous = None
    for current in contributions:
        for delta in deltas(previous, current):
            key = (delta.kind, delta.key)
            rows[key] = apply_delta(rows.get(key), delta)
        previous = current
    return rows


def test_window_start_floors_to_size():
    assert window_start(125.9, 1) == 125
    assert window_start(125.9, 60) == 120
    assert window_start(59.999, 60) == 0


def test_delete_and_unscored_contribute_nothing():
    assert contribution_of(scored(type="delete", label=None)) is None
    assert contribution_of(scored(label=None)) is None


def test_same_contribution_twice_yields_no_delta():
    c = contribution_of(scored())
    assert list(deltas(c, c)) == []


def test_update_replaces_old_contribution_in_every_row():
    old = contribution_of(scored())
    new = contribution_of(scored(label="negative", score=-0.5, event_time=200.0, hashtags=["b"]))
    rows = replay([old, new])
    assert summarize(rows[("total", "all")])["negative"] == 1
    assert summarize(rows[("total", "all")])["positive"] == 0
    assert summarize(rows[("second", "120")])["total"] == 0
    assert summarize(rows[("second", "200")])["negative"] == 1
    assert rows[("hashtag_minute", "120")] == {}
    assert rows[("hashtag_minute", "180")] == {"b": 1}
    assert summarize(rows[("user", "u1")]) == {
        "positive": 0, "neutral": 0, "negative": 1, "unscored": 0, "total": 1,
        "mean_score": -0.5, "languages": {"und": 1},
    }


def test_delete_retracts_everything():
    c = contribution_of(scored())
    rows = replay([c, None])
    assert all(summarize(row)["total"] == 0 for (kind, _), row in rows.items()
               if kind != "hashtag_minute")
    assert rows[("hashtag_minute", "120")] == {}


def test_mean_score_is_mean_of_current_contributions():
    a = Contribution(label="positive", score=1.0, event_time=1.0)
    b = Contribution(label="negative", score=-0.5, event_time=1.0)
    rows = replay([a])
    for delta in deltas(None, b):
        rows[(delta.kind, delta.key)] = apply_delta(rows.get((delta.kind, delta.key)), delta)
    assert summarize(rows[("total", "all")])["mean_score"] == 0.25


def test_json_round_trip():
    c = contribution_of(scored(hashtags=["z", "a", "a"]))
    assert c.hashtags == ("a", "z")
    assert Contribution.from_json(c.to_json()) == c


def test_an_unsupported_language_counts_as_unscored_with_its_language_and_hashtags():
    korean = contribution_of(
        scored(label=None, score=0.0, language="ko", unscored_reason="unsupported_language")
    )
    assert korean is not None and korean.label == "unscored"
    rows = replay([korean])
    total = summarize(rows[("total", "all")])
    assert (total["unscored"], total["total"], total["positive"]) == (1, 1, 0)
    assert total["languages"] == {"ko": 1}
    assert summarize(rows[("hashtag", "a")])["unscored"] == 1
    assert summarize(rows[("language", "ko")])["total"] == 1
    # The mean is over scored messages only: an unscored one does not pull it to 0.
    english = contribution_of(scored(id="m2", language="en", score=0.8))
    both = replay([korean])
    for delta in deltas(None, english):
        both[(delta.kind, delta.key)] = apply_delta(both.get((delta.kind, delta.key)), delta)
    total = summarize(both[("total", "all")])
    assert (total["total"], total["mean_score"], total["languages"]) == (2, 0.8, {"en": 1, "ko": 1})


def test_an_update_that_changes_the_language_moves_its_contribution():
    french = contribution_of(scored(label=None, language="fr", unscored_reason="unsupported_language"))
    english = contribution_of(scored(label="negative", score=-0.6, language="en"))
    rows = replay([french, english])
    total = summarize(rows[("total", "all")])
    assert (total["unscored"], total["negative"], total["languages"]) == (0, 1, {"en": 1})
    assert summarize(rows[("language", "fr")])["total"] == 0
    assert summarize(rows[("language", "en")])["negative"] == 1
    assert "lang:fr" not in rows[("total", "all")]  # a count back at zero leaves the row
    rows = replay([french, english, None])
    assert summarize(rows[("total", "all")])["languages"] == {}


def test_a_label_without_an_unscored_reason_is_not_counted():
    assert contribution_of(scored(label=None, language="ko")) is None
