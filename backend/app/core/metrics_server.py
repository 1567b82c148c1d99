"""Where `loopin serve` publishes the metrics: a port of their own (METRICS_PORT), never a
route of the API; served by the supervising process from what every worker wrote
(prometheus_client's multiprocess mode), or with one worker from that process's own memory
(where prometheus_client keeps exemplars).

prometheus_client is imported here only inside the functions, after PROMETHEUS_MULTIPROC_DIR
is set: it picks its storage (memory, or files shared between workers) when first imported.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


class MetricsSetupError(RuntimeError):
    pass


@contextmanager
def multiprocess_directory() -> Iterator[Path]:
    """The folder the workers write their metrics to: PROMETHEUS_MULTIPROC_DIR when the
    operator set it (emptied first: files left by an earlier run would be added in), else a
    temporary one, removed afterwards. Exported for the workers."""
    if "prometheus_client" in sys.modules:
        raise MetricsSetupError(
            "prometheus_client was imported before its multiprocess folder was set; "
            "its metrics would not add up across workers"
        )
    configured = os.environ.get(MULTIPROC_VARIABLE)
    if configured:
        folder = Path(configured)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink()
        yield folder
        return
    folder = Path(tempfile.mkdtemp(prefix="loopin-metrics-"))
    os.environ[MULTIPROC_VARIABLE] = str(folder)
    try:
        yield folder
    finally:
        os.environ.pop(MULTIPROC_VARIABLE, None)
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def single_process() -> Iterator[None]:
    """One worker: the metrics stay in this process's memory, where prometheus_client keeps
    exemplars (the request id of a latency bucket's latest request), and are served from it.
    An operator's PROMETHEUS_MULTIPROC_DIR is set aside meanwhile: with it, prometheus_client
    would write files that nothing adds up and keep no exemplar."""
    if "prometheus_client" in sys.modules:
        raise MetricsSetupError("prometheus_client was imported before its storage was chosen")
    configured = os.environ.pop(MULTIPROC_VARIABLE, None)
    try:
        yield
    finally:
        if configured is not None:
            os.environ[MULTIPROC_VARIABLE] = configured


def start_metrics_endpoint(host: str, port: int) -> Callable[[], None]:
    """Serve the metrics at http://host:port/metrics (any path answers) from a thread of this
    process: every worker's (multiprocess mode), or this process's own (one worker, exemplars
    in the OpenMetrics exposition). Returns the function that stops it. OSError if the port
    is taken."""
    from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server

    registry = REGISTRY
    if os.environ.get(MULTIPROC_VARIABLE):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    server, thread = start_http_server(port, addr=host, registry=registry)

    def stop() -> None:
        server.shutdown()
        thread.join(timeout=5)

    return stop


def forget_this_worker() -> None:
    """A worker that stops takes its live gauges (in flight, pool) out of the sums."""
    if os.environ.get(MULTIPROC_VARIABLE):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
