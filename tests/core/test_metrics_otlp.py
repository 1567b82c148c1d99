"""A request's id wherever it is observed: the response's X-Request-ID, its access log line,
its trace's server span and, with OTLP metrics on, the exemplar of its duration histogram
(with the span's trace and span ids) — never a series attribute of the metric."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.config import Settings
from app.core.metrics_otlp import (
    METHOD,
    REQUEST_DURATION,
    ROUTE,
    STATUS,
    install_request_metrics,
    otlp_metrics_configured,
    request_meter_provider,
)
from app.core.request_context import REQUEST_ID_ATTRIBUTE
from app.core.tracing import install_tracing, uninstall_tracing
from tests.conftest import app_on_connection
from tests.core.test_request_logging import CapturedLog, process_logging
from tests.support.builders import create_family, create_person


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def metric_reader() -> InMemoryMetricReader:
    return InMemoryMetricReader()


@pytest.fixture
def json_log() -> Iterator[CapturedLog]:
    with process_logging("json") as log:
        yield log


@pytest.fixture
async def observed_client(
    settings: Settings,
    connection: AsyncConnection,
    spans: InMemorySpanExporter,
    metric_reader: InMemoryMetricReader,
) -> AsyncIterator[httpx.AsyncClient]:
    """The app as it runs with an OTLP endpoint: traced and metered, both in memory."""
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    meter_provider = request_meter_provider(metric_reader)
    app: FastAPI = app_on_connection(settings, connection)
    install_tracing(app, tracer_provider)
    install_request_metrics(app, meter_provider)

    async def back_to_owner(_: httpx.Response) -> None:
        await connection.execute(text("reset role"))  # the test's own statements: as owner

    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://testserver",
            event_hooks={"response": [back_to_owner]},
        ) as client:
            yield client
    finally:
        uninstall_tracing(app)
        tracer_provider.shutdown()
        meter_provider.shutdown()
        await app.state.database.dispose()


def duration_points(reader: InMemoryMetricReader) -> list[HistogramDataPoint]:
    data = reader.get_metrics_data()
    assert data is not None
    return [
        point
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == REQUEST_DURATION
        for point in metric.data.data_points
        if isinstance(point, HistogramDataPoint)
    ]


def server_spans(spans: InMemorySpanExporter, request_id: str) -> list[ReadableSpan]:
    return [
        span
        for span in spans.get_finished_spans()
        if span.kind is SpanKind.SERVER
        and span.attributes is not None
        and span.attributes.get(REQUEST_ID_ATTRIBUTE) == request_id
    ]


async def test_one_request_id_on_response_log_span_and_metric_exemplar(
    observed_client: httpx.AsyncClient,
    connection: AsyncConnection,
    json_log: CapturedLog,
    spans: InMemorySpanExporter,
    metric_reader: InMemoryMetricReader,
) -> None:
    ada = await create_person(connection, "ada")
    family_id = await create_family(connection, ada)

    response = await observed_client.get(f"/v1/families/{family_id}", headers=ada.headers)

    assert response.status_code == 200
    request_id = response.headers["X-Request-ID"]  # made by the app: no proxy sent one
    [line] = json_log.access_lines()
    assert line["request_id"] == request_id
    [span] = server_spans(spans, request_id)
    [point] = duration_points(metric_reader)
    assert point.count == 1
    [exemplar] = point.exemplars
    assert exemplar.filtered_attributes == {REQUEST_ID_ATTRIBUTE: request_id}
    assert exemplar.value == pytest.approx(line["duration_ms"] / 1000)
    assert (exemplar.trace_id, exemplar.span_id) == (span.context.trace_id, span.context.span_id)
    # The series is the route's, not the request's: the id is on the exemplar only.
    assert dict(point.attributes or {}) == {
        METHOD: "GET",
        ROUTE: "/v1/families/{family_id}",
        STATUS: 200,
    }


async def test_requests_of_one_route_share_one_series(
    observed_client: httpx.AsyncClient,
    connection: AsyncConnection,
    metric_reader: InMemoryMetricReader,
) -> None:
    ada = await create_person(connection, "ada")
    family_id = await create_family(connection, ada)

    sent = [f"series-{n}" for n in range(5)]
    for request_id in sent:
        response = await observed_client.get(
            f"/v1/families/{family_id}", headers={**ada.headers, "X-Request-ID": request_id}
        )
        assert response.status_code == 200

    [point] = duration_points(metric_reader)
    assert point.count == len(sent)
    assert REQUEST_ID_ATTRIBUTE not in (point.attributes or {})
    # One exemplar per bucket hit, the last request that fell in it: ids of these requests.
    kept = {str((e.filtered_attributes or {})[REQUEST_ID_ATTRIBUTE]) for e in point.exemplars}
    assert kept
    assert kept <= set(sent)


async def test_untraced_requests_keep_their_id_without_trace_ids(
    observed_client: httpx.AsyncClient,
    spans: InMemorySpanExporter,
    metric_reader: InMemoryMetricReader,
) -> None:
    probe = await observed_client.get("/health", headers={"X-Request-ID": "probe-1"})
    odd = await observed_client.request("PROPFIND", "/v1/nowhere", headers={"X-Request-ID": "x-2"})

    assert (probe.status_code, odd.status_code) == (200, 404)
    assert server_spans(spans, "probe-1") == []  # probes are not traced
    points = {
        (point.attributes or {}).get(ROUTE): point for point in duration_points(metric_reader)
    }
    [health_exemplar] = points["/health"].exemplars
    assert health_exemplar.filtered_attributes == {REQUEST_ID_ATTRIBUTE: "probe-1"}
    assert (health_exemplar.trace_id, health_exemplar.span_id) == (None, None)
    # No route matched: no route attribute; a made-up method counts as `_OTHER`.
    assert dict(points[None].attributes or {}) == {METHOD: "_OTHER", STATUS: 404}
    [odd_exemplar] = points[None].exemplars
    assert odd_exemplar.filtered_attributes == {REQUEST_ID_ATTRIBUTE: "x-2"}


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://127.0.0.1:4318/v1/metrics"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318", "OTEL_METRICS_EXPORTER": "none"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318", "OTEL_SDK_DISABLED": "true"}, False),
    ],
)
def test_on_only_with_a_metrics_endpoint(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], expected: bool
) -> None:
    for name in (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_METRICS_EXPORTER",
        "OTEL_SDK_DISABLED",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)

    assert otlp_metrics_configured() is expected
