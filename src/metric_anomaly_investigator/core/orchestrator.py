"""The investigation loop: one action at a time, every transition an event.

``investigate(question)`` and ``follow_up(question)`` are async generators of the events of
``core.models`` (InvestigationStarted → StepPlanned → StepCompleted|StepFailed → UsageUpdated …
→ ReportReady → InvestigationFinished). They never raise for model, API or tool problems: the
run ends with status ``failed`` and a one-line ``error``, keeping the steps done so far.
``cancel()`` ends the current run promptly with status ``cancelled``, even mid-request.

Usage limits (``Settings.max_requests`` / ``max_tokens``) bound the whole conversation, follow-ups
included; reaching one ends the run as ``failed`` with a message naming the setting to raise.

Checkpoints: with a ``checkpoint`` callback (the CLI's ``--save`` file, the TUI's history), the
root record is handed to it after every finished step and when the run ends, before the event is
yielded, so a kill loses no finished step. A record saved mid-run has a run with status
``running``; resumed, a follow-up asking that run's question carries on from its last step.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from copy import copy
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import TypeAdapter, ValidationError
from pydantic_ai.models import Model
from pydantic_ai.usage import RunUsage, UsageLimits

from metric_anomaly_investigator.core.agents import (
    CallBounds,
    Executor,
    InvestigationDeps,
    RetryPolicy,
    build_insights_agent,
    build_step_agent,
    describe_error,
    model_label,
    resolve_model,
    run_agent,
    write_report,
)
from metric_anomaly_investigator.core.models import (
    Action,
    Event,
    GenerateInsights,
    Investigation,
    InvestigationFinished,
    InvestigationStarted,
    Report,
    ReportReady,
    Status,
    Step,
    StepCompleted,
    StepDecision,
    StepFailed,
    StepPlanned,
    StepResult,
    Usage,
    UsageUpdated,
    interrupted_error,
)
from metric_anomaly_investigator.settings import AUTOPILOT, Settings

if TYPE_CHECKING:
    from metric_anomaly_investigator.warehouse.warehouse import Warehouse

T = TypeVar("T")


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class _Cancelled(Exception):
    """Raised inside the loop when :meth:`Orchestrator.cancel` interrupted an await."""


class Orchestrator:
    """Runs investigations on one warehouse with one model; see the module docstring."""

    def __init__(
        self,
        warehouse: Warehouse | None = None,
        *,
        model: str | Model = AUTOPILOT,
        settings: Settings | None = None,
        clock: Callable[[], datetime] = utc_now,
        executor: Executor | None = None,
        ids: Callable[[], str] = new_id,
        retry_base_delay: float = 1.0,
        checkpoint: Callable[[Investigation], object] | None = None,
    ) -> None:
        if executor is None:
            if warehouse is None:
                raise ValueError("Orchestrator needs a warehouse or an executor")
            from metric_anomaly_investigator.core.tools import ToolExecutor

            executor = ToolExecutor(warehouse)
        self.executor: Executor = executor
        self.settings = settings or Settings()
        self.model: Model = resolve_model(model, executor) if isinstance(model, str) else model
        self.model_name: str = model if isinstance(model, str) else model_label(model)
        self.warehouse_label: str = warehouse.label if warehouse is not None else "(none)"
        self.record: Investigation | None = None
        # Called (in a worker thread) with the root record after every finished step; it
        # reports its own errors: a failed checkpoint never ends an investigation.
        self.checkpoint = checkpoint
        self._clock = clock
        self._ids = ids
        self._policy = RetryPolicy(
            retries=self.settings.request_retries, base_delay=retry_base_delay
        )
        self._bounds = CallBounds(self.settings.request_timeout, self.settings.deadline)
        self._limits = UsageLimits(
            request_limit=self.settings.max_requests, total_tokens_limit=self.settings.max_tokens
        )
        self._usage = RunUsage()
        self._run_start_usage = RunUsage()
        self._prior_usage = Usage()
        self._step_agent = build_step_agent()
        self._insights_agent = build_insights_agent()
        self._cancel_requested = False
        # a record reopened by resume(): its earlier runs' steps rebuild the executor's context
        self._reopened = False
        self._pending: asyncio.Future[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # ----------------------------------------------------------------------------------------
    # Public API
    # ----------------------------------------------------------------------------------------

    def investigate(self, question: str) -> AsyncIterator[Event]:
        """Start a new root investigation (``record`` is replaced)."""
        run = self._new_record(question)
        self.record = run
        self._usage = RunUsage()
        self.executor.reset()
        self._reopened = False
        return self._run(run, earlier=[])

    def follow_up(self, question: str) -> AsyncIterator[Event]:
        """Continue ``record`` with a new question; earlier findings stay in the prompt.

        If the last run was interrupted (saved mid-run, or cancelled before its report) and
        ``question`` is its question, that run carries on from its last step instead; any other
        interrupted run is closed as ``cancelled``.
        """
        if self.record is None:
            return self.investigate(question)
        root = self.record
        runs = [root, *root.follow_ups]
        last = runs[-1]
        # killed mid-run ("running" on disk) or stopped by Ctrl-C before its report
        unfinished = last.status == "running" or (last.status == "cancelled" and not last.report)
        if unfinished and last.question == question.strip():
            self._cancel_requested = False
            last.status, last.error = "running", None
            return self._run(last, earlier=runs[:-1])
        for earlier_run in runs:
            if earlier_run.status == "running":
                earlier_run.status = "cancelled"
                earlier_run.error = earlier_run.error or interrupted_error(earlier_run)
        run = self._new_record(question)
        root.follow_ups.append(run)
        return self._run(run, earlier=runs)

    def resume(self, record: Investigation) -> None:
        """Make a saved (reopened or loaded) investigation the current one, so that
        :meth:`follow_up` continues it with its earlier findings in the prompt (or carries on
        with a run that was interrupted mid-way)."""
        self.record = record
        self._usage = RunUsage()
        self.executor.reset()
        self._reopened = True

    def cancel(self) -> None:
        """End the current run promptly with status ``cancelled``; safe from any thread."""
        self._cancel_requested = True
        pending, loop = self._pending, self._loop
        if pending is None or loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            pending.cancel()
        else:
            loop.call_soon_threadsafe(pending.cancel)

    # ----------------------------------------------------------------------------------------
    # The loop
    # ----------------------------------------------------------------------------------------

    def _new_record(self, question: str) -> Investigation:
        self._cancel_requested = False
        return Investigation(
            id=self._ids(),
            question=question.strip(),
            model=self.model_name,
            warehouse=self.warehouse_label,
            started_at=self._clock(),
        )

    async def _run(
        self, run: Investigation, *, earlier: list[Investigation]
    ) -> AsyncIterator[Event]:
        self._loop = asyncio.get_running_loop()
        self._bounds.start()
        first_index = 1 + sum(len(inv.steps) for inv in earlier)
        deps = InvestigationDeps(
            executor=self.executor,
            question=run.question,
            steps=run.steps,
            earlier=earlier,
            max_steps=self.settings.max_steps,
        )
        self._run_start_usage = copy(self._usage)
        self._prior_usage = run.usage.model_copy()
        yield InvestigationStarted(run)
        status: Status = "completed"
        try:
            if self._reopened:  # a reopened record: the earlier runs' findings, once
                self._reopened = False
                for before in earlier:
                    await self._restore(before.steps)
            await self._restore(run.steps)
            while len(run.steps) < self.settings.max_steps:
                decision = await self._guard(self._decide(deps))
                yield self._usage_event(run)
                if isinstance(decision.action, GenerateInsights):
                    break
                planned, step = self._plan(decision, first_index + len(run.steps))
                yield planned
                result, duration_ms = await self._execute(decision)
                step = step.model_copy(update=_outcome(result, duration_ms))
                run.steps.append(step)
                await self._checkpoint()
                yield StepCompleted(step) if step.success else StepFailed(step)
            report = await self._guard(self._report(deps))
            yield self._usage_event(run)
            run.report = report
            yield ReportReady(report)
        except _Cancelled:
            status = "cancelled"
        except Exception as exc:  # model, API and autopilot errors end the run, never the caller
            status, run.error = "failed", describe_error(exc)
        finally:
            self._pending = None
        run.status = status
        run.finished_at = self._clock()
        if status != "completed":
            yield self._usage_event(run)
        await self._checkpoint()
        yield InvestigationFinished(run)

    async def _restore(self, steps: list[Step]) -> None:
        """Re-run the successful steps of an interrupted run, so the Tool Executor's context
        (anomaly window, segments found…) is what it was when the run stopped."""
        for step in steps:
            if not step.success:
                continue
            try:
                action = _ACTION.validate_python({"action": step.action, **step.parameters})
            except ValidationError:  # an edited file: that step's findings are simply not reused
                continue
            await self._execute(StepDecision(reasoning=step.reasoning, action=action))

    async def _checkpoint(self) -> None:
        if self.checkpoint is None or self.record is None:
            return
        try:
            await asyncio.to_thread(self.checkpoint, self.record)
        except Exception:  # the callback reports its own failures (see __init__)
            return

    def _decide(self, deps: InvestigationDeps) -> Awaitable[StepDecision]:
        """The Step Planner's next step (or its decision to write the report)."""
        return run_agent(
            self._step_agent,
            deps,
            model=self.model,
            final=False,
            usage=self._usage,
            limits=self._limits,
            policy=self._policy,
            bounds=self._bounds,
        )

    def _report(self, deps: InvestigationDeps) -> Awaitable[Report]:
        """The model's report, or the built-in analyst's when the model's cannot be grounded."""
        return write_report(
            self._insights_agent,
            deps,
            model=self.model,
            usage=self._usage,
            limits=self._limits,
            policy=self._policy,
            bounds=self._bounds,
        )

    def _plan(self, decision: StepDecision, index: int) -> tuple[StepPlanned, Step]:
        action = decision.action
        params = action.parameters()
        planned = StepPlanned(index, action.action, decision.reasoning, params)
        step = Step(
            index=index,
            action=action.action,
            reasoning=decision.reasoning,
            parameters=params,
            success=False,
        )
        return planned, step

    async def _execute(self, decision: StepDecision) -> tuple[StepResult, float]:
        """Run one action; a tool error becomes a failed result the model will see."""
        started = time.perf_counter()
        try:
            result = await self._guard(self.executor.execute(decision.action))
        except _Cancelled:
            raise
        except Exception as exc:  # tool bugs and warehouse errors alike end only this step
            result = StepResult(success=False, error=f"{type(exc).__name__}: {exc}".strip())
        return result, (time.perf_counter() - started) * 1000

    async def _guard(self, awaitable: Awaitable[T]) -> T:
        """Await something that :meth:`cancel` can interrupt."""
        if self._cancel_requested:
            if asyncio.iscoroutine(awaitable):
                awaitable.close()
            raise _Cancelled
        task = asyncio.ensure_future(awaitable)
        self._pending = task
        try:
            return await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if self._cancel_requested and (current is None or current.cancelling() == 0):
                raise _Cancelled from None
            raise
        finally:
            self._pending = None

    def _usage_event(self, run: Investigation) -> UsageUpdated:
        u, start, prior = self._usage, self._run_start_usage, self._prior_usage
        if self.model_name == AUTOPILOT:
            cost: float | None = 0.0
        elif u.cost is not None and (prior.cost_usd is not None or not prior.requests):
            cost = float(u.cost - (start.cost or 0)) + (prior.cost_usd or 0.0)
        else:
            cost = None
        usage = prior.model_copy(  # a copy: fields this mai does not know are kept
            update={
                "requests": prior.requests + u.requests - start.requests,
                "input_tokens": prior.input_tokens + u.input_tokens - start.input_tokens,
                "output_tokens": prior.output_tokens + u.output_tokens - start.output_tokens,
                "cost_usd": cost,
            }
        )
        run.usage = usage
        return UsageUpdated(usage)


_ACTION: TypeAdapter[Action] = TypeAdapter(Action)


def _outcome(result: StepResult, duration_ms: float) -> dict[str, object]:
    data = dict(result.data)
    if result.chart is not None:
        data["chart"] = result.chart.model_dump(mode="json")
    return {
        "success": result.success,
        "findings": list(result.findings),
        "data": data or None,
        "error": result.error,
        "duration_ms": round(duration_ms, 1),
    }
