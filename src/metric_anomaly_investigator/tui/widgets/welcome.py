"""The welcome pane: what the app does, the warehouse it is on, and questions to try."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList, ProgressBar, Static

from ..render import example_questions

if TYPE_CHECKING:
    from ...warehouse.types import WarehouseSchema

INTRO = (
    "Ask why a metric moved. An analyst agent plans each step — query, detect, segment, "
    "drill down, check deployments — runs it on your warehouse, and writes a report with "
    "the root cause, the affected segments and what to do next."
)
KEYS = (
    "[b]Enter[/] ask  [b]Esc[/] cancel  [b]F1[/] help  [b]Ctrl+P[/] commands  "
    "[b]Ctrl+O[/] history  [b]Ctrl+Q[/] quit"
)


class Welcome(VerticalScroll, can_focus=False):
    """Shown until the first question; lists example questions for this warehouse.

    Not focusable itself, so Tab from the question box lands on the first example and Enter
    asks it, as the title says."""

    class ExampleChosen(Message):
        def __init__(self, question: str) -> None:
            super().__init__()
            self.question = question

    def compose(self) -> ComposeResult:
        yield Static("Metric Anomaly Investigator", id="welcome-title")
        yield Static(INTRO, id="welcome-intro")
        yield Static("Opening the warehouse…", id="warehouse-info")
        yield ProgressBar(total=1.0, show_eta=False, id="warehouse-progress")
        yield Static("Try one of these  [dim](Tab, then Enter)[/]", id="examples-title")
        yield OptionList(id="examples")
        yield Static(Content.from_markup(KEYS), id="welcome-keys")

    def on_mount(self) -> None:
        self.query_one("#examples-title").display = False
        self.query_one("#examples").display = False

    def show_progress(self, message: str, fraction: float) -> None:
        self.set_class(False, "-error")
        self.query_one("#warehouse-info", Static).update(
            Content.from_markup("[$text-muted]$m…[/]", m=message.rstrip("…. "))
        )
        bar = self.query_one(ProgressBar)
        bar.display = True
        bar.update(progress=max(0.0, min(1.0, fraction)))

    def show_schema(self, label: str, schema: WarehouseSchema) -> None:
        self.set_class(False, "-error")
        self.query_one(ProgressBar).display = False
        dims = ", ".join(schema.dimension_names) or "none"
        info = Content.from_markup(
            "[b $primary]◆ $label[/]\n"
            "[$text-muted]metrics[/]     $metrics\n"
            "[$text-muted]dimensions[/]  $dims\n"
            "[$text-muted]dates[/]       $start → $end   [$text-muted]($rows events)[/]",
            label=label,
            metrics=", ".join(schema.metrics),
            dims=dims,
            start=schema.start_date.isoformat(),
            end=schema.end_date.isoformat(),
            rows=f"{schema.row_count:,}",
        )
        self.query_one("#warehouse-info", Static).update(info)
        examples = self.query_one("#examples", OptionList)
        examples.set_options(example_questions(schema))
        examples.highlighted = 0
        examples.display = True
        self.query_one("#examples-title").display = True

    def show_error(self, title: str, message: str) -> None:
        self.set_class(True, "-error")
        self.query_one(ProgressBar).display = False
        self.query_one("#examples").display = False
        self.query_one("#examples-title").display = False
        self.query_one("#warehouse-info", Static).update(
            Content.from_markup(
                "[b $error]✗ $t[/]\n$m\n\n[$text-muted]Ctrl+P → Switch warehouse to open "
                "another one, or Ctrl+O to browse saved investigations.[/]",
                t=title,
                m=message,
            )
        )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.post_message(self.ExampleChosen(str(event.option.prompt)))
