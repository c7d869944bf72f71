"""The investigation screen: question, the run's header, timeline, chart, step detail, report.

Wide terminals show the timeline beside the chart and the report; narrow or short ones (80x24)
show one pane at a time, switched with F3-F6, so no figure is squeezed. The screen renders what
the app hands it and binds its keys to ``app.`` actions: it never imports the app.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, Literal

from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, OptionList, Static, TabbedContent, TabPane

from ..figures import figure_for
from ..footer import footer_order
from ..widgets.chart import ChartView
from ..widgets.question import QuestionInput
from ..widgets.report import ReportView
from ..widgets.run_header import RunHeader
from ..widgets.status_bar import Status, StatusBar
from ..widgets.step_detail import StepDetail
from ..widgets.timeline import Timeline
from ..widgets.welcome import Welcome

if TYPE_CHECKING:
    from ..state import Session, StepView

Pane = Literal["question", "timeline", "chart", "report", "detail"]
NARROW_WIDTH = 110
SHORT_HEIGHT = 30
NEW_PLACEHOLDER = "Ask why a metric moved…  (Enter to investigate)"
FOLLOW_UP_PLACEHOLDER = "Ask a follow-up about these findings…  (Ctrl+N for a new investigation)"
WAITING_FOR_WAREHOUSE = "Waiting for the warehouse — {progress}"
STARTING_RUN = "Starting: the analyst plans the first step…"
REPLAY_PLACEHOLDER = "Replaying a saved investigation — Space play/pause, ←/→ step, Ctrl+N new"
PANES: tuple[tuple[str, str, str], ...] = (
    ("timeline", "F3", "Steps"),
    ("chart", "F6", "Chart"),
    ("report", "F4", "Report"),
    ("detail", "F5", "Detail"),
)


class InvestigationScreen(Screen[None]):
    """The main screen. The app drives it: it renders a :class:`Session` and a :class:`Status`."""

    CSS_PATH = "main.tcss"
    AUTO_FOCUS = "#question"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.cancel", "Cancel", id="investigation.cancel"),
        Binding("escape", "app.replay_pause", "Pause", id="replay.pause"),
        Binding("f2", "focus_pane('question')", "Question", show=False, id="focus.question"),
        Binding("f3", "focus_pane('timeline')", "Steps", show=False, id="focus.timeline"),
        Binding("f4", "focus_pane('report')", "Report", show=False, id="focus.report"),
        Binding("f5", "focus_pane('detail')", "Detail", show=False, id="focus.detail"),
        Binding("f6", "focus_pane('chart')", "Chart", show=False, id="focus.chart"),
        Binding("space", "app.replay_toggle", "Play/pause", id="replay.toggle"),
        Binding("left", "app.replay_step(-1)", "Back", id="replay.back"),
        Binding("right", "app.replay_step(1)", "Forward", id="replay.forward"),
    ]

    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__()
        self._clock = clock
        self.session: Session | None = None
        self.replaying = False
        self.pane: Pane = "timeline"
        self._waiting_for_warehouse = False
        self._progress = "opening"

    def compose(self) -> ComposeResult:
        yield Static("[b]Metric Anomaly Investigator[/]", id="title-bar")
        question = QuestionInput(id="question")
        question.placeholder = NEW_PLACEHOLDER
        question.border_title = "Question [dim]F2[/]"
        yield question
        with ContentSwitcher(initial="welcome", id="body"):
            yield Welcome(id="welcome")
            with Vertical(id="workspace"):
                yield RunHeader(id="run-header")
                yield Static(id="pane-bar")
                with Horizontal(id="panes"):
                    timeline = Timeline(self._clock, id="timeline")
                    timeline.border_title = "Steps [dim]F3[/]"
                    yield timeline
                    with Vertical(id="right"):
                        chart = ChartView(id="chart")
                        chart.border_title = "Chart"
                        yield chart
                        with TabbedContent(id="tabs"):
                            with TabPane("Report F4", id="tab-report"):
                                yield ReportView(id="report")
                            with TabPane("Step detail F5", id="tab-detail"):
                                yield StepDetail(id="detail")
        yield StatusBar(id="status")
        yield Footer(show_command_palette=False)

    # -- what the app calls ------------------------------------------------------------------

    @property
    def welcome(self) -> Welcome:
        return self.query_one(Welcome)

    @property
    def timeline(self) -> Timeline:
        return self.query_one(Timeline)

    @property
    def question(self) -> QuestionInput:
        return self.query_one(QuestionInput)

    @property
    def narrow(self) -> bool:
        return self.has_class("-narrow")

    def on_resize(self) -> None:
        self.set_class(self.size.height < SHORT_HEIGHT, "-compact")
        self.set_class(self.size.width < NARROW_WIDTH or self.size.height < SHORT_HEIGHT, "-narrow")
        self.query_one(RunHeader).refit()
        self._show_pane(self.pane)

    def show_progress(self, message: str, fraction: float) -> None:
        """Opening the warehouse: on the welcome pane, and under a question waiting for it."""
        self.welcome.show_progress(message, fraction)
        self._progress = f"{message.rstrip('…. ')} ({fraction:.0%})"
        if self.session is not None and self._waiting_for_warehouse:
            self.timeline.show(self.session, waiting=self._waiting_note())

    def _waiting_note(self) -> str:
        if self._waiting_for_warehouse:
            return WAITING_FOR_WAREHOUSE.format(progress=self._progress)
        return STARTING_RUN

    def show_welcome(self) -> None:
        self.session = None
        self.replaying = False
        self.query_one("#body", ContentSwitcher).current = "welcome"
        self.timeline.show(None)
        self.query_one(RunHeader).show(None)
        self.query_one(ChartView).show_figure(None, empty="Charts appear here as steps complete.")
        self.query_one(StepDetail).show_step(None)
        self.query_one(ReportView).show_waiting()
        self._show_pane("timeline")
        self.set_mode(replaying=False, follow_up=False)
        self.question.focus()

    def set_mode(self, *, replaying: bool, follow_up: bool) -> None:
        """Adapt the question box to live / follow-up / replay and refresh the footer keys."""
        self.replaying = replaying
        question = self.question
        question.disabled = replaying
        question.placeholder = (
            REPLAY_PLACEHOLDER
            if replaying
            else FOLLOW_UP_PLACEHOLDER
            if follow_up
            else NEW_PLACEHOLDER
        )
        question.border_title = (
            "Replay"
            if replaying
            else "Follow-up [dim]F2[/]"
            if follow_up
            else "Question [dim]F2[/]"
        )
        if replaying:
            self.timeline.focus()
        self.refresh_bindings()

    def show_session(
        self,
        session: Session,
        *,
        changed: StepView | None = None,
        waiting_for_warehouse: bool = False,
    ) -> None:
        """Render the session; follow the newest step unless the user moved away from it."""
        self.session = session
        self.query_one("#body", ContentSwitcher).current = "workspace"
        self.query_one(RunHeader).show(session, waiting_for_warehouse=waiting_for_warehouse)
        timeline = self.timeline
        was_at_end = (
            timeline.highlighted is None or timeline.highlighted >= timeline.option_count - 1
        )
        self._waiting_for_warehouse = waiting_for_warehouse
        timeline.show(session, waiting=self._waiting_note())
        steps = session.steps
        if steps and (was_at_end or changed is None):
            timeline.highlight_key(steps[-1].key)
        self._show_selected()
        report = self.query_one(ReportView)
        run = session.current
        if run is None or session.pending is not None:
            report.show_waiting()
        elif run.status == "failed" and run.report is None:
            report.show_error("The investigation failed", run.error or "No reason was given.")
        elif session.report is not None and (run.report is not None or run.status != "running"):
            report.show_report(session.report)
        elif run.status == "cancelled":
            report.show_error(
                "Cancelled", "The investigation was cancelled; the steps so far are kept."
            )
        elif steps and steps[-1].action == "generate_insights":
            report.show_writing()
        elif session.report is not None:
            report.show_report(session.report)
        else:
            report.show_waiting()

    def show_finished(self) -> None:
        """A run ended: on a narrow screen, turn to the report."""
        if self.narrow and self.session is not None and self.session.report is not None:
            self._show_pane("report")

    def show_failure(self, title: str, message: str) -> None:
        """An error that ended a run before (or instead of) its events."""
        self.query_one("#body", ContentSwitcher).current = "workspace"
        self.query_one(TabbedContent).active = "tab-report"
        self.query_one(ReportView).show_error(title, message)
        self._show_pane("report")

    def show_status(self, status: Status) -> None:
        self.query_one(StatusBar).show(status)
        self.timeline.tick()

    # -- selection ---------------------------------------------------------------------------

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_list is self.timeline:
            self._show_selected()

    def _show_selected(self) -> None:
        option = self.timeline.highlighted_option
        view = self.session.find(option.id) if self.session and option and option.id else None
        self.query_one(StepDetail).show_step(view)
        chart = self.query_one(ChartView)
        if view is None:
            chart.show_figure(None, empty="Charts appear here as steps complete.")
            return
        if view.step is None and chart.figure is not None:
            return  # a step is running: keep the last figure until it completes
        steps = self.session.steps if self.session else []
        figure = figure_for(view, steps)
        chart.show_figure(
            figure,
            empty=f"Step {view.index} has no chart — its findings are in Step detail."
            if view.step is not None
            else "Working… the chart appears when the step completes.",
        )
        chart.border_subtitle = (
            f"from step {figure.source}"
            if figure is not None and figure.source != view.index
            else ""
        )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option_list is self.timeline:
            self.query_one(TabbedContent).active = "tab-detail"
            if self.narrow:
                self._show_pane("detail")

    # -- panes -------------------------------------------------------------------------------

    def _show_pane(self, pane: Pane) -> None:
        """Remember the pane; a narrow screen shows only it (the question box stays)."""
        if pane != "question":
            self.pane = pane
        for name, _, _ in PANES:
            self.set_class(self.pane == name, f"-pane-{name}")
        bar = self.query_one("#pane-bar", Static)
        bar.update(
            Content(" ").join(
                Content.from_markup(
                    "[reverse b] $key $label [/]" if name == self.pane else "[dim]$key[/] $label",
                    key=key,
                    label=label,
                )
                for name, key, label in PANES
            )
        )

    def action_focus_pane(self, pane: Pane) -> None:
        self._show_pane(pane)
        tabs = self.query_one(TabbedContent)
        if pane == "question":
            if not self.question.disabled:
                self.question.focus()
        elif pane == "timeline":
            self.timeline.focus()
        elif pane == "report":
            tabs.active = "tab-report"
            self.query_one(ReportView).focus()
        elif pane == "detail":
            tabs.active = "tab-detail"
            self.query_one(StepDetail).focus()

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        return footer_order(super().active_bindings)
