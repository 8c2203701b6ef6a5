"""Alert episodes: fire once when the condition starts holding, stay quiet while it
holds, resolve when it clears, and number episodes so a repeat keeps its id."""

from moodstream_aggregator.alert_rules import Observation, parse_rules
from moodstream_aggregator.episodes import RECENT_KEPT, empty_state, step

(RULE,) = parse_rules(
    "rules:\n  - {name: spike, metric: negative_share, above: 0.4, "
    "min_messages: 3, hashtag: launch}"
)
HOLDS = Observation(messages=10, value=0.7, holds=True)
CALM = Observation(messages=10, value=0.1, holds=False)


def test_a_calm_rule_sends_nothing_and_keeps_its_state():
    state, alert = step(None, RULE, CALM, watermark=100.0, now=1.0)
    assert alert is None
    assert state == empty_state()


def test_an_episode_fires_once_while_it_holds_then_resolves_once():
    state, fired = step(None, RULE, HOLDS, watermark=100.0, now=1.0)
    assert fired is not None
    assert (fired.id, fired.state, fired.scope, fired.value, fired.messages) == (
        "spike#1",
        "firing",
        "#launch",
        0.7,
        10,
    )
    assert (fired.started_at, fired.ended_at, fired.threshold) == (100.0, None, 0.4)
    assert state["active"]["id"] == "spike#1"

    worse = Observation(messages=20, value=0.9, holds=True)
    state, again = step(state, RULE, worse, watermark=130.0, now=2.0)
    assert again is None  # still the same episode: nothing is sent
    assert (state["active"]["value"], state["active"]["messages"]) == (0.9, 20)

    state, resolved = step(state, RULE, CALM, watermark=160.0, now=3.0)
    assert resolved is not None
    assert (resolved.id, resolved.state, resolved.started_at, resolved.ended_at) == (
        "spike#1",
        "resolved",
        100.0,
        160.0,
    )
    assert state["active"] is None
    assert [alert["id"] for alert in state["recent"]] == ["spike#1"]

    state, quiet = step(state, RULE, CALM, watermark=170.0, now=4.0)
    assert quiet is None

    state, second = step(state, RULE, HOLDS, watermark=200.0, now=5.0)
    assert second is not None and second.id == "spike#2"


def test_the_same_observation_again_changes_nothing():
    # What a redelivered or replayed event leads to: the aggregates did not change.
    state, _ = step(None, RULE, HOLDS, watermark=100.0, now=1.0)
    again, alert = step(state, RULE, HOLDS, watermark=100.0, now=9.0)
    assert alert is None
    assert again == state


def test_a_firing_not_stored_is_sent_again_with_the_same_id():
    # A crash after publishing but before the state was written: the stored state is
    # still the old one, so the next check numbers the episode the same.
    _, first = step(None, RULE, HOLDS, watermark=100.0, now=1.0)
    _, repeat = step(None, RULE, HOLDS, watermark=110.0, now=2.0)
    assert first is not None and repeat is not None
    assert first.id == repeat.id == "spike#1"


def test_recent_episodes_are_bounded_newest_first():
    state = None
    for number in range(RECENT_KEPT + 5):
        state, _ = step(state, RULE, HOLDS, watermark=float(number * 10), now=0.0)
        state, _ = step(state, RULE, CALM, watermark=float(number * 10 + 5), now=0.0)
    assert len(state["recent"]) == RECENT_KEPT
    assert state["recent"][0]["id"] == f"spike#{RECENT_KEPT + 5}"
    assert state["episodes"] == RECENT_KEPT + 5


def test_the_view_lists_configured_rules_active_first_then_newest_resolved():
    from moodstream_aggregator.queries import alerts_from

    state, _ = step(None, RULE, HOLDS, watermark=100.0, now=1.0)
    state, _ = step(state, RULE, CALM, watermark=160.0, now=2.0)
    state, _ = step(state, RULE, HOLDS, watermark=200.0, now=3.0)
    removed = {"rule": "gone", **step(None, RULE, HOLDS, watermark=50.0, now=1.0)[0]}
    view = alerts_from([{"rule": "spike", **state}, removed], ["spike"], recent=5)
    assert [alert["id"] for alert in view["active"]] == ["spike#2"]
    assert view["active"][0]["started_at_iso"] == "1970-01-01T00:03:20Z"
    assert [(alert["id"], alert["ended_at_iso"]) for alert in view["recent"]] == [
        ("spike#1", "1970-01-01T00:02:40Z")
    ]
    assert alerts_from([{"rule": "spike", **state}], ["spike"], recent=0)["recent"] == []
