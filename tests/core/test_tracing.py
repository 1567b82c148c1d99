"""Traces, when an OTLP endpoint is configured: one trace per request, its SQL statements as
child spans (ORM and hot path alike), the request id on the request's span. (The request id
on the OTLP metrics' exemplars: test_metrics_otlp.py.)"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.config import Settings
from app.core.request_context import UserPseudonyms
from app.core.tracing import install_tracing, tracing_configured, uninstall_tracing
from tests.conftest import app_on_connection, client_on_connection
from tests.support.builders import create_owned_family, create_person


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
async def traced_client(
    settings: Settings, connection: AsyncConnection, exporter: InMemorySpanExporter
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = app_on_connection(settings, connection)
    install_tracing(app, provider)
    try:
        async with client_on_connection(app, connection) as client:
            yield app, client
    finally:
        uninstall_tracing(app)
        provider.shutdown()
        await app.state.database.dispose()


def request_traces(spans: tuple[ReadableSpan, ...]) -> dict[str, list[ReadableSpan]]:
    """The traces that a request started (set-up statements of the test make their own)."""
    by_trace: dict[int, list[ReadableSpan]] = defaultdict(list)
    for span in spans:
        assert span.context is not None
        by_trace[span.context.trace_id].append(span)
    traces = {}
    for members in by_trace.values():
        servers = [span for span in members if span.kind is SpanKind.SERVER]
        if servers:
            [server] = servers
            assert server.attributes is not None
            traces[str(server.attributes["loopin.request_id"])] = members
    return traces


def sql_spans(trace: list[ReadableSpan]) -> list[ReadableSpan]:
    return [
        span
        for span in trace
        if span.kind is SpanKind.CLIENT
        and span.attributes is not None
        and span.attributes.get("db.system") == "postgresql"
    ]


async def test_one_trace_per_request_with_its_sql_and_request_id(
    traced_client: tuple[FastAPI, httpx.AsyncClient],
    connection: AsyncConnection,
    exporter: InMemorySpanExporter,
    settings: Settings,
) -> None:
    _, client = traced_client
    ada, family_id = await create_owned_family(connection, "ada")
    exporter.clear()

    orm = await client.get(
        f"/v1/families/{family_id}", headers={**ada.headers, "X-Request-ID": "trace-orm-1"}
    )
    hot = await client.get("/v1/me/today", headers={**ada.headers, "X-Request-ID": "trace-hot-1"})

    assert orm.status_code == hot.status_code == 200
    traces = request_traces(exporter.get_finished_spans())
    assert set(traces) == {"trace-orm-1", "trace-hot-1"}
    for request_id, trace in traces.items():
        [server] = [span for span in trace if span.kind is SpanKind.SERVER]
        assert server.attributes is not None
        assert server.attributes["enduser.pseudo.id"] == UserPseudonyms.from_settings(settings)(
            ada.user_id
        )
        statements = sql_spans(trace)
        assert statements, f"{request_id}: no SQL spans"
        for statement in statements:
            assert statement.parent is not None  # inside the request, not a trace of its own
    [orm_server] = [s for s in traces["trace-orm-1"] if s.kind is SpanKind.SERVER]
    assert orm_server.name == "GET /v1/families/{family_id}"


async def test_health_probes_are_not_traced(
    traced_client: tuple[FastAPI, httpx.AsyncClient], exporter: InMemorySpanExporter
) -> None:
    _, client = traced_client
    exporter.clear()

    assert (await client.get("/health")).status_code == 200

    assert request_traces(exporter.get_finished_spans()) == {}


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318", "OTEL_SDK_DISABLED": "true"}, False),
    ],
)
def test_on_only_with_an_endpoint(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], expected: bool
) -> None:
    for name in (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_SDK_DISABLED",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)

    assert tracing_configured() is expected


class _Collector(BaseHTTPRequestHandler):
    """An OTLP/HTTP endpoint that keeps what it is sent."""

    received: ClassVar[list[tuple[str, int]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, len(body)))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def collector(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, int]]]:
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    _Collector.received = []
    try:
        yield _Collector.received
    finally:
        server.shutdown()
        thread.join(timeout=5)


async def test_with_an_endpoint_the_app_exports_its_spans_and_metrics(
    collector: list[tuple[str, int]], settings: Settings, connection: AsyncConnection
) -> None:
    app = app_on_connection(settings, connection)  # create_app sees the endpoint
    try:
        ada = await create_person(connection, "ada")
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            assert (await client.get("/v1/me/today", headers=ada.headers)).status_code == 200
        assert app.state.tracer_provider.force_flush(10_000)
        assert app.state.meter_provider.force_flush(10_000)
    finally:
        uninstall_tracing(app)
        app.state.tracer_provider.shutdown()
        app.state.meter_provider.shutdown()
        await app.state.database.dispose()

    assert collector
    assert {path for path, _ in collector} == {"/v1/traces", "/v1/metrics"}
    assert all(size > 0 for _, size in collector)


async def test_without_an_endpoint_nothing_is_instrumented(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, connection: AsyncConnection
) -> None:
    for name in (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    ):
        monkeypatch.delenv(name, raising=False)

    app = app_on_connection(settings, connection)

    assert getattr(app.state, "tracer_provider", None) is None
    assert getattr(app.state, "meter_provider", None) is None
    assert getattr(app.state, "request_metrics", None) is None
    assert not getattr(app, "_is_instrumented_by_opentelemetry", False)
    await app.state.database.dispose()
