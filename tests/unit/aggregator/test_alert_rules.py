"""Alert rules: the file's validation (each problem names its field) and evaluation."""

import pytest

from moodstream_aggregator.alert_rules import (
    RuleFileError,
    load_rules,
    observe,
    parse_rules,
)
from moodstream_aggregator.kinds import RowKind

GOOD = """
rules:
  - name: negative-spike
    metric: negative_share
    above: 0.4
    window_minutes: 5
    min_messages: 50
  - name: launch-sour
    metric: mean_score
    below: -0.2
    hashtag: "#Launch"
"""


def test_a_good_file_gives_its_rules_with_defaults_and_normalized_hashtags():
    spike, launch = parse_rules(GOOD)
    assert (spike.name, spike.metric, spike.comparison, spike.threshold) == (
        "negative-spike",
        "negative_share",
        "above",
        0.4,
    )
    assert (spike.window_minutes, spike.min_messages, spike.scope) == (5, 50, "all")
    assert spike.row_kind() == RowKind.MINUTE
    assert spike.row_keys([60, 120]) == ["60", "120"]
    assert (launch.comparison, launch.threshold, launch.hashtag) == ("below", -0.2, "launch")
    assert (launch.window_minutes, launch.min_messages, launch.scope) == (5, 1, "#launch")
    assert launch.row_kind() == RowKind.HASHTAG_SERIES
    assert launch.row_keys([60]) == ["60|launch"]


def test_an_empty_path_or_empty_file_has_no_rules(tmp_path):
    assert load_rules("") == []
    empty = tmp_path / "rules.yaml"
    empty.write_text("")
    assert load_rules(str(empty)) == []


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("rules: [", "not valid YAML"),
        ("- a\n- b\n", "expected a mapping"),
        ("rulez: []", "rulez"),
        (
            "rules:\n  - {name: a, metric: negative_share, above: 0.4, colour: red}",
            "rules[0].colour",
        ),
        ("rules:\n  - {name: a, metric: negative_share, above: 1.5}", "negative_share is in 0..1"),
        ("rules:\n  - {name: a, metric: mean_score, below: -2}", "below: mean_score is in -1..1"),
        ("rules:\n  - {name: a, metric: negative_share}", "exactly one of 'above' or 'below'"),
        ("rules:\n  - {name: a, metric: negative_share, above: 0.1, below: 0.2}", "exactly one"),
        ("rules:\n  - {name: a, metric: anger, above: 0.4}", "rules[0].metric"),
        (
            "rules:\n  - {name: a, metric: negative_share, above: 0.4, window_minutes: 0}",
            "rules[0].window_minutes",
        ),
        (
            "rules:\n  - {name: a, metric: negative_share, above: 0.4, min_messages: 0}",
            "rules[0].min_messages",
        ),
        ("rules:\n  - {name: 'a b', metric: negative_share, above: 0.4}", "rules[0].name"),
        (
            "rules:\n  - {name: a, metric: negative_share, above: 0.4, hashtag: '#'}",
            "rules[0].hashtag",
        ),
        (
            "rules:\n  - {name: a, metric: negative_share, above: 0.4}\n"
            "  - {name: a, metric: positive_share, above: 0.4}",
            "unique: a",
        ),
    ],
)
def test_a_bad_file_is_refused_naming_the_problem(text, names):
    with pytest.raises(RuleFileError) as refused:
        parse_rules(text, "rules.yaml")
    assert str(refused.value).startswith("rules.yaml: ")
    assert names in str(refused.value)


def test_an_unreadable_file_is_refused_with_its_path(tmp_path):
    with pytest.raises(RuleFileError, match="cannot read"):
        load_rules(str(tmp_path / "missing.yaml"))


def row(positive=0, neutral=0, negative=0, score_sum=0.0):
    return {"positive": positive, "neutral": neutral, "negative": negative, "score_sum": score_sum}


def test_a_share_above_the_threshold_holds_only_with_enough_messages():
    (rule,) = parse_rules(
        "rules:\n  - {name: a, metric: negative_share, above: 0.4, min_messages: 10}"
    )
    seen = observe(rule, [row(positive=3, negative=2), row(negative=5)])
    assert (seen.messages, seen.value, seen.holds) == (10, 0.7, True)
    too_few = observe(rule, [row(negative=9)])
    assert (too_few.messages, too_few.value, too_few.holds) == (9, 1.0, False)
    at_threshold = observe(rule, [row(positive=6, negative=4)])
    assert (at_threshold.value, at_threshold.holds) == (0.4, False)  # above means strictly
    assert observe(rule, []).holds is False


def test_a_mean_score_below_the_threshold_holds():
    (rule,) = parse_rules("rules:\n  - {name: a, metric: mean_score, below: -0.2}")
    sour = observe(rule, [row(negative=2, neutral=1, score_sum=-0.9)])
    assert (sour.messages, sour.value, sour.holds) == (3, -0.3, True)
    assert observe(rule, [row(positive=2, score_sum=1.0)]).holds is False


def test_the_aggregator_refuses_to_start_on_a_bad_rules_file_naming_the_field(tmp_path):
    import os
    import subprocess
    import sys

    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - {name: spike, metric: negative_share, above: 40}\n")
    env = {
        **os.environ,
        "AGGREGATOR_ALERT_RULES": str(rules),
        "AGGREGATOR_STORE": "memory://",
        "MOODSTREAM_DATA_DIR": str(tmp_path),
        "MOODSTREAM_BROKER_URL": "kafka://127.0.0.1:9",
    }
    started = subprocess.run(
        [sys.executable, "-m", "moodstream_aggregator"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode != 0
    last_line = started.stderr.strip().splitlines()[-1]
    assert last_line == (
        f"moodstream aggregator: AGGREGATOR_ALERT_RULES: {rules}: rules[0]: "
        "Value error, above: negative_share is in 0..1, got 40"
    )


@pytest.mark.parametrize(
    "url", ["ftp://hooks.example/x", "hooks.example/x", "http://", "file:///etc/passwd"]
)
def test_a_webhook_url_that_is_not_http_is_refused_naming_the_setting(url):
    from pydantic import ValidationError

    from moodstream_aggregator.settings import Settings

    with pytest.raises(ValidationError, match="alert_webhook_url"):
        Settings(alert_webhook_url=url)
    assert Settings(alert_webhook_url="https://hooks.example/x").alert_webhook_url


def test_webhook_attempts_and_timeout_must_be_positive():
    from pydantic import ValidationError

    from moodstream_aggregator.settings import Settings

    with pytest.raises(ValidationError, match="alert_webhook_attempts"):
        Settings(alert_webhook_attempts=0)
    with pytest.raises(ValidationError, match="alert_webhook_timeout_seconds"):
        Settings(alert_webhook_timeout_seconds=0)
