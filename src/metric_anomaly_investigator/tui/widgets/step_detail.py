"""The selected step in full: reasoning, parameters, findings, and its data as a table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import DataTable, Static

from ..render import action_label, format_duration, format_value, step_table

if TYPE_CHECKING:
    from ..state import StepView


class StepDetail(VerticalScroll):
    """Everything about one step; empty until a step is selected."""

    def compose(self) -> ComposeResult:
        yield Static("Select a step in the timeline to see its detail.", id="step-info")
        table: DataTable[str] = DataTable(id="step-table", zebra_stripes=True)
        table.display = False
        yield table

    def show_step(self, view: StepView | None) -> None:
        info = self.query_one("#step-info", Static)
        table: DataTable[str] = self.query_one("#step-table", DataTable)
        table.clear(columns=True)
        table.display = False
        if view is None:
            info.update("Select a step in the timeline to see its detail.")
            return
        info.update(self._describe(view))
        if view.step is None:
            return
        found = step_table(view.step)
        if found is None:
            return
        columns, rows = found
        table.add_columns(*columns)
        table.add_rows(rows)
        table.display = True

    @staticmethod
    def _describe(view: StepView) -> Content:
        status = {"running": "[$warning]running…[/]", "failed": "[$error]failed[/]"}.get(
            view.status, "[$success]done[/]"
        )
        took = f" in {format_duration(view.step.duration_ms)}" if view.step else ""
        parts = [
            Content.from_markup(
                f"[b]$n. $label[/] {status}[$text-muted]$took[/]\n",
                n=view.index,
                label=action_label(view.action),
                took=took,
            ),
            Content.from_markup("[i]$r[/]\n", r=view.reasoning or "—"),
        ]
        if view.parameters:
            parts.append(Content.from_markup("\n[b $secondary]Parameters[/]\n"))
            for key, value in view.parameters.items():
                parts.append(
                    Content.from_markup("  [$text-muted]$k[/] $v\n", k=key, v=format_value(value))
                )
        step = view.step
        if step is not None and step.error:
            parts.append(Content.from_markup("\n[b $error]Error[/]\n  $e\n", e=step.error))
        if step is not None and step.findings:
            parts.append(Content.from_markup("\n[b $secondary]Findings[/]\n"))
            for finding in step.findings:
                parts.append(Content.from_markup("  • $f\n", f=finding))
        return Content.assemble(*parts)
