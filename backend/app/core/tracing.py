"""OpenTelemetry traces, on only when an OTLP endpoint is configured.

OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) set, and OTEL_SDK_DISABLED
not true: each worker sends its spans there (OTLP over HTTP, batched), every other setting
read by OpenTelemetry itself from the standard variables (OTEL_SERVICE_NAME, headers, ...).
One trace per request: FastAPI's server span, tagged with the request id (`loopin.request_id`)
and the user's pseudonym (`enduser.pseudo.id`), and a span per SQL statement from the asyncpg
instrumentation, which sees both the ORM's statements and the hot paths' (both run on
asyncpg). Nothing of it is imported when tracing is off.
"""

from __future__ import annotations

import os
import uuid
from functools import cache
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

from app.core.request_context import REQUEST_ID_ATTRIBUTE, current_request

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span

_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
# Probes every few seconds would be most of the traces and tell nothing.
_NOT_TRACED = "/health,/health/ready"
DEFAULT_SERVICE_NAME = "loopin-api"


def sdk_disabled() -> bool:
    return os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


def tracing_configured() -> bool:
    if sdk_disabled():
        return False
    return any(os.environ.get(name, "").strip() for name in _ENDPOINT_VARIABLES)


@cache
def service_resource() -> Resource:
    """What this worker's spans and metrics (app.core.metrics_otlp) say they come from: one
    `service.name`, and one `service.instance.id` per process, the same on both, so a
    backend can tell the workers' series apart and join a worker's metrics to its traces."""
    from opentelemetry.sdk.resources import SERVICE_INSTANCE_ID, SERVICE_NAME, Resource

    # Resource.create adds OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES over this default.
    service = os.environ.get("OTEL_SERVICE_NAME") or DEFAULT_SERVICE_NAME
    resource = Resource.create({SERVICE_NAME: service})
    if SERVICE_INSTANCE_ID not in resource.attributes:  # SDKs before the instance detector
        resource = resource.merge(Resource({SERVICE_INSTANCE_ID: str(uuid.uuid4())}))
    return resource


def exporting_provider() -> TracerProvider:
    """A provider that batches spans to the configured OTLP endpoint."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=service_resource())
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def install_tracing(app: FastAPI, provider: TracerProvider) -> None:
    """Trace this app's requests and every asyncpg statement of the process into `provider`
    (the asyncpg instrumentation patches the driver's classes: once per process)."""
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    app.state.tracer_provider = provider
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls=_NOT_TRACED,
        server_request_hook=_tag_request,
    )
    instrumentor = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(tracer_provider=provider)


def _tag_request(span: Span, _scope: dict[str, Any]) -> None:
    """The server span, as it starts (inside `RequestObservation`): the request's id on it,
    and the span kept in the request's context for `record_user`."""
    context = current_request.get()
    if context is not None and span.is_recording():
        span.set_attribute(REQUEST_ID_ATTRIBUTE, context.request_id)
        context.span = span


def uninstall_tracing(app: FastAPI) -> None:
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.uninstrument_app(app)
    AsyncPGInstrumentor().uninstrument()  # type: ignore[no-untyped-call]
