"""`python -m bench.profile --mode today`: where a Loopin worker spends its CPU under load.

Starts Loopin like bench/run.py does (the bench cluster, the seeded scale), drives one mode
with wrk, and samples every worker with py-spy meanwhile (`--format raw`: collapsed stacks).
Prints, as % of the samples where the worker was busy:
- self time by library (the innermost frame's package: sqlalchemy, asyncpg, pydantic, ...);
- inclusive time of Loopin's own functions (backend/app: file:function) and of libraries.
The raw stacks stay in bench/results/tmp/ (flame graphs: `py-spy record --format flamegraph`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bench.cluster import DATA_DIR, bench_cluster, database_name, ids_path, start_cluster
from bench.loadgen import run_wrk
from bench.report import RESULTS_DIR
from bench.servers import BIN, start_loopin, stop
from bench.workload import write_lua_data

FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def package_of(file: str) -> str:
    """py-spy names files relative to their sys.path entry: the first part is the package."""
    if "site-packages/" in file:
        file = file.split("site-packages/")[1]
    top = file.lstrip("/").split("/")[0].removesuffix(".py")
    return "app (Loopin)" if top == "app" or "/backend/app/" in file else top


def app_name(file: str, function: str) -> str:
    return f"{file.split('/backend/')[-1]}:{function}"


# Leaves where a thread waits, not works (py-spy's --nonblocking sampling still lists them):
# FastAPI's threadpool between jobs, uvicorn's supervisor ping thread.
IDLE_LEAVES = {("Condition.wait", "threading.py"), ("Connection._recv", "multiprocessing")}


def is_idle(leaf: re.Match[str]) -> bool:
    return any(
        leaf["function"] == function and leaf["file"].startswith(file)
        for function, file in IDLE_LEAVES
    )


def summarize(paths: list[Path], top: int = 25) -> str:
    busy = 0
    self_time: Counter[str] = Counter()
    hot_frames: Counter[str] = Counter()
    inclusive_library: Counter[str] = Counter()
    inclusive_app: Counter[str] = Counter()
    for path in paths:
        for line in path.read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            frames = [m for m in (FRAME.match(f) for f in stack.split(";")) if m]
            if not frames or not count_text.isdigit() or is_idle(frames[-1]):
                continue
            count = int(count_text)
            busy += count
            self_time[package_of(frames[-1]["file"])] += count
            hot_frames[f"{frames[-1]['file']}:{frames[-1]['function']}"] += count
            for library in {package_of(f["file"]) for f in frames}:
                inclusive_library[library] += count
            app_frames = {
                app_name(f["file"], f["function"])
                for f in frames
                if package_of(f["file"]) == "app (Loopin)"
            }
            for name in app_frames:
                inclusive_app[name] += count
    if not busy:
        return "no samples (is py-spy allowed to attach? it needs ptrace)"

    def table(title: str, counter: Counter[str], limit: int) -> list[str]:
        rows = [title, f"{'%':>8}  what"]
        rows += [f"{100 * n / busy:8.1f}  {name}" for name, n in counter.most_common(limit)]
        return rows

    lines = [f"{busy} busy samples (idle threads left out)"]
    lines += table("self time by library (innermost frame)", self_time, 12)
    lines += table("inclusive time by library", inclusive_library, 16)
    lines += table("hottest innermost frames", hot_frames, 15)
    lines += table("inclusive time of Loopin functions (backend/app)", inclusive_app, top)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--scale", default="S")
    parser.add_argument("--mode", default="today", help="today | checkin | board | stats | mixed")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    args = parser.parse_args(argv)
    cluster = bench_cluster()
    asyncio.run(start_cluster(cluster))
    url = f"postgresql://postgres@127.0.0.1:{cluster.port}/{database_name(args.scale)}"
    data_file = DATA_DIR / f"wrk-{args.scale}.txt"
    write_lua_data(json.loads(ids_path(args.scale).read_text()), data_file)
    out_dir = RESULTS_DIR / "tmp"
    out_dir.mkdir(parents=True, exist_ok=True)
    loopin = start_loopin(url, args.workers)
    try:
        run_wrk(loopin, data_file, args.mode, seconds=3, connections=args.connections)
        outputs = [out_dir / f"profile-{args.mode}-{worker.pid}.txt" for worker in loopin.workers()]
        samplers = [
            subprocess.Popen(
                [
                    str(BIN / "py-spy"),
                    "record",
                    "--pid",
                    str(worker.pid),
                    "--duration",
                    str(args.seconds),
                    "--rate",
                    str(args.rate),
                    "--format",
                    "raw",
                    "--nonblocking",
                    "--output",
                    str(output),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for worker, output in zip(loopin.workers(), outputs, strict=True)
        ]
        raw, _ = run_wrk(
            loopin, data_file, args.mode, seconds=args.seconds + 1, connections=args.connections
        )
        for sampler in samplers:
            sampler.wait(60)
    finally:
        stop(loopin)
    print(f"{args.mode}: {raw['requests'] / (raw['duration_us'] / 1e6):.0f} req/s while sampled")
    print(summarize([path for path in outputs if path.exists()]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
