"""One wrk run against one server, with what the machine did meanwhile: the driver's CPU
(so we know wrk was not the bottleneck), the server's and the database's CPU, and the
resident memory of every server worker (sampled with psutil)."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from bench.servers import Server
from bench.workload import LUA_SCRIPT

SAMPLE_SECONDS = 0.5


@dataclass
class RunResult:
    target: str  # loopin | floor
    mode: str  # today | checkin | board | stats | mixed
    load: str  # peak (closed loop) | half (think time for ~half of Loopin's peak)
    scale: str
    route: str  # direct | pgbouncer
    connections: int
    seconds: float
    requests: int
    rps: float
    latency_ms: dict[str, float]
    errors: dict[str, int]
    driver_cpu_pct: float  # of one core
    server_cpu_pct: float  # all workers, of one core
    database_cpu_pct: float
    pooler_cpu_pct: float
    machine_cpu_pct: float  # everything on the machine, of all cores
    rss_mb_per_worker: list[float] = field(default_factory=list)  # the peak of each worker
    think_ms: float = 0.0
    round: int = 1  # peak runs are repeated (bench/run.py --rounds)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


Processes = Callable[[], list[psutil.Process]]


def _cpu_seconds(processes: list[psutil.Process]) -> dict[int, float]:
    seconds = {}
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        seconds[process.pid] = times.user + times.system
    return seconds


class Sampler:
    """CPU time of a few process groups between start and stop, and the peak RSS of each
    server worker, sampled every SAMPLE_SECONDS in a thread.

    A group's CPU is the sum of each of its processes' own CPU time within the run: from its
    value at the start (0 for a process started meanwhile, a new connection's backend) to
    its last sample. Processes that exit during the run (a backend whose connection closed,
    an autovacuum worker) count up to their last sample. Not the postmaster's reaped
    children's times: those hold the whole life of every child that exited, so a long-lived
    one (most likely an autovacuum worker) was once charged to the one run it ended in."""

    def __init__(self, workers: list[psutil.Process], groups: dict[str, Processes]):
        self.workers = workers
        self.groups = groups
        self.peak_rss = [0] * len(workers)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            for index, worker in enumerate(self.workers):
                with contextlib.suppress(psutil.NoSuchProcess):
                    self.peak_rss[index] = max(self.peak_rss[index], worker.memory_info().rss)
            self._sample_cpu()

    def _sample_cpu(self) -> None:
        for name, group in self.groups.items():
            self._latest[name].update(_cpu_seconds(group()))

    def __enter__(self) -> Sampler:
        self._started = time.monotonic()
        self._before = {name: _cpu_seconds(group()) for name, group in self.groups.items()}
        self._latest = {name: dict(before) for name, before in self._before.items()}
        self._machine_before = psutil.cpu_times()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample_cpu()
        elapsed = time.monotonic() - self._started
        self.cpu_pct = {}
        for name, latest in self._latest.items():
            start = self._before[name]
            used = sum(t - start.get(pid, 0.0) for pid, t in latest.items())
            self.cpu_pct[name] = 100 * used / elapsed
        after, before = psutil.cpu_times(), self._machine_before
        busy = (sum(after) - after.idle - after.iowait) - (
            sum(before) - before.idle - before.iowait
        )
        self.machine_pct = 100 * busy / max(sum(after) - sum(before), 1e-9)


def database_processes(pg_data: Path) -> list[psutil.Process]:
    """The postmaster and its backends (the bench cluster's; empty for an external DB)."""
    pid_file = pg_data / "postmaster.pid"
    if not pid_file.exists():
        return []
    postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
    return [postmaster, *postmaster.children()]


def run_wrk(
    server: Server,
    data_file: Path,
    mode: str,
    *,
    seconds: float,
    connections: int,
    think_ms: float = 0.0,
    pin_cpu: str | None = None,
) -> tuple[dict[str, Any], float]:
    """wrk's BENCH_RESULT, and the CPU wrk used (% of one core)."""
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA_SCRIPT),
        server.url,
        "--",
        str(data_file),
        mode,
    ]
    if pin_cpu is not None:
        command = ["taskset", "-c", pin_cpu, *command]
    env = {**os.environ, "BENCH_THINK_MS": f"{think_ms:.1f}"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    completed = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    elapsed = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    marked = [out for out in completed.stdout.splitlines() if out.startswith("BENCH_RESULT ")]
    line = marked[0] if marked else None
    if completed.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr[-2000:]}")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return json.loads(line.removeprefix("BENCH_RESULT ")), 100 * cpu / elapsed


def measure(
    server: Server,
    data_file: Path,
    mode: str,
    *,
    labels: dict[str, str],
    seconds: float,
    connections: int,
    groups: dict[str, Processes],
    think_ms: float = 0.0,
    pin_cpu: str | None = None,
) -> RunResult:
    workers = server.workers()
    groups = {"server": lambda: workers, **groups}
    with Sampler(workers, groups) as sampler:
        raw, driver_cpu = run_wrk(
            server,
            data_file,
            mode,
            seconds=seconds,
            connections=connections,
            think_ms=think_ms,
            pin_cpu=pin_cpu,
        )
    duration = raw["duration_us"] / 1e6
    latency = {k: round(v / 1000, 2) for k, v in raw["latency_us"].items()}
    return RunResult(
        target=server.name,
        mode=mode,
        load=labels["load"],
        scale=labels["scale"],
        route=labels["route"],
        round=int(labels.get("round", 1)),
        connections=connections,
        seconds=round(duration, 2),
        requests=raw["requests"],
        rps=round(raw["requests"] / duration, 1),
        latency_ms=latency,
        errors=raw["errors"],
        driver_cpu_pct=round(driver_cpu, 1),
        server_cpu_pct=round(sampler.cpu_pct["server"], 1),
        database_cpu_pct=round(sampler.cpu_pct.get("database", 0.0), 1),
        pooler_cpu_pct=round(sampler.cpu_pct.get("pooler", 0.0), 1),
        machine_cpu_pct=round(sampler.machine_pct, 1),
        rss_mb_per_worker=[round(rss / 2**20, 1) for rss in sampler.peak_rss],
        think_ms=round(think_ms, 1),
    )
