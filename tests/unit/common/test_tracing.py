"""Trace context survives a trip through Kafka record headers."""

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from moodstream_common.tracing import (
    batch_links,
    child_span_headers,
    extract_context,
    inject_headers,
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
