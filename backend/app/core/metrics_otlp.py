"""Request metrics over OTLP, each keeping a request id as an exemplar; on only when an OTLP
endpoint for metrics is configured.

Why beside the Prometheus metrics (app.core.metrics): those cannot carry the request id.
prometheus_client keeps no exemplars in multiprocess mode, which `loopin serve` always uses
(its metrics port is served by the supervising process from the files each worker writes),
and a request id label would make one series per request. Here the request id is an attribute
of the measurement that the view leaves out of the series' attributes: the SDK then keeps it
only on the exemplar it samples for the histogram bucket (with the trace and span ids of the
request's span when the request is traced), so the series stay one per route template,
method and status.

The switch follows the standard variables, as traces do (app.core.tracing):
OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_METRICS_ENDPOINT set, OTEL_SDK_DISABLED not
true, OTEL_METRICS_EXPORTER not `none`. OpenTelemetry is imported only when it is on: off, the
request path pays one `is None` check.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from app.core.metrics import REQUEST_SECONDS_BUCKETS, bounded_method
from app.core.request_context import REQUEST_ID_ATTRIBUTE, FinishedRequest
from app.core.tracing import sdk_disabled, service_resource

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import MetricReader


_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")

# OpenTelemetry's semantic conventions for HTTP servers: names dashboards already know.
REQUEST_DURATION = "http.server.request.duration"
METHOD = "http.request.method"
ROUTE = "http.route"
STATUS = "http.response.status_code"
# What a series is keyed by: bounded. The request id, also recorded, is not among them.
SERIES_ATTRIBUTES = frozenset({METHOD, ROUTE, STATUS})
_METER_NAME = "loopin"


def otlp_metrics_configured() -> bool:
    if sdk_disabled() or os.environ.get("OTEL_METRICS_EXPORTER", "").strip() == "none":
        return False
    return any(os.environ.get(name, "").strip() for name in _ENDPOINT_VARIABLES)


def request_meter_provider(*readers: MetricReader) -> MeterProvider:
    """A provider recording the request histogram with request ids as exemplars, read by
    `readers` (the OTLP exporter's periodic reader in production, an in-memory one in tests).
    """
    from opentelemetry.sdk.metrics import AlwaysOnExemplarFilter, MeterProvider
    from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View

    # Always on, not trace-based (the SDK's default): the request id is what leads from a slow
    # bucket to the request's log lines, which every request has, traced or not; trace-based
    # would keep none for untraced requests (health probes, sampled-out traces, traces off).
    # The histogram keeps one exemplar per bucket, the last one, so this costs a few writes
    # per request, not memory. OTEL_METRICS_EXEMPLAR_FILTER, when the operator sets it, wins.
    exemplar_filter = (
        None if os.environ.get("OTEL_METRICS_EXEMPLAR_FILTER") else AlwaysOnExemplarFilter()
    )
    duration_series = View(
        instrument_name=REQUEST_DURATION,
        meter_name=_METER_NAME,
        attribute_keys=set(SERIES_ATTRIBUTES),
        aggregation=ExplicitBucketHistogramAggregation(REQUEST_SECONDS_BUCKETS),
    )
    return MeterProvider(
        metric_readers=readers,
        resource=service_resource(),
        exemplar_filter=exemplar_filter,
        views=[duration_series],
        # The app's lifespan shuts it down (sending what is left); at exit it would again.
        shutdown_on_exit=False,
    )


def exporting_meter_provider() -> MeterProvider:
    """Exports every OTEL_METRIC_EXPORT_INTERVAL (60 s unless set) to the configured OTLP
    endpoint, over HTTP; each worker with its own `service.instance.id`, so that the
    workers' cumulative series stay apart."""
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    return request_meter_provider(PeriodicExportingMetricReader(OTLPMetricExporter()))


class RequestMetrics:
    """The request duration histogram of one provider; its count is the request count."""

    def __init__(self, provider: MeterProvider) -> None:
        from opentelemetry import trace

        meter = provider.get_meter(_METER_NAME)
        self._duration = meter.create_histogram(
            REQUEST_DURATION,
            unit="s",
            description="Time from the request's arrival to its last response byte.",
        )
        self._in_span = trace.set_span_in_context
        # Explicitly no span: the SDK reads an empty context as "the current one".
        self._untraced = trace.set_span_in_context(trace.INVALID_SPAN)

    def record(self, finished: FinishedRequest, request_id: str, span: Any) -> None:
        """`span`: the request's server span when it is traced (app.core.tracing), whose ids
        the exemplar takes; measured outside it, so it is passed rather than current."""
        attributes: dict[str, str | int] = {
            METHOD: bounded_method(finished.method),
            STATUS: finished.status,
            REQUEST_ID_ATTRIBUTE: request_id,
        }
        if finished.route is not None:  # semantic conventions: absent when nothing matched
            attributes[ROUTE] = finished.route
        # Only a sampled span's ids: an exemplar must not point at a trace never exported.
        traced = span is not None and span.get_span_context().trace_flags.sampled
        self._duration.record(
            finished.duration_ms / 1000,
            attributes,
            context=self._in_span(span) if traced else self._untraced,
        )


def install_request_metrics(app: FastAPI, provider: MeterProvider) -> None:
    """Record this app's requests into `provider` (before its first request: the request
    middleware reads it then)."""
    app.state.meter_provider = provider
    app.state.request_metrics = RequestMetrics(provider)
