"""A message posted over HTTP travels ingest -> analyzer -> aggregator through real
topics on the embedded broker, scored by the real model, and shows in the views."""

import httpx
import pytest

from tests.helpers import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def test_message_flows_through_all_three_services(stack):
    ingest, aggregator = stack["ingest"].url, stack["aggregator"].url
    posted = httpx.post(
        f"{ingest}/v1/messages",
        json={"id": "e2e_1", "user_id": "u_e2e", "text": "I absolutely love this, wonderful! #e2e",
              "timestamp": "2025-07-06T13:35:15.598473", "type": "update"},
        timeout=10,
    )
    assert posted.status_code == 202, posted.text
    assert posted.json() == {"status": "accepted", "id": "e2e_1"}

    state = eventually(lambda: _json(f"{aggregator}/v1/messages/e2e_1"), timeout=60)
    assert state["label"] == "positive"
    assert state["user_id"] == "u_e2e"
    assert "e2e" in state["hashtags"]

    minute = _json(f"{aggregator}/v1/hashtags/minute?minute=1751808915")
    assert minute["top"] == [{"hashtag": "e2e", "count": 1}]
    seconds = _json(f"{aggregator}/v1/sentiment/seconds?last=5")
    assert seconds["windows"][-1]["window_start"] == "2025-07-06T13:35:15Z"
    assert seconds["windows"][-1]["positive"] == 1
    # One hashtag's minutes, asked for as a user types it (the # and the case).
    trend = _json(f"{aggregator}/v1/hashtags/%23E2E/minutes?last=2")
    assert trend["hashtag"] == "e2e"
    assert [w["window_start"] for w in trend["windows"]] == ["2025-07-06T13:34:00Z",
                                                            "2025-07-06T13:35:00Z"]
    assert [(w["positive"], w["total"]) for w in trend["windows"]] == [(0, 0), (1, 1)]
    for bad in ("%23/minutes", "e2e/minutes?last=0", "e2e/minutes?last=x"):
        refused = httpx.get(f"{aggregator}/v1/hashtags/{bad}", timeout=10)
        assert refused.status_code == 400, bad
        assert refused.json()["reason"] == "bad_parameter", bad


def test_update_replaces_and_delete_retracts_end_to_end(stack):
    ingest, aggregator = stack["ingest"].url, stack["aggregator"].url
    user = "u_retract"

    def post(event):
        response = httpx.post(f"{ingest}/v1/messages", json=event, timeout=10)
        assert response.status_code == 202, response.text

    post({"id": "e2e_r", "user_id": user, "text": "This is wonderful, I love it", "type": "update",
          "timestamp": 1751808000})
    eventually(lambda: _user(aggregator, user)["positive"] == 1 or None, timeout=60)
    post({"id": "e2e_r", "user_id": user, "text": "This is awful, I hate it", "type": "update",
          "timestamp": 1751808000})
    view = eventually(lambda: (v := _user(aggregator, user))["negative"] == 1 and v, timeout=60)
    assert view["positive"] == 0 and view["total"] == 1
    # The live feed shows the update's text and label, once.
    feed = _json(f"{aggregator}/v1/messages?user_id={user}")["messages"]
    assert [(m["id"], m["text"], m["label"]) for m in feed] == [
        ("e2e_r", "This is awful, I hate it", "negative")]
    assert _json(f"{aggregator}/v1/messages?user_id={user}&label=positive")["messages"] == []
    post({"id": "e2e_r", "type": "delete"})
    view = eventually(lambda: (v := _user(aggregator, user))["total"] == 0 and v, timeout=60)
    assert view["negative"] == 0
    assert _json(f"{aggregator}/v1/messages/e2e_r")["deleted"] is True
    assert _json(f"{aggregator}/v1/messages?user_id={user}")["messages"] == []


def test_the_feed_refuses_bad_parameters_by_name(stack):
    aggregator = stack["aggregator"].url
    for query, named in (("limit=501", "limit"), ("limit=0", "limit"), ("label=angry", "label"),
                         ("cursor=nonsense", "cursor"), ("hashtag=%23", "hashtag")):
        refused = httpx.get(f"{aggregator}/v1/messages?{query}", timeout=10)
        assert refused.status_code == 400, query
        assert refused.json()["reason"] == "bad_parameter", query
        assert named in refused.json()["detail"], query


def _user(base, user):
    return httpx.get(f"{base}/v1/users/{user}", timeout=5).json()


def _json(url):
    response = httpx.get(url, timeout=5)
    return response.json() if response.status_code == 200 else None


def test_legacy_polling_endpoints_have_the_shapes_dashboards_expect(stack):
    ingest, aggregator = stack["ingest"].url, stack["aggregator"].url
    response = httpx.post(f"{ingest}/v1/messages", timeout=10,
                          json={"id": "legacy_now", "text": "Great job #legacy"})
    assert response.status_code == 202
    eventually(lambda: _json(f"{aggregator}/v1/messages/legacy_now"), timeout=60)
    per_sec = _json(f"{aggregator}/refresh_react_num_per_sec")
    assert set(per_sec) == {"positive", "neutral", "negative", "createdAtArray", "scoreArray"}
    assert len(per_sec["createdAtArray"]) == len(per_sec["scoreArray"]) == 60
    assert sum(per_sec[label] for label in ("positive", "neutral", "negative")) >= 1
    per_min = _json(f"{aggregator}/refresh_react_num_per_min")
    assert set(per_min) == {"positive", "neutral", "negative"} and sum(per_min.values()) >= 1
    top = _json(f"{aggregator}/refresh_top_five_hashtags_per_min")
    assert top.get("legacy", 0) >= 1 and len(top) <= 5
