"""One trace follows a message from the HTTP request through ingest, analyzer and
aggregator; context travels in Kafka record headers (W3C traceparent)."""

import json
from pathlib import Path

import httpx
import pytest

from tests.helpers import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def _spans(stack):
    spans = []
    for service in stack.values():
        path = Path(service.env["MOODSTREAM_TRACE_FILE"])
        if path.exists():
            spans += [json.loads(line) for line in path.read_text().splitlines() if line]
    return spans


def test_parent_child_edges_across_all_three_services(stack):
    response = httpx.post(f"{stack['ingest'].url}/v1/messages", timeout=10,
                          json={"id": "trace_1", "text": "tracing is great", "type": "update"})
    assert response.status_code == 202

    def chain():
        spans = _spans(stack)
        applied = [s for s in spans if s["name"] == "moodstream.aggregator.apply"
                   and s["attributes"].get("moodstream.message_id") == "trace_1"]
        return (spans, applied[0]) if applied else None

    spans, apply = eventually(chain, timeout=60)
    by_id = {span["span_id"]: span for span in spans}
    score = by_id[apply["parent_id"]]
    assert (score["name"], score["service"]) == ("moodstream.analyzer.score", "analyzer")
    message = by_id[score["parent_id"]]
    assert (message["name"], message["service"]) == ("moodstream.ingest.message", "ingest")
    assert message["attributes"]["moodstream.message_id"] == "trace_1"
    accept = by_id[message["parent_id"]]
    http = by_id[accept["parent_id"]]
    assert (accept["name"], http["name"]) == ("moodstream.ingest.accept", "moodstream.ingest.http")
    assert http["parent_id"] is None  # the trace starts at the HTTP request
    assert {s["trace_id"] for s in (apply, score, message, accept, http)} == {http["trace_id"]}
    # The analyzer's batch span links to the message's span.
    batches = [s for s in spans if s["name"] == "moodstream.analyzer.batch"
               and message["span_id"] in s["links"]]
    assert len(batches) == 1
