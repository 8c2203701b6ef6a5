"""Tracing helpers: trace context in Kafka record headers, span naming.

Libraries use the OpenTelemetry API only; :func:`configure_sdk` is called by each
service's entry point (never on import) to install the SDK and an exporter.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context

TRACER_NAME = "moodstream"


@functools.cache
def tracer() -> trace.Tracer:
    """The tracer every Moodstream span is created with.

    Cached: ``trace.get_tracer`` builds a new tracer (and compiles a warnings filter) on
    every call, 9 % of ingest's CPU when called per message. A tracer fetched before
    :func:`configure_sdk` is the API's proxy, which follows the SDK once it is installed.
    """
    return trace.get_tracer(TRACER_NAME)


def configure_sdk(service: str) -> None:
    """Install the OpenTelemetry SDK for ``service``.

    OTLP export when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, console export when
    ``MOODSTREAM_TRACE_CONSOLE=1``, otherwise spans are created but not exported.
    """
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    os.environ.setdefault("OTEL_SERVICE_NAME", service)
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:  # exporter package not installed: keep tracing local
            pass
        else:
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    if os.environ.get("MOODSTREAM_TRACE_CONSOLE") == "1":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    trace_file = os.environ.get("MOODSTREAM_TRACE_FILE")
    if trace_file:
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor

        # One JSON object a line, written as each span ends (tests and debugging).
        stream = open(trace_file, "a", buffering=1)  # noqa: SIM115  lives as long as the process
        exporter = ConsoleSpanExporter(out=stream, formatter=span_json_line)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)


def span_json_line(span: Any) -> str:
    """A finished span as one JSON line: ids, parent, links, attributes, service."""
    context = span.get_span_context()
    return (
        json.dumps(
            {
                "name": span.name,
                "service": span.resource.attributes.get("service.name"),
                "trace_id": format(context.trace_id, "032x"),
                "span_id": format(context.span_id, "016x"),
                "parent_id": format(span.parent.span_id, "016x") if span.parent else None,
                "links": [format(link.context.span_id, "016x") for link in span.links],
                "attributes": dict(span.attributes or {}),
            }
        )
        + "\n"
    )


def inject_headers(context: Context | None = None) -> dict[str, bytes]:
    """W3C trace context of ``context`` (default: current) as Kafka record headers."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=context)
    return {key: value.encode() for key, value in carrier.items()}


def extract_context(headers: Mapping[str, bytes] | Iterable[tuple[str, bytes]] | None) -> Context:
    """Trace context carried in Kafka record ``headers`` (a mapping or pairs)."""
    if not headers:
        return Context()
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    carrier = {
        key: value.decode("latin-1") if isinstance(value, bytes) else str(value)
        for key, value in pairs
    }
    return propagate.extract(carrier)


def max_links() -> int:
    """How many links a span keeps: the SDK keeps only the last ``OTEL_SPAN_LINK_COUNT_LIMIT``
    (default 128) and drops the rest, so building more is wasted work."""
    try:
        return max(0, int(os.environ.get("OTEL_SPAN_LINK_COUNT_LIMIT", DEFAULT_MAX_LINKS)))
    except ValueError:
        return DEFAULT_MAX_LINKS


DEFAULT_MAX_LINKS = 128
"""The OpenTelemetry SDK's default ``OTEL_SPAN_LINK_COUNT_LIMIT``."""


def batch_links(contexts: Sequence[Context]) -> list[trace.Link]:
    """Links from a batch span to the spans that produced its records.

    A batch span has many parents, one per record, so it links to them instead
    (OpenTelemetry's fan-in pattern); a record with no trace context adds an invalid
    link, which exporters drop. Only the last :func:`max_links` are built, the ones the
    SDK keeps.
    """
    return [
        trace.Link(trace.get_current_span(context).get_span_context())
        for context in _kept(contexts)
    ]


def record_links(records: Sequence[Any]) -> list[trace.Link]:
    """:func:`batch_links` for fetched Kafka records (their ``headers``): only the records
    whose links are kept have their trace context read, which costs about 6 µs each."""
    return batch_links([extract_context(record.headers) for record in _kept(records)])


def _kept(items: Sequence[Any]) -> Sequence[Any]:
    """The last :func:`max_links` of ``items`` (none for a limit of 0: ``items[-0:]`` is all)."""
    limit = max_links()
    return items[-limit:] if limit else []


def child_span_headers(
    name: str,
    parent: Context,
    attributes: Mapping[str, str | int | float | bool],
    *,
    spans: trace.Tracer | None = None,
) -> dict[str, bytes]:
    """Record one span, a child of ``parent``, and return its trace context as headers.

    The span covers no work of its own: it marks a record passing through a stage, so
    the record's next stage can continue the trace. Cheaper than
    ``start_as_current_span``, as it never becomes the current span. ``spans`` is the
    tracer to use (default: :func:`tracer`).
    """
    span = (spans or tracer()).start_span(name, context=parent, attributes=attributes)
    try:
        return inject_headers(trace.set_span_in_context(span))
    finally:
        span.end()
