"""Time from launching `mai` to its first frame on a real (pseudo-)terminal.

The program is started in a pty exactly as a user would start it; the clock stops when the
terminal output first contains the welcome screen's title. Nothing in the app is instrumented.
The data directory is a fresh temporary one, so the demo warehouse is generated in the
background while this measures — the first frame must not wait for it.

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

MARKER = b"Metric Anomaly Investigator"
TIMEOUT_SECONDS = 20.0


def mai_command() -> list[str]:
    script = Path(sys.executable).with_name("mai")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "metric_anomaly_investigator"]


def first_frame_seconds(data_dir: Path) -> float:
    """Launch `mai` in a pty and return the seconds until the title is drawn."""
    env = dict(
        os.environ, MAI_DATA_DIR=str(data_dir), TERM="xterm-256color", COLUMNS="120", LINES="36"
    )
    command = mai_command()
    start = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # the child becomes `mai`
        os.execvpe(command[0], command, env)
    seen = b""
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
            if MARKER in seen:
                return time.perf_counter() - start
        raise RuntimeError(f"no first frame within {TIMEOUT_SECONDS:.0f} s")
    finally:
        os.kill(pid, signal.SIGTERM)
        try:
            os.waitpid(pid, 0)
        finally:
            os.close(fd)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--budget", type=float, default=1.0, help="seconds (exit 1 if over)")
    args = parser.parse_args()
    times = []
    for _ in range(args.runs):
        data_dir = Path(tempfile.mkdtemp(prefix="mai-first-frame-"))
        try:
            times.append(first_frame_seconds(data_dir))
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
    median = statistics.median(times)
    runs = ", ".join(f"{t:.3f}" for t in times)
    print(f"first frame: median {median:.3f} s over {len(times)} runs ({runs})")
    print(f"budget: {args.budget} s -> {'ok' if median < args.budget else 'OVER'}")
    sys.exit(0 if median < args.budget else 1)


if __name__ == "__main__":
    main()
