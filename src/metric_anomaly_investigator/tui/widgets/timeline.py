"""The live step timeline: one entry per step, with a spinner until it completes."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from textual.content import Content
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from ..render import action_label, format_duration

if TYPE_CHECKING:
    from ..state import Session, StepView

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
SPINNER_FPS = 10


class Timeline(OptionList):
    """Steps of every run; highlighting one shows its detail and chart.

    The spinner frame is derived from the injected clock, so a frozen clock freezes it.
    """

    def __init__(self, clock: Callable[[], float], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._clock = clock
        self._session: Session | None = None
        self._waiting: str | None = None

    def show(self, session: Session | None, *, waiting: str | None = None) -> None:
        """Rebuild the entries from the session, keeping the highlighted step; ``waiting`` says
        why a question entered has no step yet."""
        self._session = session
        self._waiting = waiting
        keep = self.highlighted_option.id if self.highlighted_option else None
        options: list[Option] = []
        if session is not None:
            for run in session.runs:
                if run.is_follow_up:
                    header = Content.from_markup(
                        "[$accent b]↳ Follow-up[/] [i]$q[/]", q=run.question
                    )
                    options.append(Option(self._fit(header), id=f"run-{run.number}", disabled=True))
                options.extend(Option(self._prompt(s), id=s.key) for s in run.steps)
            if session.pending is not None and waiting:
                note = Content.from_markup("[$text-muted i]$w[/]", w=waiting)
                options.append(Option(self._fit(note), id="waiting", disabled=True))
        self.set_options(options)
        if keep is not None:
            self.highlight_key(keep)

    def highlight_key(self, key: str) -> None:
        """Highlight the entry of the step ``key`` (``run-index``) if it exists."""
        for i, option in enumerate(self.options):
            if option.id == key:
                self.highlighted = i
                return

    def tick(self) -> None:
        """Advance the spinners of running steps."""
        if self._session is None:
            return
        for step in self._session.steps:
            if step.status == "running":
                try:
                    self.replace_option_prompt(step.key, self._prompt(step))
                except Exception:  # the entry was rebuilt between ticks
                    continue

    def on_resize(self) -> None:
        self.show(self._session, waiting=self._waiting)

    def _fit(self, content: Content) -> Content:
        width = max(10, self.scrollable_content_region.width - 1)
        return Content("\n").join(
            line.truncate(width, ellipsis=True) for line in content.split("\n")
        )

    def _prompt(self, step: StepView) -> Content:
        label = action_label(step.action)
        if step.status == "running":
            frame = SPINNER[int(self._clock() * SPINNER_FPS) % len(SPINNER)]
            head = Content.from_markup(
                "[$warning]$f[/] [b]$n. $label[/]", f=frame, n=step.index, label=label
            )
            detail = Content.from_markup("[$text-muted i]$r[/]", r=step.reasoning or "…")
        elif step.status == "failed":
            head = Content.from_markup(
                "[$error]✗[/] [b]$n. $label[/] [$error]failed[/]", n=step.index, label=label
            )
            error = (step.step.error if step.step else None) or "did not complete"
            detail = Content.from_markup("[$error]$e[/]", e=error)
        else:
            assert step.step is not None
            took = format_duration(step.step.duration_ms)
            head = Content.from_markup(
                "[$success]✓[/] [b]$n. $label[/] [$text-muted]$t[/]",
                n=step.index,
                label=label,
                t=took,
            )
            finding = step.step.findings[0] if step.step.findings else step.reasoning
            detail = Content.from_markup("[$text-muted]$f[/]", f=finding)
        return self._fit(Content.assemble(head, "\n  ", detail))
