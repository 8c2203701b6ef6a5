"""Trace context survives a trip through Kafka record headers."""

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from moodstream_common.tracing import extract_context, inject_headers


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
