"""OpenTelemetry metrics and traces under the names of design §11.

The library records through the OpenTelemetry API, which does nothing until a provider is configured;
the edges (CLI, flows, API) call :func:`configure_from_environment` once. Exporters: Azure Monitor when
``APPLICATIONINSIGHTS_CONNECTION_STRING`` is set, OTLP/HTTP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is, none
otherwise. Attributes carry table names and backends, never values or secrets.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from cutover import names

if TYPE_CHECKING:
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics.export import MetricReader
    from opentelemetry.sdk.trace.export import SpanExporter

METER_NAME = "cutover"
SERVICE_NAME_DEFAULT = "cutover-worker"
_configured = threading.Lock()
_done = False


@dataclass(frozen=True)
class Instruments:
    """Every instrument cutover records, created once from the global meter."""

    rows_migrated: metrics.Counter
    batch_duration: metrics.Histogram
    validation_success_ratio: metrics.Histogram
    rollbacks: metrics.Counter
    tier_latency: metrics.Histogram
    tier_mismatches: metrics.Counter


@lru_cache(maxsize=1)
def instruments() -> Instruments:
    from opentelemetry import metrics  # imported on first use: commands that record nothing skip its cost

    meter = metrics.get_meter(METER_NAME)
    return Instruments(
        rows_migrated=meter.create_counter(
            names.METRIC_ROWS_MIGRATED, unit="{row}", description="Rows committed to Iceberg by full loads"
        ),
        batch_duration=meter.create_histogram(
            names.METRIC_BATCH_DURATION, unit="s", description="Extract + write time of one batch"
        ),
        validation_success_ratio=meter.create_histogram(
            names.METRIC_VALIDATION_SUCCESS_RATIO,
            unit="1",
            description="Matching rows / source rows per validated table",
        ),
        rollbacks=meter.create_counter(names.METRIC_ROLLBACKS, unit="{rollback}", description="Completed rollbacks"),
        tier_latency=meter.create_histogram(
            names.METRIC_TIER_LATENCY, unit="s", description="Read latency per backend"
        ),
        tier_mismatches=meter.create_counter(
            names.METRIC_TIER_MISMATCHES, unit="{read}", description="Shadow reads that disagreed"
        ),
    )


def tracer() -> trace.Tracer:
    from opentelemetry import trace

    return trace.get_tracer(METER_NAME)


def configure_telemetry(
    service_name: str = SERVICE_NAME_DEFAULT,
    *,
    azure_connection_string: str | None = None,
    otlp_endpoint: str | None = None,
    extra_readers: Sequence[MetricReader] = (),
) -> bool:
    """Install meter and tracer providers with the exporters asked for; returns False when none was.

    Note:
        OpenTelemetry's global providers can be set once per process; later calls are ignored.
    """
    global _done
    readers: list[MetricReader] = list(extra_readers)
    span_exporters: list[SpanExporter] = []
    if azure_connection_string:
        from azure.monitor.opentelemetry.exporter import AzureMonitorMetricExporter, AzureMonitorTraceExporter
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        readers.append(
            PeriodicExportingMetricReader(AzureMonitorMetricExporter(connection_string=azure_connection_string))
        )
        span_exporters.append(AzureMonitorTraceExporter(connection_string=azure_connection_string))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
        span_exporters.append(OTLPSpanExporter())
    if not readers and not span_exporters:
        return False
    with _configured:
        if _done:
            return True
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        resource = Resource.create({"service.name": service_name})
        metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=readers))
        if span_exporters:
            provider = TracerProvider(resource=resource)
            for exporter in span_exporters:
                provider.add_span_processor(BatchSpanProcessor(exporter))
            trace.set_tracer_provider(provider)
        _done = True
    return True


def configure_from_environment(service_name: str | None = None, environ: Mapping[str, str] | None = None) -> bool:
    """The edge's one call: exporters chosen by the standard environment variables."""
    env = os.environ if environ is None else environ
    return configure_telemetry(
        service_name or env.get("OTEL_SERVICE_NAME", SERVICE_NAME_DEFAULT),
        azure_connection_string=env.get("APPLICATIONINSIGHTS_CONNECTION_STRING") or None,
        otlp_endpoint=env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None,
    )
