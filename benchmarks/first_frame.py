"""Time from launching `mai` to its first frame, and to being usable, on a real (pseudo-)terminal.

The program is started in a pty exactly as a user would start it. Two clocks run: the first
frame (the welcome screen's title is drawn) and usable (the warehouse is open and the example
questions are offered, so Enter asks one). Nothing in the app is instrumented.

Two situations are measured: *warm*, the demo warehouse already in the data directory (every
launch after the first), and *first run*, a fresh data directory, where the demo warehouse is
generated while the app shows its progress — the first frame must not wait for it.

    uv run python benchmarks/first_frame.py [--runs 5] [--budget 1.0]
"""

from __future__ import annotations

import argparse
import os
import pty
import select
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

TITLE = b"Metric Anomaly Investigator"
USABLE = b"Try one of these"  # the examples' heading, shown once the warehouse is open
TIMEOUT_SECONDS = 90.0


def mai_command() -> list[str]:
    script = Path(sys.executable).with_name("mai")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "metric_anomaly_investigator"]


def launch_seconds(data_dir: Path) -> tuple[float, float]:
    """Launch `mai` in a pty; the seconds until the title is drawn and until it is usable."""
    # As on a user's machine, Python keeps its bytecode cache between launches.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(MAI_DATA_DIR=str(data_dir), TERM="xterm-256color", COLUMNS="120", LINES="36")
    command = mai_command()
    start = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # the child becomes `mai`
        os.execvpe(command[0], command, env)
    seen = b""
    first_frame: float | None = None
    try:
        while time.perf_counter() - start < TIMEOUT_SECONDS:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
            if first_frame is None and TITLE in seen:
                first_frame = time.perf_counter() - start
            if first_frame is not None and USABLE in seen:
                return first_frame, time.perf_counter() - start
        raise RuntimeError(f"not usable within {TIMEOUT_SECONDS:.0f} s")
    finally:
        os.kill(pid, signal.SIGTERM)
        try:
            os.waitpid(pid, 0)
        finally:
            os.close(fd)


def summary(label: str, times: list[float]) -> str:
    runs = ", ".join(f"{t:.2f}" for t in times)
    return f"{label}: median {statistics.median(times):.2f} s ({runs})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--budget", type=float, default=1.0, help="first frame, seconds")
    args = parser.parse_args()
    first_run: list[tuple[float, float]] = []
    warm: list[tuple[float, float]] = []
    for _ in range(args.runs):
        data_dir = Path(tempfile.mkdtemp(prefix="mai-first-frame-"))
        try:
            first_run.append(launch_seconds(data_dir))  # generates the demo warehouse
            warm.append(launch_seconds(data_dir))
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
    print(f"{len(warm)} launches each, in a {os.environ.get('COLUMNS', '120')}-column pty")
    print(summary("warm, first frame", [f for f, _ in warm]))
    print(summary("warm, usable", [u for _, u in warm]))
    print(summary("first run, first frame", [f for f, _ in first_run]))
    print(summary("first run, usable (demo generated)", [u for _, u in first_run]))
    median = statistics.median([f for f, _ in warm + first_run])
    print(f"first-frame budget: {args.budget} s -> {'ok' if median < args.budget else 'OVER'}")
    sys.exit(0 if median < args.budget else 1)


if __name__ == "__main__":
    main()
