"""The Prometheus metrics of ``runner serve`` (``/metrics``)."""

from __future__ import annotations

from kampai.plugins.serve.model import ServedModel


class Metrics:
    """Prometheus metrics through ``prometheus_client`` (its own registry per app)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter("kampai_requests", "HTTP requests by path and status", ["path", "status"],
                                registry=self.registry)
        self.latency = Histogram("kampai_request_latency_seconds", "Request latency", ["path"],
                                 buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10),
                                 registry=self.registry)
        self.batches = Histogram("kampai_batch_size", "Rows per model call",
                                 buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512), registry=self.registry)
        self.model = Gauge("kampai_model_info", "The model being served", ["run_id", "version"],
                           registry=self.registry)
        self.reloads = Counter("kampai_model_reloads", "Models swapped in by --follow", registry=self.registry)
        self.in_flight = Gauge("kampai_predictions_in_flight", "Prediction requests being answered",
                               registry=self.registry)

    def batch(self, size: int) -> None:
        self.batches.observe(size)

    def serving(self, model: ServedModel) -> None:
        self.model.clear()
        self.model.labels(run_id=model.run.run_id, version=str(model.version or "")).set(1)

    def text(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)
