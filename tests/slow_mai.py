"""``mai`` with every warehouse step slowed down, for the kill tests (tests/test_kill.py).

Usage: ``python tests/slow_mai.py SECONDS mai-arguments…``. The real command line runs
unchanged (signals, checkpoints, saving); only each step of the Tool Executor takes ``SECONDS``
longer, so a test can reliably stop it between its second step and its report.
"""

from __future__ import annotations

import asyncio
import sys

from metric_anomaly_investigator.cli import main
from metric_anomaly_investigator.core.models import Action, StepResult
from metric_anomaly_investigator.core.tools import ToolExecutor


def slow_down(seconds: float) -> None:
    execute = ToolExecutor.execute

    async def slow_execute(self: ToolExecutor, action: Action) -> StepResult:
        result = await execute(self, action)
        await asyncio.sleep(seconds)
        return result

    ToolExecutor.execute = slow_execute  # type: ignore[method-assign]


if __name__ == "__main__":
    slow_down(float(sys.argv[1]))
    sys.exit(main(sys.argv[2:]))
