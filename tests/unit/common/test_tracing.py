"""Trace context survives a trip through Kafka record headers."""

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from moodstream_common.tracing import (
    batch_links,
    child_span_headers,
    extract_context,
    inject_headers,
    record_links,
)


def test_headers_round_trip_keeps_trace_and_parent():
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("producer") as span:
        headers = inject_headers()
    assert b"-" in headers["traceparent"]
    context = extract_context(list(headers.items()))
    parent = trace.get_current_span(context).get_span_context()
    assert parent.trace_id == span.get_span_context().trace_id
    assert parent.span_id == span.get_span_context().span_id


def test_missing_or_garbage_headers_give_an_empty_context():
    assert trace.get_current_span(extract_context(None)).get_span_context().is_valid is False
    garbage = extract_context([("traceparent", b"\xff\xfe not a trace")])
    assert trace.get_current_span(garbage).get_span_context().is_valid is False


def test_child_span_headers_carry_a_new_span_under_the_parent():
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("raw") as raw:
        parent = extract_context(inject_headers())
    headers = child_span_headers("score", parent, {"moodstream.label": "negative"}, spans=tracer)
    child = trace.get_current_span(extract_context(headers)).get_span_context()
    assert child.trace_id == raw.get_span_context().trace_id
    assert child.span_id != raw.get_span_context().span_id


def test_batch_links_point_at_each_records_span():
    tracer = TracerProvider().get_tracer("test")
    contexts = []
    for name in ("a", "b"):
        with tracer.start_as_current_span(name):
            contexts.append(extract_context(inject_headers()))
    links = batch_links([*contexts, extract_context(None)])
    expected = [trace.get_current_span(c).get_span_context().span_id for c in contexts]
    assert [link.context.span_id for link in links[:2]] == expected
    assert links[2].context.is_valid is False


def _contexts(tracer, names):
    contexts = []
    for name in names:
        with tracer.start_as_current_span(name):
            contexts.append(extract_context(inject_headers()))
    return contexts


def test_batch_links_build_only_the_links_the_sdk_keeps(monkeypatch):
    # The SDK keeps a span's last OTEL_SPAN_LINK_COUNT_LIMIT links; those are the ones built.
    monkeypatch.setenv("OTEL_SPAN_LINK_COUNT_LIMIT", "2")
    tracer = TracerProvider().get_tracer("test")
    contexts = _contexts(tracer, ("a", "b", "c"))
    links = batch_links(contexts)
    expected = [trace.get_current_span(c).get_span_context().span_id for c in contexts[1:]]
    assert [link.context.span_id for link in links] == expected
    with tracer.start_as_current_span("batch", links=batch_links(contexts)) as span:
        assert [link.context.span_id for link in span.links] == expected


def test_record_links_read_the_headers_of_the_kept_records_only(monkeypatch):
    monkeypatch.setenv("OTEL_SPAN_LINK_COUNT_LIMIT", "1")
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("last") as last:
        headers = list(inject_headers().items())

    class Record:
        def __init__(self, headers):
            self.headers = headers

    class Unreadable:
        @property
        def headers(self):
            raise AssertionError("read the headers of a record whose link is dropped")

    links = record_links([Unreadable(), Record(headers)])
    assert [link.context.span_id for link in links] == [last.get_span_context().span_id]
    monkeypatch.setenv("OTEL_SPAN_LINK_COUNT_LIMIT", "0")
    assert record_links([Unreadable()]) == []
