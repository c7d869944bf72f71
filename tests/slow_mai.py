"""``mai`` with every warehouse step slowed down, for the kill tests (tests/test_kill.py).

Usage: ``python tests/slow_mai.py SECONDS mai-arguments…``. The real command line runs
unchanged (signals, checkpoints, saving); only each step of the Tool Executor takes ``SECONDS``
longer, so a test can reliably stop it between its second step and its report. With
``block:SECONDS:MARKER`` the steps after the second spend that time in a worker thread that
cannot be cancelled, like a long warehouse query, after creating the file ``MARKER``.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from metric_anomaly_investigator.cli import main
from metric_anomaly_investigator.core.models import Action, StepResult
from metric_anomaly_investigator.core.tools import ToolExecutor


def slow_down(delay: str) -> None:
    execute = ToolExecutor.execute
    blocking = delay.startswith("block:")
    seconds, _, marker = delay.removeprefix("block:").partition(":")

    calls = [0]

    def block(seconds: float, marker: Path) -> None:
        marker.touch()
        time.sleep(seconds)

    async def slow_execute(self: ToolExecutor, action: Action) -> StepResult:
        result = await execute(self, action)
        calls[0] += 1
        if not blocking:
            await asyncio.sleep(float(seconds))
        elif calls[0] > 2:
            await asyncio.to_thread(block, float(seconds), Path(marker))
        return result

    ToolExecutor.execute = slow_execute  # type: ignore[method-assign]


if __name__ == "__main__":
    slow_down(sys.argv[1])
    sys.exit(main(sys.argv[2:]))
