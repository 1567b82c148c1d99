"""`loopin serve` with METRICS_PORT: with two workers the metrics port adds up what both
recorded (prometheus_client's multiprocess mode), and the API's port serves no metrics; with
one worker the latency buckets also carry the request id as an exemplar (OpenMetrics)."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from app.db.embedded_db import free_port
from tests.support.builders import TEST_JWT_SECRET
from tests.support.processes import clean_env, start_serve


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(url, timeout=5).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def start_metered_serve(
    database_url: str, workers: int, folder: Path
) -> tuple[subprocess.Popen[str], int, str]:
    """`loopin serve --workers N` with METRICS_PORT and PROMETHEUS_MULTIPROC_DIR=`folder`: the
    process, the API's port and the metrics URL."""
    api_port, metrics_port = free_port(), free_port()
    env = clean_env(
        DATABASE_URL=database_url,
        SUPABASE_JWT_SECRET=TEST_JWT_SECRET,
        METRICS_PORT=str(metrics_port),
        PROMETHEUS_MULTIPROC_DIR=str(folder),
        DATABASE_POOL_SIZE="3",
        LOG_LEVEL="WARNING",
    )
    process = start_serve(api_port, "--workers", str(workers), env=env)
    return process, api_port, f"http://127.0.0.1:{metrics_port}/metrics"


def test_two_workers_metrics_add_up_on_their_own_port(database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_999999.db").write_bytes(b"left over from an earlier run")
    process, api_port, metrics_url = start_metered_serve(database_url, 2, folder)
    health = (("method", "GET"), ("route", "/health"), ("status", "200"))
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "loopin serve exited"
            try:
                metrics = scrape(metrics_url)
            except httpx.TransportError:
                metrics = {}
            # Both workers have started and sampled their pools (3 connections each): the
            # metrics port adds up what each worker process wrote.
            if metrics.get(("loopin_db_pool_size", ())) == 6:
                break
            assert time.monotonic() < deadline, f"workers never reported their pools: {metrics}"
            time.sleep(0.2)
        already = metrics.get(("loopin_http_requests_total", health), 0)

        # New connections each time, so both workers get some of them.
        for _ in range(12):
            assert httpx.get(f"http://127.0.0.1:{api_port}/health", timeout=5).is_success
        not_here = httpx.get(f"http://127.0.0.1:{api_port}/metrics", timeout=5)
        metrics = scrape(metrics_url)
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)

    assert already == 0, "requests from an earlier run were added in"
    assert metrics[("loopin_http_requests_total", health)] == 12
    assert metrics[("loopin_http_request_duration_seconds_count", health)] == 12
    assert metrics[("loopin_http_requests_in_flight", ())] == 0
    assert not_here.status_code == 404
    assert "counter_999999.db" not in {path.name for path in folder.iterdir()}
    assert process.returncode == 0, output
    assert "Traceback" not in output


def test_one_worker_latency_carries_the_request_id_as_an_exemplar(
    database_url: str, tmp_path: Path
) -> None:
    # The folder is set aside for one worker: multiprocess mode would keep no exemplar.
    process, api_port, metrics_url = start_metered_serve(database_url, 1, tmp_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "loopin serve exited"
            try:
                answer = httpx.get(f"http://127.0.0.1:{api_port}/health", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the API never answered"
                time.sleep(0.2)
        request_id = "req-" + "7" * 20
        sent = httpx.get(
            f"http://127.0.0.1:{api_port}/health", headers={"X-Request-ID": request_id}
        )
        openmetrics = httpx.get(
            metrics_url, headers={"Accept": "application/openmetrics-text"}, timeout=5
        )
        classic = httpx.get(metrics_url, timeout=5)
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)

    assert answer.is_success
    assert sent.headers["X-Request-ID"] == request_id
    bucket_with_id = re.compile(
        r'^loopin_http_request_duration_seconds_bucket\{[^}]*route="/health"[^}]*\}'
        rf' \S+ # \{{request_id="{request_id}"\}}',
        re.MULTILINE,
    )
    assert bucket_with_id.search(openmetrics.text), openmetrics.text[:3000]
    # The id is an exemplar, never a label: no series of its own.
    assert f'request_id="{request_id}"' not in classic.text
    assert list(tmp_path.iterdir()) == [], "one worker writes no multiprocess files"
    assert process.returncode == 0, output
    assert "Traceback" not in output
