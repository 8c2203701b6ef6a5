"""Each service's /metrics is Prometheus text with the Moodstream series that moved."""

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def _samples(url):
    text = httpx.get(f"{url}/metrics", timeout=10).text
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, 0.0)
            found[sample.name] += sample.value
    return found


def test_metrics_count_messages_dead_letters_batches_and_model_latency(stack):
    ingest, analyzer, aggregator = (stack[n].url for n in ("ingest", "analyzer", "aggregator"))
    httpx.post(f"{ingest}/v1/messages", json={"id": "m_ok", "text": "fine"}, timeout=10)
    httpx.post(f"{ingest}/v1/messages", content=b"{not json", timeout=10)
    eventually(lambda: httpx.get(f"{aggregator}/v1/messages/m_ok").status_code == 200,
               timeout=60)
    ingest_m = _samples(ingest)
    assert ingest_m["moodstream_messages_in_total"] >= 2
    assert ingest_m["moodstream_dead_letters_total"] >= 1
    assert ingest_m["moodstream_messages_out_total"] >= 1
    analyzer_m = eventually(lambda: (m := _samples(analyzer)).get(
        "moodstream_model_latency_seconds_count", 0) >= 1 and m, timeout=30)
    assert analyzer_m["moodstream_batch_size_count"] >= 1
    assert "moodstream_consumer_lag" in analyzer_m
    assert _samples(aggregator)["moodstream_messages_in_total"] >= 1
