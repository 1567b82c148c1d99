"""`python -m bench.run` (`make bench`): seed, drive Loopin and the floor with wrk, report.

For each scale: seed it if needed (bench/seed.py), record Loopin's SQL and derive the floor's
replay plan (bench/capture_sql.py). Then start Loopin (`loopin serve`) and the floor for every
scale, side by side, check every request answers 2xx, and for each endpoint and the mix run,
on each scale in turn, a warm-up and a measured closed-loop run against each server
(alternating which goes first). Then, directly on the database only, Loopin again with think
time for about half its peak rate (the p99 target). The same peak runs go through PgBouncer
(transaction mode) for the scales in --pgbouncer-scales.
Writes bench/results/<timestamp>.json, latest.md and latest.png (bench/report.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil

from app.core.config import REPO_ROOT, DatabaseUrl
from bench import report
from bench.capture_sql import capture, normalize
from bench.cluster import (
    DATA_DIR,
    bench_cluster,
    database_directory,
    database_name,
    ensure_database,
    ids_path,
    recreate_database,
    start_cluster,
    warm_os_cache,
)
from bench.loadgen import Processes, RunResult, database_processes, measure, run_wrk
from bench.seed import HISTORY_DAYS, SCALES, migrations_digest, seed
from bench.servers import Server, pgbouncer, serving
from bench.workload import ENDPOINTS, capture_requests, write_lua_data

MODES = (*ENDPOINTS, "mixed")
HALF_LOAD_THINK_S = 0.5


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


async def seeded_families(url: str) -> int:
    connection = await asyncpg.connect(DatabaseUrl(url).libpq_url)
    try:
        exists = await connection.fetchval("select to_regclass('public.families') is not null")
        return int(await connection.fetchval("select count(*) from families")) if exists else 0
    finally:
        await connection.close()


def prepare_scale(
    args: argparse.Namespace, scale: str, url: str | None
) -> tuple[str, dict[str, Any]]:
    """The scale's database URL and ids document, seeding first when it is not seeded."""
    history = args.m_history_days if scale == "M" else HISTORY_DAYS
    server = bench_cluster(args.pg_port)
    if url is None:
        url = asyncio.run(ensure_database(server, database_name(scale)))
    path = ids_path(scale)
    ids = json.loads(path.read_text()) if path.exists() else None
    fresh = (
        ids is not None
        and not args.reseed
        and ids["history_days"] == history
        and ids.get("migrations") == migrations_digest()
        and asyncio.run(seeded_families(url)) == ids["families"] == SCALES[scale]
    )
    if not fresh:
        say(f"seeding scale {scale} ({SCALES[scale]} families, {history} days of history) ...")
        if args.database_url is None:
            url = asyncio.run(recreate_database(server, database_name(scale)))
        # An external database is emptied only when asked (--reseed).
        reset = args.database_url is None or args.reseed
        seeded = seed(url, scale, history_days=history, reset=reset)
        say(f"seeded {scale} in {seeded.total_seconds} s: {seeded.rows}")
        ids = json.loads(path.read_text())
    assert ids is not None
    if ids["tokens_expire_at"] < time.time() + 24 * 3600:
        raise SystemExit(f"bench: tokens in {path} expire soon; run again with --reseed")
    return url, ids


def prepare(args: argparse.Namespace, name: str, document: dict[str, Any]) -> Scale:
    """Seed the scale if needed, write wrk's data, record Loopin's SQL for the floor."""
    url, ids = prepare_scale(args, name, args.database_url)
    document["seeding"][name] = {
        key: ids[key] for key in ("families", "history_days", "seeded_at", "seed_seconds", "rows")
    }
    data_file = DATA_DIR / f"wrk-{name}.txt"
    write_lua_data(ids, data_file)
    captured, plan = asyncio.run(capture(url, capture_requests(ids)))
    plan_file = DATA_DIR / f"floor-plan-{name}.json"
    plan_file.write_text(json.dumps(plan))
    document["sql"][name] = {
        endpoint: [normalize(s.sql) for s in statements]
        for endpoint, statements in captured.items()
    }
    return Scale(name, url, ids, data_file, plan_file)


def warm(scale: Scale) -> None:
    directory = asyncio.run(database_directory(scale.url))
    if directory is None:
        say(f"scale {scale.name}: its files are not on this machine, not warmed")
        return
    started = time.monotonic()
    read = warm_os_cache(directory)
    say(
        f"scale {scale.name}: read {read / 1e9:.1f} GB into the OS cache in "
        f"{time.monotonic() - started:.0f} s"
    )


def smoke_check(servers: dict[str, Server], ids: dict[str, Any]) -> None:
    """Every benchmarked request answers 2xx on both servers before anything is measured."""
    for server in servers.values():
        for name, request in capture_requests(ids).items():
            response = httpx.request(
                request.method,
                server.url + request.path,
                headers=request.headers,
                content=request.body,
                timeout=30,
            )
            if response.status_code >= 300:
                raise SystemExit(
                    f"bench: {server.name} answered {name} with {response.status_code}: "
                    f"{response.text[:500]}"
                )


@dataclass
class Scale:
    """A seeded scale: its database, ids, wrk data and the floor's replay plan."""

    name: str
    url: str
    ids: dict[str, Any]
    data_file: Path
    plan_file: Path


@contextmanager
def route_url(route: str, url: str) -> Iterator[tuple[str, list[psutil.Process]]]:
    if route == "direct":
        yield url, []
        return
    with pgbouncer(url) as (pooled, process):
        yield pooled, [process]


def constant(processes: list[psutil.Process]) -> Processes:
    return lambda: processes


def run_route(args: argparse.Namespace, scales: list[Scale], route: str) -> list[RunResult]:
    """Peak runs of every mode on every scale, Loopin and the floor, then (directly on the
    database) Loopin at half its peak. The scales' servers run side by side and each mode is
    measured on every scale before the next mode: the M/S ratios compare runs minutes apart,
    not two phases of the run (the shared machine's speed drifts over tens of minutes)."""
    results: list[RunResult] = []
    pg_data = bench_cluster(args.pg_port).pgdata
    with ExitStack() as stack:
        servers: dict[str, dict[str, Server]] = {}
        groups: dict[str, dict[str, Processes]] = {}
        for scale in scales:
            target_url, pooler = stack.enter_context(route_url(route, scale.url))
            groups[scale.name] = {
                "database": lambda: database_processes(pg_data),
                "pooler": constant(pooler),
            }
            servers[scale.name] = stack.enter_context(
                serving(target_url, args.workers, scale.plan_file)
            )
            smoke_check(servers[scale.name], scale.ids)
        turn = 0
        for round_number in range(1, args.rounds + 1):
            for number, mode in enumerate(args.modes):
                for scale in scales if (number + round_number) % 2 else scales[::-1]:
                    labels = {
                        "scale": scale.name,
                        "route": route,
                        "load": "peak",
                        "round": str(round_number),
                    }
                    # Alternate which server goes first, so both see the same machine.
                    order = ("loopin", "floor") if turn % 2 == 0 else ("floor", "loopin")
                    turn += 1
                    for name in order:
                        server = servers[scale.name][name]
                        run_wrk(
                            server,
                            scale.data_file,
                            mode,
                            seconds=args.warmup,
                            connections=args.connections,
                        )
                        result = measure(
                            server,
                            scale.data_file,
                            mode,
                            labels=labels,
                            seconds=args.duration,
                            connections=args.connections,
                            groups=groups[scale.name],
                            pin_cpu=args.pin_driver,
                        )
                        results.append(result)
                        say(describe(result))
        if route == "direct" and not args.no_half_load:
            peaks = list(results)
            for round_number in range(1, args.rounds + 1):
                for scale in scales if round_number % 2 else scales[::-1]:
                    results += half_load(
                        args,
                        servers[scale.name]["loopin"],
                        scale.data_file,
                        peaks,
                        groups[scale.name],
                        scale.name,
                        round_number,
                    )
    return results


def half_load(
    args: argparse.Namespace,
    loopin: Server,
    data_file: Path,
    peaks: list[RunResult],
    groups: dict[str, Processes],
    scale: str,
    round_number: int,
) -> list[RunResult]:
    """Loopin at about half its peak rate: each connection waits an exponential think time
    with mean connections / (peak / 2) between requests. Connections are sized for a mean
    think time of about HALF_LOAD_THINK_S: well under uvicorn's 5 s keep-alive, which
    would otherwise close idle connections under wrk (socket errors that are no app's)."""
    results = []
    labels = {"scale": scale, "route": "direct", "load": "half", "round": str(round_number)}
    for mode in args.modes:
        # Half of the fastest round's peak (the one the report shows).
        peak = max(
            (
                r
                for r in peaks
                if r.target == "loopin" and r.mode == mode and r.scale == scale and r.load == "peak"
            ),
            key=lambda r: r.rps,
        )
        rate = peak.rps / 2
        connections = max(2, min(args.connections, math.ceil(rate * HALF_LOAD_THINK_S)))
        think_ms = 1000 * connections / rate
        result = measure(
            loopin,
            data_file,
            mode,
            labels=labels,
            seconds=args.duration,
            connections=connections,
            groups=groups,
            think_ms=think_ms,
            pin_cpu=args.pin_driver,
        )
        results.append(result)
        say(describe(result) + f" (offered ~{peak.rps / 2:.0f} req/s)")
    return results


def describe(result: RunResult) -> str:
    latency = result.latency_ms
    return (
        f"[{result.scale} {result.route} {result.load} #{result.round}] "
        f"{result.target:6} {result.mode:7} "
        f"{result.rps:8.1f} req/s  p50 {latency['p50']:6.1f}  p99 {latency['p99']:6.1f} ms  "
        f"errors {result.error_count}  wrk cpu {result.driver_cpu_pct:.0f}%  "
        f"rss {result.rss_mb_per_worker} MB"
    )


def git_state() -> dict[str, Any]:
    """Which code was measured (read-only git commands)."""

    def git(*command: str) -> str:
        completed = subprocess.run(
            ["git", *command], cwd=REPO_ROOT, capture_output=True, text=True, check=False
        )
        return completed.stdout.strip()

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "dirty": bool(git("status", "--porcelain")),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--scales", default="S,M", help="comma-separated, of S and M")
    parser.add_argument("--modes", default=",".join(MODES), help="endpoints and/or mixed")
    parser.add_argument("--duration", type=float, default=20, help="seconds per measured run")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of warm-up per run")
    parser.add_argument(
        "--rounds", type=int, default=2, help="peak runs per endpoint; the fastest is reported"
    )
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers per server")
    parser.add_argument("--pgbouncer-scales", default="S", help="scales also run through PgBouncer")
    parser.add_argument("--no-half-load", action="store_true", help="skip the half-load runs")
    parser.add_argument("--m-history-days", type=int, default=HISTORY_DAYS)
    parser.add_argument("--reseed", action="store_true", help="seed again even if seeded")
    parser.add_argument("--pg-port", type=int, default=bench_cluster().port)
    parser.add_argument("--database-url", help="an existing database (one scale only)")
    parser.add_argument("--pin-driver", metavar="CPU", help="run wrk under taskset -c CPU")
    parser.add_argument("--results", type=Path, default=report.RESULTS_DIR)
    args = parser.parse_args(argv)
    args.scales = [s.strip().upper() for s in args.scales.split(",") if s.strip()]
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    args.pgbouncer_scales = {s.strip().upper() for s in args.pgbouncer_scales.split(",") if s}
    if unknown := set(args.scales) - set(SCALES) or set(args.modes) - set(MODES):
        parser.error(f"unknown scale or mode: {sorted(unknown)}")
    if args.database_url and len(args.scales) != 1:
        parser.error("--database-url serves one scale: pass --scales S or --scales M")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Stopped with SIGTERM: unwind, so the servers and PgBouncer we started are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if shutil.which("wrk") is None:
        raise SystemExit("bench: wrk is not installed (apt-get install wrk)")
    started = datetime.now(UTC)
    document: dict[str, Any] = {
        "started_at": started.isoformat(timespec="seconds"),
        "code": git_state(),
        "machine": {"cpus": os.cpu_count(), "load_average_before": os.getloadavg()},
        "config": {k: v for k, v in vars(args).items() if k not in ("results", "database_url")}
        | {"pgbouncer_scales": sorted(args.pgbouncer_scales), "driver": "wrk -t1"},
        "seeding": {},
        "sql": {},
        "runs": [],
    }
    cluster = bench_cluster(args.pg_port)
    own_cluster = args.database_url is None and not cluster.is_running()
    if args.database_url is None:
        asyncio.run(start_cluster(cluster))
    try:
        scales = [prepare(args, name, document) for name in args.scales]
        for scale in scales:
            warm(scale)
        say(f"directly on Postgres: {len(args.modes)} modes x {len(scales)} scales ...")
        runs = run_route(args, scales, "direct")
        pooled = [scale for scale in scales if scale.name in args.pgbouncer_scales]
        if pooled:
            say(f"through PgBouncer: {len(args.modes)} modes x {len(pooled)} scales ...")
            runs += run_route(args, pooled, "pgbouncer")
        document["runs"] = [run.to_json() for run in runs]
    finally:
        if own_cluster:
            cluster.stop()
    document["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    written = report.write(document, args.results)
    say("wrote " + ", ".join(str(path) for path in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
